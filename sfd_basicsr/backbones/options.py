"""CLIP encoder options checked from open_clip's configs and tags, without building or downloading anything."""
import os

import open_clip

from ..utils.errors import InputError
from .layout import encoder_layout
from .weights import cached_pretrained_file, verify_published_file, check_weight_tag, is_weights_path


def encoder_layer_names(model_name):
    """The layer names ``FrozenCLIPEncoder`` offers for ``model_name``, from open_clip's config (nothing built)."""
    return encoder_layout(model_name).stages


def check_encoder_options(model_name, pretrained, layers=None):
    """Raise ``ValueError('<option>: ...')`` for an encoder option that cannot work, without building anything."""
    available = encoder_layer_names(model_name)
    unknown = [name for name in layers or () if name not in available]
    if unknown:
        raise InputError(f'layers: {unknown} are not layers of {model_name}; choose from {list(available)}.')
    if pretrained is None:
        return
    pretrained = str(pretrained)
    if is_weights_path(pretrained):
        if not os.path.isfile(os.path.expanduser(pretrained)):
            raise InputError(f"pretrained: CLIP weights file '{pretrained}' does not exist.")
        try:
            verify_published_file(model_name, os.path.expanduser(pretrained))
        except InputError as error:
            raise InputError(f'pretrained: {error}') from None
        return
    try:
        check_weight_tag(model_name, pretrained)
    except ValueError as error:
        raise InputError(f'pretrained: {error}') from None
    offline = os.environ.get('HF_HUB_OFFLINE', '').upper() in ('1', 'ON', 'YES', 'TRUE')  # huggingface_hub's spellings
    if offline and cached_pretrained_file(model_name, pretrained) is None:
        url = open_clip.get_pretrained_url(model_name, pretrained) or f"open_clip's '{pretrained}' weights"
        raise InputError(f"pretrained: the '{pretrained}' weights of {model_name} are not on this machine and "
                         f'HF_HUB_OFFLINE=1 forbids downloading them; fetch {url} elsewhere and set pretrained to '
                         'the local file path.')
