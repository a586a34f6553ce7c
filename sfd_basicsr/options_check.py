"""Check a parsed BasicSR options dict before anything is built, so mistakes stop with the key's name."""
import difflib
import functools
import inspect
import os
import re
import sys

from basicsr.utils.registry import ARCH_REGISTRY, DATASET_REGISTRY, LOSS_REGISTRY, METRIC_REGISTRY, MODEL_REGISTRY

from .checkpoint_file import CheckpointReadError, read_checkpoint
from .options_data import check_training_set_size, required_data_keys

SCALE_ARGUMENTS = ('scale', 'upscale', 'upscale_factor')
DATA_PATH_KEYS = ('dataroot_gt', 'dataroot_lq', 'meta_info_file', 'meta_info')
GAN_TYPES = ('vanilla', 'lsgan', 'wgan', 'wgan_softplus', 'hinge')  # BasicSR's GANLoss
PIPELINE_MODULES = ('basicsr.train', 'basicsr.test', 'basicsr.models', 'basicsr.utils.options', 'basicsr.utils.misc',
                    'basicsr.utils.logger', 'basicsr.models.base_model')
OPTION_READ = re.compile(r"""\bopt\b(?:\[|\.get\()\s*['"](\w+)['"]""")
ENCODER_KEYS = ('clip_model', 'pretrained')


class OptionsError(ValueError):
    """An options file asks for something that cannot work; the message names the key."""


def _registered(registry, kind, key, name):
    # BasicSR's Registry.get falls back to the '_basicsr' suffix it gives some of its own classes
    found = registry._obj_map.get(name) or registry._obj_map.get(f'{name}_basicsr')
    if found is None:
        known = ', '.join(sorted(registry.keys()))
        raise OptionsError(f"{key}: {kind} '{name}' is not registered. Registered: {known}.")
    return found


def _options_read_by(module_names):
    """Top-level option names these modules' source reads as ``opt['x']`` / ``opt.get('x')``; None if a
    module's source cannot be read (a compiled install), since the names it reads are then unknown."""
    keys = set()
    for name in module_names:
        try:
            keys.update(OPTION_READ.findall(inspect.getsource(sys.modules[name])))
        except (KeyError, OSError, TypeError):
            return None
    return keys


@functools.lru_cache(maxsize=None)
def _pipeline_keys():
    import importlib
    for name in PIPELINE_MODULES:
        importlib.import_module(name)
    keys = _options_read_by(PIPELINE_MODULES)
    return None if keys is None else frozenset(keys)


def _model_modules(model_cls):
    """Modules of the model's classes and of the model code they import (SFDRealModel reuses RealESRGANModel's)."""
    modules = set()
    for cls in model_cls.__mro__:
        module = sys.modules.get(cls.__module__)
        if module is None or cls.__module__ == 'builtins':
            continue
        modules.add(module.__name__)
        modules.update(obj.__module__ for obj in vars(module).values()
                       if inspect.isclass(obj) and obj.__module__.startswith(('basicsr.models', 'sfd_basicsr.models')))
    return sorted(modules)


