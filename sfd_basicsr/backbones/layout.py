"""What a CLIP image tower offers, read from open_clip's model config without building it: layer names, channels and
strides, default Feat-D layers, embedding width, the smallest input. The discriminators size themselves from it, so
none builds a CLIP on the CPU just to count channels; ``FrozenCLIPEncoder`` answers from the same layout."""
from dataclasses import dataclass

import open_clip

from ..utils.errors import InputError

RESNET_STAGES = ('layer1', 'layer2', 'layer3', 'layer4')
RESNET_STRIDES = {'layer1': 4, 'layer2': 8, 'layer3': 16, 'layer4': 32}
RESNET_DEFAULT_LAYERS = ('layer2', 'layer3')
BOTTLENECK_EXPANSION = 4  # open_clip's ModifiedResNet: a stage's output is 4x its bottleneck width


@dataclass(frozen=True)
class EncoderLayout:
    model_name: str
    stages: tuple
    layer_channels: dict
    layer_strides: dict
    default_layers: tuple
    embed_dim: int
    is_vit: bool

    def check_layers(self, layers):
        unknown = [name for name in layers if name not in self.layer_channels]
        if unknown:
            raise InputError(f'Unknown encoder layer(s) {unknown} for CLIP {self.model_name}; '
                             f'choose from {list(self.layer_channels)}.')

    def min_size(self, layers=(), embedding=True):
        """The smallest image side giving one position in each of ``layers`` (and the embedding)."""
        embedding_size = max(self.layer_strides.values()) if embedding else 1
        return max([self.layer_strides[name] for name in layers] + [embedding_size])


def encoder_layout(model_name):
    """The ``EncoderLayout`` of open_clip's ``model_name`` (a ResNet or ViT image tower)."""
    config = open_clip.get_model_config(model_name)
    if config is None:
        raise InputError(f"clip_model: unknown CLIP model '{model_name}'; use a name from open_clip.list_models(), "
                         "e.g. 'RN50-quickgelu' or 'ViT-B-16'.")
    vision = config['vision_cfg']
    if 'timm_model_name' in vision or 'layers' not in vision:
        raise InputError(f"clip_model: CLIP '{model_name}' has a timm image tower; supported: ResNet (RN*) and ViT "
                         'towers.')
    if isinstance(vision['layers'], (list, tuple)):
        channels = {name: vision['width'] * BOTTLENECK_EXPANSION * 2**i for i, name in enumerate(RESNET_STAGES)}
        return EncoderLayout(model_name, RESNET_STAGES, channels, dict(RESNET_STRIDES), RESNET_DEFAULT_LAYERS,
                             config['embed_dim'], is_vit=False)
    depth, patch = vision['layers'], vision['patch_size']
    stages = tuple(f'block{k}' for k in range(1, depth + 1))  # the token grid after the K-th transformer block
    return EncoderLayout(model_name, stages, {name: vision['width'] for name in stages},
                         {name: patch for name in stages}, (f'block{depth // 2}', f'block{3 * depth // 4}'),
                         config['embed_dim'], is_vit=True)
