"""Reading and recording a BasicSR experiment folder: the options it ran with and its latest checkpoints.

BasicSR copies the options *file* into the experiment, with ``--force_yml`` overrides only as a comment on
its command line, so a reader that rebuilds networks from that copy can rebuild the wrong ones. ``basicsr
train`` therefore also writes ``effective_options.yml``: the options as the run used them, after the
overrides, BasicSR's defaults and auto-resume were applied. Readers take it first.
"""
import glob
import os
import re
import warnings

import yaml

from .errors import InputNotFound
from .yaml_file import read_yaml

EFFECTIVE_OPTIONS = 'effective_options.yml'
HEADER = ('# The options this run used: the file it was given, with --force_yml overrides, BasicSR\'s derived '
          'values\n# and auto-resume applied. Written by sfd_basicsr; readers of this experiment use it before '
          'the copy\n# BasicSR makes of the options file.\n')


def _plain(value):
    """BasicSR's OrderedDicts (and tuples) as plain YAML types."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def record_effective_options(experiment, opt):
    """Write ``opt`` as ``experiment/effective_options.yml``, whole or not at all."""
    from .atomic import atomic_write_text
    atomic_write_text(os.path.join(experiment, EFFECTIVE_OPTIONS),
                      HEADER + yaml.safe_dump(_plain(opt), sort_keys=False, allow_unicode=True))


def _overrides_in_copy(path):
    """The ``--force_yml`` words on the command line BasicSR wrote at the top of its copy, if any."""
    with open(path) as f:
        head = ''.join(f.readline() for _ in range(4))
    found = re.search(r'--force_yml\s+(.*)', head)
    return found.group(1).strip() if found else ''


def training_options(experiment, required_key):
    """The options ``experiment`` ran with that have ``required_key``, or {}.

    ``effective_options.yml`` when the run wrote it; else the copy BasicSR made, with a warning when that copy's
    command line shows ``--force_yml`` overrides it does not hold.
    """
    effective = os.path.join(experiment, EFFECTIVE_OPTIONS)
    candidates = ([effective] if os.path.isfile(effective) else []) + sorted(
        p for p in glob.glob(os.path.join(experiment, '*.yml')) if os.path.basename(p) != EFFECTIVE_OPTIONS)
    for path in candidates:
        opt = read_yaml(path, 'the options recorded in the experiment')
        if isinstance(opt, dict) and required_key in opt:
            overrides = '' if path == effective else _overrides_in_copy(path)
            if overrides:
                warnings.warn(f"'{experiment}' was trained with --force_yml {overrides}, which the copy '{path}' "
                              'does not hold (the run predates effective_options.yml): the networks rebuilt from it '
                              'may differ from those trained.', stacklevel=2)
            return opt
    return {}


def iteration_in_name(path, prefix='', suffix='.pth'):
    """The iteration in a BasicSR file name ``<prefix><iter><suffix>`` (``net_g_5000.pth``, ``5000.state``), or None."""
    name = os.path.basename(path)
    number = name[len(prefix):len(name) - len(suffix)] if name.startswith(prefix) and name.endswith(suffix) else ''
    return int(number) if number.isdigit() else None


def latest_checkpoint(models_dir, label):
    """``<label>_latest.pth``, else the highest ``<label>_<iter>.pth`` in ``models_dir``."""
    latest = os.path.join(models_dir, f'{label}_latest.pth')
    if os.path.isfile(latest):
        return latest
    numbered = [(iteration_in_name(name, f'{label}_'), name) for name in os.listdir(models_dir)]
    numbered = [(it, name) for it, name in numbered if it is not None]
    if not numbered:
        raise InputNotFound(f"No {label}_*.pth checkpoint in '{models_dir}'.")
    return os.path.join(models_dir, max(numbered)[1])
