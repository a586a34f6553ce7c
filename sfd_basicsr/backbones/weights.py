"""Encoder weights, whichever library the backbone comes from: tags, local files, seeded random ones.

``open_clip_weights`` and ``timm_weights`` answer the same questions for their library; this module picks one by
the backbone's name. A random encoder (``pretrained: None``) is seeded, so it is the same one in every process and
its scores reproduce; it is logged loudly, since its features carry no semantics.
"""
import logging
import os

import torch

from ..utils.errors import UserError, one_line
from .names import DEFAULT_PRETRAINED, OPEN_CLIP, is_weights_path, split_backbone

RANDOM_ENCODER_SEED = 0  # a random encoder is the same one in every process, so its scores are reproducible


class EncoderWeightsError(UserError, RuntimeError):
    """Encoder weights could not be obtained or read."""


def family(name):
    """``(weights module of the backbone's library, model name in that library)``."""
    library, model = split_backbone(name)
    if library == OPEN_CLIP:
        from . import open_clip_weights as module
    else:
        from . import timm_weights as module
    module.check_model(model)
    return module, model


def resolve_pretrained(name, pretrained):
    """``pretrained`` with ``'default'`` replaced by the library's default weights tag for the model."""
    if pretrained is None or str(pretrained) != DEFAULT_PRETRAINED:
        return pretrained
    module, model = family(name)
    return module.default_tag(model)


def create_backbone(name, pretrained):
    """The library's model: ``pretrained`` a tag, a local file, or None (random, seeded, said loudly)."""
    module, model = family(name)
    logger = logging.getLogger('basicsr')
    if pretrained is None:
        logger.warning(f'Encoder {name} is RANDOMLY INITIALISED (pretrained: null): its features carry no semantics. '
                       'Use this for tests and offline demos only, never for real training or scoring.')
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_ENCODER_SEED)
            return module.create_random(model)
    pretrained = str(resolve_pretrained(name, pretrained))
    if is_weights_path(pretrained):
        path = os.path.expanduser(pretrained)
        logger.info(f'Encoder {name}: loading weights from {path}')
        return module.create_from_file(model, path)
    module.check_tag(model, pretrained)
    try:
        return module.create_from_tag(model, pretrained)
    except Exception as error:  # offline, a proxy, a full disk: the way round is the same
        raise EncoderWeightsError(
            f"Could not get the '{pretrained}' weights of {name}: {one_line(error)}. Without network access, download "
            f"{module.url(model, pretrained)} on another machine and set 'pretrained' to the local file path."
        ) from error


def normalisation(name, pretrained):
    """``(mean, std)`` the library preprocesses the backbone with for these weights (a file's or random weights: the
    model's own)."""
    module, model = family(name)
    pretrained = resolve_pretrained(name, pretrained)
    tag = None if pretrained is None or is_weights_path(str(pretrained)) else str(pretrained)
    return module.normalisation(model, tag)


def check_weight_tag(name, tag):
    module, model = family(name)
    module.check_tag(model, tag)


def verify_published_file(name, path):
    module, model = family(name)
    module.verify_file(model, path)


def cached_pretrained_file(name, tag):
    module, model = family(name)
    return module.cached_file(model, resolve_pretrained(name, tag))


def pretrained_url(name, tag):
    module, model = family(name)
    return module.url(model, resolve_pretrained(name, tag))


def download_pretrained(name, tag):
    module, model = family(name)
    module.download(model, resolve_pretrained(name, tag))
