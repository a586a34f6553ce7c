"""SeD baselines (Li et al., CVPR 2024): image discriminators conditioned on CLIP RN50 ``layer3`` semantics.

Re-implemented on our shared frozen encoder (kept in eval mode, unlike the original extractor). The
semantic map (1024 ch at 1/16) queries the image features through a cross-attention block whose output
is resized to the image features' grid and concatenated with them, at three depths (SeD's "semantic-
aware fusion"). Differences from the original, all so that any input size works: the fused semantics are
resized bilinearly instead of pixel-shuffled by a factor fixed for 256 px patches, and ``fused_channels``
sets their width. ``forward(img, semantic=None)``: without ``semantic`` the judged image's own
semantics are used (what a stock BasicSR model can give: the self-conditioned variant); SeD proper
conditions both real and fake on the HR image's semantics, which ``SeDModel`` gives through
``conditioned_on`` so that BasicSR's own ``SRGANModel`` training step runs unchanged.
"""
import math
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn
from torch.nn.utils import spectral_norm

from ..backbones.names import DEFAULT_PRETRAINED
from ..compat.registry import register
from ..utils.errors import InputError
from ..utils.image_io import check_min_side
from .encoder_client import EncoderClient

SEMANTIC_GROUPS = 32  # SeD's GroupNorm; fewer where a backbone's width is no multiple of 32 (EfficientNet's 112)


class SemanticFusion(nn.Module):
    """Semantic queries attend to image features; the result is brought to the image grid."""

    def __init__(self, semantic_channels, image_channels, fused_channels, inner=64):
        super().__init__()
        self.norm = nn.GroupNorm(math.gcd(SEMANTIC_GROUPS, semantic_channels), semantic_channels, eps=1e-6)
        self.proj_semantic = nn.Conv2d(semantic_channels, inner, 1)
        self.proj_image = nn.Conv2d(image_channels, inner, 1)
        self.norms = nn.ModuleList(nn.LayerNorm(inner) for _ in range(3))
        self.self_attention = nn.MultiheadAttention(inner, 1, batch_first=True)
        self.cross_attention = nn.MultiheadAttention(inner, 1, batch_first=True)
        self.feed_forward = nn.Sequential(nn.Linear(inner, inner * 8), nn.GLU(), nn.Linear(inner * 4, inner))
        self.proj_out = nn.Conv2d(inner, fused_channels, 1)
        nn.init.zeros_(self.proj_out.weight)  # starts as "no semantics", as SeD's zero-initialised projection
        nn.init.zeros_(self.proj_out.bias)
        self.conv_out = nn.Conv2d(fused_channels, fused_channels, 3, 1, 1)

    def forward(self, semantic, image_features):
        b, _, h, w = semantic.shape
        query = self.proj_semantic(self.norm(semantic)).flatten(2).transpose(1, 2)
        context = self.proj_image(image_features).flatten(2).transpose(1, 2)
        x = self.norms[0](query)
        x = self.self_attention(x, x, x, need_weights=False)[0]
        x = self.cross_attention(self.norms[1](x), context, context, need_weights=False)[0]
        x = self.feed_forward(self.norms[2](x))
        x = self.proj_out(x.transpose(1, 2).reshape(b, -1, h, w))
        x = F.interpolate(x, size=image_features.shape[-2:], mode='bilinear', align_corners=False)
        return self.conv_out(x)


class _SeDBase(EncoderClient):
    condition = None  # semantics set by ``conditioned_on``, used by calls that pass none

    def __init__(self, clip_model, pretrained, backbone, semantic_layer):
        super().__init__(clip_model, pretrained, backbone)
        # SeD reads RN50's layer3; another backbone its deepest default Feat-D layer (stride 16 on CNNs)
        self.semantic_layer = self.layout.default_layers[-1] if semantic_layer is None else semantic_layer
        self.layout.check_layers((self.semantic_layer, ))

    def semantic(self, img):
        layer = self.semantic_layer
        return self.encoder(img.device)(img, layers=(layer, ), embedding=False)[layer]

    @contextmanager
    def conditioned_on(self, semantic):
        """Within the block, every call without ``semantic=`` is conditioned on ``semantic`` (the HR image's)."""
        self.condition = semantic
        try:
            yield
        finally:
            self.condition = None

    def _semantic_channels(self):
        return self.layout.layer_channels[self.semantic_layer]

    def _fuse(self, index, features, semantic, conv):
        fused = self.fusions[index](semantic, features)
        return F.leaky_relu(conv(torch.cat([features, fused], dim=1)), 0.2, inplace=True)

    def _check(self, img, semantic):
        check_min_side(img.shape, self.min_size, type(self).__name__)
        semantic = self.condition if semantic is None else semantic
        if semantic is None:
            return self.semantic(img)
        if semantic.shape[0] != img.shape[0]:
            raise InputError(f'{type(self).__name__}: {semantic.shape[0]} semantic maps for {img.shape[0]} images.')
        return semantic


