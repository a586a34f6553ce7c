"""The options that BasicSR 1.4.2's pipeline, its datasets and the known models read, declared with types and ranges.

Declared with pydantic (strict mode): it is already installed with pyiqa's dependencies (transformers, typer),
its errors carry the location of every failing key (``('train', 'optim_g', 'lr')``) and all of them at once,
and a section is an ordinary class, so a model's options are BasicSR's plus its own by inheritance. Strict mode
keeps what YAML gave: ``lr: 1e-4`` is text in YAML 1.1 (BasicSR's files write ``!!float 1e-4``) and must not
pass as a number.

``schema_problems(opt)`` returns ``(errors, warnings)``, one line per key. Unknown keys are errors for the models
declared in ``MODELS``; for any other ``model_type`` (a user's own model) its sections may hold keys this module
cannot know, so unknown keys there are warnings.
"""
import difflib
import re
import typing
from typing import Annotated, Any, Literal, Optional

from basicsr.utils.registry import DATASET_REGISTRY, MODEL_REGISTRY
from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, create_model,
                      field_validator, model_validator)

from ..models.diff_augment import POLICIES
from .basicsr_reads import reads_key


def _whole_and_positive(value):
    if value <= 0 or int(value) != value:
        raise ValueError('must be a positive whole number')
    return value


def _gpu_count(value):
    if value != 'auto' and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError('must be a number of GPUs (0: the CPU) or auto')
    return value


PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
Count = Annotated[float, AfterValidator(_whole_and_positive)]  # a float too: BasicSR writes `!!float 5e3`
NonNegative = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
Probability = Annotated[float, Field(ge=0, le=1)]
Pair = Annotated[list[float], Field(min_length=2, max_length=2)]
Probabilities = list[Probability]


class Section(BaseModel):
    model_config = ConfigDict(extra='forbid', strict=True)


class OpenSection(Section):
    """Keys beyond the declared ones go to a function or class whose signature the options check binds them to."""
    model_config = ConfigDict(extra='allow', strict=True)


# ------------------------------------------------------------------ train
class Adam(Section):  # BasicSR 1.4.2's get_optimizer builds torch.optim.Adam only
    type: Literal['Adam']
    lr: NonNegative
    betas: Pair = [0.9, 0.999]
    eps: Positive = 1e-8
    weight_decay: NonNegative = 0
    amsgrad: bool = False
    # torch's multi-tensor and fused implementations (fewer, larger kernels; BasicSR passes them through)
    foreach: Optional[bool] = None
    fused: Optional[bool] = None

    @field_validator('fused')
    @classmethod
    def _one_implementation(cls, fused, info: ValidationInfo):
        if fused and info.data.get('foreach'):
            raise ValueError('cannot be combined with foreach: true; choose one implementation')
        return fused


class AdamGroup(Section):
    """Settings of one parameter group, over the optimiser's own (``train.optim_d_tg``)."""
    lr: NonNegative = None
    betas: Pair = None
    eps: Positive = None
    weight_decay: NonNegative = None
    amsgrad: bool = None


class Scheduler(Section):
    type: Literal['MultiStepLR', 'MultiStepRestartLR', 'CosineAnnealingRestartLR']
    milestones: list[PositiveInt] = None
    gamma: Positive = None
    restarts: list[NonNegativeInt] = None
    restart_weights: list[NonNegative] = None
    periods: list[PositiveInt] = None
    eta_min: NonNegative = None

    @model_validator(mode='after')
    def _arguments_of_its_type(self):
        needed = 'periods' if self.type == 'CosineAnnealingRestartLR' else 'milestones'
        if getattr(self, needed) is None:
            raise ValueError(f'{needed}: missing; {self.type} needs it')
        return self


class Loss(OpenSection):
    type: str


