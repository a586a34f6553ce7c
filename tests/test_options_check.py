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


def _basicsr_pool_refuses(queue_size, batch):
    """Whether BasicSR's own training-pair pool (``RealESRNetModel._dequeue_and_enqueue``; RealESRGANModel's is a copy
    of it) stops on this queue and batch, run on a stand-in holding just what it reads."""
    import torch
    from basicsr.models.realesrnet_model import RealESRNetModel

    class Pool:
        pass
    pool = Pool()
    pool.queue_size, pool.lq, pool.gt = queue_size, torch.zeros(batch, 3, 4, 4), torch.zeros(batch, 3, 16, 16)
    try:
        RealESRNetModel._dequeue_and_enqueue(pool)
    except AssertionError as error:
        if 'divisible' in str(error):
            return True
    except RuntimeError:  # past the check, its .cuda() on this CPU machine
        pass
    return False


def _basicsr_default_queue_size():
    from basicsr.models.realesrnet_model import RealESRNetModel
    return int(re.search(r"opt\.get\('queue_size', (\d+)\)", inspect.getsource(RealESRNetModel.__init__)).group(1))


@pytest.mark.parametrize('queue_size, batch', [(4, 2), (5, 2), (180, 12), (180, 7), (2, 4), (1, 1), (None, 7),
                                               (None, 12)])
def test_the_pair_pool_check_refuses_what_basicsrs_pool_refuses(tiny_options, queue_size, batch):
    opt = copy.deepcopy(tiny_options[1])
    opt['model_type'] = 'SFDRealModel'
    if queue_size is None:  # absent: BasicSR's default, read from its source
        queue_size = _basicsr_default_queue_size()
    else:
        opt['queue_size'] = queue_size
    opt['datasets']['train']['batch_size_per_gpu'] = batch
    opt['datasets']['train']['dataset_enlarge_ratio'] = 10  # enough images for any of these batches
    refused = [line for line in options_problems(opt)[0] if line.startswith('queue_size:')]
    assert bool(refused) == _basicsr_pool_refuses(queue_size, batch), refused


@pytest.mark.parametrize('queue_size, batch, advice', [(5, 2, 'set queue_size to 4 or 6.'),
                                                       (2, 4, 'set queue_size to 4.')])
def test_the_pair_pool_check_names_the_option_and_the_nearest_sizes(tiny_options, queue_size, batch, advice):
    opt = copy.deepcopy(tiny_options[1])
    opt.update(model_type='SFDRealModel', queue_size=queue_size)
    opt['datasets']['train'].update(batch_size_per_gpu=batch, dataset_enlarge_ratio=10)
    assert [line for line in options_problems(opt)[0] if line.startswith('queue_size:')] == [
        f'queue_size: {queue_size} is not a multiple of the {batch} images of a batch '
        "(datasets.train.batch_size_per_gpu), which SFDRealModel's training-pair pool needs (it would stop at the "
        f'first iteration); {advice}']


def test_the_pair_pool_of_a_run_without_a_launcher_takes_every_gpus_batch(tiny_options, monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)  # a 2-GPU machine, as num_gpu: 2 needs
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda **kwargs: True)
    opt = copy.deepcopy(tiny_options[1])
    opt.update(model_type='SFDRealModel', queue_size=6, num_gpu=2, dist=False)
    opt['datasets']['train'].update(batch_size_per_gpu=3, dataset_enlarge_ratio=10)
    assert _basicsr_pool_refuses(6, 3 * 2) is False  # DataParallel's one batch of 6 fills the pool of 6
    assert not [line for line in options_problems(copy.deepcopy(opt))[0] if line.startswith('queue_size:')]
    opt['queue_size'] = 9  # a multiple of 3 per GPU, not of the loader's 6
    assert _basicsr_pool_refuses(9, 3 * 2) is True
    assert [line for line in options_problems(opt)[0] if line.startswith('queue_size:')] == [
        'queue_size: 9 is not a multiple of the 6 images of a batch (batch_size_per_gpu 3 x num_gpu 2), which '
        "SFDRealModel's training-pair pool needs (it would stop at the first iteration); set queue_size to 6 or 12."]


def test_models_without_a_pair_pool_leave_queue_size_to_the_schema(tiny_options):
    opt = copy.deepcopy(tiny_options[1])  # SFDModel
    opt['queue_size'] = 5
    errors = options_problems(opt)[0]
    assert not [line for line in errors if 'multiple' in line]
    assert any(line.startswith('queue_size:') for line in errors)  # the schema's: SFDModel never reads it


def test_the_pair_pool_is_left_alone_without_high_order_degradation(tiny_options):
    from basicsr.models.realesrnet_model import RealESRNetModel
    # BasicSR degrades, and fills its pool, only under this switch (default true)
    assert "self.opt.get('high_order_degradation', True)" in inspect.getsource(RealESRNetModel.feed_data)
    opt = copy.deepcopy(tiny_options[1])
    opt.update(model_type='SFDRealModel', queue_size=5, high_order_degradation=False)
    opt['datasets']['train'].update(batch_size_per_gpu=2, dataset_enlarge_ratio=10)
    assert not [line for line in options_problems(opt)[0] if line.startswith('queue_size:')]
    opt['high_order_degradation'] = True
    assert [line for line in options_problems(opt)[0] if line.startswith('queue_size:')]


def test_num_gpu_auto_is_every_gpu_as_basicsr_makes_it(tiny_options, monkeypatch):
    import torch
    from basicsr.utils import options as basicsr_options
    assert "opt['num_gpu'] = torch.cuda.device_count()" in inspect.getsource(basicsr_options.parse_options)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)  # a 2-GPU machine
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda **kwargs: True)
    opt = copy.deepcopy(tiny_options[1])
    opt.update(model_type='SFDRealModel', queue_size=9, num_gpu='auto', dist=False)
    opt['datasets']['train'].update(batch_size_per_gpu=3, dataset_enlarge_ratio=10)
    assert [line for line in options_problems(opt)[0] if line.startswith('queue_size:')] == [
        'queue_size: 9 is not a multiple of the 6 images of a batch (batch_size_per_gpu 3 x num_gpu 2), which '
        "SFDRealModel's training-pair pool needs (it would stop at the first iteration); set queue_size to 6 or 12."]
