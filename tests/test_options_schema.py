"""The declared options schema: types, ranges, unknown keys and their owners, against values worked out by hand."""
import copy
import glob
import inspect
import os

import pytest
import yaml

from sfd_basicsr.training.options_schema import (DATASETS, MODELS, RealESRGANDataset, RealESRGANTop, SRGANModelTrain,
                                        schema_problems)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SFD_OPTIONS = os.path.join(ROOT, 'options', 'train_sfd_esrgan_x4.yml')


def shipped(name='train_sfd_esrgan_x4.yml'):
    with open(os.path.join(ROOT, 'options', name)) as f:
        return yaml.safe_load(f)


@pytest.mark.parametrize('path', sorted(glob.glob(os.path.join(ROOT, 'options', '*.yml'))), ids=os.path.basename)
def test_the_shipped_options_have_no_problem(path):
    with open(path) as f:
        assert schema_problems(yaml.safe_load(f), is_train='test_' not in os.path.basename(path)) == ([], [])


def set_key(opt, dotted, value):
    *parents, last = dotted.split('.')
    for key in parents:
        opt = opt[key]
    opt[last] = value


WRONG = [  # (key, value, the line expected)
    ('train.total_iter', 'ten', "train.total_iter: input should be a valid number; got 'ten'."),
    ('train.total_iter', 2.5, 'train.total_iter: must be a positive whole number; got 2.5.'),
    ('train.optim_g.lr', 'fast', "train.optim_g.lr: input should be a valid number; got 'fast'."),
    ('train.optim_g.lr', -1e-4, 'train.optim_g.lr: input should be greater than or equal to 0; got -0.0001.'),
    ('train.optim_d.type', 'SGD', "train.optim_d.type: input should be 'Adam'; got 'SGD'."),
    ('train.ema_decay', 1, 'train.ema_decay: input should be less than 1; got 1.'),
    ('datasets.train.gt_size', 'big', "datasets.train.gt_size: input should be a valid integer; got 'big'."),
    ('datasets.train.use_hflip', 'yes', "datasets.train.use_hflip: input should be a valid boolean; got 'yes'."),
    ('datasets.train.batch_size_per_gpu', 0, 'datasets.train.batch_size_per_gpu: input should be greater than 0; '
                                             'got 0.'),
    ('num_gpu', -1, 'num_gpu: must be a number of GPUs (0: the CPU) or auto; got -1.'),
    ('val', 'yes', "val: expected a mapping (key: value lines); got 'yes'."),
    ('logger.print_freq', 0, 'logger.print_freq: must be a positive whole number; got 0.'),
    ('path.strict_load_g', 'yes', "path.strict_load_g: input should be a valid boolean; got 'yes'."),
    ('val.metrics.psnr.crop_border', -4, 'val.metrics.psnr.crop_border: input should be greater than or equal to 0; '
                                         'got -4.'),
]


@pytest.mark.parametrize('key, value, line', WRONG, ids=[f'{k}={v}' for k, v, _ in WRONG])
def test_a_value_of_the_wrong_type_or_range_is_named(key, value, line):
    opt = shipped()
    set_key(opt, key, value)
    assert schema_problems(opt) == ([line], [])


def test_numbers_yaml_reads_as_text_are_refused_with_the_spelling_that_works():
    text = open(SFD_OPTIONS).read().replace('lr: !!float 1e-4', 'lr: 1e-4', 1)
    assert 'lr: 1e-4' in text
    errors, _ = schema_problems(yaml.safe_load(text))
    assert errors == ["train.optim_g.lr: input should be a valid number; got '1e-4'. 1e-4 is read as text: "
                      'write !!float 1e-4 (in the file or in --force_yml).']
    assert schema_problems(yaml.safe_load(text.replace('lr: 1e-4', 'lr: 1.0e-4', 1))) == ([], [])


def test_every_problem_is_reported_at_once():
    opt = shipped()
    set_key(opt, 'train.total_iter', 'ten')
    set_key(opt, 'datasets.train.gt_size', 'big')
    opt['logger']['print_frq'] = opt['logger'].pop('print_freq')
    errors, _ = schema_problems(opt)
    assert [line.split(':')[0] for line in errors] == ['logger.print_frq', 'train.total_iter',
                                                       'datasets.train.gt_size', 'logger.print_freq']