class SRModelTrain(Section):
    total_iter: Count = Field(description='BasicSR trains for that many iterations')
    warmup_iter: int = -1
    ema_decay: Annotated[float, Field(ge=0, lt=1)] = 0
    optim_g: Adam = Field(description='the generator trains with it')
    scheduler: Scheduler = Field(description="BasicSR's models always build one")
    pixel_opt: Optional[Loss] = None
    perceptual_opt: Optional[Loss] = None


class SRGANModelTrain(SRModelTrain):
    optim_d: Adam = Field(description='the discriminator trains with it')
    gan_opt: Loss = Field(description='the adversarial loss')
    ldl_opt: Optional[Loss] = None
    net_d_iters: PositiveInt = 1
    net_d_init_iters: NonNegativeInt = 0


class SeDModelTrain(SRModelTrain):
    optim_d: Adam = Field(description='the discriminator trains with it')
    gan_opt: Loss = Field(description='the adversarial loss')
    ldl_opt: Optional[Loss] = None  # SRGANModel's training step, which SeDModel runs, reads it
    net_d_iters: PositiveInt = 1
    net_d_init_iters: NonNegativeInt = 0


def _each_once(names):
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f'names {", ".join(repeated)} more than once; each transform is applied once at most')
    return names


def _needs_adaptive_target(cls, value, info: ValidationInfo):
    if info.data.get('adaptive_target') is None:
        raise ValueError('has no effect without adaptive_target (a fixed probability never moves)')
    return value


class DiffAugment(Section):
    """``train.diffaugment`` of SFDModel and SFDRealModel (``models/diff_augment.py``)."""
    policy: Annotated[list[Literal[POLICIES]], Field(min_length=1), AfterValidator(_each_once)] = list(POLICIES)
    probability: Probability = None  # the model's default: 1 with a fixed p, 0 with an adaptive one
    adaptive_target: Optional[Annotated[float, Field(gt=0, lt=1)]] = None
    adaptive_interval: PositiveInt = 4
    adaptive_images: Count = 500000

    _interval_needs_target = field_validator('adaptive_interval', 'adaptive_images')(classmethod(
        _needs_adaptive_target))


class SFDModelTrain(SRModelTrain):
    featd_opt: Optional[Loss] = None
    tgd_opt: Optional[Loss] = None
    optim_d: Optional[Adam] = None
    optim_d_tg: Optional[AdamGroup] = None
    net_d_iters: PositiveInt = 1
    net_d_init_iters: NonNegativeInt = 0
    diffaugment: Optional[DiffAugment] = None

    @model_validator(mode='after')
    def _discriminators_have_an_optimiser(self):
        if (self.featd_opt or self.tgd_opt) and self.optim_d is None:
            raise ValueError('optim_d: missing; with featd_opt or tgd_opt set, the discriminators train with it')
        return self


# ------------------------------------------------------------------ datasets
class IoBackend(OpenSection):
    type: Literal['disk', 'lmdb', 'memcache'] = 'disk'


class Dataset(Section):
    name: str = Field(description="BasicSR's logs name the dataset by it")
    type: str
    phase: str = None
    scale: PositiveInt = None
    io_backend: IoBackend = Field(description="BasicSR's datasets read files through it ({type: disk})")
    dataroot_gt: Optional[str] = None
    dataroot_lq: Optional[str] = None
    meta_info_file: Optional[str] = None
    meta_info: Optional[str] = None
    filename_tmpl: str = '{}'
    mean: Optional[list[float]] = None
    std: Optional[list[float]] = None
    color: Optional[Literal['y']] = None
    gt_size: PositiveInt = None
    use_hflip: bool = None
    use_rot: bool = None
    # read by BasicSR's build_dataloader / create_train_val_dataloader for the training set
    batch_size_per_gpu: PositiveInt = None
    num_worker_per_gpu: NonNegativeInt = None
    dataset_enlarge_ratio: Positive = 1
    use_shuffle: bool = True
    prefetch_mode: Optional[Literal['cpu', 'cuda']] = None
    pin_memory: bool = False
    persistent_workers: bool = False
    num_prefetch_queue: PositiveInt = 1


