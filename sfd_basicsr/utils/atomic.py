"""Durable atomic writes: a file is its complete new version or untouched, never half written, never silently short.

The data goes to a temporary file in the target's folder through a file object, is flushed and fsynced,
its size checked, then renamed over the target and the folder fsynced. On any error the temporary file is
removed and ``OutputWriteError`` says, in one line, which file and why (a full disk with how much was
needed and is free, a read-only folder, a missing permission).
"""
import errno
import io
import os
import re
import shutil
import tempfile

from .errors import RunStopped

# mkstemp names made here: '.<target name>.<8 random characters>.tmp'
TEMP_NAME = re.compile(r'^\..+\.[a-z0-9_]{8}\.tmp$')


class OutputWriteError(RunStopped):
    """An output that could not be written whole; the message names the file and the cause."""


def _current_umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _megabytes(size):
    return f'{size / 2**20:.1f} MB'


def describe_write_error(error, path, size=None):
    """One line for an ``OSError`` met while writing ``path`` (``size`` bytes, when known)."""
    folder = os.path.dirname(os.path.abspath(path)) or '.'
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        try:
            free = _megabytes(shutil.disk_usage(folder).free)
        except OSError:
            free = 'unknown'
        needed = f'{_megabytes(size)} needed, ' if size is not None else ''
        return f"cannot write '{path}': no space left on device ({needed}{free} free in {folder})."
    if error.errno == errno.EROFS:
        return f"cannot write '{path}': {folder} is on a read-only file system."
    if error.errno in (errno.EACCES, errno.EPERM):
        return f"cannot write '{path}': no permission to write in {folder}."
    if error.errno == errno.ENOENT:
        return f"cannot write '{path}': the folder {folder} does not exist."
    return f"cannot write '{path}': {error.strerror or error}."


def _fsync_folder(folder):
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path, write, expected_size=None):
    """Call ``write(tmp_path)``, make it durable, then move it over ``path`` in one rename.

    ``expected_size``: bytes the file must have (a short file is refused). The file gets the mode a plain
    ``open(path, 'w')`` would give (0666 less the umask), not mkstemp's 0600.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp_path = tempfile.mkstemp(prefix=f'.{os.path.basename(path)}.', suffix='.tmp', dir=folder)
    except OSError as error:
        raise OutputWriteError(describe_write_error(error, path, expected_size)) from None
    os.close(fd)
    try:
        write(tmp_path)
        with open(tmp_path, 'rb+') as f:
            os.fsync(f.fileno())
            written = os.fstat(f.fileno()).st_size
        if expected_size is not None and written != expected_size:
            raise OutputWriteError(f"cannot write '{path}': {written} of {expected_size} bytes reached the disk.")
        os.chmod(tmp_path, 0o666 & ~_current_umask())
        os.replace(tmp_path, path)
        _fsync_folder(folder)
    except OSError as error:
        raise OutputWriteError(describe_write_error(error, path, expected_size)) from None
    finally:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)


def atomic_write_bytes(path, data):
    """``data`` (bytes-like) as the whole new content of ``path``."""
    view = memoryview(data).cast('B')

    def write(tmp):
        with open(tmp, 'wb') as f:
            f.write(view)
            f.flush()

    atomic_write(path, write, expected_size=view.nbytes)


def atomic_write_text(path, text):
    """``text`` (UTF-8) as the whole new content of ``path``; file names that are not UTF-8 (which Python reads as
    surrogates) are written back as the bytes they were."""
    atomic_write_bytes(path, text.encode('utf-8', 'surrogateescape'))


def atomic_write_csv(path, rows):
    """``rows`` (lists of cells) as a CSV file, written whole."""
    import csv
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def atomic_torch_save(obj, path):
    """``torch.save(obj, path)``, serialised in memory first so that its exact size is checked on disk."""
    import torch
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getbuffer())


def check_writable_folder(folder, option):
    """Make ``folder`` if needed and prove a file can be created in it, before any work; else one line."""
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        reason = describe_write_error(error, os.path.join(folder, '<file>')).split(': ', 1)[1]
        raise OutputWriteError(f"{option} '{folder}': {reason}") from None


def remove_stale_temp_files(folder):
    """Delete what an interrupted ``atomic_write`` left in ``folder`` (a kill skips its clean-up); their names."""
    if not os.path.isdir(folder):
        return []
    stale = [name for name in os.listdir(folder) if TEMP_NAME.match(name)]
    for name in stale:
        try:
            os.remove(os.path.join(folder, name))
        except FileNotFoundError:
            pass
    return stale