@pytest.mark.parametrize('section, key, close', [
    ((), 'vall', 'val'), (('train', 'optim_g'), 'betaz', 'betas'), (('datasets', 'train'), 'use_flip', 'use_hflip'),
    (('val', 'metrics', 'psnr'), None, None), (('logger',), 'save_checkpoint_frq', 'save_checkpoint_freq'),
    (('path',), 'resume_sate', 'resume_state'), (('train', 'scheduler'), 'milestone', 'milestones'),
])
def test_an_unknown_nested_key_gets_the_close_match(section, key, close):
    opt = shipped()
    if key is None:  # metric options go to the metric function as they are (BasicSR's take **kwargs)
        opt['val']['metrics']['psnr']['anything'] = 1
        assert schema_problems(opt) == ([], [])
        return
    target = opt
    for name in section:
        target = target[name]
    target[key] = 1
    dotted = '.'.join(section + (key,))
    assert schema_problems(opt)[0] == [f'{dotted}: unknown option; SFDModel and BasicSR never read it, so it would '
                                       f"be ignored. Did you mean '{close}'?"]


def test_a_key_of_another_model_says_whose_it_is():
    opt = shipped()
    opt['queue_size'] = 180
    opt['train']['gan_opt'] = {'type': 'GANLoss', 'gan_type': 'vanilla'}
    errors, _ = schema_problems(opt, hints={'gan_opt': 'SFDModel reads train.featd_opt and train.tgd_opt.'})
    assert errors == ['queue_size: SFDModel never reads it; it is an option of RealESRGANModel, RealESRNetModel, '
                      'SFDRealModel.',
                      'train.gan_opt: SFDModel never reads it; SFDModel reads train.featd_opt and train.tgd_opt.']
    errors, _ = schema_problems(opt)
    assert errors[1] == ('train.gan_opt: SFDModel never reads it; it is an option of ESRGANModel, RealESRGANModel, '
                         'SRGANModel, SeDModel.')


SPEED_OPTIONS = {'use_amp': True, 'amp_bf16': True, 'use_channels_last': True, 'use_compile': True,
                 'compile_mode': 'reduce-overhead'}


@pytest.mark.parametrize('model_type', ['SFDModel', 'SFDRealModel', 'SeDModel'])
def test_traiNNer_redux_speed_options_are_declared_for_our_models(model_type):
    opt = shipped()
    opt['model_type'] = model_type
    opt.update(SPEED_OPTIONS)
    opt['train']['optim_g']['fused'] = True
    opt['train']['optim_d'] = {**opt['train']['optim_d'], 'fused': False, 'foreach': True}
    errors, _ = schema_problems(opt)
    assert [line for line in errors if line.split(':')[0] in SPEED_OPTIONS or 'optim' in line] == []


@pytest.mark.parametrize('model_type', ['SRGANModel', 'ESRGANModel', 'RealESRGANModel'])
def test_speed_options_in_a_model_that_ignores_them_are_refused_naming_the_models_that_read_them(model_type):
    opt = shipped()
    opt['model_type'] = model_type
    opt.update(SPEED_OPTIONS)
    errors, _ = schema_problems(opt)
    assert [line for line in errors if line.split(':')[0] in SPEED_OPTIONS] == [
        f'{key}: {model_type} never reads it; it is an option of SFDModel, SFDRealModel, SeDModel.'
        for key in SPEED_OPTIONS]


@pytest.mark.parametrize('change, line', [
    ({'amp_bf16': True}, 'amp_bf16: has no effect without use_amp: true; got True.'),
    ({'compile_mode': 'max-autotune'}, "compile_mode: has no effect without use_compile: true; got 'max-autotune'."),
    ({'use_compile': True, 'compile_mode': 'fast'}, "compile_mode: input should be 'default', 'reduce-overhead', "
                                                    "'max-autotune' or 'max-autotune-no-cudagraphs'; got 'fast'."),
    ({'use_amp': 'yes'}, "use_amp: input should be a valid boolean; got 'yes'."),
], ids=['bf16 without amp', 'mode without compile', 'unknown mode', 'not a boolean'])
def test_speed_options_that_would_do_nothing_or_cannot_work_are_named(change, line):
    opt = shipped()
    opt.update(change)
    assert schema_problems(opt) == ([line], [])


