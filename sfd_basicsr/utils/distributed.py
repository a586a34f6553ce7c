"""Several processes on any machine: the process group, its backend and device, and splitting work by rank.

Training keeps BasicSR's distributed code (``EnlargedSampler``, ``reduce_loss_dict``, ``master_only``,
``get_dist_info``, DDP); ``compat.basicsr_distributed_on_any_device`` routes BasicSR's two CUDA-only
steps (``init_dist``, ``model_to_device``) through the functions here. The inference commands use
``shard`` and ``gather`` so that under ``torchrun`` every rank does a disjoint share of the files and
rank 0 reports for all of them.
"""
import datetime
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager

import torch
import torch.distributed as dist

from .errors import InputError

BACKENDS = ('nccl', 'gloo')


class DistributedSetupError(InputError):
    """A launcher or ``dist_params`` setting this machine cannot honour; the message names it."""


def default_backend():
    """``nccl`` where CUDA is, ``gloo`` (which runs on CPU) elsewhere."""
    return 'nccl' if torch.cuda.is_available() else 'gloo'


def _timeout(seconds):
    if seconds is None:
        return {}
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
        raise DistributedSetupError(f'dist_params.timeout: {seconds!r} is not a positive number of seconds.')
    return {'timeout': datetime.timedelta(seconds=seconds)}


def init_dist(launcher, backend=None, timeout=None, basicsr_init_dist=None, **kwargs):
    """Join the process group ``launcher`` describes, with ``backend`` (default: ``default_backend()``).

    ``timeout`` (seconds) bounds how long a collective waits for a rank that stopped answering. On CUDA
    the set-up is BasicSR's own (``basicsr_init_dist``: one device per rank). Without CUDA, ``--launcher pytorch``
    reads ``torchrun``'s environment and ``--launcher slurm`` makes that environment from SLURM's
    (``slurm_environment``), since BasicSR's SLURM set-up derives the local rank from the number of GPUs.
    """
    backend = backend or default_backend()
    if backend not in BACKENDS:
        raise DistributedSetupError(f"dist_params.backend: '{backend}' is not one of {list(BACKENDS)}.")
    if backend == 'nccl' and not torch.cuda.is_available():
        # BasicSR's options files all say nccl (which 1.4.2 only applies to SLURM): run them on CPUs as they are
        if launched_world()[0] == 0:
            print("basicsr: dist_params.backend 'nccl' needs CUDA, which this machine lacks: using gloo.",
                  file=sys.stderr)
        backend = 'gloo'
    kwargs.update(_timeout(timeout))
    if launcher == 'pytorch':
        kwargs.pop('port', None)  # BasicSR's SLURM option (in every BasicSR options file); torchrun sets the port
    if torch.cuda.is_available():
        if basicsr_init_dist is None:  # this layer knows no BasicSR: compat.basicsr_patches hands it over
            raise InputError('init_dist on CUDA needs basicsr_init_dist (BasicSR\'s own set-up).')
        return basicsr_init_dist(launcher, backend=backend, **kwargs)
    if launcher == 'slurm':
        slurm_environment(kwargs.pop('port', None))
    elif launcher != 'pytorch':
        raise DistributedSetupError(f"--launcher {launcher}: on a machine without CUDA only '--launcher pytorch' "
                                    "(torchrun) and '--launcher slurm' (srun) are supported.")
    if 'RANK' not in os.environ or 'WORLD_SIZE' not in os.environ:
        raise DistributedSetupError('--launcher pytorch: RANK and WORLD_SIZE are not set; start the command with '
                                    'torchrun --nproc_per_node=N $(which basicsr) train ...')
    dist.init_process_group(backend=backend, **kwargs)


SLURM_VARIABLES = ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST')


