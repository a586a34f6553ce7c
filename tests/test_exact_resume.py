"""A run killed after a checkpoint and resumed with --auto_resume logs what an uninterrupted run logs, every iteration.

Random crops, flips and four images (one per batch, four batches an epoch) make every batch different, so a
resume that replayed the epoch from its start (BasicSR's) or drew other crops would log other losses. Under fp16
AMP the gradient scalers' scales and skipped-step counts resume too; with an adaptive DiffAugment, its probability
and the sums it moves by.
"""
import glob
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from helpers.training import logged_losses, tiny_train_options, write_options

BATCHES_PER_EPOCH = 4


# p moves by 4 images / 20 every 4 iterations (one image a batch): killed at 6, the sums of 5 and 6 wait in the state
ADAPTIVE_DIFFAUGMENT = {'probability': 0.5, 'adaptive_target': 0.6, 'adaptive_interval': 4, 'adaptive_images': 20}
VARIANTS = {  # (top-level, train) options; each adds to the state: fp16 a GradScaler per optimiser, DiffAugment its p
    'float32': ({}, {}),
    'fp16 AMP': ({'use_amp': True}, {}),
    'adaptive DiffAugment': ({}, {'diffaugment': ADAPTIVE_DIFFAUGMENT}),
}


def options(root, name, iters, save_every, variant='float32'):
    opt = tiny_train_options(root, name=name, iters=iters, warm_start=False)
    top, train_opt = VARIANTS[variant]
    opt.update(top)
    opt['train'].update(train_opt)
    train = opt['datasets']['train']
    assert train['use_hflip'] and train['use_rot'] and train['gt_size'] < 128  # random crops and flips
    train['batch_size_per_gpu'] = 1
    opt['logger'].update({'print_freq': 1, 'save_checkpoint_freq': save_every})
    opt['val']['val_freq'] = 3  # validation between iterations must not change what training draws
    return write_options(os.path.join(root, f'{name}.yml'), opt)


def basicsr(args, cwd, **popen):
    script = os.path.join(os.path.dirname(sys.executable), 'basicsr')
    env = dict(os.environ, HF_HUB_OFFLINE='1', PYTHONUNBUFFERED='1')
    return subprocess.Popen([script, *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, **popen)


def finished(process):
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-3000:]


def last_log(experiment):
    with open(sorted(glob.glob(os.path.join(experiment, 'train_*.log')))[-1]) as f:
        return f.read()


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory):
    """``run(variant)``: the 9 iterations without interruption, once per variant."""
    runs = {}

    def run(variant):
        if variant not in runs:
            root = str(tmp_path_factory.mktemp('exact_resume'))
            finished(basicsr(['train', '-opt', options(root, 'straight', 9, 100, variant)], cwd=root))
            experiment = os.path.join(root, 'experiments', 'straight')
            runs[variant] = root, logged_losses(last_log(experiment)), experiment
        return runs[variant]
    return run


@pytest.mark.slow
@pytest.mark.parametrize('kill_after, iters, variant', [(4, 7, 'float32'), (6, 9, 'float32'), (6, 9, 'fp16 AMP'),
                                                        (6, 9, 'adaptive DiffAugment')],
                         ids=['at an epoch boundary', 'mid-epoch', 'mid-epoch, fp16 AMP',
                              'mid-epoch and mid-interval, adaptive DiffAugment'])
def test_a_killed_run_resumes_exactly(uninterrupted, kill_after, iters, variant):
    root, straight, straight_experiment = uninterrupted(variant)
    name = f'killed_at_{kill_after}'
    opt_file = options(root, name, iters, kill_after, variant)  # the only state saved before the end: kill_after
    experiment = os.path.join(root, 'experiments', name)
    state = os.path.join(experiment, 'training_states', f'{kill_after}.state')
    run = basicsr(['train', '-opt', opt_file], cwd=root)
    while not os.path.isfile(state) and run.poll() is None:
        time.sleep(0.02)
    run.send_signal(signal.SIGKILL)
    run.communicate()
    saved = torch.load(state, weights_only=False)
    position = saved['data_position']
    assert ('grad_scalers' in saved) == (variant == 'fp16 AMP')
    assert ('diffaugment' in saved) == (variant == 'adaptive DiffAugment')
    if variant == 'adaptive DiffAugment':  # p moved before the kill, logged at every iteration
        assert sorted(straight) == list(range(1, 10)) and all('diffaugment_p' in straight[it] for it in straight)
        assert straight[4]['diffaugment_p'] == 0.5 and straight[5]['diffaugment_p'] in (0.3, 0.7)
        assert saved['diffaugment']['images'] == 2  # iterations 5 and 6
    if variant == 'fp16 AMP':  # a scale lowered before the kill: a resume at the initial scale would differ
        assert straight[kill_after]['amp_skipped_g'] + straight[kill_after]['amp_skipped_d'] >= 1
    assert (position['epoch'], position['batches']) == divmod(kill_after - 1, BATCHES_PER_EPOCH)[0:1] + \
        ((kill_after - 1) % BATCHES_PER_EPOCH + 1,)  # 4 -> epoch 0, 4 batches taken; 6 -> epoch 1, 2 batches

    finished(basicsr(['train', '-opt', opt_file, '--auto_resume'], cwd=root))
    resumed_log = last_log(experiment)
    assert f'Resuming training from epoch: {position["epoch"]}, iter: {kill_after}.' in resumed_log
    resumed = logged_losses(resumed_log)
    assert sorted(resumed) == list(range(kill_after + 1, iters + 1))
    for it in resumed:
        for key, value in straight[it].items():
            if key.startswith(('l_', 'out_', 'amp_skipped_', 'diffaugment_')):
                assert resumed[it][key] == pytest.approx(value, rel=1e-3, abs=1e-6), (it, key)
    if iters == 9:
        a = torch.load(os.path.join(straight_experiment, 'models', 'net_g_latest.pth'))['params']
        b = torch.load(os.path.join(experiment, 'models', 'net_g_latest.pth'))['params']
        for key in a:
            torch.testing.assert_close(b[key], a[key], rtol=1e-5, atol=1e-7, msg=key)


