"""Encoder options checked from the libraries' configs and tags, without loading weights or downloading anything."""
import os

from ..utils.errors import InputError
from ..utils.offline import offline_setting
from .layout import encoder_layout
from .names import is_weights_path
from .weights import cached_pretrained_file, check_weight_tag, pretrained_url, resolve_pretrained, \
    verify_published_file


def check_encoder_options(model_name, pretrained, layers=None, needs_text=None):
    """Raise ``InputError('<option>: ...')`` for an encoder option that cannot work, without loading weights;
    ``needs_text`` names the network that compares images with text (TG-D), which the backbone must then have."""
    layout = encoder_layout(model_name)
    if needs_text:
        try:
            layout.check_text(needs_text)
        except InputError as error:
            raise InputError(f'backbone: {error}') from None
    pretrained = resolve_pretrained(model_name, pretrained)
    unknown = [name for name in layers or () if name not in layout.stages]
    if unknown:
        raise InputError(f'layers: {unknown} are not layers of {model_name}; choose from {list(layout.stages)}.')
    if pretrained is None:
        return
    pretrained = str(pretrained)
    if is_weights_path(pretrained):
        if not os.path.isfile(os.path.expanduser(pretrained)):
            raise InputError(f"pretrained: encoder weights file '{pretrained}' does not exist.")
        try:
            verify_published_file(model_name, os.path.expanduser(pretrained))
        except InputError as error:
            raise InputError(f'pretrained: {error}') from None
        return
    try:
        check_weight_tag(model_name, pretrained)
    except ValueError as error:
        raise InputError(f'pretrained: {error}') from None
    offline = offline_setting()
    if offline and cached_pretrained_file(model_name, pretrained) is None:
        raise InputError(f"pretrained: the '{pretrained}' weights of {model_name} are not on this machine and "
                         f'{offline} forbids downloading them; fetch {pretrained_url(model_name, pretrained)} '
                         'elsewhere and set pretrained to the local file path.')
