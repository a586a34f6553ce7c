"""What a ``backbone`` and a ``pretrained`` option mean, before anything is built (docs/method.md, "Backbones").

A backbone is named ``open_clip:<model>`` (or the bare open_clip name: the ``clip_model`` option and every older
checkpoint say it so) or ``timm:<model>``. ``pretrained`` is a weight tag of that library, a local file, ``None``
(random weights, said loudly) or ``'default'``: the library's own default weights for the model.
"""
import os

from ..utils.errors import InputError

DEFAULT_CLIP_MODEL = 'RN50-quickgelu'
DEFAULT_PRETRAINED = 'default'
OPEN_CLIP, TIMM = 'open_clip', 'timm'
LIBRARIES = (OPEN_CLIP, TIMM)
WEIGHT_FILE_SUFFIXES = ('.pt', '.pth', '.bin', '.safetensors', '.ckpt')


def split_backbone(name):
    """``(library, model)`` of a backbone name; a name without a library prefix is open_clip's."""
    library, colon, model = str(name).partition(':')
    if not colon:
        return OPEN_CLIP, str(name)
    if library not in LIBRARIES or not model:
        raise InputError(f"backbone: '{name}' is not '<library>:<model>' with library one of {list(LIBRARIES)} "
                         "(e.g. 'timm:vit_small_patch14_dinov2', 'open_clip:convnext_base_w').")
    return library, model


def backbone_name(backbone=None, clip_model=None):
    """The canonical name of the backbone the ``backbone`` / ``clip_model`` options choose: open_clip models bare
    (as every checkpoint before the ``backbone`` option recorded them), others ``<library>:<model>``."""
    if backbone is not None and clip_model is not None and \
            backbone_name(backbone) != backbone_name(clip_model=clip_model):
        raise InputError(f"backbone '{backbone}' and clip_model '{clip_model}' name different encoders; set one of "
                         'them (clip_model is the older spelling of backbone for open_clip models).')
    chosen = backbone if backbone is not None else clip_model if clip_model is not None else DEFAULT_CLIP_MODEL
    library, model = split_backbone(chosen)
    return model if library == OPEN_CLIP else f'{library}:{model}'


def is_weights_path(pretrained):
    """Whether ``pretrained`` names a local file rather than a weight tag."""
    return os.sep in pretrained or pretrained.endswith(WEIGHT_FILE_SUFFIXES) or os.path.exists(pretrained)


def weights_key(pretrained):
    """What tells two ``pretrained`` values apart: a file's real path, or the tag; None for random weights."""
    if pretrained is None:
        return None
    pretrained = str(pretrained)
    return os.path.realpath(os.path.expanduser(pretrained)) if is_weights_path(pretrained) else pretrained
