"""One writer at a time: an advisory lock (``flock``) on a file, held while a run writes and released by the
operating system however the process ends (``kill -9`` included), so no stale lock outlives it. The lock file says
who holds it, for the refusal of the second writer, and is removed when its holder ends normally (a file left by a
killed holder is taken over by the next run, never a reason to refuse it)."""
import fcntl
import os
import sys
import time

from .errors import InputError

OUTPUT_LOCK = '.sfd_basicsr.lock'  # in each output folder a command writes; image listings pass over it


class LockHeld(InputError):
    """Another process is writing where this one would."""


class HeldLock:
    """A lock this process holds; ``close()`` removes the file, then releases the lock."""

    def __init__(self, path, handle):
        self.path, self.handle = path, handle

    def close(self):
        if self.handle.closed:
            return
        try:
            if os.stat(self.path).st_ino == os.fstat(self.handle.fileno()).st_ino:
                os.unlink(self.path)  # while still held: a run that opened it now finds a removed file and retries
        except OSError:
            pass
        self.handle.close()


def _owner():
    command = ' '.join([os.path.basename(sys.argv[0])] + sys.argv[1:]) if sys.argv else 'python'
    return f"pid {os.getpid()}, '{command}', started {time.strftime('%Y-%m-%d %H:%M:%S')}"


def take_lock(path, what):
    """Hold the lock file ``path`` (made if absent) until the returned ``HeldLock`` is closed or the process ends.
    ``what`` names the thing guarded in the refusal: ``LockHeld("<what> is being written by another run (pid ...)")``.
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    while True:
        handle = open(path, 'a+')
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or 'a process that gave no name'
            handle.close()
            raise LockHeld(f'{what} is being written by another run ({holder}); wait for it to end, or choose '
                           'another name or folder.') from None
        try:
            same = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        handle.close()  # its holder removed it as we opened it: lock the file that is there now
    handle.seek(0)
    handle.truncate()
    handle.write(_owner() + '\n')
    handle.flush()
    return HeldLock(path, handle)
