"""Put on PYTHONPATH by the tests' ``torchrun``: each process

- records the files it opens, writes, renames or creates under $RANK_AUDIT_ROOT (via Python's audit hooks, so
  BasicSR's code is watched unchanged) and writes the list to $RANK_AUDIT_OUT/rank<RANK>.txt at exit;
- creates $GROUP_AUDIT_OUT/rank<RANK>.joined if it exits still in a process group (registered first, this
  runs after every other exit handler, as the interpreter is about to shut down).

The rank is torchrun's $RANK or, for processes started as srun starts them, $SLURM_PROCID."""
import atexit
import os
import sys

ROOT = os.environ.get('RANK_AUDIT_ROOT')
OUT = os.environ.get('RANK_AUDIT_OUT')
RANK = os.environ.get('RANK', os.environ.get('SLURM_PROCID'))
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
GROUP_OUT = os.environ.get('GROUP_AUDIT_OUT')

if GROUP_OUT and RANK is not None:
    @atexit.register
    def _group_still_joined():
        distributed = sys.modules.get('torch.distributed')
        if distributed is not None and distributed.is_available() and distributed.is_initialized():
            open(os.path.join(GROUP_OUT, f"rank{RANK}.joined"), 'w').close()

if ROOT and OUT and RANK is not None:
    events = []

    def _under_root(path):
        try:
            return os.path.abspath(os.fsdecode(path)).startswith(ROOT)
        except (TypeError, ValueError):
            return False

    def _hook(event, args):
        if event == 'open' and args and isinstance(args[0], (str, bytes, os.PathLike)) and _under_root(args[0]):
            mode, flags = args[1], args[2] if len(args) > 2 else 0
            writes = (isinstance(mode, str) and any(c in mode for c in 'wax+')) or bool((flags or 0) & WRITE_FLAGS)
            events.append(f"{'write' if writes else 'read'}\t{os.path.abspath(os.fsdecode(args[0]))}")
        elif event in ('os.rename', 'os.mkdir', 'os.remove') and args and _under_root(args[0]):
            events.append(f'{event}\t{os.path.abspath(os.fsdecode(args[0]))}')

    sys.addaudithook(_hook)

    @atexit.register
    def _dump():
        os.makedirs(OUT, exist_ok=True)
        with open(os.path.join(OUT, f"rank{RANK}.txt"), 'w') as f:
            f.write('\n'.join(events) + '\n')
