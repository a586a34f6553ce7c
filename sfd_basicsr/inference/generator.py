"""Load a super-resolution generator from an experiment folder, a BasicSR checkpoint or any spandrel file."""
import os
from dataclasses import dataclass

from torch import nn

from ..utils.checkpoint_file import CheckpointReadError, read_checkpoint
from ..utils.errors import InputError, one_line
from ..utils.experiment import latest_checkpoint, training_options


class GeneratorLoadError(InputError):
    """A model path that is not a loadable generator; the message names it."""


@dataclass
class LoadedGenerator:
    """A generator ready for inference (eval mode, no gradients) and what is known about it."""
    module: nn.Module
    scale: int
    input_channels: int
    supports_half: bool
    source: str  # where the weights came from, for messages and logs
    supports_bfloat16: bool = True


def load_generator(model, device='cpu'):
    """``model``: an experiment folder (``network_g`` from its options, ``params_ema`` when present), a BasicSR
    ``net_g_*.pth`` (built from its experiment's options when it sits in ``experiments/<name>/models``), or any
    single weights file spandrel recognises (``.pth``, ``.safetensors``, ...)."""
    model = os.fspath(model)
    if os.path.isdir(model):
        generator = _from_experiment(model)
    elif os.path.isfile(model) and _own_experiment(model):  # experiments/<name>/models/net_g_*.pth
        generator = _from_experiment(_own_experiment(model), model)
    elif os.path.isfile(model):
        generator = _from_file(model)
    else:
        raise GeneratorLoadError(f"Model '{model}' does not exist (expected an experiment folder or a weights file).")
    broken = _non_finite_weight(generator.module)
    if broken:  # a diverged run's checkpoint: it upscales to black or NaN images, and an export would spread it
        raise GeneratorLoadError(f"'{generator.source}': weight {broken} holds NaN or infinite values (the run "
                                 'diverged by then?); give an earlier checkpoint, models/net_g_<iter>.pth.')
    generator.module.to(device).eval().requires_grad_(False)
    return generator


def _non_finite_weight(module):
    """The name of the first floating-point weight or buffer of ``module`` holding NaN or infinity, or None."""
    import torch
    for name, tensor in (*module.named_parameters(), *module.named_buffers()):
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            return name
    return None


def _own_experiment(path):
    """The experiment folder of a checkpoint in its ``models/`` folder, if its options name network_g."""
    models = os.path.dirname(os.path.abspath(path))
    experiment = os.path.dirname(models)
    if os.path.basename(models) == 'models' and training_options(experiment, 'network_g'):
        return experiment
    return None


def _from_experiment(folder, path=None):
    """BasicSR builds the options' network_g; ``path`` (default: the latest net_g) gives the weights."""
    from basicsr.archs import build_network

    from .. import archs, compat  # noqa: F401  (basicsr importable, our archs registered, before network_g)
    opt = training_options(folder, 'network_g')
    if not opt:
        raise GeneratorLoadError(f"'{folder}' holds no BasicSR options file with network_g (an experiments/<name> "
                                 'folder has the copy BasicSR makes at the start of training).')
    models = os.path.join(folder, 'models')
    try:
        path = path or (latest_checkpoint(models, 'net_g') if os.path.isdir(models) else None)
    except FileNotFoundError:
        path = None
    if path is None:
        raise GeneratorLoadError(f"'{folder}' has no models/net_g_*.pth checkpoint.")
    network = build_network(dict(opt['network_g']))
    checkpoint = _read(path)
    if not isinstance(checkpoint, dict) or not ({'params', 'params_ema'} & set(checkpoint)):
        raise GeneratorLoadError(f"'{path}' is no BasicSR generator checkpoint (it has neither 'params_ema' nor "
                                 "'params').")
    key = 'params_ema' if 'params_ema' in checkpoint else 'params'
    problem = _state_dict_mismatch(network.state_dict(), checkpoint[key])
    if problem:
        raise GeneratorLoadError(f"'{path}' [{key}] does not fit the experiment's network_g "
                                 f"({opt['network_g'].get('type')}): {problem}.")
    network.load_state_dict(checkpoint[key], strict=True)
    return LoadedGenerator(network, int(opt.get('scale', opt['network_g'].get('scale', 1))),
                           int(opt['network_g'].get('num_in_ch', 3)), True, f'{path} [{key}]')


def _state_dict_mismatch(expected, given):
    """What keeps ``given`` from loading strictly into a network whose state dict is ``expected``, in one line."""
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    reshaped = [k for k in expected if k in given and tuple(given[k].shape) != tuple(expected[k].shape)]
    parts = [f'{len(missing)} missing weights (first: {missing[0]})' if missing else '',
             f'{len(unexpected)} unexpected weights (first: {unexpected[0]})' if unexpected else '',
             f'{len(reshaped)} weights of other shapes (first: {reshaped[0]} is {tuple(given[reshaped[0]].shape)}, '
             f'network_g has {tuple(expected[reshaped[0]].shape)})' if reshaped else '']
    return '; '.join(part for part in parts if part)


def _read(path):
    try:
        return read_checkpoint(path, 'model')
    except CheckpointReadError as error:
        raise GeneratorLoadError(str(error)) from None


def _from_file(path):
    from spandrel import ModelLoader
    if path.endswith('.safetensors'):  # holds no code by design; spandrel reads it
        return _spandrel_generator(lambda: ModelLoader(device='cpu').load_from_file(path), path)
    return generator_from_state_dict(_read(path), path)


def generator_from_state_dict(state_dict, source):
    """The generator spandrel recognises in ``state_dict`` (its architecture detected from the key names)."""
    from spandrel import ModelLoader
    return _spandrel_generator(lambda: ModelLoader(device='cpu').load_from_state_dict(state_dict), source)


def _spandrel_generator(load, source):
    from spandrel import UnsupportedModelError
    try:
        descriptor = load()
    except UnsupportedModelError:
        raise GeneratorLoadError(f"'{source}' is not a generator spandrel recognises (its state dict matches none "
                                 'of its architectures); for a BasicSR experiment give its folder instead.') from None
    except Exception as error:
        raise GeneratorLoadError(f"Cannot read '{source}': {one_line(error)}") from None
    if getattr(descriptor, 'purpose', 'SR') not in ('SR', 'Restoration') or not hasattr(descriptor, 'scale'):
        raise GeneratorLoadError(f"'{source}' is a {descriptor.architecture.name} model for "
                                 f'{descriptor.purpose}, not an image-to-image generator.')
    descriptor.model.eval().requires_grad_(False)
    return LoadedGenerator(descriptor.model, int(descriptor.scale), int(descriptor.input_channels),
                           bool(descriptor.supports_half), f'{source} [{descriptor.architecture.name}]',
                           bool(descriptor.supports_bfloat16))
