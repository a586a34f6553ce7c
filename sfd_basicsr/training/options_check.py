"""Check BasicSR options before anything is built: every problem at once, one line each, naming its key.

``options_schema`` checks what each key may hold; the checks here need the registries, the file system or a
signature: registered types, constructor arguments, data folders, checkpoints, the device, the training plan.
"""
import inspect
import os

from basicsr.utils.registry import ARCH_REGISTRY, DATASET_REGISTRY, LOSS_REGISTRY, METRIC_REGISTRY, MODEL_REGISTRY

from ..compat.registry import PreparedMetric
from ..utils.checkpoint_file import CheckpointReadError, read_checkpoint
from ..utils.errors import UserError
from .options_data import check_training_set_size
from .output_folders import name_problem
from .options_schema import schema_problems

SCALE_ARGUMENTS = ('scale', 'upscale', 'upscale_factor')
DATA_PATH_KEYS = ('dataroot_gt', 'dataroot_lq', 'meta_info_file', 'meta_info')
EXPANDED_BY_BASICSR = ('dataroot_gt', 'dataroot_lq')  # basicsr.utils.options.parse_options, and path.*
GAN_TYPES = ('vanilla', 'lsgan', 'wgan', 'wgan_softplus', 'hinge')  # BasicSR's GANLoss


class OptionsError(UserError, ValueError):
    """An options file asks for something that cannot work: one line per problem, each naming its key."""

    def __init__(self, problems):
        problems = [problems] if isinstance(problems, str) else list(problems)
        self.problems = [_bounded(line) for line in problems]
        super().__init__('\n'.join(self.problems))

    def describe(self):
        """One line for one problem; a count and an indented line each for several."""
        if len(self.problems) == 1:
            return f'invalid options: {self.problems[0]}'
        return f'invalid options ({len(self.problems)} problems):\n' + '\n'.join(f'  {line}' for line in self.problems)


MAX_PROBLEM_CHARS = 2000  # a value quoted in a message (a huge list, a long text) is cut, never printed whole


def _bounded(line):
    return line if len(line) <= MAX_PROBLEM_CHARS else f'{line[:MAX_PROBLEM_CHARS]}... ({len(line)} characters)'


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
    problems = [f'{key}.{name}: {cls.__name__} expects {_kind(default)} (its default is {default!r}); got {value!r}.'
                for name, value, default in _arguments_with_defaults(cls, kwargs) if not _same_kind(value, default)]
    if problems:
        raise OptionsError(problems)


def _arguments_with_defaults(cls, kwargs):
    defaults = _defaults(cls)
    for name, value in kwargs.items():
        if isinstance(defaults.get(name), (bool, int, float, str)):  # no declared types: the defaults tell
            yield name, value, defaults[name]


def _kind(default):
    return {bool: 'true or false', int: 'a whole number', float: 'a number', str: 'text'}[type(default)]


def _same_kind(value, default):
    if value is None or isinstance(default, str):
        return True  # None turns an option off; text options take many forms (paths, names)
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    return isinstance(value, int) if isinstance(default, int) else isinstance(value, (int, float))


def _defaults(cls):
    return {name: p.default for name, p in inspect.signature(cls).parameters.items()
            if p.default is not inspect.Parameter.empty}


def _with_defaults(cls, kwargs):
    return {**_defaults(cls), **kwargs}


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
        from ..backbones.options import check_encoder_options
        try:
            check_encoder_options(_backbone(full), full.get('pretrained'), full.get('layers'),
                                  needs_text=cls.__name__ if getattr(cls, 'needs_text_tower', False) else None)
        except ValueError as error:
            raise OptionsError(f'{key}.{error}') from None
    return full


def _backbone(net):
    from ..backbones.names import backbone_name
    return backbone_name(net.get('backbone'), net.get('clip_model'))


def _check_shared_encoder(networks):
    from ..backbones.weights import resolve_pretrained
    from ..models.sfd_model import encoder_mismatch
    encoders = {}
    for key, net in networks.items():
        if key in ('network_d', 'network_d_tg') and 'clip_model' in net:
            name = _backbone(net)
            encoders[key] = (name, resolve_pretrained(name, net.get('pretrained')))
    problem = encoder_mismatch(encoders)
    if problem:
        raise OptionsError(problem)


def _check_paths(mapping, prefix, keys):
    """Each path as BasicSR will open it (``parse_options`` expands ``~`` in ``EXPANDED_BY_BASICSR`` only); every
    missing one at once."""
    problems = []
    for name in keys:
        value = mapping.get(name)
        if value is None:
            continue
        expanded = name in EXPANDED_BY_BASICSR or prefix == 'path.'
        if not os.path.exists(os.path.expanduser(str(value)) if expanded else str(value)):
            hint = '' if expanded or not str(value).startswith('~') else \
                ' (BasicSR expands ~ only in dataroot_gt, dataroot_lq and path.*: write the whole path)'
            problems.append(f"{prefix}{name}: '{value}' does not exist{hint}.")
    if problems:
        raise OptionsError(problems)