def slurm_environment(port=None):
    """``torchrun``'s variables from those ``srun`` sets, as BasicSR's SLURM set-up makes them: rank and world size
    from the task id and count, the master the job's first node (``scontrol show hostname``), the port ``port``
    (``dist_params.port``), else ``MASTER_PORT``, else 29500; the local rank is SLURM's ``SLURM_LOCALID``."""
    missing = [name for name in SLURM_VARIABLES if name not in os.environ]
    if missing:
        raise DistributedSetupError(f"--launcher slurm: {', '.join(missing)} not set; start the command with srun "
                                    '(one task per process).')
    if shutil.which('scontrol') is None:
        raise DistributedSetupError("--launcher slurm: SLURM's scontrol is not on PATH (it names the job's first node, "
                                    'the master).')
    hosts = subprocess.run(['scontrol', 'show', 'hostname', os.environ['SLURM_NODELIST']], capture_output=True,
                           text=True).stdout.split()
    if not hosts:
        raise DistributedSetupError(f"--launcher slurm: scontrol names no host in SLURM_NODELIST "
                                    f"'{os.environ['SLURM_NODELIST']}'.")
    os.environ.update(MASTER_ADDR=hosts[0], MASTER_PORT=str(port or os.environ.get('MASTER_PORT', 29500)),
                      WORLD_SIZE=os.environ['SLURM_NTASKS'], RANK=os.environ['SLURM_PROCID'],
                      LOCAL_RANK=os.environ.get('SLURM_LOCALID', '0'))


def wrap_ddp(net, find_unused_parameters=False):
    """``net`` (already on its device) in DistributedDataParallel: on its GPU, or on the CPU without device ids."""
    device = next(net.parameters(), torch.empty(0)).device
    device_ids = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == 'cuda' else None
    return torch.nn.parallel.DistributedDataParallel(net, device_ids=device_ids,
                                                     find_unused_parameters=find_unused_parameters)


def launched_world():
    """``(rank, world_size)`` of a ``torchrun`` launch (from its environment), ``(0, 1)`` otherwise."""
    return int(os.environ.get('RANK', 0)), int(os.environ.get('WORLD_SIZE', 1))


def local_rank():
    """This process's rank on its machine: ``LOCAL_RANK`` (torchrun), else ``SLURM_LOCALID`` (srun), else 0."""
    return int(os.environ.get('LOCAL_RANK', os.environ.get('SLURM_LOCALID', 0)))


def default_device(device=None):
    """The device a command runs on: ``device`` if given; else this rank's GPU (``LOCAL_RANK``), else the CPU."""
    if device:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device('cuda', int(os.environ.get('LOCAL_RANK', 0)) % torch.cuda.device_count())
    return torch.device('cpu')


def leave_process_group():
    """Leave the default process group, if this process is in one.

    Every process must do this before it exits: one that exits still holding its gloo group can be aborted
    while the interpreter shuts down ("terminate called without an active exception", SIGABRT: gloo's worker
    threads outlive Python; pytorch/pytorch#190489), which fails the whole torchrun launch after the work is done.
    """
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@contextmanager
def process_group_left_on_exit():
    """Within the block a process group may be joined (BasicSR's pipelines do); it is left on the way out."""
    try:
        yield
    finally:
        leave_process_group()


@contextmanager
def inference_processes():
    """Under ``torchrun``, a gloo group (it only carries results, on any device) for the block; ``(rank, world)``."""
    rank, world = launched_world()
    if world == 1 or dist.is_initialized():  # nothing joined here, so nothing to leave: a caller's group stays
        yield rank, world
        return
    dist.init_process_group(backend='gloo')
    with process_group_left_on_exit():
        yield rank, world


def shard(items, rank, world):
    """The deterministic share of ``items`` for ``rank``: every ``world``-th item from position ``rank``."""
    return list(items)[rank::world]


def gather(value, world):
    """Every rank's ``value``, in rank order, on every rank (``[value]`` for a single process)."""
    if world == 1:
        return [value]
    values = [None] * world
    dist.all_gather_object(values, value)
    return values


def rank_0_list(items, world):
    """Rank 0's ``items`` on every rank, handed out once every rank has made its own: a folder's listing that the
    run's own outputs may land in (an output folder equal to or inside the input) is then one list, made before any
    process writes."""
    return gather(items, world)[0]


def stop_together(code, world):
    """The worst exit code of a step that may stop some processes only, on every process (0: all go on).

    A process that returns alone leaves the others in their next collective, which then ends in a gloo traceback
    ("connection closed by peer") in place of the one line the stopped process printed.
    """
    return code if world == 1 else max(gather(code, world))


def unshard(shares):
    """Undo ``shard``: lists from ranks 0..N-1 back into the original order."""
    merged = []
    for position in range(max((len(s) for s in shares), default=0)):
        merged.extend(share[position] for share in shares if position < len(share))
    return merged