class RealESRGANDataset(Dataset):
    blur_kernel_size: PositiveInt = None
    kernel_list: list[Literal['iso', 'aniso', 'generalized_iso', 'generalized_aniso', 'plateau_iso',
                              'plateau_aniso']] = None
    kernel_prob: Probabilities = None
    sinc_prob: Probability = None
    blur_sigma: Pair = None
    betag_range: Pair = None
    betap_range: Pair = None
    blur_kernel_size2: PositiveInt = None
    kernel_list2: list[Literal['iso', 'aniso', 'generalized_iso', 'generalized_aniso', 'plateau_iso',
                               'plateau_aniso']] = None
    kernel_prob2: Probabilities = None
    sinc_prob2: Probability = None
    blur_sigma2: Pair = None
    betag_range2: Pair = None
    betap_range2: Pair = None
    final_sinc_prob: Probability = None


TRAIN_LOADER_KEYS = ('batch_size_per_gpu', 'num_worker_per_gpu')
TRAIN_PATCH_KEYS = ('gt_size', 'use_hflip', 'use_rot')
REAL_ESRGAN_KERNEL_KEYS = tuple(name for name in RealESRGANDataset.model_fields if name not in Dataset.model_fields)
DATASETS = {  # type: (schema, keys needed in every phase, keys needed for training)
    'PairedImageDataset': (Dataset, ('dataroot_gt', 'dataroot_lq'), TRAIN_PATCH_KEYS),
    'RealESRGANPairedDataset': (Dataset, ('dataroot_gt', 'dataroot_lq'), TRAIN_PATCH_KEYS),
    'SingleImageDataset': (Dataset, ('dataroot_lq',), ()),
    # RealESRGANDataset opens meta_info whatever it holds: None is a TypeError deep in BasicSR
    'RealESRGANDataset': (RealESRGANDataset, ('dataroot_gt', 'meta_info') + REAL_ESRGAN_KERNEL_KEYS,
                          ('use_hflip', 'use_rot')),
}


# ------------------------------------------------------------------ val, logger, path, top level
class Metric(OpenSection):  # BasicSR's metric functions take **kwargs: other keys go to them as they are
    type: str
    crop_border: NonNegativeInt = 0
    test_y_channel: bool = False
    better: Literal['higher', 'lower'] = None


class Val(Section):
    val_freq: Count = Field(None, description='training validates every that many iterations')
    save_img: bool = Field(None, description='BasicSR reads it at every validation')
    suffix: Optional[str] = None
    pbar: bool = False
    metrics: Optional[dict[str, Metric]] = None
    # sfd_basicsr's models (models/validation_images.py): validation images to TensorBoard; 0 turns it off
    log_images: NonNegativeInt = 2
    log_image_size: Annotated[int, Field(ge=16, le=2048)] = 256


class Wandb(Section):
    project: Optional[str] = None
    resume_id: Optional[str] = None


class Logger(Section):
    print_freq: Count = Field(None, description='training logs its losses every that many iterations')
    save_checkpoint_freq: Count = Field(None, description='training saves every that many iterations')
    use_tb_logger: bool = False
    wandb: Optional[Wandb] = None


class DistParams(Section):
    backend: Literal['nccl', 'gloo'] = 'nccl'
    port: Annotated[int, Field(gt=0, lt=65536)] = None
    timeout: Positive = None


PATH_NAMES = ('resume_state', 'ignore_resume_networks', 'root', 'experiments_root', 'results_root', 'models',
              'training_states', 'log', 'visualization')
PATH_PATTERNS = {'pretrain_network_': Optional[str], 'strict_load_': bool, 'param_key_': Optional[str]}


