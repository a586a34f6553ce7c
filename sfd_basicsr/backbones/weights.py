"""CLIP weights: open_clip tags, local files (state dicts, open_clip checkpoints, OpenAI's archives), random ones.

A random encoder (``pretrained: None``) is seeded, so it is the same one in every process and its scores
reproduce; it is logged loudly, since its features carry no semantics.
"""
import hashlib
import logging
import os
import re

import open_clip
import torch

from ..utils.errors import InputError, InputNotFound, UserError

DEFAULT_CLIP_MODEL = 'RN50-quickgelu'
DEFAULT_PRETRAINED = 'openai'
WEIGHT_FILE_SUFFIXES = ('.pt', '.pth', '.bin', '.safetensors', '.ckpt')
RANDOM_ENCODER_SEED = 0  # a random encoder is the same one in every process, so its scores are reproducible


class EncoderWeightsError(UserError, RuntimeError):
    """CLIP weights could not be obtained or read."""


def is_weights_path(pretrained):
    """Whether ``pretrained`` names a local file rather than an open_clip weight tag."""
    return os.sep in pretrained or pretrained.endswith(WEIGHT_FILE_SUFFIXES) or os.path.exists(pretrained)


def weights_key(pretrained):
    """What tells two ``pretrained`` values apart: a file's real path, or the tag; None for random weights."""
    if pretrained is None:
        return None
    pretrained = str(pretrained)
    return os.path.realpath(os.path.expanduser(pretrained)) if is_weights_path(pretrained) else pretrained


def published_sha256(model_name, path):
    """``(tag, sha256)`` when ``path`` has the file name of weights open_clip knows for ``model_name`` from a URL that
    carries their SHA-256 (OpenAI's: ``.../models/<sha256>/RN50.pt``), else None."""
    for tag in open_clip.list_pretrained_tags_by_model(model_name):
        url = (open_clip.get_pretrained_cfg(model_name, tag) or {}).get('url') or ''
        parts = url.rstrip('/').split('/')
        if len(parts) >= 2 and parts[-1] == os.path.basename(path) and re.fullmatch(r'[0-9a-f]{64}', parts[-2]):
            return tag, parts[-2]
    return None


def verify_published_file(model_name, path):
    """Refuse a local copy of published weights whose SHA-256 is not the published one (a cut or damaged download,
    another model's file under the same name), naming both hashes."""
    known = published_sha256(model_name, path)
    if known is None:
        return
    tag, expected = known
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(2**22), b''):
            digest.update(block)
    if digest.hexdigest() != expected:
        raise InputError(f"CLIP weights file '{path}' is not the {model_name} '{tag}' file published as "
                         f'{os.path.basename(path)}: its SHA-256 is {digest.hexdigest()}, the published one '
                         f'{expected} (a cut or damaged download?); download it again.')


def _load_weights_file(model_name, path):
    if not os.path.isfile(path):
        raise InputNotFound(f"CLIP weights file '{path}' (encoder option 'pretrained') does not exist.")
    verify_published_file(model_name, path)
    model = open_clip.create_model(model_name, pretrained=None)
    try:
        open_clip.load_checkpoint(model, path)
        return model
    except Exception as state_dict_error:  # OpenAI's own .pt files are TorchScript archives, not state dicts
        try:
            return open_clip.load_openai_model(path, device='cpu')
        except Exception:
            raise EncoderWeightsError(
                f"Cannot read CLIP weights for '{model_name}' from '{path}': {type(state_dict_error).__name__}: "
                f'{state_dict_error}. Expected a state dict of that model (torch.save(model.state_dict())), an '
                "open_clip checkpoint or OpenAI's .pt archive.") from state_dict_error


def create_clip(model_name, pretrained):
    """Build the open_clip model: ``pretrained`` is an open_clip tag, a local file, or None (random)."""
    if model_name not in open_clip.list_models():
        raise InputError(f"Unknown CLIP model '{model_name}' (encoder option 'clip_model'); "
                         f"use a name from open_clip.list_models(), e.g. '{DEFAULT_CLIP_MODEL}' or 'ViT-B-16'.")
    logger = logging.getLogger('basicsr')
    if pretrained is None:
        logger.warning(f'CLIP encoder {model_name} is RANDOMLY INITIALISED (pretrained: null): its features carry '
                       'no semantics. Use this for tests and offline demos only, never for real training or scoring.')
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_ENCODER_SEED)
            return open_clip.create_model(model_name, pretrained=None)
    pretrained = str(pretrained)
    if is_weights_path(pretrained):
        path = os.path.expanduser(pretrained)
        logger.info(f'CLIP encoder {model_name}: loading weights from {path}')
        return _load_weights_file(model_name, path)
    check_weight_tag(model_name, pretrained)
    try:
        return open_clip.create_model(model_name, pretrained=pretrained)
    except Exception as error:
        raise EncoderWeightsError(
            f"Could not get the '{pretrained}' weights of CLIP {model_name}: {type(error).__name__}: {error}. "
            f'Without network access, download {open_clip.get_pretrained_url(model_name, pretrained) or "them"} '
            "on another machine and set 'pretrained' to the local file path.") from error


def check_weight_tag(model_name, tag):
    tags = open_clip.list_pretrained_tags_by_model(model_name)
    if tag not in tags:
        raise InputError(f"'{tag}' is neither a file nor an open_clip weight tag of {model_name} (tags: {tags}).")


def cached_pretrained_file(model_name, tag):
    """The local file of open_clip weights ``tag`` if a download already put it on disk, else None.

    Looks in the Hugging Face cache and in OpenAI's URL cache (~/.cache/clip) without any network call.
    """
    config = open_clip.get_pretrained_cfg(model_name, tag) or {}
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
