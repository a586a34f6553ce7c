"""A frozen timm model (DINOv2 and other ViTs, ConvNeXt, EfficientNet, ...) as the shared encoder.

Its middle layers come from timm's own ``forward_intermediates`` (the feature levels ``layout`` names); it has no
text tower, so no embedding: Feat-D and SeD read it, TG-D cannot.
"""
from .encoder import FrozenEncoder, maps_by_layer


class FrozenTimmEncoder(FrozenEncoder):

    def __init__(self, model_name, pretrained):
        super().__init__(model_name, pretrained)
        self.timm = self.network

    def features(self, x, layers, embedding):
        if self.layout.is_vit:  # timm's patch embedding refuses a remainder; open_clip's ViTs drop it, and so do we
            patch = self.layer_strides[layers[0]]
            x = x[..., :x.shape[-2] // patch * patch, :x.shape[-1] // patch * patch]
        indices = [self.stages.index(name) for name in layers]
        maps = self.timm.forward_intermediates(x, indices=indices, output_fmt='NCHW', intermediates_only=True)
        return maps_by_layer(layers, indices, maps)
