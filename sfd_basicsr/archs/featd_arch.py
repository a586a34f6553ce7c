"""Feat-D: a pixel-wise discriminator on the middle features of a frozen encoder (CLIP's image tower by default).

Choices not from the paper: docs/method.md, "Our decisions".
"""
import torch.nn.functional as F
from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn

from ..backbones.names import DEFAULT_PRETRAINED
from ..compat.registry import register
from ..utils.errors import InputError
from ..utils.image_io import check_min_side
from .encoder_client import EncoderClient
from .spectral_norm_conv import SpectralNormConv2d


def _leaky(x):
    return F.leaky_relu(x, negative_slope=0.2, inplace=True)


@register(ARCH_REGISTRY)
class FeatD(EncoderClient):
    """Discriminates the encoder's middle features of SR against HQ images, one logit per feature position.

    The chosen encoder layers are projected to ``num_feat`` channels, resized to the finest of them and
    summed; a spectral-normalised U-Net (``UNetDiscriminatorSN``'s shape, started from features instead
    of pixels) maps the result to a ``(B, 1, H / s, W / s)`` logit map, ``s`` being the finest layer's
    stride (8 for the default RN50 ``layer2``, the patch size for ViTs).

    Args:
        clip_model (str | None): open_clip model name of the frozen encoder (default ``RN50-quickgelu``).
        pretrained (str | None): weight tag of the backbone's library, local weights file, None for random weights,
            or ``'default'``: the library's default weights (OpenAI's for CLIP where published).
        backbone (str | None): the encoder in any library, ``'timm:<model>'`` or ``'open_clip:<model>'`` (for
            example ``timm:vit_small_patch14_dinov2``, ``open_clip:convnext_base_w``); instead of ``clip_model``.
        layers (list[str] | None): encoder layers to discriminate; None: RN ``layer2``, ``layer3``, ViTs the
            blocks at 1/2 and 3/4 depth (``block6``, ``block9`` of ViT-B), other CNNs the stride-8 and 16 stages.
        num_feat (int): base width of the U-Net.
        num_down (int): stride-2 stages of the U-Net.
        skip_connection (bool): U-Net skip connections.
    """

    def __init__(self,
                 clip_model=None,
                 pretrained=DEFAULT_PRETRAINED,
                 layers=None,
                 num_feat=64,
                 num_down=2,
                 skip_connection=True,
                 backbone=None):
        super().__init__(clip_model, pretrained, backbone)
        encoder = self.layout
        layers = encoder.default_layers if layers is None else layers
        if not layers:
            raise InputError("FeatD option 'layers' must name at least one encoder layer.")
        encoder.check_layers(layers)
        self.layers = tuple(sorted(layers, key=lambda name: encoder.layer_strides[name]))
        self.stride = encoder.layer_strides[self.layers[0]]
        # the U-Net halves the finest map num_down times and needs at least one position left
        self.min_size = max(encoder.min_size(self.layers, embedding=False), self.stride * 2**num_down)
        self.skip_connection = skip_connection
        self.project = nn.ModuleDict(
            {name: SpectralNormConv2d(encoder.layer_channels[name], num_feat, 1) for name in self.layers})
        widths = [num_feat * 2**i for i in range(num_down + 1)]
        self.down = nn.ModuleList(
            SpectralNormConv2d(widths[i], widths[i + 1], 4, 2, 1, bias=False) for i in range(num_down))
        self.up = nn.ModuleList(
            SpectralNormConv2d(widths[i + 1], widths[i], 3, 1, 1, bias=False) for i in reversed(range(num_down)))
        self.head = nn.Sequential(
            SpectralNormConv2d(num_feat, num_feat, 3, 1, 1, bias=False), nn.LeakyReLU(0.2, True),
            SpectralNormConv2d(num_feat, num_feat, 3, 1, 1, bias=False), nn.LeakyReLU(0.2, True),
            nn.Conv2d(num_feat, 1, 3, 1, 1))

    def extract(self, img):
        """Encoder features this discriminator reads, for ``forward(features=...)``."""
        return self.encoder(img.device)(img, layers=self.layers, embedding=False)

    def forward(self, img=None, features=None):
        """Logit map ``(B, 1, H / stride, W / stride)`` from an RGB image in [0, 1] or precomputed features."""
        if features is None:
            if img is None:
                raise InputError('FeatD needs an image or precomputed encoder features.')
            check_min_side(img.shape, self.min_size, 'FeatD')
            features = self.extract(img)
        size = features[self.layers[0]].shape[-2:]
        x = 0
        for name in self.layers:
            projected = self.project[name](features[name])
            if projected.shape[-2:] != size:
                projected = F.interpolate(projected, size=size, mode='bilinear', align_corners=False)
            x = x + projected
        skips = [_leaky(x)]
        for conv in self.down:
            skips.append(_leaky(conv(skips[-1])))
        x = skips.pop()
        for conv in self.up:
            skip = skips.pop()
            x = _leaky(conv(F.interpolate(x, size=skip.shape[-2:], mode='bilinear', align_corners=False)))
            if self.skip_connection:
                x = x + skip
        return self.head(x)
