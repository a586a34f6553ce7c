"""The commands run in the test's own process, as the installed entry point runs them; tmpfs mounts."""
import os

import pytest


def command_in_process(command, capsys, monkeypatch):
    """``run(words, cwd=...)``: the entry point the installed ``command`` calls, run in this process (no interpreter
    start-up), giving a ``CompletedProcess`` (exit code, stdout, stderr) as the command's process would.

    As in a process: an exception that escapes is a traceback on stderr and exit 1, warnings print on stderr once per
    place, and the environment, working directory and ``sys.argv`` are the test's again afterwards. Training runs stay
    in subprocesses (BasicSR sets its logger up once per process).
    """
    import sys
    import traceback
    import warnings
    from subprocess import CompletedProcess

    from sfd_basicsr.commands import basicsr_command, sfd_iqa_command
    main = {'basicsr': basicsr_command.main, 'sfd-iqa': sfd_iqa_command.main}[command]

    def show(message, category, filename, lineno, file=None, line=None):
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    def run(words, cwd=None):
        words = [str(word) for word in words]
        environment = dict(os.environ)
        if cwd is not None:
            monkeypatch.chdir(cwd)
        monkeypatch.setattr(sys, 'argv', [command, *words])
        capsys.readouterr()
        with warnings.catch_warnings():
            warnings.simplefilter('default')
            warnings.showwarning = show
            try:
                code = main(words)
            except SystemExit as exited:
                code = exited.code
            except Exception:
                traceback.print_exc()
                code = 1
        os.environ.clear()
        os.environ.update(environment)
        if isinstance(code, str):
            print(code, file=sys.stderr)
            code = 1
        out, err = capsys.readouterr()
        return CompletedProcess([command, *words], code or 0, out, err)

    return run


def mount_tmpfs(folder, size, read_only=False):
    import subprocess
    if os.geteuid() != 0:
        pytest.skip('needs root to mount a tmpfs (a real full or read-only disk)')
    folder.mkdir(parents=True, exist_ok=True)
    options = f'size={size}' + (',ro' if read_only else '')
    result = subprocess.run(['mount', '-t', 'tmpfs', '-o', options, 'tmpfs', str(folder)], capture_output=True,
                            text=True)
    if result.returncode != 0:
        pytest.skip(f'cannot mount a tmpfs here: {result.stderr.strip()}')
    return folder