def _world_size(opt):
    return opt.get('world_size') or int(os.environ.get('WORLD_SIZE', 1))


def _gpus_per_loader(opt):
    """GPUs one data loader fills: without a launcher BasicSR's one loader takes batch_size_per_gpu x num_gpu
    (DataParallel); under a launcher each process loads batch_size_per_gpu."""
    num_gpu = opt.get('num_gpu')
    if num_gpu == 'auto':  # BasicSR's parse_options makes it the GPU count, after this check reads the file
        import torch
        num_gpu = torch.cuda.device_count() if torch.cuda.is_available() else 0
    single = _world_size(opt) == 1 and not opt.get('dist')
    return num_gpu if isinstance(num_gpu, int) and not isinstance(num_gpu, bool) and num_gpu > 1 and single else 1


def _check_dataset(opt, phase, dataset_opt):
    _registered(DATASET_REGISTRY, 'dataset', f'datasets.{phase}.type', dataset_opt.get('type'))
    if (dataset_opt.get('io_backend') or {}).get('type', 'disk') == 'disk':
        _check_paths(dataset_opt, f'datasets.{phase}.', DATA_PATH_KEYS)
        if phase == 'train':
            problem = check_training_set_size(dataset_opt, _world_size(opt), _gpus_per_loader(opt))
            if problem:
                raise OptionsError(f'datasets.train.batch_size_per_gpu: {problem}')


def _check_pair_pool(opt, model_cls):
    """BasicSR's training-pair pool (Real-ESRGAN's models) asserts at the first iteration, after the experiment's
    folders exist, that ``queue_size`` is a multiple of the batch; say it before."""
    if not hasattr(model_cls, '_dequeue_and_enqueue') or not opt.get('high_order_degradation', True):
        return  # BasicSR fills the pool only while it degrades (high_order_degradation, its default true)
    batch = _mapping(_mapping(opt.get('datasets')).get('train')).get('batch_size_per_gpu')
    queue = opt.get('queue_size', 180)  # BasicSR's default
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (batch, queue)):
        return  # the schema names a missing or wrong value
    gpus = _gpus_per_loader(opt)
    if queue % (batch * gpus):
        per_batch = batch * gpus
        lower, higher = queue - queue % per_batch, queue - queue % per_batch + per_batch
        source = f'batch_size_per_gpu {batch} x num_gpu {gpus}' if gpus > 1 else 'datasets.train.batch_size_per_gpu'
        raise OptionsError(f'queue_size: {queue} is not a multiple of the {per_batch} images of a batch ({source}), '
                           f"which {model_cls.__name__}'s training-pair pool needs (it would stop at the first "
                           f'iteration); set queue_size to {f"{lower} or " if lower else ""}{higher}.')


def _is_loss(name, loss_opt):
    return name.endswith('_opt') and isinstance(loss_opt, dict) and 'type' in loss_opt


def _check_loss(name, loss_opt):
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
        if opt.get('amp_bf16') and opt.get('num_gpu') != 0 and \
                not torch.cuda.is_bf16_supported(including_emulation=False):
            raise OptionsError(f'amp_bf16: {torch.cuda.get_device_name()} has no bfloat16 arithmetic; set amp_bf16: '
                               'false (float16 with a gradient scaler per optimiser).')
        return
    num_gpu = opt.get('num_gpu', 0)
    if isinstance(num_gpu, int) and num_gpu > 0:
        raise OptionsError(f'num_gpu: {num_gpu}, but this machine has no CUDA GPU; set num_gpu: 0 (the CPU) or auto.')
    if model_name in CUDA_ONLY_MODELS:
        raise OptionsError(f"model_type: BasicSR's {model_name} puts its degradation tensors on CUDA, which this "
                           f'machine lacks; use {CUDA_ONLY_MODELS[model_name]}.')


def _check_training_plan(opt, model_cls):
    """Networks a model would build and never train against (its loss absent)."""
    train_opt = _mapping(opt.get('train'))
    for network, loss in getattr(model_cls, 'trained_networks', {}).items():
        if network in opt and not train_opt.get(loss):
            raise OptionsError(f'{network}: set, but train.{loss} is absent, so {model_cls.__name__} would build it '
                               f'and never train against it; add train.{loss} (loss_weight 0 turns it off on purpose) '
                               f'or remove {network}.')