class Top(Section):
    """What BasicSR's parse_options and train/test pipelines read (and the keys they set themselves)."""
    name: str = Field(description='the experiment folder is named after it')
    model_type: str
    scale: PositiveInt = None
    num_gpu: Annotated[Any, AfterValidator(_gpu_count)] = 'auto'
    manual_seed: Optional[int] = None
    find_unused_parameters: bool = False
    dist_params: Optional[DistParams] = None
    datasets: dict[str, Any] = Field(description='BasicSR builds its data loaders from it')
    path: dict[str, Any] = {}
    train: Optional[dict[str, Any]] = None
    val: Optional[Val] = None
    logger: Optional[Logger] = None
    is_train: bool = None
    dist: bool = None
    rank: NonNegativeInt = None
    world_size: PositiveInt = None
    auto_resume: bool = None
    root_path: str = None


class RealESRGANTop(Top):
    """The degradation options of BasicSR's ``RealESRGANModel`` (and ``SFDRealModel``), all top-level."""
    resize_prob: Annotated[Probabilities, Field(min_length=3, max_length=3)] = None
    resize_range: Pair = None
    gaussian_noise_prob: Probability = None
    noise_range: Pair = None
    poisson_scale_range: Pair = None
    gray_noise_prob: Probability = None
    jpeg_range: Pair = None
    second_blur_prob: Probability = None
    resize_prob2: Annotated[Probabilities, Field(min_length=3, max_length=3)] = None
    resize_range2: Pair = None
    gaussian_noise_prob2: Probability = None
    noise_range2: Pair = None
    poisson_scale_range2: Pair = None
    gray_noise_prob2: Probability = None
    jpeg_range2: Pair = None
    gt_size: PositiveInt = None
    queue_size: PositiveInt = 180
    high_order_degradation: bool = True
    l1_gt_usm: bool = True
    percep_gt_usm: bool = True
    gan_gt_usm: bool = False


class RealESRNetTop(RealESRGANTop):
    """``RealESRNetModel`` sharpens its GT for the pixel loss by one switch (``gt_usm``), not three."""
    gt_usm: bool = True


COMPILE_MODES = ('default', 'reduce-overhead', 'max-autotune', 'max-autotune-no-cudagraphs')  # torch.compile's


def _needs(switch):
    """A validator refusing a true/set option that does nothing unless the top-level ``switch`` is true."""

    def check(cls, value, info: ValidationInfo):
        if value not in (None, False, 'default') and not info.data.get(switch):
            raise ValueError(f'has no effect without {switch}: true')
        return value

    return classmethod(check)


class FastTrainingTop(Top):
    """traiNNer-redux's speed options, read by our models (``models/fast_training.py``)."""
    use_amp: bool = False
    amp_bf16: bool = False
    use_channels_last: bool = False
    use_compile: bool = False
    compile_mode: Literal[COMPILE_MODES] = 'default'

    _amp_bf16_needs_amp = field_validator('amp_bf16')(_needs('use_amp'))
    _compile_mode_needs_compile = field_validator('compile_mode')(_needs('use_compile'))


class SFDRealTop(RealESRGANTop, FastTrainingTop):
    """``SFDRealModel``: Real-ESRGAN's degradation options and the speed options."""


MODELS = {  # model_type: (top-level schema, train schema)
    'SRModel': (Top, SRModelTrain),
    'SRGANModel': (Top, SRGANModelTrain),
    'ESRGANModel': (Top, SRGANModelTrain),
    'RealESRNetModel': (RealESRNetTop, SRModelTrain),
    'RealESRGANModel': (RealESRGANTop, SRGANModelTrain),
    'SFDModel': (FastTrainingTop, SFDModelTrain),
    'SFDRealModel': (SFDRealTop, SFDModelTrain),
    'SeDModel': (FastTrainingTop, SeDModelTrain),
}


# ------------------------------------------------------------------ checking
def _section_at(schema, loc):
    """The section class at ``loc`` under ``schema`` (through Optional, dict values and lists), or None."""
    for part in loc:
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            field = schema.model_fields.get(part)
            schema = field.annotation if field is not None else None
        schema = _section_inside(schema)
    return schema


def _fields(schema, loc):
    """Field names of the section at ``loc`` under ``schema``."""
    section = _section_at(schema, loc)
    return tuple(section.model_fields) if section is not None else ()


