"""Atomic writes: a file is either its complete new version or untouched, never half written."""
import os
import tempfile
from contextlib import contextmanager

import torch


def atomic_write(path, write):
    """Call ``write(tmp_path)``, then move the temporary file over ``path`` in one rename."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp_path = tempfile.mkstemp(prefix=f'.{os.path.basename(path)}.', suffix='.tmp', dir=folder)
    os.close(fd)
    try:
        write(tmp_path)
        os.replace(tmp_path, path)
    finally:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)


@contextmanager
def atomic_torch_save():
    """Within the block, ``torch.save`` to a path is atomic, also inside BasicSR's own save methods."""
    original = torch.save

    def save(obj, f, *args, **kwargs):
        if isinstance(f, (str, os.PathLike)):
            return atomic_write(f, lambda tmp: original(obj, tmp, *args, **kwargs))
        return original(obj, f, *args, **kwargs)

    torch.save = save
    try:
        yield
    finally:
        torch.save = original
