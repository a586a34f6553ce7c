"""Atomic writes: a file is either its complete new version or untouched, never half written."""
import os
import re
import tempfile
from contextlib import contextmanager

import torch

# mkstemp names made by atomic_write: '.<target name>.<8 random characters>.tmp'
TEMP_NAME = re.compile(r'^\..+\.[a-z0-9_]{8}\.tmp$')


def _current_umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path, write):
    """Call ``write(tmp_path)``, then move the temporary file over ``path`` in one rename.

    The file gets the mode a plain ``open(path, 'w')`` would give (0666 less the umask), not mkstemp's 0600.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp_path = tempfile.mkstemp(prefix=f'.{os.path.basename(path)}.', suffix='.tmp', dir=folder)
    os.close(fd)
    try:
        write(tmp_path)
        os.chmod(tmp_path, 0o666 & ~_current_umask())
        os.replace(tmp_path, path)
    finally:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)


def remove_stale_temp_files(folder):
    """Delete what an interrupted ``atomic_write`` left in ``folder`` (a kill skips its clean-up); their names."""
    if not os.path.isdir(folder):
        return []
    stale = [name for name in os.listdir(folder) if TEMP_NAME.match(name)]
    for name in stale:
        os.remove(os.path.join(folder, name))
    return stale


@contextmanager
def atomic_torch_save(record=None):
    """Within the block, ``torch.save`` to a path is atomic, also inside BasicSR's own save methods.

    ``record``: entries added to every dict saved in the block (BasicSR's checkpoints are dicts of state dicts).
    """
    original = torch.save

    def save(obj, f, *args, **kwargs):
        if record and isinstance(obj, dict):
            obj = {**obj, **record}
        if isinstance(f, (str, os.PathLike)):
            return atomic_write(f, lambda tmp: original(obj, tmp, *args, **kwargs))
        return original(obj, f, *args, **kwargs)

    torch.save = save
    try:
        yield
    finally:
        torch.save = original
