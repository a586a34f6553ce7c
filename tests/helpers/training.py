"""Tiny SFD options and a way to run the `basicsr` command on them, for the training tests."""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

from sfd_basicsr.data.sample_images import write_bicubic_pairs
from sfd_basicsr.training.recipe import gan_options, paired_dataset, psnr_warm_start

TINY_G = {'type': 'RRDBNet', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 8, 'num_block': 1, 'num_grow_ch': 4,
          'scale': 4}
TRAIN_IMAGES = ('astronaut', 'rocket', 'immunohistochemistry', 'hubble_deep_field')  # a multiple of the batch
VAL_IMAGES = ('chelsea', 'coffee')
LOSS_KEYS = ('l_g_pix', 'l_g_featd', 'l_g_tgd', 'l_d_featd_real', 'l_d_featd_fake', 'l_d_tgd_real', 'l_d_tgd_fake',
             'out_d_featd_real', 'out_d_featd_fake', 'out_d_tgd_real', 'out_d_tgd_fake')


def psnr_checkpoint(folder):
    """The tiny generator briefly fitted to bicubic pairs (SFD starts from a PSNR-oriented generator)."""
    return psnr_warm_start(folder, TINY_G, steps=60)


def tiny_train_options(root, name='sfd_tiny', iters=4, deterministic_data=False, with_val=True, warm_start=True):
    """The demo's SFD recipe shrunk: tiny RRDBNet, random CLIP, 32-64 px patches, a few iterations.

    ``warm_start=False`` skips fitting the generator, for options that must be refused before training.
    """
    data = os.path.join(root, 'data')
    train_hr, train_lr = write_bicubic_pairs(os.path.join(data, 'train'), TRAIN_IMAGES, 256)
    val_hr, val_lr = write_bicubic_pairs(os.path.join(data, 'val'), VAL_IMAGES, 384)  # NIQE needs 96 px blocks
    datasets = {'train': paired_dataset('skimage_train', train_hr, train_lr, 'train', gt_size=64, batch_size=2),
                'val': paired_dataset('skimage_val', val_hr, val_lr, 'val')}
    opt = gan_options('SFDModel', TINY_G, iters=iters, name=name, datasets=datasets,
                      pretrain_network_g=psnr_checkpoint(str(root)) if warm_start else None,
                      featd={'num_feat': 8}, tgd={'n_ctx': 4})
    opt['train']['ema_decay'] = 0.5
    opt['train']['optim_g']['lr'] = 2e-4
    opt['logger'].update({'print_freq': 1, 'save_checkpoint_freq': 2})
    opt['val'] = {'val_freq': iters + 1, 'save_img': True, 'metrics': {
        'psnr': {'type': 'calculate_psnr', 'crop_border': 4, 'test_y_channel': False},
        'ssim': {'type': 'calculate_ssim', 'crop_border': 4, 'test_y_channel': False},
        'niqe': {'type': 'calculate_niqe', 'crop_border': 4, 'better': 'lower'},
    }}
    if deterministic_data:  # one image, whole-image patches, no augmentation: every batch is the same
        hr, lr = write_bicubic_pairs(os.path.join(root, 'one'), ['astronaut'], 64)
        train = paired_dataset('one', hr, lr, 'train', gt_size=64, batch_size=1)
        train.update({'use_hflip': False, 'use_rot': False})
        opt['datasets']['train'] = train
    if not with_val:
        opt.pop('val')
        opt['datasets'].pop('val')
    return opt


def write_options(path, opt):
    with open(path, 'w') as f:
        yaml.safe_dump(opt, f, sort_keys=False)
    return str(path)


def run_basicsr(args, cwd, timeout=600):
    env = dict(os.environ, HF_HUB_OFFLINE='1', PYTHONUNBUFFERED='1')
    script = os.path.join(os.path.dirname(sys.executable), 'basicsr')
    module = [sys.executable, '-m', 'sfd_basicsr.commands.basicsr_command']
    command = ([script] if os.path.isfile(script) else module) + list(args)
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


RANK_AUDIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'rank_audit')