def test_fused_and_foreach_adam_are_one_choice():
    opt = shipped()
    opt['train']['optim_g'].update(fused=True, foreach=True)
    assert schema_problems(opt) == (['train.optim_g.fused: cannot be combined with foreach: true; choose one '
                                     'implementation; got True.'], [])


def test_a_model_that_declares_nothing_gets_warnings_not_refusals():
    opt = shipped()
    opt['model_type'] = 'SwinIRModel'
    opt['train']['my_loss_opt'] = {'type': 'L1Loss'}
    opt['window_size'] = 8
    errors, warnings = schema_problems(opt)
    assert errors == []
    assert [line.split(':')[0] for line in warnings] == ['window_size', 'train.my_loss_opt']
    assert all("SwinIRModel's source does not read it, nor does any model this check declares" in line
               for line in warnings)
    set_key(opt, 'train.total_iter', 'ten')  # what BasicSR's own pipeline reads is still checked
    assert schema_problems(opt)[0] == ["train.total_iter: input should be a valid number; got 'ten'."]


def test_keys_a_dataset_needs_are_required_by_phase():
    opt = shipped()
    del opt['datasets']['train']['gt_size'], opt['datasets']['val']['dataroot_lq']
    assert schema_problems(opt)[0] == ['datasets.train.gt_size: missing; PairedImageDataset needs it for training.',
                                       'datasets.val.dataroot_lq: missing; PairedImageDataset needs it.']
    val = copy.deepcopy(shipped())
    del val['datasets']['val']['dataroot_lq']
    val['datasets']['val']['gt_size'] = 'big'
    assert len(schema_problems(val)[0]) == 2


def test_sections_that_are_not_mappings_are_named():
    assert schema_problems(['a', 'list'])[0] == ["the options file holds list ['a', 'list'], not a mapping of options."]
    opt = shipped()
    opt['datasets']['train'] = 'DF2K'
    assert schema_problems(opt)[0] == ["datasets.train: expected a mapping of dataset options, got 'DF2K'."]


def test_training_needs_the_logger_and_validation_frequencies():
    opt = shipped()
    del opt['val']['val_freq']
    assert schema_problems(opt)[0] == ['val.val_freq: missing; training validates every that many iterations.']
    del opt['logger']
    assert schema_problems(opt)[0][-1].startswith('logger: missing;')
    assert schema_problems(opt, is_train=False)[0] == []


def _basicsr_source(*modules):
    import importlib
    return ''.join(inspect.getsource(importlib.import_module(f'basicsr.{name}')) for name in modules)


@pytest.mark.parametrize('schema, modules', [
    (RealESRGANTop, ('models.realesrgan_model',)),
    (RealESRGANDataset, ('data.realesrgan_dataset',)),
    (SRGANModelTrain, ('models.srgan_model', 'models.sr_model', 'models.base_model', 'train')),
], ids=['RealESRGANModel top level', 'RealESRGANDataset', 'SRGANModel train'])
def test_every_declared_key_is_one_basicsr_reads(schema, modules):
    """The declarations come from BasicSR's source: each key of these sections appears there, quoted."""
    import sfd_basicsr  # noqa: F401  (torchvision alias before basicsr's modules import)
    source = _basicsr_source(*modules)
    own = [name for name in schema.model_fields if name not in schema.__base__.model_fields] \
        if schema is not SRGANModelTrain else list(schema.model_fields)
    missing = [name for name in own if f"'{name}'" not in source]
    assert missing == []


def test_declared_models_and_datasets_are_registered():
    from basicsr.utils.registry import DATASET_REGISTRY, MODEL_REGISTRY
    for name in MODELS:
        assert name in MODEL_REGISTRY or f'{name}_basicsr' in MODEL_REGISTRY, name
    for name in DATASETS:
        assert name in DATASET_REGISTRY or f'{name}_basicsr' in DATASET_REGISTRY, name


