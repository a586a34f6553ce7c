"""Check a parsed BasicSR options dict before anything is built, so mistakes stop with the key's name."""
import inspect
import os

from basicsr.utils.registry import ARCH_REGISTRY, DATASET_REGISTRY, LOSS_REGISTRY, METRIC_REGISTRY, MODEL_REGISTRY

SCALE_ARGUMENTS = ('scale', 'upscale', 'upscale_factor')
DATA_PATH_KEYS = ('dataroot_gt', 'dataroot_lq', 'meta_info_file', 'meta_info')


class OptionsError(ValueError):
    """An options file asks for something that cannot work; the message names the key."""


def _registered(registry, kind, key, name):
    # BasicSR's Registry.get falls back to the '_basicsr' suffix it gives some of its own classes
    found = registry._obj_map.get(name) or registry._obj_map.get(f'{name}_basicsr')
    if found is None:
        known = ', '.join(sorted(registry.keys()))
        raise OptionsError(f"{key}: {kind} '{name}' is not registered. Registered: {known}.")
    return found


def _check_constructor_arguments(key, cls, kwargs):
    try:
        inspect.signature(cls).bind(**kwargs)
    except TypeError as error:
        accepted = [p for p in inspect.signature(cls).parameters if p not in ('self', 'args', 'kwargs')]
        raise OptionsError(f"{key}: {cls.__name__} rejects these options ({error}); it accepts {accepted}.") from None


def _check_network(opt, key):
    net_opt = dict(opt[key])
    cls = _registered(ARCH_REGISTRY, 'arch', f'{key}.type', net_opt.pop('type', None))
    _check_constructor_arguments(key, cls, net_opt)
    if key == 'network_g' and 'scale' in opt:
        parameters = inspect.signature(cls).parameters
        for name in SCALE_ARGUMENTS:
            if name in parameters:
                value = net_opt.get(name, parameters[name].default)
                if value is not inspect.Parameter.empty and value != opt['scale']:
                    raise OptionsError(f"network_g.{name}: {cls.__name__} upscales x{value}, but the options' "
                                       f"scale is {opt['scale']}; set both to the same factor.")


def _check_paths(mapping, prefix, keys):
    for name in keys:
        value = mapping.get(name)
        if value is not None and not os.path.exists(os.path.expanduser(str(value))):
            raise OptionsError(f"{prefix}{name}: '{value}' does not exist.")


def check_options(opt):
    """Raise ``OptionsError`` naming the first key of ``opt`` that cannot work; return ``opt``."""
    _registered(MODEL_REGISTRY, 'model', 'model_type', opt.get('model_type'))
    for key in [k for k in opt if k.startswith('network_')]:
        _check_network(opt, key)
    for phase, dataset_opt in opt.get('datasets', {}).items():
        _registered(DATASET_REGISTRY, 'dataset', f'datasets.{phase}.type', dataset_opt.get('type'))
        if dataset_opt.get('io_backend', {}).get('type', 'disk') == 'disk':
            _check_paths(dataset_opt, f'datasets.{phase}.', DATA_PATH_KEYS)
    for name, loss_opt in opt.get('train', {}).items():
        if name.endswith('_opt') and isinstance(loss_opt, dict) and 'type' in loss_opt:
            loss_opt = dict(loss_opt)
            cls = _registered(LOSS_REGISTRY, 'loss', f'train.{name}.type', loss_opt.pop('type'))
            _check_constructor_arguments(f'train.{name}', cls, loss_opt)
    for name, metric_opt in ((opt.get('val') or {}).get('metrics') or {}).items():
        _registered(METRIC_REGISTRY, 'metric', f'val.metrics.{name}.type', metric_opt.get('type'))
    path_opt = opt.get('path') or {}
    _check_paths(path_opt, 'path.', [k for k in path_opt if k.startswith('pretrain_network') or k == 'resume_state'])
    return opt
