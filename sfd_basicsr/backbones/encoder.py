"""The frozen encoder that every SFD module shares (docs/method.md, "Our decisions").

``get_encoder(name, pretrained, device)`` returns one frozen encoder per process and per (backbone, weights,
device): ``FrozenCLIPEncoder`` for open_clip backbones, ``FrozenTimmEncoder`` for timm's. Discriminators look it up on
every forward instead of owning it (``archs.encoder_client``), so the encoder never enters their ``state_dict``,
optimiser, ``.to()`` or DDP wrapper, and is never put back into training mode by ``net_d.train()``.
"""
import torch
from torch import nn

from ..utils.errors import InputError
from ..utils.image_io import check_min_side
from ..utils.process_cache import ProcessCache
from .layout import encoder_layout
from .names import OPEN_CLIP, backbone_name, split_backbone, weights_key
from .weights import create_backbone, normalisation, resolve_pretrained


def _device_key(device):
    device = torch.device(device)
    if device.type == 'cuda' and device.index is None:
        device = torch.device('cuda', torch.cuda.current_device())
    return str(device)


def maps_by_layer(layers, indices, maps):
    """``{layer: map}`` from the maps of a ``forward_intermediates`` (timm's, open_clip's), which come one per distinct
    index in depth order, whatever order ``layers`` (at ``indices``) were asked in."""
    by_index = dict(zip(sorted(set(indices)), maps))
    return {name: by_index[index] for name, index in zip(layers, indices)}


class FrozenEncoder(nn.Module):
    """A backbone that never trains: middle layers (and, where it has one, the embedding) from one pass.

    Images are RGB in [0, 1], any size of at least ``min_size(...)`` pixels per side; each backbone's own mean and
    std (its library's config for its weights) are applied here. Subclasses build ``self.network`` and implement
    ``features(x, layers, embedding)`` on normalised input.
    """

    def __init__(self, model_name, pretrained):
        super().__init__()
        self.model_name = model_name
        self.pretrained = resolve_pretrained(model_name, pretrained)
        self.layout = encoder_layout(model_name)
        self.network = create_backbone(model_name, self.pretrained)
        self.network.requires_grad_(False)
        mean, std = normalisation(model_name, self.pretrained)
        self.register_buffer('mean', torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        self.stages, self.default_layers = self.layout.stages, self.layout.default_layers
        self.layer_channels, self.layer_strides = self.layout.layer_channels, self.layout.layer_strides
        self.embed_dim = self.layout.embed_dim
        self.eval()

    def train(self, mode=True):
        """Stays in eval mode whatever is asked: BatchNorm must keep the backbone's running statistics."""
        return super().train(False)

    def check_layers(self, layers):
        self.layout.check_layers(layers)

    def min_size(self, layers=(), embedding=True):
        return self.layout.min_size(layers, embedding)

    def forward(self, image, layers=(), embedding=True):
        """Return ``{layer: map, ..., 'embedding': (B, embed_dim)}`` from a single pass over ``image``."""
        self.check_layers(layers)
        if embedding and not self.embed_dim:
            raise InputError(f'{self.model_name} has no image embedding (no text tower to compare it with); '
                             'ask it for middle layers only.')
        if image.dim() != 4 or image.shape[1] != 3:
            raise InputError(f'The encoder expects RGB images shaped (B, 3, H, W); got {tuple(image.shape)}.')
        check_min_side(image.shape, self.min_size(layers, embedding), f'{self.model_name} (these features)')
        if not layers and not embedding:
            return {}  # nothing asked, from every tower alike
        return self.features((image - self.mean) / self.std, tuple(layers), embedding)

    def features(self, x, layers, embedding):
        raise NotImplementedError


def build_encoder(model_name, pretrained):
    if split_backbone(model_name)[0] == OPEN_CLIP:
        from .clip_encoder import FrozenCLIPEncoder
        return FrozenCLIPEncoder(model_name, pretrained)
    from .timm_encoder import FrozenTimmEncoder
    return FrozenTimmEncoder(model_name, pretrained)


_ENCODERS = ProcessCache()


def encoder_identity(model_name, pretrained):
    """``(backbone, weights)`` as the encoder cache tells them apart: the canonical name, and a file's real path, the
    tag, or None. It looks the file up, so a caller that asks on every forward computes it once."""
    model_name = backbone_name(model_name)
    return model_name, weights_key(resolve_pretrained(model_name, pretrained))


def get_encoder(model_name, pretrained, device='cpu', identity=None):
    """The process-wide encoder for (backbone, weights, device), built on first request; ``identity``:
    ``encoder_identity(model_name, pretrained)`` when the caller keeps it."""
    model_name, weights = identity or encoder_identity(model_name, pretrained)
    key = (model_name, weights, _device_key(device))
    return _ENCODERS.get(key, lambda: build_encoder(model_name, pretrained).to(key[2]))