def torchrun(args, cwd, nproc=2, env=None, timeout=300, **popen):
    """``torchrun --standalone --nproc_per_node=N ARGS`` (a free port on 127.0.0.1); ``popen`` options: don't wait.

    The finished run's ``still_joined`` lists the ranks that exited still in their process group (see
    ``rank_audit/sitecustomize.py``): such a process can be aborted by gloo as it exits, failing the launch.
    """
    command = [sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={nproc}', *args]
    group_audit = tempfile.mkdtemp(prefix='group_audit_')
    env = dict(os.environ, HF_HUB_OFFLINE='1', PYTHONUNBUFFERED='1', GROUP_AUDIT_OUT=group_audit, **(env or {}))
    # an empty entry would put each process's working directory on its sys.path
    env['PYTHONPATH'] = os.pathsep.join(part for part in [RANK_AUDIT, env.get('PYTHONPATH', '')] if part)
    if popen:
        return subprocess.Popen(command, cwd=cwd, env=env, **popen)
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    result.still_joined = sorted(int(name[len('rank'):-len('.joined')]) for name in os.listdir(group_audit)
                                 if name.endswith('.joined'))
    shutil.rmtree(group_audit, ignore_errors=True)
    return result


def free_port():
    import socket
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def _launched(command, cwd, env, timeout):
    """Start every ``(command, extra environment)`` at once; their ``CompletedProcess``es, in order."""
    base = dict(os.environ, HF_HUB_OFFLINE='1', PYTHONUNBUFFERED='1')
    base['PYTHONPATH'] = os.pathsep.join(part for part in [RANK_AUDIT, base.get('PYTHONPATH', '')] if part)
    started = [(words, subprocess.Popen(words, cwd=cwd, env={**base, **(env or {}), **extra}, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)) for words, extra in command]
    results = []
    for words, process in started:
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for _, other in started:
                other.kill()
            raise
        results.append(subprocess.CompletedProcess(words, process.returncode, out, err))
    return results


def torchrun_nodes(args, cwd, nnodes=2, env=None, timeout=300):
    """``nnodes`` torchrun agents on 127.0.0.1 as separate "machines" (``--nnodes N --node_rank K``, c10d
    rendezvous, one process each); their results by node."""
    port = free_port()
    return _launched([([sys.executable, '-m', 'torch.distributed.run', f'--nnodes={nnodes}', f'--node_rank={node}',
                        '--nproc_per_node=1', '--rdzv-backend=c10d', f'--rdzv-endpoint=127.0.0.1:{port}',
                        '--rdzv-id=two_nodes', '--local-addr=127.0.0.1', *args], {}) for node in range(nnodes)],
                     cwd, env, timeout)


def slurm_tasks(args, cwd, ntasks=2, env=None, timeout=300):
    """``args`` started as ``srun --ntasks=N`` would on one node: ``SLURM_*`` variables per task, and a stand-in
    ``scontrol`` on ``PATH`` that names 127.0.0.1 as the job's first node; the tasks' results."""
    bin_dir = tempfile.mkdtemp(prefix='slurm_bin_')
    scontrol = os.path.join(bin_dir, 'scontrol')
    with open(scontrol, 'w') as f:  # `scontrol show hostname LIST` prints one host per line
        f.write('#!/bin/sh\n[ "$1 $2" = "show hostname" ] && printf "127.0.0.1\\nnode2\\n"\n')
    os.chmod(scontrol, 0o755)
    job = {'SLURM_NTASKS': str(ntasks), 'SLURM_NODELIST': 'node[1-2]', 'SLURM_JOB_ID': '7',
           'PATH': bin_dir + os.pathsep + os.environ['PATH']}
    try:
        return _launched([(list(args), {**job, 'SLURM_PROCID': str(task), 'SLURM_LOCALID': str(task)})
                          for task in range(ntasks)], cwd, env, timeout)
    finally:
        shutil.rmtree(bin_dir, ignore_errors=True)


def command_path(name):
    """An installed console script of this environment (``basicsr``, ``sfd-iqa``), as torchrun needs a file."""
    return os.path.join(os.path.dirname(sys.executable), name)


def read_log(folder, prefix):
    """The newest ``<prefix>_*.log`` BasicSR wrote in ``folder``."""
    logs = sorted(glob.glob(os.path.join(folder, f'{prefix}_*.log')))
    assert logs, f'no {prefix} log in {folder}'
    with open(logs[-1]) as f:
        return f.read()


def logged_losses(log_text):
    """``{iter: {key: value}}`` from BasicSR's training log lines."""
    losses = {}
    for match in re.finditer(r'iter:\s*([\d,]+), lr:.*?\]\s*\[eta:.*?\]\s*(.*)', log_text):
        it = int(match.group(1).replace(',', ''))
        losses[it] = {k: float(v) for k, v in re.findall(r'(\w+): ([-+.\deE]+)', match.group(2))}
    return losses
