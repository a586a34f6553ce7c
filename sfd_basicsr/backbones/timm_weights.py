"""timm's models and weights: hub tags (``vit_small_patch14_dinov2`` + ``lvd142m``), local files, random ones.

One of the weight families ``weights`` dispatches to. Local files are read by the package's one checkpoint reader
(``utils.checkpoint_file``: plain weights only, the file named on any failure), then handed to timm's own loader and
its checkpoint filters, so Meta's original DINOv2 files load as timm's do.
"""
import os

import timm
from timm.models import get_pretrained_cfg

from ..utils.checkpoint_file import CheckpointReadError, read_checkpoint
from ..utils.errors import InputError, InputNotFound, one_line
from .weights import EncoderWeightsError

HUB_FILES = ('model.safetensors', 'pytorch_model.bin', 'open_clip_model.safetensors')
WRAPPING_KEYS = ('state_dict_ema', 'model_ema', 'state_dict', 'model')  # training checkpoints, as timm unwraps them


def build_kwargs(model):
    """Arguments every build of ``model`` gets: ViTs take any input size (their positional embedding resized)."""
    return {'dynamic_img_size': True} if 'vit' in model.split('_')[0] else {}


def check_model(model):
    if '.' in model:
        raise InputError(f"backbone: write the timm weights tag in 'pretrained', not in the model name: "
                         f"backbone: timm:{model.split('.')[0]}, pretrained: {model.split('.', 1)[1]}.")
    if not timm.is_model(model):
        raise InputError(f"backbone: unknown timm model '{model}'; use a name from "
                         "timm.list_models(), e.g. 'vit_small_patch14_dinov2', 'convnext_tiny', 'efficientnet_b0'.")


def tags(model):
    return [name.split('.', 1)[1] for name in timm.list_pretrained(f'{model}.*')]


def default_tag(model):
    config = get_pretrained_cfg(model)
    if config is None or not config.tag or config.tag not in tags(model):  # timm tags weightless configs 'untrained'
        raise InputError(f"pretrained: timm publishes no weights for '{model}'; set pretrained to a local file, or to "
                         'null for random weights.')
    return config.tag


def _config(model, tag):
    try:
        config = get_pretrained_cfg(f'{model}.{tag}' if tag else model)
    except RuntimeError:  # timm's answer to a tag it does not know
        config = None
    if config is None:
        raise InputError(f"'{tag}' is neither a file nor a timm weight tag of {model} (tags: {tags(model)}).")
    return config


def url(model, tag):
    config = _config(model, tag)
    return f'https://huggingface.co/{config.hf_hub_id}' if config.hf_hub_id else config.url or f"timm's '{tag}' weights"


def normalisation(model, tag):
    """``(mean, std)`` timm's pretrained config gives ``model`` for weights ``tag`` (None: the model's default)."""
    config = _config(model, tag)
    return tuple(config.mean), tuple(config.std)


def verify_file(model, path):
    """timm's configs publish no hashes: nothing to compare a local file with."""


def create_random(model):
    return timm.create_model(model, pretrained=False, **build_kwargs(model))


def create_from_file(model, path):
    if not os.path.isfile(path):
        raise InputNotFound(f"timm weights file '{path}' (encoder option 'pretrained') does not exist.")
    where = f"Cannot read timm weights for '{model}' from '{path}'"
    try:
        state_dict = _unwrapped(read_checkpoint(path, 'the file'))
    except CheckpointReadError as error:
        raise EncoderWeightsError(f'{where}: {error}') from None
    try:  # timm's loader with the weights already read: its checkpoint filters still apply
        return timm.create_model(model, pretrained=True, pretrained_cfg_overlay={'state_dict': state_dict},
                                 **build_kwargs(model))
    except Exception as error:
        raise EncoderWeightsError(
            f"{where}: {one_line(error)}. Expected that model's state dict (safetensors or torch.save of "
            'model.state_dict()) or the checkpoint timm publishes for it.') from error


def _unwrapped(checkpoint):
    """The weights inside a training checkpoint (EMA first), ``module.`` prefixes dropped, as timm's file loader
    gives them."""
    from timm.models import clean_state_dict
    if not isinstance(checkpoint, dict):
        raise CheckpointReadError(f'it holds a {type(checkpoint).__name__}, not a state dict')
    key = next((key for key in WRAPPING_KEYS if isinstance(checkpoint.get(key), dict)), None)
    return clean_state_dict(checkpoint[key] if key else checkpoint)


def create_from_tag(model, tag):
    return timm.create_model(f'{model}.{tag}', pretrained=True, **build_kwargs(model))


def check_tag(model, tag):
    _config(model, tag)


def download(model, tag):
    from huggingface_hub import hf_hub_download
    config = _config(model, tag)
    if not config.hf_hub_id:
        raise EncoderWeightsError(f'timm {model}.{tag} is not on the Hugging Face hub; download {config.url}.')
    names = [config.hf_hub_filename] if config.hf_hub_filename else HUB_FILES
    for name in names[:-1]:
        try:
            return hf_hub_download(config.hf_hub_id, name)
        except Exception:  # noqa: BLE001  (a repository holds one of the file names: try the next)
            continue
    return hf_hub_download(config.hf_hub_id, names[-1])


def cached_file(model, tag):
    """The local file of timm weights ``tag`` if a download already put it in the Hugging Face cache, else None."""
    config = _config(model, tag)
    if not config.hf_hub_id:
        return None
    from huggingface_hub import try_to_load_from_cache
    for name in [config.hf_hub_filename] if config.hf_hub_filename else HUB_FILES:
        found = try_to_load_from_cache(config.hf_hub_id, name)
        if isinstance(found, str):
            return found
    return None
