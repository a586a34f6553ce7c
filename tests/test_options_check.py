"""``training/options_check.py``: the checks that need BasicSR's registries, sources and the file system, against
what BasicSR's own code accepts, expands and builds (values worked out by hand from its source)."""
import copy
import inspect
import re

import pytest

from sfd_basicsr.training import options_check
from sfd_basicsr.training.options_check import OptionsError, check_options, options_problems


def _problems(opt):
    with pytest.raises(OptionsError) as error:
        check_options(opt)
    return error.value.problems


@pytest.mark.parametrize('key, value, line', [
    ('network_g.num_feat', True, 'network_g.num_feat: RRDBNet expects a whole number (its default is 64); got True.'),
    ('train.featd_opt.loss_weight', False, 'train.featd_opt.loss_weight: SFDGANLoss expects a number (its default is '
                                           '0.1); got False.'),
], ids=['int argument', 'float argument'])
def test_true_or_false_for_a_number_argument_is_refused(tiny_options, key, value, line):
    # YAML's true/false are Python bools, which are ints: RRDBNet(num_feat=True) would build 1-channel layers
    opt = copy.deepcopy(tiny_options[1])
    *parents, last = key.split('.')
    section = opt
    for name in parents:
        section = section[name]
    section[last] = value
    assert _problems(opt) == [line]


def test_dataroot_lq_written_with_a_tilde_is_expanded_as_basicsr_expands_it(tiny_options, tmp_path, monkeypatch):
    """basicsr/utils/options.py, parse_options: ``osp.expanduser`` of dataroot_gt and of dataroot_lq."""
    import shutil
    opt = copy.deepcopy(tiny_options[1])
    home = tmp_path / 'home'
    shutil.copytree(opt['datasets']['train']['dataroot_lq'], home / 'lr')
    monkeypatch.setenv('HOME', str(home))
    opt['datasets']['train']['dataroot_lq'] = '~/lr'
    assert options_problems(copy.deepcopy(opt))[0] == []
    opt['datasets']['train']['dataroot_lq'] = '~/absent'
    assert _problems(opt) == ["datasets.train.dataroot_lq: '~/absent' does not exist."]


def _gan_types_basicsr_implements():
    from basicsr.losses.gan_loss import GANLoss
    return re.findall(r"gan_type == '(\w+)'", inspect.getsource(GANLoss.__init__))


def test_basicsr_implements_the_gan_types_read_here():
    assert sorted(_gan_types_basicsr_implements()) == ['hinge', 'lsgan', 'vanilla', 'wgan', 'wgan_softplus']


@pytest.mark.parametrize('gan_type', _gan_types_basicsr_implements())
def test_every_gan_type_basicsrs_gan_loss_implements_passes(tiny_options, gan_type):
    opt = copy.deepcopy(tiny_options[1])
    opt['train']['tgd_opt']['gan_type'] = gan_type
    assert options_problems(opt)[0] == []


@pytest.mark.parametrize('model_type', ['RealESRGANModel', 'RealESRNetModel'])
def test_basicsr_models_that_build_cuda_tensors_are_refused_without_cuda(tiny_options, model_type, monkeypatch):
    import importlib

    import torch
    module = importlib.import_module(f"basicsr.models.{model_type.removesuffix('Model').lower()}_model")
    assert '.cuda()' in inspect.getsource(module)  # its __init__ moves DiffJPEG and USMSharp to CUDA, whatever num_gpu
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    opt = copy.deepcopy(tiny_options[1])
    opt.update(model_type=model_type, num_gpu=0)
    errors, _ = options_problems(opt)
    assert any(line.startswith(f"model_type: BasicSR's {model_type} puts its degradation tensors on CUDA, which this "
                               'machine lacks; use SFDRealModel') for line in errors), errors


def test_a_loss_set_to_null_leaves_its_discriminator_untrained(tiny_options):
    # SFDModel builds a discriminator's loss only `if loss_opt`: null is the same as absent
    opt = copy.deepcopy(tiny_options[1])
    opt['train']['featd_opt'] = None
    assert _problems(opt) == [
        'network_d: set, but train.featd_opt is absent, so SFDModel would build it and never train against it; add '
        'train.featd_opt (loss_weight 0 turns it off on purpose) or remove network_d.']


def test_a_fault_inside_a_check_is_raised_not_hidden(tiny_options, monkeypatch):
    """Only with schema errors (a value of the wrong type may trip a later check) is an exception set aside."""
    def broken(*args):
        raise TypeError('a bug in a check')
    monkeypatch.setattr(options_check, '_check_device', broken)
    opt = copy.deepcopy(tiny_options[1])
    with pytest.raises(TypeError, match='a bug in a check'):
        options_problems(opt)
    opt['train']['total_iter'] = 'ten'
    assert options_problems(opt)[0] == ["train.total_iter: input should be a valid number; got 'ten'."]


def test_a_problem_line_is_cut_only_past_its_bound():
    bound = options_check.MAX_PROBLEM_CHARS
    assert OptionsError(['x' * bound]).problems == ['x' * bound]
    assert OptionsError(['x' * (bound + 1)]).problems == ['x' * bound + f'... ({bound + 1} characters)']


def test_a_run_without_a_launcher_on_several_gpus_needs_a_batch_for_each_of_them(tiny_options, monkeypatch):
    import copy

    import torch
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)  # a 2-GPU machine, as num_gpu: 2 needs
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda **kwargs: True)
    opt = copy.deepcopy(tiny_options[1])  # its training set has 4 images
    opt.update(num_gpu=2, dist=False)
    opt['datasets']['train']['batch_size_per_gpu'] = 2
    check_options(copy.deepcopy(opt))  # 2 x 2 images: one full batch
    opt['datasets']['train']['batch_size_per_gpu'] = 3  # 3 per process would pass; BasicSR's loader takes 6
    with pytest.raises(OptionsError) as refused:
        check_options(opt)
    assert str(refused.value) == (
        'datasets.train.batch_size_per_gpu: 3 per GPU on 2 GPUs of one process (6 images a batch), but the training '
        'set has 4 images (x1 dataset_enlarge_ratio), so not one full batch exists and training would run 0 '
        'iterations. Lower batch_size_per_gpu to 2 or less, use fewer GPUs, or raise dataset_enlarge_ratio.')
