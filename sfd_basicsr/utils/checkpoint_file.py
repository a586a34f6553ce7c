"""Reading a user-given PyTorch file: one function, plain weights only, one line naming the file on any failure.

torch's own errors for a bad file are long and end with advice to retry with ``weights_only=False``, which
would run whatever code the file carries. Here the safe loader is never switched off; what it refuses is
explained instead.
"""
import os
import pickle
import re
import zipfile

import torch

from .errors import InputError

UNSUPPORTED_GLOBAL = re.compile(r'Unsupported global: GLOBAL ([\w.]+)')


class CheckpointReadError(InputError):
    """A file given as a checkpoint that cannot be read as one; the message names the file and why."""


def read_checkpoint(path, what='checkpoint', map_location='cpu'):
    """``torch.load(path, weights_only=True)`` (a ``.safetensors`` file: its tensors); ``what`` names the option or
    role of the file in errors."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise CheckpointReadError(f"{what} '{path}' is a folder, not a checkpoint file.")
    if not os.path.isfile(path):
        raise CheckpointReadError(f"{what} '{path}' does not exist.")
    if os.path.getsize(path) == 0:
        raise CheckpointReadError(f"{what} '{path}' is empty (0 bytes): an interrupted copy or save?")
    if path.endswith('.safetensors'):
        return _read_safetensors(path, what, map_location)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        found = UNSUPPORTED_GLOBAL.search(str(error))
        if found:
            raise CheckpointReadError(
                f"{what} '{path}': this file contains code objects ({found.group(1)}); only plain weights are read, "
                'so it was not loaded.') from None
        raise CheckpointReadError(f"{what} '{path}' is not a PyTorch checkpoint (not a pickle of plain "
                                  'weights).') from None
    except (RuntimeError, EOFError, zipfile.BadZipFile) as error:
        raise CheckpointReadError(f"{what} '{path}' is truncated or damaged ({_first_sentence(error)}).") from None
    except (KeyError, ValueError, UnicodeDecodeError, AttributeError, IndexError, TypeError) as error:
        raise CheckpointReadError(f"{what} '{path}' is not a PyTorch checkpoint "
                                  f'({type(error).__name__}: {_first_sentence(error)}).') from None


def _read_safetensors(path, what, map_location):
    import safetensors.torch
    try:
        return safetensors.torch.load_file(path, device=str(map_location))
    except Exception as error:  # noqa: BLE001  (safetensors raises its own error type for any damage)
        raise CheckpointReadError(f"{what} '{path}' is not a readable safetensors file "
                                  f'({_first_sentence(error)}).') from None


def _first_sentence(error):
    text = ' '.join(str(error).split()) or type(error).__name__
    return text.split('. ')[0].rstrip('.')