@pytest.mark.parametrize('model_name, keys', [('EDVRModel', ['train.tsa_iter', 'train.dcn_lr_mul']),
                                              ('VideoRecurrentModel', ['train.fix_flow', 'train.flow_lr_mul'])])
def test_keys_an_undeclared_model_reads_in_its_source_get_no_warning(model_name, keys):
    """basicsr/models/edvr_model.py and video_recurrent_model.py read these (``training/basicsr_reads.py``)."""
    opt = shipped()
    opt['model_type'] = model_name
    for key in keys:
        set_key(opt, key, 1)
    set_key(opt, 'train.made_up_key', 1)
    errors, warnings = schema_problems(opt)
    assert errors == [] and [line.split(':')[0] for line in warnings] == ['train.made_up_key']


@pytest.mark.parametrize('key, value, line', [
    # basicsr.data.data_sampler.EnlargedSampler: ceil(len * 0 / world_size) = 0 samples, so no batch ever
    ('datasets.train.dataset_enlarge_ratio', 0, 'datasets.train.dataset_enlarge_ratio: input should be greater than '
                                                '0; got 0.'),
    ('num_gpu', True, 'num_gpu: must be a number of GPUs (0: the CPU) or auto; got True.'),  # YAML's true is no count
])
def test_a_zero_or_a_boolean_where_basicsr_needs_a_count_is_named(key, value, line):
    opt = shipped()
    set_key(opt, key, value)
    assert schema_problems(opt) == ([line], [])


def test_a_single_image_dataset_needs_dataroot_lq():
    import sfd_basicsr  # noqa: F401  (torchvision alias before basicsr's modules import)
    assert "opt['dataroot_lq']" in _basicsr_source('data.single_image_dataset')  # read with [], so a KeyError
    opt = shipped()
    opt['datasets']['val'] = {'name': 'lq_only', 'type': 'SingleImageDataset', 'io_backend': {'type': 'disk'}}
    assert schema_problems(opt)[0] == ['datasets.val.dataroot_lq: missing; SingleImageDataset needs it.']


@pytest.mark.parametrize('key', ['batch_size_per_gpu', 'num_worker_per_gpu'])
def test_a_loader_key_basicsr_reads_with_brackets_is_required_for_training(key):
    from basicsr.data import build_dataloader
    opt = shipped()
    del opt['datasets']['train'][key]
    with pytest.raises(KeyError, match=key):
        build_dataloader([0, 1], dict(opt['datasets']['train'], phase='train'), num_gpu=1, dist=False)
    assert schema_problems(opt)[0] == [f'datasets.train.{key}: missing; PairedImageDataset needs it for training.']


def test_tg_d_alone_needs_the_discriminator_optimiser():
    opt = shipped()
    del opt['train']['featd_opt'], opt['network_d'], opt['train']['optim_d']
    assert schema_problems(opt)[0] == ['train.optim_d: missing; with featd_opt or tgd_opt set, the discriminators '
                                       'train with it.']


def test_an_empty_logger_section_names_both_frequencies():
    opt = shipped()
    opt['logger'] = {}
    assert schema_problems(opt)[0] == [
        'logger.print_freq: missing; training logs its losses every that many iterations.',
        'logger.save_checkpoint_freq: missing; training saves every that many iterations.']


def test_a_whole_number_written_as_text_gets_a_spelling_that_works():
    opt = shipped()
    set_key(opt, 'datasets.train.gt_size', '2.56e2')  # YAML 1.1 text; !!float 2.56e2 would be 256.0, no integer
    assert schema_problems(opt)[0] == ["datasets.train.gt_size: input should be a valid integer; got '2.56e2'. 2.56e2 "
                                       'is read as text: write 256.']
    set_key(opt, 'datasets.train.gt_size', yaml.safe_load('256'))  # the spelling it gives
    assert schema_problems(opt) == ([], [])
    set_key(opt, 'datasets.train.gt_size', yaml.safe_load('!!float 2.56e2'))
    assert schema_problems(opt)[0] == ['datasets.train.gt_size: input should be a valid integer; got 256.0.']