def _section_inside(annotation):
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in reversed(typing.get_args(annotation)):  # Optional[X], dict[str, X], Annotated[X, ...]
        found = _section_inside(arg)
        if found is not None:
            return found
    return None


def _readers(section, key):
    return sorted(name for name, schemas in MODELS.items()
                  if key in schemas[1 if section == 'train' else 0].model_fields)


def _unknown_key(dotted, schema, loc, prefix, model_name, hints):
    key, section = loc[-1], (prefix + loc[:-1])[0] if prefix + loc[:-1] else None
    if key in hints:
        return f'{dotted}: {model_name} never reads it; {hints[key]}'
    if len(prefix + loc) == 1 or (section == 'train' and len(prefix + loc) == 2):
        readers = [name for name in _readers(section, key) if name != model_name]
        if readers:
            return f'{dotted}: {model_name} never reads it; it is an option of {", ".join(readers)}.'
    close = difflib.get_close_matches(str(key), _fields(schema, loc[:-1]), n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ''
    return f'{dotted}: unknown option; {model_name} and BasicSR never read it, so it would be ignored.{hint}'


def _described(schema, loc):
    """The field's description: why a missing key is needed."""
    section = _section_at(schema, loc[:-1])
    field = section.model_fields.get(loc[-1]) if section is not None else None
    return field.description if field is not None else None


def _message(error, prefix, schema, model_name, hints):
    loc = tuple(part for part in error['loc'] if not isinstance(part, str) or not part.startswith('function-'))
    dotted = '.'.join(map(str, prefix + loc))
    kind, given = error['type'], error.get('input')
    if kind == 'extra_forbidden':
        return _unknown_key(dotted, schema, loc, prefix, model_name, hints)
    if kind == 'missing':
        why = _described(schema, loc)
        return f'{dotted}: missing' + (f'; {why}.' if why else '.')
    text = re.sub(r'input should be a valid dictionary( or instance of \w+)?', 'expected a mapping (key: value lines)',
                  error['msg'].removeprefix('Value error, '), flags=re.IGNORECASE)
    named = re.match(r'(\w+): (missing.*)', text)  # a section's own check names the key it is about
    if named:
        return f"{'.'.join(map(str, prefix + loc + (named.group(1),)))}: {named.group(2)}."
    message = f'{dotted}: {text[0].lower()}{text[1:]}; got {given!r}.'
    if isinstance(given, str) and kind == 'float_type' and _is_number(given):
        # PyYAML reads 1e-4 as text (YAML 1.1 wants 1.0e-4); BasicSR's --force_yml reads no exponent or minus sign
        message += f' {given} is read as text: write !!float {given} (in the file or in --force_yml).'
    elif isinstance(given, str) and kind == 'int_type' and _is_number(given) and float(given).is_integer():
        # !!float would give 256.0, which a whole-number key refuses too: only the digits are read as an integer
        message += f' {given} is read as text: write {int(float(given))}.'
    return message


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def validate_section(schema, data, prefix, model_name, hints=None):
    """One line per problem of ``data`` (a mapping) against ``schema``; ``prefix`` is the section's key path."""
    if not isinstance(data, dict):
        return [f"{'.'.join(prefix)}: expected a mapping of options (key: value lines), got {data!r}."]
    try:
        schema.model_validate(data)
    except ValidationError as error:
        return [_message(e, tuple(prefix), schema, model_name, hints or {}) for e in error.errors()]
    return []


def _top_schema(opt, model_name):
    base = MODELS.get(model_name, (Top, None))[0]
    networks = {key: (dict[str, Any], None) for key in opt if isinstance(key, str) and key.startswith('network_')}
    return create_model(f'{model_name}Options', __base__=base, **networks)


def _path_schema(path_opt):
    fields = {key: (annotation, None) for key in path_opt for prefix, annotation in PATH_PATTERNS.items()
              if isinstance(key, str) and key.startswith(prefix)}
    fields.update({name: (Any, None) for name in PATH_NAMES})
    return create_model('Path', __base__=Section, **fields)


def _registered_class(registry, name):
    """The class BasicSR's ``registry`` holds under ``name`` (its own ``_basicsr`` suffix included), or None."""
    found = registry._obj_map
    return found.get(name) or found.get(f'{name}_basicsr') if isinstance(name, str) else None


def _read_by(cls, dotted):
    """Whether the source of ``cls`` (a model or dataset class, or None) reads the key ``dotted``."""
    return cls is not None and reads_key(cls, tuple(dotted.split('.')))


def _dataset_problems(phase, data, is_train, model_name):
    if not isinstance(data, dict):
        return [f'datasets.{phase}: expected a mapping of dataset options, got {data!r}.'], []
    schema, always, for_training = DATASETS.get(data.get('type'), (Dataset, (), ()))
    prefix = ('datasets', phase)
    problems = validate_section(schema, data, prefix, model_name)
    needed = always + (for_training + TRAIN_LOADER_KEYS if phase == 'train' and is_train else ())
    problems += [f"datasets.{phase}.{key}: missing; {data.get('type')} needs it"
                 + (' for training.' if key not in always else '.') for key in needed if data.get(key) is None]
    if data.get('type') in DATASETS:
        return problems, []
    unknown = [p for p in problems if ': unknown option;' in p]  # the dataset's own code may read them
    dataset_cls = _registered_class(DATASET_REGISTRY, data.get('type'))
    unread = [f"{p.split(':')[0]}: {data.get('type')}'s source does not read it, nor does any dataset this check "
              'declares; make sure it is one of its own.' for p in unknown
              if not _read_by(dataset_cls, p.split(':')[0].split('.', 2)[-1])]
    return [p for p in problems if p not in unknown], unread


def schema_problems(opt, is_train=True, hints=None):
    """``(errors, warnings)`` of an options mapping, one line per key; ``hints``: the model's word on keys it
    never reads (``foreign_train_keys``)."""
    if not isinstance(opt, dict):
        return [f'the options file holds {type(opt).__name__} {opt!r}, not a mapping of options.'], []
    model_name = str(opt.get('model_type'))
    declared = model_name in MODELS
    model_cls = None if declared else _registered_class(MODEL_REGISTRY, model_name)
    errors, warnings = [], []
    top = validate_section(_top_schema(opt, model_name), opt, (), model_name, hints)
    is_train = is_train and 'train' in opt
    if isinstance(opt.get('train'), dict):
        train_schema = MODELS.get(model_name, (None, SRModelTrain))[1]
        top += validate_section(train_schema, opt['train'], ('train',), model_name, hints)
    for line in top:
        if declared or not (': unknown option;' in line or ' never reads it;' in line):
            errors.append(line)
        elif ': unknown option;' in line and not _read_by(model_cls, line.split(':')[0]):
            warnings.append(f"{line.split(':')[0]}: {model_name}'s source does not read it, nor does any model this "
                            'check declares; make sure it is one of its own.')
    if isinstance(opt.get('path'), dict):
        errors += validate_section(_path_schema(opt['path']), opt['path'], ('path',), model_name)
    for phase, data in (opt['datasets'].items() if isinstance(opt.get('datasets'), dict) else ()):
        dataset_errors, dataset_warnings = _dataset_problems(phase, data, is_train, model_name)
        errors += dataset_errors
        warnings += dataset_warnings
    if is_train:
        for section, keys in (('val', ('val_freq', 'save_img')), ('logger', ('print_freq', 'save_checkpoint_freq'))):
            data = opt.get(section)
            if section == 'logger' and data is None:
                errors.append('logger: missing; training logs and saves by its print_freq and save_checkpoint_freq.')
            elif isinstance(data, dict):
                errors += [f'{section}.{key}: missing; {_described(Top, (section, key))}.'
                           for key in keys if data.get(key) is None]
    return errors, warnings