def test_validation_leaves_the_training_generators_as_it_found_them():
    import random

    import numpy as np

    from sfd_basicsr.models.exact_resume import ExactResume

    class DrawingValidation:
        def validation(self, dataloader, current_iter, tb_logger, save_img=False):
            random.random(), np.random.rand(), torch.rand(1)  # a metric or loader drawing numbers

    class Model(ExactResume, DrawingValidation):
        pass

    torch.manual_seed(0), random.seed(0), np.random.seed(0)
    expected = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    torch.manual_seed(0), random.seed(0), np.random.seed(0)
    Model().validation(None, 1, None)
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == expected


def process_of(rank, world_size, monkeypatch):
    """An ``ExactResume`` model as process ``rank`` of ``world_size`` (BasicSR's own state and resume reduced to
    nothing) and the fresh data stream it saves and resumes."""
    from sfd_basicsr.models import exact_resume
    from sfd_basicsr.models.data_stream import DataStream

    class Base:
        def resume_training(self, resume_state):
            pass

    class Model(exact_resume.ExactResume, Base):
        def __init__(self):
            self.opt = {'rank': rank, 'world_size': world_size}
            self.optimizers, self.schedulers = [], []

    stream = DataStream()
    monkeypatch.setattr(exact_resume, 'STREAM', stream)
    return Model(), stream


@pytest.mark.parametrize('rank', [0, 1])
def test_each_rank_resumes_with_its_own_random_states(rank, monkeypatch):
    """Every process saved its generators; a resumed rank takes back its own, not rank 0's."""
    model, stream = process_of(rank, 2, monkeypatch)
    states = [{'drawn_by': 'rank 0'}, {'drawn_by': 'rank 1'}]
    model.resume_training({'iter': 4, 'data_position': {'epoch': 0, 'batches': 3, 'random_states': states}})
    assert stream._resume == (3, states[rank])


@pytest.mark.parametrize('saved_by, resumed_by', [(1, 2), (2, 1)])
def test_a_resume_by_another_number_of_processes_continues_the_data_with_fresh_generators(
        saved_by, resumed_by, monkeypatch):
    """Rank 0's saved generators are not this rank's when the processes are split otherwise: none are restored."""
    from sfd_basicsr.models import exact_resume
    warnings = []
    monkeypatch.setattr(exact_resume, 'get_root_logger',
                        lambda: type('Logger', (), {'warning': staticmethod(warnings.append)}))
    model, stream = process_of(0, resumed_by, monkeypatch)
    states = [{'drawn_by': f'rank {rank}'} for rank in range(saved_by)]
    model.resume_training({'iter': 4, 'data_position': {'epoch': 0, 'batches': 3, 'random_states': states}})
    assert stream._resume == (3, None)
    assert len(warnings) == 1 and f'saved by {saved_by} process(es), resumed by {resumed_by}' in warnings[0]


def test_a_training_state_records_the_batches_taken_and_every_processs_generators(monkeypatch):
    model, stream = process_of(0, 2, monkeypatch)
    for _ in range(3):  # three batches into the epoch
        stream.took_batch()
    rank_1 = {'drawn_by': 'rank 1'}
    gathered_from = []

    def all_gather_object(gathered, value):  # a two-process group without one: rank 1 sends its generators
        gathered_from.append(value)
        gathered[:] = [value, rank_1]
    monkeypatch.setattr(torch.distributed, 'is_initialized', lambda: True)
    monkeypatch.setattr(torch.distributed, 'get_world_size', lambda: 2)
    monkeypatch.setattr(torch.distributed, 'all_gather_object', all_gather_object)
    torch_generator = torch.get_rng_state()
    position = model.training_state(1, 7)['data_position']
    assert (position['epoch'], position['batches']) == (1, 3)
    states = position['random_states']
    assert len(states) == 2 and states[1] is rank_1 and len(gathered_from) == 1, 'one per process, in rank order'
    assert torch.equal(states[0]['torch'], torch_generator)
