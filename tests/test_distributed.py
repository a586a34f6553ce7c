"""Training with several processes on CPU (gloo), the code path multi-GPU users take, through torchrun."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

from helpers.training import command_path, free_port, logged_losses, paired_dataset, psnr_checkpoint, read_log, \
    run_basicsr, slurm_tasks, tiny_train_options, torchrun, torchrun_nodes, write_options
from sfd_basicsr.data.sample_images import write_bicubic_pairs

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, 'helpers', 'distributed_worker.py')
FOUR_IMAGES = ['astronaut', 'rocket', 'coffee', 'chelsea']


def basicsr_script():
    return command_path('basicsr')


def fixed_batches_options(root, batch_size, model='SFDModel'):
    """Four 64 px images, each batch whole images (no crop, no flip): a batch is a set of files, nothing random."""
    opt = tiny_train_options(root, name=f'dist_{model}', iters=100, with_val=False, warm_start=False)
    hr, lr = write_bicubic_pairs(os.path.join(root, 'four'), FOUR_IMAGES, 64)
    train = paired_dataset('four', hr, lr, 'train', gt_size=64, batch_size=batch_size)
    train.update({'use_hflip': False, 'use_rot': False})
    opt['datasets']['train'] = train
    opt['path']['pretrain_network_g'] = psnr_checkpoint(str(root))
    if model != 'SFDModel':  # stock BasicSR GAN models with our discriminators dropped in as network_d
        opt['model_type'] = model
        tgd = opt.pop('network_d_tg')
        if model == 'ESRGANModel':
            opt['network_d'] = tgd
        if model.startswith('SeD'):  # SeD-U as SeD trains it (SeDModel) and self-conditioned (SRGANModel)
            opt['model_type'] = 'SeDModel' if model == 'SeDModel' else 'SRGANModel'
            opt['network_d'] = {'type': 'SeDUNetDiscriminator', 'clip_model': tgd['clip_model'],
                                'pretrained': None, 'num_feat': 8}
        opt['train'].pop('featd_opt'), opt['train'].pop('tgd_opt')
        opt['train']['gan_opt'] = {'type': 'GANLoss', 'gan_type': 'vanilla', 'loss_weight': 0.1}
    return opt


def run_worker(root, opt, iters, nproc):
    out = root / f'worker_{nproc}'
    out.mkdir()
    opt_file = write_options(root / f'worker_{nproc}.yml', opt)
    if nproc == 1:
        env = dict(os.environ, HF_HUB_OFFLINE='1')
        result = subprocess.run([sys.executable, WORKER, str(out), str(iters), '-opt', opt_file], cwd=root, env=env,
                                capture_output=True, text=True, timeout=300)
    else:
        result = torchrun([WORKER, str(out), str(iters), '-opt', opt_file, '--launcher', 'pytorch'], cwd=root,
                          nproc=nproc)
    assert result.returncode == 0, result.stderr[-4000:]
    return [torch.load(out / f'rank{r}.pt') for r in range(nproc)]


@pytest.fixture(scope='module')
def two_rank_sfd_run(tmp_path_factory):
    root = tmp_path_factory.mktemp('two_ranks')
    return root, run_worker(root, fixed_batches_options(root, batch_size=1), iters=3, nproc=2)


def assert_networks_equal(a, b, names, exact=True):
    for name in names:
        assert set(a[name]) == set(b[name]), name
        for key in a[name]:
            if exact:
                assert torch.equal(a[name][key], b[name][key]), f'{name}.{key} differs between ranks'
            else:
                # float32 sums in another order (one batch of 2b against DDP's mean of two of b): differences of a few
                # 1e-7 on gradients of 0.1, so the absolute bound follows the tensor's scale; a wrong reduction
                # (a sum for a mean, a rank left out) is off by a factor, far outside it
                scale = float(a[name][key].abs().max()) if a[name][key].is_floating_point() else 0.0
                torch.testing.assert_close(b[name][key], a[name][key], rtol=1e-4, atol=max(1e-7, 1e-5 * scale),
                                           msg=f'{name}.{key}')


@pytest.mark.slow
def test_every_rank_holds_identical_networks_prompts_and_text_cache(two_rank_sfd_run):
    _, (rank0, rank1) = two_rank_sfd_run
    assert (rank0['rank'], rank0['world_size'], rank1['rank']) == (0, 2, 1)
    names = ['net_g', 'net_g_ema', 'net_d', 'net_d_tg']
    assert all(rank0['after'][0][f'{n}.wrapper'] == 'DistributedDataParallel' for n in ('net_g', 'net_d', 'net_d_tg'))
    assert {'prompts.ctx', 'text_cache'} <= set(rank0['after'][-1]['net_d_tg'])
    for it in range(3):
        assert_networks_equal(rank0['after'][it], rank1['after'][it], names)
    first, last = rank0['after'][0], rank0['after'][-1]
    for name in names:  # the ranks agree on networks that did train
        assert any(not torch.equal(first[name][k], last[name][k]) for k in first[name]), f'{name} never changed'


@pytest.mark.slow
def test_each_rank_reads_a_different_shard_of_every_epoch(two_rank_sfd_run):
    _, (rank0, rank1) = two_rank_sfd_run
    by_epoch = {}
    for record in (rank0, rank1):
        for epoch, files in record['seen']:
            by_epoch.setdefault(epoch, []).append(tuple(files))
    epoch0 = by_epoch[0]
    assert len(epoch0) == 4, 'two batches of one image on each of two ranks'
    assert sorted(f for batch in epoch0 for f in batch) == sorted(f'{n}.png' for n in FOUR_IMAGES)
    assert set(f for _, fs in rank0['seen'] if _ == 0 for f in fs).isdisjoint(
        f for _, fs in rank1['seen'] if _ == 0 for f in fs)


@pytest.mark.slow
def test_two_ranks_of_batch_b_update_like_one_process_of_batch_2b(two_rank_sfd_run):
    root, (rank0, rank1) = two_rank_sfd_run
    single_root = root / 'single'
    single_root.mkdir()
    (single,) = run_worker(single_root, fixed_batches_options(single_root, batch_size=2), iters=1, nproc=1)
    assert single['seen'][0][1] == sorted(rank0['seen'][0][1] + rank1['seen'][0][1]), 'same samples in step 1'
    names = ['net_g', 'net_g_ema', 'net_d', 'net_d_tg', 'net_g.grad', 'net_d.grad', 'net_d_tg.grad']
    assert single['after'][0]['net_g.wrapper'] == 'RRDBNet'
    assert_networks_equal(single['after'][0], rank0['after'][0], names, exact=False)


@pytest.mark.slow
@pytest.mark.parametrize('model', ['SRGANModel', 'ESRGANModel', 'SeD-U-selfcond', 'SeDModel'])
def test_stock_gan_models_with_semantic_discriminators_stay_in_sync(tmp_path, model):
    rank0, rank1 = run_worker(tmp_path, fixed_batches_options(tmp_path, batch_size=1, model=model), iters=2, nproc=2)
    assert rank0['after'][0]['net_d.wrapper'] == 'DistributedDataParallel'
    assert_networks_equal(rank0['after'][-1], rank1['after'][-1], ['net_g', 'net_g_ema', 'net_d'])


def audited_train(tmp_path, opt_file, *flags, nproc=2):
    """``torchrun basicsr train``, with every file each rank opens under ``tmp_path`` recorded."""
    audit = tmp_path.parent / f'{tmp_path.name}_audit'
    env = {'RANK_AUDIT_ROOT': str(tmp_path), 'RANK_AUDIT_OUT': str(audit)}  # torchrun puts rank_audit on the path
    result = torchrun([basicsr_script(), 'train', '-opt', opt_file, '--launcher', 'pytorch', *flags], cwd=tmp_path,
                      nproc=nproc, env=env)
    events = {}
    for rank in range(nproc):
        with open(audit / f'rank{rank}.txt') as f:
            events[rank] = [line.split('\t') for line in f.read().splitlines() if line]
    return result, events


def validation_tables(log):
    """Each validation's ``{metric: (value, best value, best iteration)}`` from BasicSR's log, in order."""
    return [{metric: (float(value), float(best), int(at))
             for metric, value, best, at in re.findall(r'# (\w+): (\S+)\tBest: (\S+) @ (\d+) iter', block)}
            for block in log.split('Validation ')[1:]]


@pytest.mark.slow
def test_basicsr_train_under_torchrun_writes_on_rank_0_and_splits_validation_between_ranks(tmp_path):
    opt = tiny_train_options(tmp_path, iters=4)
    opt['val']['val_freq'] = 2
    opt['train']['optim_g']['lr'] = 0  # the generator validated is the same in one process and in two
    opt_file = write_options(tmp_path / 'train.yml', opt)
    result, events = audited_train(tmp_path, opt_file)
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.still_joined == [], 'every rank leaves its process group before it exits (gloo can abort it)'
    experiment = tmp_path / 'experiments' / 'sfd_tiny'
    logs = sorted(experiment.glob('train_sfd_tiny_*.log'))
    assert len(logs) == 1
    log = logs[0].read_text()
    assert 'World size (gpu number): 2' in log
    assert sorted(logged_losses(log)) == [1, 2, 3, 4]
    for name in ('net_g_2.pth', 'net_g_4.pth', 'net_d_tg_latest.pth'):
        assert (experiment / 'models' / name).is_file()
    written = [path for kind, path in events[1] if kind != 'read' and str(experiment) in path]
    assert written and all(path.startswith(str(experiment / 'visualization')) for path in written), \
        f'rank 1 wrote {written} (only its share of the validation images is its to write)'
    assert any(str(experiment / 'models') in p for kind, p in events[0] if kind != 'read')
    for image in ('chelsea', 'coffee'):  # each validation reads each image once, and saves it once, on one rank
        reads = {rank: sum(kind == 'read' and p.endswith(f'/val/hr/{image}.png') for kind, p in events[rank])
                 for rank in (0, 1)}
        saves = {rank: sum(kind == 'os.mkdir' and p.endswith(f'/visualization/{image}') for kind, p in events[rank])
                 for rank in (0, 1)}
        assert sorted(reads.values()) == [0, 3] and saves == reads, (image, reads, saves)
        assert sorted(os.listdir(experiment / 'visualization' / image)) == [f'{image}_{it}.png' for it in (2, 4, 5)]

    single = run_basicsr(['train', '-opt', opt_file, '--force_yml', 'name=single'], cwd=tmp_path)
    assert single.returncode == 0, single.stderr[-3000:]
    expected = validation_tables(read_log(tmp_path / 'experiments' / 'single', 'train_single'))
    tables = validation_tables(log)
    assert len(tables) == len(expected) == 3 and [sorted(t) for t in tables] == [['niqe', 'psnr', 'ssim']] * 3
    for table, single_table in zip(tables, expected):  # the values and the best-metric bookkeeping of one process
        for metric, (value, best, at) in single_table.items():
            assert table[metric][0] == pytest.approx(value, abs=2e-4) and table[metric][2] == at, metric
            assert table[metric][1] == pytest.approx(best, abs=2e-4), metric


@pytest.mark.slow
def test_auto_resume_with_two_processes_continues_like_an_uninterrupted_run(tmp_path):
    def train(name, iters, *flags):
        opt = tiny_train_options(tmp_path, name=name, iters=4, deterministic_data=True, with_val=False)
        opt_file = write_options(tmp_path / f'{name}.yml', opt)
        result = torchrun([basicsr_script(), 'train', '-opt', opt_file, '--launcher', 'pytorch',
                           '--force_yml', f'train:total_iter={iters}', *flags], cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-4000:]
        return tmp_path / 'experiments' / name

    straight = train('straight', 4)
    resumed = train('resumed', 2)
    train('resumed', 4, '--auto_resume')
    read = {run: logged_losses(''.join(p.read_text() for p in sorted(run.glob('train_*.log'))))
            for run in (straight, resumed)}
    assert sorted(read[resumed]) == [1, 2, 3, 4]
    for it in (3, 4):
        for key, value in read[straight][it].items():
            if key.startswith(('l_', 'out_')):
                assert abs(read[resumed][it][key] - value) <= 1e-3 * abs(value) + 1e-6, (it, key)
    for name in ('net_g', 'net_d', 'net_d_tg'):
        a = torch.load(straight / 'models' / f'{name}_4.pth')['params']
        b = torch.load(resumed / 'models' / f'{name}_4.pth')['params']
        for key in a:
            torch.testing.assert_close(b[key], a[key], rtol=1e-4, atol=1e-6, msg=f'{name}.{key}')


def _rank_pid(rank, marker, deadline):
    """The pid of the training process whose environment has ``RANK=rank`` and ``marker`` (read from /proc)."""
    wanted = {f'RANK={rank}'.encode(), marker.encode()}
    while time.time() < deadline:
        for entry in os.listdir('/proc'):
            try:
                with open(f'/proc/{entry}/environ', 'rb') as f:
                    environ = set(f.read().split(b'\0'))
                with open(f'/proc/{entry}/cmdline', 'rb') as f:
                    training = b'train' in f.read().split(b'\0')
            except (OSError, ValueError):
                continue
            if training and wanted <= environ:
                return int(entry)
        time.sleep(0.2)
    raise AssertionError(f'no rank {rank} process started')


@pytest.mark.slow
def test_a_rank_that_dies_ends_the_run_naming_it_and_keeps_complete_checkpoints(tmp_path):
    opt = tiny_train_options(tmp_path, iters=10000, with_val=False)
    opt_file = write_options(tmp_path / 'long.yml', opt)
    marker = f'SFD_TEST_RUN={tmp_path.name}'
    launcher = torchrun([basicsr_script(), 'train', '-opt', opt_file, '--launcher', 'pytorch'], cwd=tmp_path,
                        env=dict([marker.split('=')]), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    models = tmp_path / 'experiments' / 'sfd_tiny' / 'models'
    try:
        victim = _rank_pid(1, marker, time.time() + 120)
        deadline = time.time() + 180
        while not (models / 'net_g_4.pth').is_file() and time.time() < deadline:
            time.sleep(0.2)
        assert (models / 'net_g_4.pth').is_file(), 'training never reached its second checkpoint'
        os.kill(victim, signal.SIGKILL)
        killed_at = time.time()
        output, _ = launcher.communicate(timeout=120)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert time.time() - killed_at < 120
    assert launcher.returncode != 0
    assert 'rank: 1' in output and 'Signal 9' in output, output[-3000:]
    checkpoints = list(models.glob('*.pth'))
    assert checkpoints
    for path in checkpoints:  # every checkpoint left on disk is whole
        assert 'params' in torch.load(path)


@pytest.mark.slow
def test_deprecated_torch_distributed_launch_is_accepted(tmp_path):
    opt_file = write_options(tmp_path / 'o.yml', tiny_train_options(tmp_path, iters=1, with_val=False))
    env = dict(os.environ, HF_HUB_OFFLINE='1')
    result = subprocess.run([sys.executable, '-m', 'torch.distributed.launch', '--standalone', '--nproc_per_node=2',
                             basicsr_script(), 'train', '-opt', opt_file, '--launcher', 'pytorch'], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    assert (tmp_path / 'experiments' / 'sfd_tiny' / 'models' / 'net_g_latest.pth').is_file()


@pytest.mark.slow
def test_nccl_on_a_machine_without_cuda_falls_back_to_gloo_and_bad_backends_are_refused(tmp_path):
    opt = tiny_train_options(tmp_path, iters=1, with_val=False)
    assert opt['dist_params']['backend'] == 'nccl'  # as in BasicSR's own options files
    result = torchrun([basicsr_script(), 'train', '-opt', write_options(tmp_path / 'o.yml', opt), '--launcher',
                       'pytorch'], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "'nccl' needs CUDA" in result.stderr and result.stderr.count("'nccl' needs CUDA") == 1
    opt['dist_params']['backend'] = 'mpi'
    bad = run_basicsr(['train', '-opt', write_options(tmp_path / 'bad.yml', opt), '--launcher', 'pytorch'],
                      cwd=tmp_path)
    assert bad.returncode == 2
    assert "dist_params.backend: input should be 'nccl' or 'gloo'; got 'mpi'." in bad.stderr
    assert 'Traceback' not in bad.stderr


@pytest.mark.slow
def test_launcher_pytorch_without_torchrun_says_how_to_start_it(tmp_path):
    opt = tiny_train_options(tmp_path, iters=1, with_val=False, warm_start=False)
    opt_file = write_options(tmp_path / 'o.yml', opt)
    result = run_basicsr(['train', '-opt', opt_file, '--launcher', 'pytorch'], cwd=tmp_path)
    assert result.returncode == 2
    assert 'RANK and WORLD_SIZE are not set' in result.stderr and 'torchrun --nproc_per_node' in result.stderr
    assert not (tmp_path / 'experiments').exists()


@pytest.mark.parametrize('items, world, expected', [
    (list('abcde'), 2, [['a', 'c', 'e'], ['b', 'd']]),
    (list('abc'), 4, [['a'], ['b'], ['c'], []]),
    (list('abcd'), 1, [['a', 'b', 'c', 'd']]),
])
def test_shards_are_disjoint_cover_everything_and_unshard_restores_the_order(items, world, expected):
    from sfd_basicsr.utils.distributed import shard, unshard
    shares = [shard(items, rank, world) for rank in range(world)]
    assert shares == expected
    assert unshard(shares) == items


def test_distributed_settings_this_machine_cannot_honour_are_refused_by_name(monkeypatch):
    from sfd_basicsr.utils.distributed import DistributedSetupError, default_device, init_dist
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(DistributedSetupError, match=r'dist_params.timeout: -5 is not a positive number'):
        init_dist('pytorch', backend='gloo', timeout=-5)
    with pytest.raises(DistributedSetupError, match=r"--launcher mpi: on a machine without CUDA only '--launcher "
                                                    r"pytorch' \(torchrun\) and '--launcher slurm' \(srun\)"):
        init_dist('mpi', backend='gloo')
    for name in ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST'):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(DistributedSetupError, match=r'--launcher slurm: SLURM_PROCID, SLURM_NTASKS, SLURM_NODELIST '
                                                    'not set; start the command with srun'):
        init_dist('slurm', backend='gloo')
    monkeypatch.delenv('RANK', raising=False)
    with pytest.raises(DistributedSetupError, match='RANK and WORLD_SIZE are not set'):
        init_dist('pytorch')
    monkeypatch.setenv('LOCAL_RANK', '1')
    assert default_device() == torch.device('cpu') and default_device('cuda:3') == torch.device('cuda', 3)


def stand_in_scontrol(folder, hosts):
    folder.mkdir()
    (folder / 'scontrol').write_text('#!/bin/sh\n[ "$1 $2" = "show hostname" ] && printf "%s\\n" ' + ' '.join(hosts))
    (folder / 'scontrol').chmod(0o755)
    return str(folder)


def test_srun_variables_become_torchruns_as_basicsrs_slurm_set_up_makes_them(tmp_path, monkeypatch):
    from sfd_basicsr.utils.distributed import DistributedSetupError, slurm_environment
    monkeypatch.setenv('PATH', str(tmp_path / 'empty'))
    for name, value in {'SLURM_PROCID': '5', 'SLURM_NTASKS': '8', 'SLURM_NODELIST': 'gpu[03-04]',
                        'SLURM_LOCALID': '1'}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv('MASTER_PORT', raising=False)
    with pytest.raises(DistributedSetupError, match="SLURM's scontrol is not on PATH"):
        slurm_environment()
    monkeypatch.setenv('PATH', stand_in_scontrol(tmp_path / 'bin', ['gpu03', 'gpu04']))
    slurm_environment()
    assert {k: os.environ[k] for k in ('MASTER_ADDR', 'MASTER_PORT', 'WORLD_SIZE', 'RANK', 'LOCAL_RANK')} == {
        'MASTER_ADDR': 'gpu03', 'MASTER_PORT': '29500', 'WORLD_SIZE': '8', 'RANK': '5', 'LOCAL_RANK': '1'}
    slurm_environment(port=29611)  # dist_params.port, as BasicSR's SLURM set-up takes it
    assert os.environ['MASTER_PORT'] == '29611'
    monkeypatch.setenv('PATH', stand_in_scontrol(tmp_path / 'silent', []))
    with pytest.raises(DistributedSetupError, match="scontrol names no host in SLURM_NODELIST 'gpu\\[03-04\\]'"):
        slurm_environment()


@pytest.mark.slow
def test_basicsr_train_with_launcher_slurm_under_a_stand_in_srun(tmp_path):
    opt = tiny_train_options(tmp_path, iters=2, with_val=False, warm_start=False)
    opt['dist_params'] = {'backend': 'gloo', 'port': free_port()}
    opt_file = write_options(tmp_path / 'slurm.yml', opt)
    audit = tmp_path.parent / f'{tmp_path.name}_audit'
    tasks = slurm_tasks([basicsr_script(), 'train', '-opt', opt_file, '--launcher', 'slurm'], cwd=tmp_path,
                        env={'RANK_AUDIT_ROOT': str(tmp_path), 'RANK_AUDIT_OUT': str(audit)})
    for task in tasks:
        assert task.returncode == 0, task.stderr[-3000:]
    experiment = tmp_path / 'experiments' / 'sfd_tiny'
    log = read_log(experiment, 'train_sfd_tiny')
    assert 'World size (gpu number): 2' in log and sorted(logged_losses(log)) == [1, 2]
    written = [line for line in (audit / 'rank1.txt').read_text().splitlines()
               if not line.startswith('read') and str(experiment) in line]
    assert written == [], 'only global rank 0 writes the experiment'


@pytest.mark.slow
def test_two_torchrun_nodes_train_together_and_only_global_rank_0_writes(tmp_path):
    opt = tiny_train_options(tmp_path, iters=2, with_val=False, warm_start=False)
    opt_file = write_options(tmp_path / 'nodes.yml', opt)
    audit = tmp_path.parent / f'{tmp_path.name}_audit'
    nodes = torchrun_nodes([basicsr_script(), 'train', '-opt', opt_file, '--launcher', 'pytorch'], cwd=tmp_path,
                           env={'RANK_AUDIT_ROOT': str(tmp_path), 'RANK_AUDIT_OUT': str(audit)})
    for node in nodes:
        assert node.returncode == 0, node.stderr[-3000:]
    experiment = tmp_path / 'experiments' / 'sfd_tiny'
    log = read_log(experiment, 'train_sfd_tiny')
    assert 'World size (gpu number): 2' in log and sorted(logged_losses(log)) == [1, 2]
    assert (experiment / 'models' / 'net_g_latest.pth').is_file()
    events = {rank: (audit / f'rank{rank}.txt').read_text().splitlines() for rank in (0, 1)}
    assert [line for line in events[1] if not line.startswith('read') and str(experiment) in line] == []
    assert any(str(experiment / 'models') in line for line in events[0] if not line.startswith('read'))


def test_on_gpus_basicsrs_own_set_up_gets_the_options_backend_and_no_slurm_port(monkeypatch):
    from sfd_basicsr.utils.distributed import init_dist
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    calls = []
    record = lambda launcher, **kwargs: calls.append((launcher, kwargs))  # noqa: E731
    init_dist('pytorch', backend='nccl', port=29500, basicsr_init_dist=record)
    init_dist('slurm', backend='nccl', port=29500, basicsr_init_dist=record)
    assert calls == [('pytorch', {'backend': 'nccl'}), ('slurm', {'backend': 'nccl', 'port': 29500})]


@pytest.mark.parametrize('codes', [[0, 1], [1, 0], [0, 2, 1]])
def test_stop_together_gives_every_process_the_worst_outcome(codes, monkeypatch):
    from sfd_basicsr.utils import distributed
    monkeypatch.setattr(distributed, 'gather', lambda code, world: list(codes))
    for rank, code in enumerate(codes):  # each process contributes its own code, all see the same gather
        assert distributed.stop_together(code, len(codes)) == max(codes)
    assert distributed.stop_together(3, 1) == 3 and distributed.stop_together(0, 1) == 0


def test_inference_processes_leaves_a_group_its_caller_joined_as_it_was(monkeypatch):
    import socket

    import torch.distributed as dist

    from sfd_basicsr.utils.distributed import inference_processes
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=0, world_size=1)
    try:
        group = dist.group.WORLD
        monkeypatch.setenv('RANK', '0')
        monkeypatch.setenv('WORLD_SIZE', '2')  # a torchrun launch whose caller already joined its group
        with inference_processes() as (rank, world):
            assert (rank, world) == (0, 2)
        assert dist.is_initialized() and dist.group.WORLD is group
    finally:
        dist.destroy_process_group()


def test_torchruns_local_rank_wins_over_sruns_and_picks_this_processs_gpu(monkeypatch):
    from sfd_basicsr.utils.distributed import default_device, local_rank
    monkeypatch.setenv('LOCAL_RANK', '3')
    monkeypatch.setenv('SLURM_LOCALID', '1')
    assert local_rank() == 3
    monkeypatch.delenv('LOCAL_RANK')
    assert local_rank() == 1
    monkeypatch.setenv('LOCAL_RANK', '3')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)  # 2 GPUs a node, local ranks 0-3: ranks share them
    assert default_device() == torch.device('cuda', 1) and default_device('cpu') == torch.device('cpu')
