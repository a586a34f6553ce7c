"""CLIP encoder options checked from open_clip's configs and tags, without building or downloading anything."""
import os

import open_clip

from ..utils.errors import InputError
from .encoder import RESNET_STAGES
from .weights import DEFAULT_CLIP_MODEL, cached_pretrained_file, check_weight_tag, is_weights_path


def encoder_layer_names(model_name):
    """The layer names ``FrozenCLIPEncoder`` offers for ``model_name``, from open_clip's config (nothing built)."""
    config = open_clip.get_model_config(model_name)
    if config is None:
        raise InputError(f"clip_model: unknown CLIP model '{model_name}'; use a name from open_clip.list_models(), "
                         f"e.g. '{DEFAULT_CLIP_MODEL}' or 'ViT-B-16'.")
    layers = config['vision_cfg']['layers']
    if isinstance(layers, (list, tuple)):
        return RESNET_STAGES
    return tuple(f'block{k}' for k in range(1, layers + 1))


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
