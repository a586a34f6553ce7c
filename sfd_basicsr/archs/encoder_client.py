"""The base of the discriminators that read the shared frozen encoder, and the backbone name their checkpoints carry."""
import torch
from torch import nn

from ..backbones.encoder import encoder_identity, get_encoder
from ..backbones.layout import encoder_layout
from ..backbones.names import DEFAULT_PRETRAINED, backbone_name
from ..backbones.weights import resolve_pretrained
from ..utils.errors import InputError

BACKBONE_NAME_BYTES = 64


def encode_backbone_name(model_name):
    raw = model_name.encode('utf-8')
    if len(raw) > BACKBONE_NAME_BYTES:
        raise InputError(f"Backbone name '{model_name}' is longer than {BACKBONE_NAME_BYTES} bytes.")
    return torch.tensor(list(raw) + [0] * (BACKBONE_NAME_BYTES - len(raw)), dtype=torch.uint8)


def decode_backbone_name(buffer):
    return bytes(int(v) for v in buffer.tolist() if v != 0).decode('utf-8')


class EncoderClient(nn.Module):
    """Base of the modules that read the shared encoder.

    The encoder is looked up by device at each use, never stored as a submodule. The backbone's name
    is kept as the uint8 buffer ``backbone`` so a checkpoint says which encoder it needs, and loading
    one made for another backbone fails with that name rather than with a shape mismatch.
    """

    def __init__(self, clip_model=None, pretrained=DEFAULT_PRETRAINED, backbone=None):
        super().__init__()
        self.clip_model = backbone_name(backbone, clip_model)  # the canonical name of the backbone, any library
        self.layout = encoder_layout(self.clip_model)  # from the library's config: no encoder built here
        self.pretrained = resolve_pretrained(self.clip_model, pretrained)
        self.register_buffer('backbone', encode_backbone_name(self.clip_model))
        self._encoder_identity = encoder_identity(self.clip_model, self.pretrained)  # no file look-up per forward

    def encoder(self, device=None):
        return get_encoder(self.clip_model, self.pretrained, device or self.backbone.device, self._encoder_identity)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        saved = state_dict.get(prefix + 'backbone')
        if saved is not None and (tuple(saved.shape) != (BACKBONE_NAME_BYTES, ) or not decode_backbone_name(saved)):
            raise InputError(f'{type(self).__name__} checkpoint has a damaged backbone name (a {tuple(saved.shape)} '
                             f'tensor where {BACKBONE_NAME_BYTES} bytes of text were saved): not one this network '
                             'saved.')
        if saved is not None and decode_backbone_name(saved) != self.clip_model:
            raise InputError(f'{type(self).__name__} checkpoint was trained on the backbone '
                             f"{decode_backbone_name(saved)}, but this network is configured with backbone "
                             f"'{self.clip_model}'.")
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