def _metric(name, metric_opt):
    metric = _registered(METRIC_REGISTRY, 'metric', f'val.metrics.{name}.type', metric_opt.get('type'))
    if isinstance(metric, PreparedMetric):  # metrics that can fail (downloads) say so now, not at the first validation
        try:
            metric.prepare(metric_opt)
        except (ValueError, RuntimeError) as error:
            raise OptionsError(f'val.metrics.{name}: {error}') from None


def _checkpoint(path_opt, key):
    _check_paths(path_opt, 'path.', [key])
    try:  # a damaged or unsafe file stops here, not in BasicSR's loader after folders exist
        read_checkpoint(os.path.expanduser(str(path_opt[key])), f'path.{key}')
    except CheckpointReadError as error:
        raise OptionsError(str(error)) from None


def _network_types(opt, model_cls):
    optional = getattr(model_cls, 'trained_networks', {})  # a discriminator it can train without
    for key, allowed in getattr(model_cls, 'network_types', {}).items():
        if opt.get(key) is None and key in optional:
            continue
        given = (opt.get(key) or {}).get('type')
        cls = (ARCH_REGISTRY._obj_map.get(given) or ARCH_REGISTRY._obj_map.get(f'{given}_basicsr')) \
            if isinstance(given, str) else None
        if isinstance(given, str) and cls is None:
            continue  # not registered at all: the arch check names it, with the registered names
        kinds = {klass.__name__ for klass in cls.__mro__} if cls is not None else {given}  # subclasses count
        if not kinds & set(allowed):
            raise OptionsError(f"{key}.type: {model_cls.__name__} needs one of {list(allowed)}; got '{given}'.")


def _check_output_name(opt, is_train):
    problem = name_problem(opt.get('name'), os.getcwd(), is_train)  # BasicSR's root: the working directory
    if problem:
        raise OptionsError(problem)


def _mapping(value):
    return value if isinstance(value, dict) else {}  # the schema names a section that is not a mapping


def _checks(opt, model_cls, is_train):
    """The checks after the schema's, as ``(check, arguments)``: each fails on its own."""
    networks = {}

    def network(key):
        networks[key] = _check_network(opt, key)

    yield _check_output_name, (opt, is_train)
    yield _check_device, (opt, model_cls.__name__)
    yield _network_types, (opt, model_cls)
    for key in [k for k in opt if isinstance(k, str) and k.startswith('network_') and isinstance(opt[k], dict)]:
        yield network, (key,)
    yield _check_shared_encoder, (networks,)
    for phase, dataset_opt in _mapping(opt.get('datasets')).items():
        if isinstance(dataset_opt, dict):
            yield _check_dataset, (opt, phase, dataset_opt)
    for name, loss_opt in _mapping(opt.get('train')).items():
        if _is_loss(name, loss_opt):
            yield _check_loss, (name, loss_opt)
    if is_train and 'train' in opt:  # a test options file has no train section
        yield _check_training_plan, (opt, model_cls)
        yield _check_pair_pool, (opt, model_cls)
    for name, metric_opt in _mapping(_mapping(opt.get('val')).get('metrics')).items():
        if isinstance(metric_opt, dict):
            yield _metric, (name, metric_opt)
    path_opt = _mapping(opt.get('path'))
    for key in [k for k in path_opt if k.startswith('pretrain_network') or k == 'resume_state']:
        if path_opt[key] is not None:
            yield _checkpoint, (path_opt, key)


def options_problems(opt, is_train=True):
    """``(errors, warnings)`` of a BasicSR options mapping, each a line naming its key."""
    errors, model_cls = [], None
    if isinstance(opt, dict):
        try:
            model_cls = _registered(MODEL_REGISTRY, 'model', 'model_type', opt.get('model_type'))
        except OptionsError as error:
            errors += error.problems
    schema_errors, warnings = schema_problems(opt, is_train, getattr(model_cls, 'foreign_train_keys', None))
    errors += schema_errors
    if model_cls is None:
        return errors, warnings
    for check, arguments in _checks(opt, model_cls, is_train):
        try:
            check(*arguments)
        except OptionsError as error:
            errors += error.problems
        except (TypeError, ValueError, AttributeError, KeyError):
            if not schema_errors:  # values of the wrong type, already named by the schema, may trip a check
                raise
    return errors, warnings


def check_options(opt, is_train=True, on_warning=None, more_problems=()):
    """Raise ``OptionsError`` with every problem of ``opt`` (and ``more_problems``, found elsewhere); give each warning
    to ``on_warning``; return ``opt``."""
    errors, warnings = options_problems(opt, is_train)
    errors += list(more_problems)
    for line in warnings:
        if on_warning is not None:
            on_warning(line)
    if errors:
        raise OptionsError(list(dict.fromkeys(errors)))
    return opt
