"""``utils/errors.py``: every error a user meets derives from ``UserError`` and reaches them as one line with its exit
code, from the one place the commands catch it."""
import ast
import importlib
import os

import pytest

from sfd_basicsr.utils.errors import InputError, InputNotFound, RunStopped, UserError

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'sfd_basicsr')


def _error_classes():
    """``(module, class name)`` of every exception class the package defines, read from its source."""
    found = []
    for folder, _, files in os.walk(PACKAGE):
        for file in files:
            if file.endswith('.py'):
                path = os.path.join(folder, file)
                module = 'sfd_basicsr.' + os.path.relpath(path, PACKAGE)[:-3].replace(os.sep, '.')
                for node in ast.parse(open(path).read()).body:
                    if isinstance(node, ast.ClassDef) and (node.name.endswith('Error') or node.name in (
                            'MetricUnavailable', 'UnknownMetric', 'InputNotFound', 'RunStopped')):
                        found.append((module.removesuffix('.__init__'), node.name))
    return found


@pytest.mark.parametrize('module, name', _error_classes(), ids=lambda value: value)
def test_every_error_class_of_the_package_is_a_user_error(module, name):
    assert issubclass(getattr(importlib.import_module(module), name), UserError)


def test_the_kinds_keep_the_builtin_bases_callers_catch():
    assert issubclass(InputError, ValueError) and issubclass(InputNotFound, FileNotFoundError)
    assert (UserError.exit_code, InputError.exit_code, RunStopped.exit_code) == (2, 2, 1)
    assert RunStopped('x.png: disk full').describe() == 'stopped: x.png: disk full'


@pytest.mark.parametrize('error, code, line', [
    (InputError("-i 'a.png': not an image"), 2, "-i 'a.png': not an image"),
    (InputNotFound("'x/' does not exist"), 2, "'x/' does not exist"),
    (RunStopped("cannot write 'o.png'"), 1, "stopped: cannot write 'o.png'"),
])
@pytest.mark.parametrize('main, words, prefix', [
    ('basicsr_main', ['upscale', '-i', 'in', '-o', 'out', '-m', 'm.pth'], 'basicsr upscale'),
    ('sfd_iqa_main', ['score', '-t', 'in'], 'sfd-iqa score'),
])
def test_a_user_error_from_any_command_is_one_line_and_its_exit_code(error, code, line, main, words, prefix,
                                                                      request, monkeypatch, tmp_path):
    from sfd_basicsr.commands import score, upscale

    def fail(args):
        raise error

    monkeypatch.setattr(upscale, 'run', fail)
    monkeypatch.setattr(score, 'run', fail)
    result = request.getfixturevalue(main)(words, cwd=tmp_path)
    assert (result.returncode, result.stderr.strip()) == (code, f'{prefix}: {line}')


def test_an_error_that_is_no_user_error_stays_a_traceback(basicsr_main, monkeypatch, tmp_path):
    """A bug is not dressed up as a refusal of the user's input."""
    from sfd_basicsr.commands import upscale

    def fail(args):
        raise ValueError('a bug')

    monkeypatch.setattr(upscale, 'run', fail)
    result = basicsr_main(['upscale', '-i', 'in', '-o', 'out', '-m', 'm.pth'], cwd=tmp_path)
    assert result.returncode == 1 and 'Traceback' in result.stderr and 'ValueError: a bug' in result.stderr


def test_one_line_of_a_state_dict_error_names_the_first_mismatch_and_counts_the_rest():
    import torch

    from sfd_basicsr.utils.errors import one_line
    small, large = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 4)), \
        torch.nn.Sequential(torch.nn.Linear(2, 5), torch.nn.Linear(5, 4))
    try:
        large.load_state_dict(small.state_dict())
    except RuntimeError as error:
        torch_lines = str(error).strip().splitlines()  # torch's own: a heading, then one line per mismatched key
        line = one_line(error)
    assert len(torch_lines) == 4 and '\n' not in line
    assert line == f'RuntimeError: {torch_lines[0].strip()} {torch_lines[1].strip()} (and 2 more lines)'
    assert one_line(ValueError('x' * 500), limit=10) == 'ValueError: xxxxxxxxxx...'  # no space: cut where it must
    assert one_line(ValueError('try again ' * 40), limit=25) == 'ValueError: try again try again try...'  # at a space
    assert one_line(KeyError('plain')) == "KeyError: 'plain'"
