"""Where a run writes: ``experiments/<name>``, ``tb_logger/<name>`` (train) and ``results/<name>`` (test) under the
working directory, and nowhere else; one run per experiment at a time.

BasicSR joins ``name`` to those folders as it is, so an options file could write anywhere (``../..``, an absolute
path, a link planted in ``experiments/``), and a second ``train`` of the same name renames the first run's live
folder to ``*_archived_*`` while the first keeps saving into the new one. Both are refused here, by name.
"""
import os

from ..utils.locks import take_lock

TRAIN_FOLDERS = ('experiments', 'tb_logger')
TEST_FOLDERS = ('results',)


def name_problem(name, root, is_train=True):
    """Why ``name`` would write outside ``root``'s output folders, or None."""
    if not isinstance(name, str) or not name.strip():
        return None  # the schema names a missing or non-text name
    plain = "give a plain folder name such as 'train_SFD_x4'"
    if os.path.isabs(name) or name.startswith('~'):
        return f"name: '{name}' is an absolute path; experiments are folders under experiments/ of the working " \
               f'directory: {plain}.'
    if '..' in name.replace('\\', '/').split('/'):
        return f"name: '{name}' climbs out of experiments/ with '..'; {plain}."
    for base in TRAIN_FOLDERS if is_train else TEST_FOLDERS:
        top = os.path.realpath(os.path.join(root, base))
        target = os.path.realpath(os.path.join(top, name))
        if os.path.commonpath([top, target]) != top:
            return f"name: {base}/{name} is a link to '{target}', outside {base}/; remove the link, or {plain}."
    return None


def lock_experiment(root, name, is_train=True):
    """Hold the lock of experiment ``name`` (``experiments/.<name>.lock``, ``results/`` for a test) until the returned
    file is closed or the process ends; ``LockHeld`` naming the run that holds it."""
    base = 'experiments' if is_train else 'results'
    path = os.path.join(root, base, f".{name.replace('/', '__')}.lock")
    return take_lock(path, f"experiment '{name}' ({base}/{name})")
