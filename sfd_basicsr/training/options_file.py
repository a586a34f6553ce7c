"""An options file as BasicSR's ``parse_options`` reads it, ``--force_yml`` applied, so it can be checked first.

BasicSR applies ``--force_yml`` with ``exec`` after joining the process group and seeding; a bad file or entry
there is a bare traceback. Read here, every problem gets a line naming the file, the entry or the key.
"""
import os

from ..compat.argv import command_line_options
from ..utils.errors import InputError
from ..utils.yaml_file import read_yaml
from .options_check import OptionsError


def options_file_missing(path):
    """Why ``path``, which is no file, cannot be an options file."""
    kind = ('is a folder' if os.path.isdir(path) else 'is not a regular file' if os.path.exists(path) else
            'does not exist')
    return f"options file '{path}' {kind}; expected a YAML file (options/train_sfd_esrgan_x4.yml, ...)."


def read_options_file(path):
    """The mapping in the YAML file ``path``."""
    if not os.path.isfile(path):
        raise OptionsError(options_file_missing(path))
    try:
        opt = read_yaml(path, 'options file', unique_keys=True)
    except InputError as error:
        raise OptionsError(str(error)) from None
    if not isinstance(opt, dict):
        raise OptionsError(f'{path}: holds {type(opt).__name__} {opt!r}, not a mapping of options (key: value lines).')
    return opt


def apply_force_yml(opt, entries):
    """``opt`` with each ``a:b:c=value`` entry applied as BasicSR applies it (its own value parser)."""
    from basicsr.utils.options import _postprocess_yml_value
    for entry in entries:
        if entry.count('=') != 1:
            raise OptionsError(f"--force_yml {entry}: expected KEY:SUBKEY=VALUE with one '=' (BasicSR splits on it).")
        keys, value = (part.strip() for part in entry.split('='))
        try:
            value = _postprocess_yml_value(value)
        except Exception as error:  # noqa: BLE001  (its float() / eval() of what the user wrote)
            raise OptionsError(f'--force_yml {entry}: BasicSR cannot read the value ({error}).') from None
        *parents, last = keys.split(':')
        section = opt
        for depth, key in enumerate(parents):
            section = section.get(key) if isinstance(section, dict) else None
            if not isinstance(section, dict):
                raise OptionsError(f"--force_yml {entry}: the options have no section {':'.join(parents[:depth + 1])} "
                                   "(BasicSR's --force_yml changes keys of existing sections only).")
        section[last] = value
    return opt


def load_options(argv):
    """The options BasicSR's ``parse_options`` will read from the command line ``argv``, or None without -opt."""
    opt_file, entries = command_line_options(argv)
    if not opt_file:
        return None
    return apply_force_yml(read_options_file(opt_file), entries)
