"""open_clip's models and weights: tags, local files (state dicts, open_clip checkpoints, OpenAI's archives).

One of the weight families ``weights`` dispatches to; ``timm_weights`` answers the same questions for timm.
"""
import hashlib
import os
import re

import open_clip

from ..utils.errors import InputError, InputNotFound
from .weights import EncoderWeightsError

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


def check_model(model):
    if model not in open_clip.list_models():
        raise InputError(f"Unknown CLIP model '{model}' (encoder option 'clip_model' / 'backbone'); use a name "
                         "from open_clip.list_models(), e.g. 'RN50-quickgelu', 'ViT-B-16' or 'convnext_base_w'.")


def tags(model):
    return list(open_clip.list_pretrained_tags_by_model(model))


def default_tag(model):
    """OpenAI's weights where published, else open_clip's first tag for the model."""
    known = tags(model)
    if not known:
        raise InputError(f"pretrained: open_clip publishes no weights for '{model}'; set pretrained to a local file, "
                         'or to null for random weights.')
    return 'openai' if 'openai' in known else known[0]


def url(model, tag):
    config = open_clip.get_pretrained_cfg(model, tag) or {}
    return config.get('url') or (f"https://huggingface.co/{config['hf_hub'].rstrip('/')}" if config.get('hf_hub')
                                 else f"open_clip's '{tag}' weights")


def normalisation(model, tag):
    """``(mean, std)`` open_clip preprocesses ``model`` with for weights ``tag`` (None: the model's own)."""
    config = (open_clip.get_pretrained_cfg(model, tag) if tag else None) or {}
    preprocess = (open_clip.get_model_config(model) or {}).get('preprocess_cfg', {})
    return (tuple(config.get('mean') or preprocess.get('mean') or OPENAI_MEAN),
            tuple(config.get('std') or preprocess.get('std') or OPENAI_STD))


def published_sha256(model, path):
    """``(tag, sha256)`` when ``path`` has the file name of weights open_clip knows for ``model`` from a URL that
    carries their SHA-256 (OpenAI's: ``.../models/<sha256>/RN50.pt``), else None."""
    for tag in tags(model):
        address = (open_clip.get_pretrained_cfg(model, tag) or {}).get('url') or ''
        parts = address.rstrip('/').split('/')
        if len(parts) >= 2 and parts[-1] == os.path.basename(path) and re.fullmatch(r'[0-9a-f]{64}', parts[-2]):
            return tag, parts[-2]
    return None


def verify_file(model, path):
    """Refuse a local copy of published weights whose SHA-256 is not the published one (a cut or damaged download,
    another model's file under the same name), naming both hashes."""
    known = published_sha256(model, path)
    if known is None:
        return
    tag, expected = known
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(2**22), b''):
            digest.update(block)
    if digest.hexdigest() != expected:
        raise InputError(f"CLIP weights file '{path}' is not the {model} '{tag}' file published as "
                         f'{os.path.basename(path)}: its SHA-256 is {digest.hexdigest()}, the published one '
                         f'{expected} (a cut or damaged download?); download it again.')


def create_random(model):
    return open_clip.create_model(model, pretrained=None)


def create_from_file(model, path):
    if not os.path.isfile(path):
        raise InputNotFound(f"CLIP weights file '{path}' (encoder option 'pretrained') does not exist.")
    verify_file(model, path)
    network = open_clip.create_model(model, pretrained=None)
    try:
        open_clip.load_checkpoint(network, path)
        return network
    except Exception as state_dict_error:  # OpenAI's own .pt files are TorchScript archives, not state dicts
        try:
            return open_clip.load_openai_model(path, device='cpu')
        except Exception:
            raise EncoderWeightsError(
                f"Cannot read CLIP weights for '{model}' from '{path}': {type(state_dict_error).__name__}: "
                f'{state_dict_error}. Expected a state dict of that model (torch.save(model.state_dict())), an '
                "open_clip checkpoint or OpenAI's .pt archive.") from state_dict_error


def create_from_tag(model, tag):
    return open_clip.create_model(model, pretrained=tag)


def check_tag(model, tag):
    if tag not in tags(model):
        raise InputError(f"'{tag}' is neither a file nor an open_clip weight tag of {model} (tags: {tags(model)}).")


def download(model, tag):
    open_clip.download_pretrained(open_clip.get_pretrained_cfg(model, tag))


def cached_file(model, tag):
    """The local file of open_clip weights ``tag`` if a download already put it on disk, else None.

    Looks in the Hugging Face cache and in OpenAI's URL cache (~/.cache/clip) without any network call.
    """
    config = open_clip.get_pretrained_cfg(model, tag) or {}
    if config.get('hf_hub'):
        from huggingface_hub import try_to_load_from_cache
        repo, filename = config['hf_hub'].rsplit('/', 1)
        for name in [filename] if filename else ['open_clip_model.safetensors', 'open_clip_pytorch_model.bin']:
            found = try_to_load_from_cache(repo, name)
            if isinstance(found, str):
                return found
    if config.get('url'):
        path = os.path.join(os.path.expanduser('~/.cache/clip'), os.path.basename(config['url']))
        if os.path.isfile(path):
            return path
    return None