def _check_top_level_keys(opt, model_cls):
    pipeline_keys, model_keys = _pipeline_keys(), _options_read_by(_model_modules(model_cls))
    if pipeline_keys is None or model_keys is None:
        return  # without the source, unknown keys cannot be told from keys the code reads
    known = pipeline_keys | model_keys
    for key in opt:
        if key in known or key.startswith('network_'):
            continue
        close = difflib.get_close_matches(key, sorted(known) + ['network_g', 'network_d'], n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ''
        raise OptionsError(f"{key}: unknown top-level option; {model_cls.__name__} and BasicSR's pipeline never read "
                           f'it, so it would be ignored.{hint}')


def _check_constructor_arguments(key, cls, kwargs):
    try:
        inspect.signature(cls).bind(**kwargs)
    except TypeError as error:
        accepted = [p for p in inspect.signature(cls).parameters if p not in ('self', 'args', 'kwargs')]
        raise OptionsError(f"{key}: {cls.__name__} rejects these options ({error}); it accepts {accepted}.") from None


def _with_defaults(cls, kwargs):
    defaults = {name: p.default for name, p in inspect.signature(cls).parameters.items()
                if p.default is not inspect.Parameter.empty}
    return {**defaults, **kwargs}


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
    full = _with_defaults(cls, net_opt)
    if 'clip_model' in full:
        from .archs.clip_encoder import check_encoder_options
        try:
            check_encoder_options(full['clip_model'], full.get('pretrained'), full.get('layers'))
        except ValueError as error:
            raise OptionsError(f'{key}.{error}') from None
    return full


def _check_shared_encoder(networks):
    """SFDModel runs one encoder pass for both discriminators, so they must name the same encoder."""
    users = {key: tuple(net.get(k) for k in ENCODER_KEYS) for key, net in networks.items() if 'clip_model' in net}
    if 'network_d' in users and 'network_d_tg' in users and users['network_d'] != users['network_d_tg']:
        raise OptionsError(f"network_d_tg.clip_model/pretrained: {users['network_d_tg']} differs from network_d's "
                           f"{users['network_d']}; both discriminators share one CLIP encoder pass, so set the same "
                           'clip_model and pretrained in both.')


def _check_paths(mapping, prefix, keys):
    for name in keys:
        value = mapping.get(name)
        if value is not None and not os.path.exists(os.path.expanduser(str(value))):
            raise OptionsError(f"{prefix}{name}: '{value}' does not exist.")


def _check_dataset(opt, phase, dataset_opt):
    cls = _registered(DATASET_REGISTRY, 'dataset', f'datasets.{phase}.type', dataset_opt.get('type'))
    for name in required_data_keys(cls):
        if not dataset_opt.get(name):
            raise OptionsError(f'datasets.{phase}.{name}: missing; {cls.__name__} needs it.')
    if dataset_opt.get('io_backend', {}).get('type', 'disk') == 'disk':
        _check_paths(dataset_opt, f'datasets.{phase}.', DATA_PATH_KEYS)
        if phase == 'train':
            problem = check_training_set_size(dataset_opt, opt.get('world_size', 1))
            if problem:
                raise OptionsError(f'datasets.train.batch_size_per_gpu: {problem}')


def _check_losses(train_opt):
    for name, loss_opt in train_opt.items():
        if not (name.endswith('_opt') and isinstance(loss_opt, dict) and 'type' in loss_opt):
            continue
        loss_opt = dict(loss_opt)
        cls = _registered(LOSS_REGISTRY, 'loss', f'train.{name}.type', loss_opt.pop('type'))
        _check_constructor_arguments(f'train.{name}', cls, loss_opt)
        for weight in [k for k in loss_opt if k.endswith('weight') and isinstance(loss_opt[k], (int, float))]:
            if loss_opt[weight] < 0:
                raise OptionsError(f'train.{name}.{weight}: {loss_opt[weight]} is negative; a weight of 0 turns '
                                   'the loss off, a negative one would reward the error.')
        gan_type = _with_defaults(cls, loss_opt).get('gan_type')
        if gan_type is not None and gan_type not in GAN_TYPES:
            raise OptionsError(f"train.{name}.gan_type: '{gan_type}' is not one of {list(GAN_TYPES)}.")


CUDA_ONLY_MODELS = {  # BasicSR models that build CUDA tensors whatever num_gpu says, and what runs anywhere
    'RealESRGANModel': 'SFDRealModel (the same degradations, on any device)',
    'RealESRNetModel': 'SFDRealModel without network_d and network_d_tg (a PSNR model on any device)',
}


def _check_device(opt, model_name):
    import torch
    if torch.cuda.is_available():
        return
    num_gpu = opt.get('num_gpu', 0)
    if isinstance(num_gpu, int) and num_gpu > 0:
        raise OptionsError(f'num_gpu: {num_gpu}, but this machine has no CUDA GPU; set num_gpu: 0 (the CPU) or auto.')
    if model_name in CUDA_ONLY_MODELS:
        raise OptionsError(f"model_type: BasicSR's {model_name} puts its degradation tensors on CUDA, which this "
                           f'machine lacks; use {CUDA_ONLY_MODELS[model_name]}.')


def _check_training_plan(opt, model_cls):
    """What a model would silently not do: loss options it never reads, networks it builds and never trains."""
    train_opt = opt.get('train') or {}
    if 'total_iter' not in train_opt:
        close = difflib.get_close_matches('total_iter', list(train_opt), n=1)
        raise OptionsError('train.total_iter: missing; BasicSR trains for that many iterations.'
                           + (f" Is '{close[0]}' a misspelling of it?" if close else ''))
    total = train_opt.get('total_iter')
    if isinstance(total, bool) or not isinstance(total, (int, float)) or total < 1 or int(total) != total:
        raise OptionsError(f'train.total_iter: {total!r} is not a positive whole number of iterations (0 would save '
                           'untrained "latest" models).')
    for key, reader in getattr(model_cls, 'foreign_train_keys', {}).items():
        if key in train_opt:
            raise OptionsError(f'train.{key}: {model_cls.__name__} never reads it; {reader}')
    for network, loss in getattr(model_cls, 'trained_networks', {}).items():
        if network in opt and not train_opt.get(loss):
            raise OptionsError(f'{network}: set, but train.{loss} is absent, so {model_cls.__name__} would build it '
                               f'and never train against it; add train.{loss} (loss_weight 0 turns it off on purpose) '
                               f'or remove {network}.')


def check_options(opt):
    """Raise ``OptionsError`` naming the first key of ``opt`` that cannot work; return ``opt``."""
    model_cls = _registered(MODEL_REGISTRY, 'model', 'model_type', opt.get('model_type'))
    _check_device(opt, model_cls.__name__)
    _check_top_level_keys(opt, model_cls)
    for key, allowed in getattr(model_cls, 'network_types', {}).items():
        given = (opt.get(key) or {}).get('type')
        if given not in allowed:
            raise OptionsError(f"{key}.type: {model_cls.__name__} needs one of {list(allowed)}; got '{given}'.")
    networks = {key: _check_network(opt, key) for key in opt if key.startswith('network_')}
    _check_shared_encoder(networks)
    for phase, dataset_opt in (opt.get('datasets') or {}).items():
        _check_dataset(opt, phase, dataset_opt)
    _check_losses(opt.get('train') or {})
    if opt.get('is_train', True) and 'train' in opt:  # a test options file has no train section
        _check_training_plan(opt, model_cls)
    for name, metric_opt in ((opt.get('val') or {}).get('metrics') or {}).items():
        metric = _registered(METRIC_REGISTRY, 'metric', f'val.metrics.{name}.type', metric_opt.get('type'))
        if hasattr(metric, 'prepare'):  # metrics that can fail (downloads) say so now, not at the first validation
            try:
                metric.prepare(metric_opt)
            except (ValueError, RuntimeError) as error:
                raise OptionsError(f'val.metrics.{name}: {error}') from None
    path_opt = opt.get('path') or {}
    checkpoints = [k for k in path_opt if k.startswith('pretrain_network') or k == 'resume_state']
    _check_paths(path_opt, 'path.', checkpoints)
    for key in checkpoints:  # a damaged or unsafe file stops here, not in BasicSR's loader after folders exist
        if path_opt.get(key) is not None:
            try:
                read_checkpoint(os.path.expanduser(str(path_opt[key])), f'path.{key}')
            except CheckpointReadError as error:
                raise OptionsError(str(error)) from None
    return opt
