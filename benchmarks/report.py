"""Shared by the benchmark scripts: machine description, medians, and their section of docs/benchmarks.md."""
import datetime
import os
import platform
import re
import statistics

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, 'docs', 'benchmarks.md')
HEADER = ('# Benchmarks\n\nWritten by the scripts in `benchmarks/`; each owns one section below and rewrites '
          'only that section. Every figure is a median of several runs after warm-up; every ratio is '
          'measured within one run of one script.\n')


def machine(device='cpu'):
    import torch
    cpu = platform.processor() or platform.machine()
    text = f'{os.cpu_count()} CPU cores ({cpu}), torch {torch.__version__}, threads {torch.get_num_threads()}'
    if str(device).startswith('cuda'):
        text += f', GPU {torch.cuda.get_device_name(device)}'
    return f'{text}, {datetime.date.today().isoformat()}'


def run_for_result(command, label, env=None):
    """Run a benchmark case in its own process; the JSON of its last ``RESULT `` line."""
    import json
    import subprocess
    out = subprocess.run(command, capture_output=True, text=True, env=env or dict(os.environ, HF_HUB_OFFLINE='1'))
    lines = [line for line in out.stdout.splitlines() if line.startswith('RESULT ')]
    if out.returncode != 0 or not lines:
        raise SystemExit(f'{label} failed:\n{out.stderr[-3000:]}')
    result = json.loads(lines[-1][len('RESULT '):])
    print(f'  {label}: {result}', flush=True)
    return result


def median(values):
    return statistics.median(values)


def write_section(name, markdown):
    """Replace (or add) the section ``name`` of docs/benchmarks.md."""
    begin, end = f'<!-- {name}:begin -->', f'<!-- {name}:end -->'
    text = open(DOC).read() if os.path.isfile(DOC) else HEADER
    block = f'{begin}\n{markdown.strip()}\n{end}'
    pattern = re.compile(re.escape(begin) + '.*?' + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + '\n\n' + block + '\n'
    from sfd_basicsr.utils.atomic import atomic_write_text
    atomic_write_text(DOC, text)
