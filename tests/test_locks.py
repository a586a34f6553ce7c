"""``utils/locks.py``: one writer at a time, a lock that dies with its process."""
import os
import signal
import subprocess
import sys
import time

import pytest

from sfd_basicsr.utils.locks import LockHeld, take_lock


def test_a_second_holder_is_refused_naming_the_first_and_the_file_goes_on_release(tmp_path):
    path = tmp_path / 'runs' / '.x.lock'
    first = take_lock(str(path), "experiment 'x'")
    with pytest.raises(LockHeld, match=rf"experiment 'x' is being written by another run \(pid {os.getpid()}, "):
        take_lock(str(path), "experiment 'x'")  # flock belongs to each open file: one process can test it
    first.close()
    assert not path.exists()
    take_lock(str(path), "experiment 'x'").close()


def test_a_lock_file_left_by_a_killed_holder_is_taken_over(tmp_path):
    path = tmp_path / '.x.lock'
    path.write_text('pid 1, a run killed long ago\n')
    held = take_lock(str(path), 'x')
    assert path.read_text().startswith(f'pid {os.getpid()}, ')
    held.close()


@pytest.mark.slow
def test_another_process_holds_it_until_killed(tmp_path):
    path = tmp_path / '.x.lock'
    code = ('import sys, time; from sfd_basicsr.utils.locks import take_lock; '
            'lock = take_lock(sys.argv[1], "x"); print("held", flush=True); time.sleep(120)')
    holder = subprocess.Popen([sys.executable, '-c', code, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == 'held', holder.stderr.read()
        with pytest.raises(LockHeld, match=f'pid {holder.pid}, '):
            take_lock(str(path), 'x')
        holder.send_signal(signal.SIGKILL)  # no clean-up runs: the kernel drops the lock with the process
        holder.wait(timeout=30)
        deadline = time.time() + 10
        while True:
            try:
                take_lock(str(path), 'x').close()
                break
            except LockHeld:
                assert time.time() < deadline
                time.sleep(0.1)
    finally:
        holder.kill()


def test_a_file_its_holder_removes_as_this_run_opens_it_is_not_the_one_locked(tmp_path, monkeypatch):
    """The first holder unlinks the lock file on release; a run that opened the old file locks a removed inode and
    must try again on the file that is there now, or two runs would each hold a lock."""
    from sfd_basicsr.utils import locks
    path = tmp_path / '.x.lock'
    real_flock, calls = locks.fcntl.flock, []

    def flock_after_the_holder_left(handle, operation):
        calls.append(operation)
        if len(calls) == 1:
            os.unlink(path)  # the holder's release, between this run's open and its flock
        return real_flock(handle, operation)

    monkeypatch.setattr(locks.fcntl, 'flock', flock_after_the_holder_left)
    held = take_lock(str(path), 'x')
    assert len(calls) == 2 and path.read_text().startswith(f'pid {os.getpid()}, ')
    held.close()
