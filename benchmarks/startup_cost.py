"""What the `sfd_basicsr_pyiqa.pth` start-up hook costs Python processes that never use pyiqa.

    python benchmarks/startup_cost.py [--runs 30]

Measures, in fresh interpreters of this environment: the hook module's own import time
(`-X importtime`), the wall time of `python -c pass`, and the time to import a large unrelated
package (numpy) with the hook's finder on `sys.meta_path` and with it removed.
"""
import argparse
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import machine, median, write_section  # noqa: E402

IMPORT_NUMPY = ('import sys, time\n'
                'if {remove}: sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "_PyiqaFinder"]\n'
                't = time.perf_counter(); import numpy; print(time.perf_counter() - t)')


def python(code, *flags):
    return subprocess.run([sys.executable, *flags, '-c', code], capture_output=True, text=True, check=True)


def hook_import_us():
    err = python('pass', '-X', 'importtime').stderr
    match = re.search(r'import time:\s+\d+ \|\s+(\d+) \|\s+sfd_basicsr_pyiqa_hook', err)
    if not match:
        raise SystemExit('sfd_basicsr_pyiqa_hook is not imported at start-up: is sfd_basicsr installed (not -e)?')
    return int(match.group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=30)
    args = parser.parse_args()
    import time
    python('pass')  # warm the file cache
    hook = median([hook_import_us() for _ in range(args.runs)])
    starts = []
    for _ in range(args.runs):
        t = time.perf_counter()
        python('pass')
        starts.append(time.perf_counter() - t)
    with_finder = median([float(python(IMPORT_NUMPY.format(remove=False)).stdout) for _ in range(args.runs)])
    without_finder = median([float(python(IMPORT_NUMPY.format(remove=True)).stdout) for _ in range(args.runs)])
    rows = [
        ('import of the hook module at start-up (`-X importtime`, cumulative)', f'{hook / 1000:.2f} ms'),
        ('whole `python -c pass` (for scale)', f'{median(starts) * 1000:.1f} ms'),
        ('hook share of start-up', f'{hook / 1e6 / median(starts) * 100:.1f} %'),
        ('`import numpy` with the hook\'s finder', f'{with_finder * 1000:.1f} ms'),
        ('`import numpy` with the finder removed', f'{without_finder * 1000:.1f} ms'),
        ('ratio with / without', f'{with_finder / without_finder:.3f}'),
    ]
    table = '\n'.join(f'| {k} | {v} |' for k, v in rows)
    text = (f'## Start-up cost of the pyiqa hook\n\n`python benchmarks/startup_cost.py --runs {args.runs}` on '
            f'{machine()}. Medians of {args.runs} fresh interpreters.\n\n| what | median |\n|---|---|\n{table}\n')
    print(text)
    write_section('startup', text)


if __name__ == '__main__':
    main()
