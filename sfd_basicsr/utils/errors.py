"""The errors a user meets: what they gave is wrong, missing, or could not be written.

Every user-facing error of the package derives from ``UserError``; the commands catch it in one place
(``commands.common.user_error_exit``) and print its ``describe()`` as one line after the command's name, with
``exit_code`` (2: the input was refused, 1: the run stopped). The other bases (``ValueError``, ...) keep the
library's callers' ``except`` clauses working.
"""


class UserError(Exception):
    """A problem with a file, folder or option the user gave; the message names it and what was expected."""
    exit_code = 2

    def describe(self):
        return str(self)


class InputError(UserError, ValueError):
    """A value, file or option refused."""


class InputNotFound(UserError, FileNotFoundError):
    """A file or folder the user named that does not exist (or holds nothing to work on)."""


class RunStopped(UserError):
    """Work that started and had to stop (a full disk, ...); what was written before is whole."""
    exit_code = 1

    def describe(self):
        return f'stopped: {self}'


def one_line(error, limit=300):
    """``Type: first line`` of another library's error, cut to ``limit`` characters, saying how many lines were left
    out (PyTorch's state-dict errors list every mismatched key, one per line)."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()] or ['']
    shown = 2 if lines[0].endswith(':') and len(lines) > 1 else 1  # a heading alone says nothing: add its first item
    first = ' '.join(lines[:shown])
    if len(first) > limit:  # cut at the last space of the limit's final 40 characters, not inside a word
        cut = first[:limit]
        space = cut.rfind(' ', limit - 40)
        first = (cut[:space] if space > 0 else cut) + '...'
    rest = f' (and {len(lines) - shown} more lines)' if len(lines) > shown else ''
    return f'{type(error).__name__}: {first}{rest}'