@register(ARCH_REGISTRY)
class SeDPatchDiscriminator(_SeDBase):
    """SeD-P: a spectral-normalised PatchGAN with semantic fusion after its three middle convolutions.

    Args:
        num_in_ch (int): image channels. num_feat (int): base width.
        fused_channels (int): channels of the fused semantics at each depth.
        clip_model, pretrained, backbone: the shared encoder (``FeatD``'s options).
        semantic_layer (str | None): the encoder layer SeD is conditioned on; None: ``layer3`` of CLIP's ResNets (as
            SeD), the deepest default Feat-D layer of other backbones.
    """

    def __init__(self, num_in_ch=3, num_feat=64, fused_channels=64, clip_model=None, pretrained=DEFAULT_PRETRAINED,
                 backbone=None, semantic_layer=None):
        super().__init__(clip_model, pretrained, backbone, semantic_layer)
        semantic_channels = self._semantic_channels()
        widths = [num_feat * 2, num_feat * 4, num_feat * 8]
        self.min_size = 32
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 4, 2, 1)
        self.convs = nn.ModuleList([
            spectral_norm(nn.Conv2d(num_feat, widths[0], 4, 2, 1)),
            spectral_norm(nn.Conv2d(widths[0], widths[1], 4, 2, 1)),
            spectral_norm(nn.Conv2d(widths[1], widths[2], 4, 1, 1)),
        ])
        self.fusions = nn.ModuleList(SemanticFusion(semantic_channels, c, fused_channels) for c in widths)
        self.after_fusion = nn.ModuleList(
            spectral_norm(nn.Conv2d(c + fused_channels, c, 3, 1, 1)) for c in widths)
        self.conv_last = nn.Conv2d(widths[2], 1, 4, 1, 1)

    def forward(self, img, semantic=None):
        semantic = self._check(img, semantic)
        x = F.leaky_relu(self.conv_first(img), 0.2, inplace=True)
        for i, conv in enumerate(self.convs):
            x = self._fuse(i, conv(x), semantic, self.after_fusion[i])
        return self.conv_last(x)


@register(ARCH_REGISTRY)
class SeDUNetDiscriminator(_SeDBase):
    """SeD-U: BasicSR's ``UNetDiscriminatorSN`` shape with semantic fusion at 1/8, 1/4 and 1/2 resolution.

    Args: as ``SeDPatchDiscriminator`` plus ``skip_connection`` (U-Net skips). Output: ``(B, 1, H, W)``.
    """

    def __init__(self, num_in_ch=3, num_feat=64, fused_channels=64, skip_connection=True, clip_model=None,
                 pretrained=DEFAULT_PRETRAINED, backbone=None, semantic_layer=None):
        super().__init__(clip_model, pretrained, backbone, semantic_layer)
        semantic_channels = self._semantic_channels()
        self.skip_connection = skip_connection
        self.min_size = 16
        norm = spectral_norm
        f = num_feat
        self.conv0 = nn.Conv2d(num_in_ch, f, 3, 1, 1)
        self.down = nn.ModuleList([norm(nn.Conv2d(f, f * 2, 4, 2, 1, bias=False)),
                                   norm(nn.Conv2d(f * 2, f * 4, 4, 2, 1, bias=False)),
                                   norm(nn.Conv2d(f * 4, f * 8, 4, 2, 1, bias=False))])
        self.up = nn.ModuleList([norm(nn.Conv2d(f * 8, f * 4, 3, 1, 1, bias=False)),
                                 norm(nn.Conv2d(f * 4, f * 2, 3, 1, 1, bias=False)),
                                 norm(nn.Conv2d(f * 2, f, 3, 1, 1, bias=False))])
        fused_widths = [f * 8, f * 4, f * 2]  # at 1/8 (bottom), then 1/4 and 1/2 on the way up
        self.fusions = nn.ModuleList(SemanticFusion(semantic_channels, c, fused_channels) for c in fused_widths)
        self.after_fusion = nn.ModuleList(norm(nn.Conv2d(c + fused_channels, c, 3, 1, 1)) for c in fused_widths)
        self.head = nn.Sequential(norm(nn.Conv2d(f, f, 3, 1, 1, bias=False)), nn.LeakyReLU(0.2, True),
                                  norm(nn.Conv2d(f, f, 3, 1, 1, bias=False)), nn.LeakyReLU(0.2, True),
                                  nn.Conv2d(f, 1, 3, 1, 1))

    def forward(self, img, semantic=None):
        semantic = self._check(img, semantic)
        skips = [F.leaky_relu(self.conv0(img), 0.2, inplace=True)]
        for conv in self.down[:-1]:
            skips.append(F.leaky_relu(conv(skips[-1]), 0.2, inplace=True))
        x = self._fuse(0, self.down[-1](skips[-1]), semantic, self.after_fusion[0])
        for i, conv in enumerate(self.up):
            skip = skips.pop()
            x = F.interpolate(x, size=skip.shape[-2:], mode='bilinear', align_corners=False)
            x = F.leaky_relu(conv(x), 0.2, inplace=True)
            if self.skip_connection:
                x = x + skip
            if i + 1 < len(self.fusions):
                x = self._fuse(i + 1, x, semantic, self.after_fusion[i + 1])
        return self.head(x)
