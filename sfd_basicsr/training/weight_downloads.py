"""Weights that building the networks would download, fetched before ``basicsr train`` makes any folder.

Without this, CLIP's and VGG19's downloads happened while BasicSR built the model, after ``experiments/<name>``
and ``tb_logger/<name>`` existed, and a first run met its missing files one try at a time.
"""
import os

import torch

from ..utils.offline import offline_setting
from .options_check import OptionsError

BASICSR_VGG_FILE = os.path.join('experiments', 'pretrained_models', 'vgg19-dcbb9e9d.pth')  # basicsr.archs.vgg_arch


def _encoder_weights(opt):
    """``[(option key, backbone, pretrained)]`` of the networks that read a frozen encoder, defaults resolved."""
    from ..backbones.names import DEFAULT_PRETRAINED, backbone_name
    from ..backbones.weights import resolve_pretrained
    found = []
    for key, net in opt.items():
        if isinstance(key, str) and key.startswith('network_') and isinstance(net, dict) and \
                ('clip_model' in net or 'backbone' in net or _reads_encoder(net.get('type'))):
            name = backbone_name(net.get('backbone'), net.get('clip_model'))
            found.append((key, name, resolve_pretrained(name, net.get('pretrained', DEFAULT_PRETRAINED))))
    return found


def _reads_encoder(arch_type):
    """Whether the registered arch ``arch_type`` reads the shared encoder (FeatD, TG-D, SeD, ... with defaults)."""
    import inspect

    from basicsr.utils.registry import ARCH_REGISTRY
    try:
        return 'clip_model' in inspect.signature(ARCH_REGISTRY.get(arch_type)).parameters
    except Exception:  # noqa: BLE001  (an unknown type is the options check's to report)
        return False


def _clip_downloads(opt):
    """``{(backbone, tag): [option keys]}`` of encoder weight tags the networks name and no cache holds."""
    from ..backbones.names import is_weights_path
    from ..backbones.weights import cached_pretrained_file
    wanted = {}
    for key, name, tag in _encoder_weights(opt):
        if tag is not None and not is_weights_path(str(tag)) and cached_pretrained_file(name, str(tag)) is None:
            wanted.setdefault((name, str(tag)), []).append(f'{key}.pretrained')
    return wanted


def _described(name):
    """``CLIP RN50-quickgelu``, ``timm:vit_small_patch14_dinov2``: the backbone as a report line names it."""
    from ..backbones.names import OPEN_CLIP, split_backbone
    return f'CLIP {name}' if split_backbone(name)[0] == OPEN_CLIP else name


def _hub_file(url):
    return os.path.join(torch.hub.get_dir(), 'checkpoints', os.path.basename(url))  # where torchvision caches it


def _reason(error):
    return f"{type(error).__name__}: {' '.join(str(error).split())[:160]}"


def _vgg_downloads(opt):
    """``{url: [option keys]}`` of the VGG weights BasicSR's perceptual losses would download."""
    import torchvision
    wanted = {}
    for name, loss in (opt.get('train') or {}).items():
        if not (isinstance(loss, dict) and 'Perceptual' in str(loss.get('type'))) or os.path.exists(BASICSR_VGG_FILE):
            continue
        url = torchvision.models.get_model_weights(loss.get('vgg_type', 'vgg19')).IMAGENET1K_V1.url
        if not os.path.isfile(_hub_file(url)):
            wanted.setdefault(url, []).append(f'train.{name}')
    return wanted


def offline_problems(opt):
    """Offline (``HF_HUB_OFFLINE=1`` or ``TRANSFORMERS_OFFLINE=1``), the VGG weights a perceptual loss needs and no
    file holds, as problem lines naming the option and where to put the file (the CLIP tags: ``clip.options``)."""
    offline = offline_setting()
    if not offline:
        return []
    return [f"{' / '.join(keys)}: BasicSR's perceptual loss needs its VGG weights, which are not on this machine and "
            f'{offline} forbids downloading them; fetch {url} elsewhere and put it at '
            f'{os.path.abspath(BASICSR_VGG_FILE)} or {_hub_file(url)}, or remove the loss.'
            for url, keys in _vgg_downloads(opt).items()]


def _fetched_by_train():
    return '' if offline_setting() else ': train downloads it first'


def weights_report(opt):
    """One line per weight file the options need (CLIP, VGG): found where, or downloaded from where by ``train``."""
    from ..backbones.names import is_weights_path
    from ..backbones.weights import cached_pretrained_file
    lines = []
    for key, name, tag in _encoder_weights(opt):
        if tag is None:
            lines.append(f'{key}.pretrained: none (a random {_described(name)}: for tests only)')
        elif is_weights_path(str(tag)):
            lines.append(f'{key}.pretrained: the local file {os.path.abspath(os.path.expanduser(str(tag)))}')
        else:
            found = cached_pretrained_file(name, str(tag))
            lines.append(f"{key}.pretrained: {_described(name)} '{tag}' " + (
                f'found at {found}' if found else 'not on this machine' + _fetched_by_train()))
    for name, loss in (opt.get('train') or {}).items():
        if isinstance(loss, dict) and 'Perceptual' in str(loss.get('type')):
            import torchvision
            url = torchvision.models.get_model_weights(loss.get('vgg_type', 'vgg19')).IMAGENET1K_V1.url
            found = [path for path in (BASICSR_VGG_FILE, _hub_file(url)) if os.path.isfile(path)]
            lines.append(f'train.{name}: VGG weights ' + (f'found at {os.path.abspath(found[0])}' if found else
                                                          f'{url} not on this machine' + _fetched_by_train()))
    return lines


def fetch_weights(opt):
    """Download every weight file the options need and no cache holds; ``OptionsError`` listing those that failed."""
    from ..backbones.weights import download_pretrained, pretrained_url
    problems = []
    for (model_name, tag), keys in _clip_downloads(opt).items():
        try:
            download_pretrained(model_name, tag)
        except Exception as error:  # noqa: BLE001  (offline, proxy, disk: each names the option and the way round)
            problems.append(f"{' / '.join(keys)}: could not download the '{tag}' weights of "
                            f'{_described(model_name)} ({_reason(error)}); fetch '
                            f'{pretrained_url(model_name, tag)} on another machine and set pretrained to the local '
                            'file path.')
    for url, keys in _vgg_downloads(opt).items():
        target = _hub_file(url)
        try:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            torch.hub.download_url_to_file(url, target)
        except Exception as error:  # noqa: BLE001
            problems.append(f"{' / '.join(keys)}: BasicSR's perceptual loss could not download its VGG weights "
                            f'({_reason(error)}); put {os.path.basename(url)} at '
                            f'{os.path.abspath(BASICSR_VGG_FILE)} or {target}, or remove the loss.')
    if problems:
        raise OptionsError(problems)
