"""What the commands share: options with one name and meaning everywhere, and how BasicSR's pipelines are run."""
import argparse
import math
import os
import sys
from contextlib import contextmanager

MODEL_HELP = ('experiments/<name> folder, a BasicSR net_g_*.pth, or any weights file spandrel recognises '
              '(.pth, .safetensors)')


def add_model(parser, help=MODEL_HELP, required=True):
    parser.add_argument('-m', '--model', required=required, help=help)


def add_weights(parser):
    from ..iqa.weights import WEIGHTS_ENV
    parser.add_argument('--weights', default=None, help=f'SFD-IQA weights file (default: ${WEIGHTS_ENV}, then '
                        "pyiqa's weight folder)")


def usable_device(text):
    """A device of this machine to compute on, as ``--device`` takes it: refused by name here, not by torch mid-run."""
    import torch
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(f"'{text}' is not a device: expected cpu, cuda, cuda:1, ...") from None
    if device.type == 'meta':
        raise argparse.ArgumentTypeError(f"'{text}' is no device to compute on: expected cpu, cuda, cuda:1, ...")
    count = {'cpu': 1, 'mps': int(torch.backends.mps.is_available())}
    if device.type not in count:  # cuda, xpu and plugin accelerators (torch.<type>) count their own devices
        backend = getattr(torch, device.type, None)
        available = getattr(backend, 'is_available', lambda: False)()
        count[device.type] = backend.device_count() if available and hasattr(backend, 'device_count') else 0
    if not count[device.type]:
        raise argparse.ArgumentTypeError(f"'{text}': this machine has no {device.type.upper()} device; use cpu")
    available = count[device.type]
    if device.type == 'cpu' and device.index:
        raise argparse.ArgumentTypeError(f"'{text}': the CPU is one device; use cpu")
    if (device.index or 0) >= available:
        raise argparse.ArgumentTypeError(f"'{text}': this machine has {available} {device.type} device(s), "
                                         f'{device.type}:0 to {device.type}:{available - 1}')
    return text


def pyiqa_metric_name(text):
    """A metric name pyiqa knows, as ``--metrics`` takes it: a typo is refused before any work, not reported as an
    unavailable column after it (a known metric that cannot be built here still is)."""
    from ..iqa.pyiqa_metrics import unknown_metric
    problem = unknown_metric(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def add_metrics(parser, default, help):
    parser.add_argument('--metrics', nargs='*', type=pyiqa_metric_name, default=list(default), metavar='METRIC',
                        help=help)


def add_device(parser):
    parser.add_argument('--device', type=usable_device, default=None, help="cpu, cuda, cuda:1, ... (default: this "
                        "process's GPU if there is one, else the CPU)")


BF16_HELP = 'bfloat16 (any device; fast on GPUs and on CPUs with bfloat16 instructions)'


def add_precision(parser):
    """The generator's precision: ``--half`` or ``--bf16`` (``inference.upscaler.Upscaler``)."""
    precision = parser.add_mutually_exclusive_group()
    precision.add_argument('--half', action='store_true', help='float16 on CUDA')
    precision.add_argument('--bf16', action='store_true', help=BF16_HELP)


def add_quiet(parser):
    parser.add_argument('-q', '--quiet', action='store_true', help='no progress bars')


def positive_whole_number(text):
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f'expected a positive whole number, got {text!r}')
    return int(text)


def positive_number(text):
    """A finite number above 0 (a scale), as an argparse type."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f'expected a finite number above 0, got {text!r}')
    return value


def add_max_pixels(parser):
    from ..utils.memory import DEFAULT_MAX_PIXELS
    parser.add_argument('--max-pixels', type=positive_whole_number, default=DEFAULT_MAX_PIXELS,
                        help=f'largest input image in pixels (default {DEFAULT_MAX_PIXELS}); larger ones are skipped '
                        'with their size, as are images the free memory cannot hold even in tiles')


def add_basicsr_options(parser, pipeline=True):
    """BasicSR 1.4.2's own flags (``basicsr.utils.options.parse_options``), which its pipelines read again."""
    parser.add_argument('-opt', required=True, metavar='FILE', help='the options file (YAML)')
    if pipeline:
        parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none',
                            help="'pytorch' under torchrun, 'slurm' under srun (GPUs, or CPUs with gloo)")
        parser.add_argument('--auto_resume', action='store_true', help='resume from the latest training state')
        parser.add_argument('--debug', action='store_true', help="BasicSR's debug mode: the name gets debug_, "
                            'validation and checkpoints every 8 iterations')
        parser.add_argument('--local_rank', type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument('--force_yml', nargs='+', default=None, metavar='KEY=VALUE',
                        help='override options, e.g. train:total_iter=10 network_d:pretrained=~')


def basicsr_argv(args):
    """The words BasicSR's ``parse_options`` reads from ``sys.argv``, rebuilt from the parsed options."""
    words = ['-opt', args.opt]
    if hasattr(args, 'launcher'):
        words += ['--launcher', args.launcher] + ['--auto_resume'] * args.auto_resume + ['--debug'] * args.debug
    return words + (['--force_yml', *args.force_yml] if args.force_yml else [])


def in_inference_processes(work, args, outputs=()):
    """``work(args, rank, world)``: under torchrun each process does its share of the files (``distributed``).

    ``outputs``: the folders it writes; rank 0 holds each one's lock while the work runs, so a second command writing
    into one of them at the same time is refused in one line instead of interleaving its files with this one's.
    """
    from ..utils.distributed import inference_processes
    with inference_processes() as (rank, world), folders_locked(outputs if rank == 0 else ()):
        return work(args, rank, world)


@contextmanager
def folders_locked(folders):
    """Hold ``<folder>/.sfd_basicsr.lock`` of each folder; one that cannot be made is left to the write checks."""
    from ..utils.locks import OUTPUT_LOCK, take_lock
    held = []
    try:
        for folder in folders:
            try:
                held.append(take_lock(os.path.join(folder, OUTPUT_LOCK), f"output folder '{folder}'"))
            except OSError:
                continue  # a read-only or missing location: the command's own check names it
        yield
    finally:
        for handle in held:
            handle.close()


def outputs_writable_on_every_process(command, folders, rank, world):
    """Rank 0 proves each ``(folder, option)`` writable before any work, and every process learns the outcome: all
    go on (True) or all stop, rank 0 having said why in one line (``distributed.stop_together``)."""
    from ..utils.atomic import OutputWriteError, check_writable_folder
    from ..utils.distributed import stop_together
    stopped = 0
    try:
        for folder, option in folders if rank == 0 else ():
            check_writable_folder(folder, option)
    except OutputWriteError as error:
        print(f'{command}: stopped: {error}', file=sys.stderr)
        stopped = 1
    return not stop_together(stopped, world)


def take_local_rank(words):
    """Drop the ``--local-rank=N`` that ``python -m torch.distributed.launch`` puts first (BasicSR 1.4.2 only knows
    ``--local_rank``, BasicSR issue #626), or ``--local_rank N``; its value goes to ``LOCAL_RANK``, where torchrun
    puts it (a ``LOCAL_RANK`` already set wins)."""
    kept, words = [], list(words)
    while words:
        word = words.pop(0)
        name, equals, value = word.partition('=')
        if name in ('--local-rank', '--local_rank') and not equals and words and words[0].isdigit():
            value = words.pop(0)  # the two-word form, as argparse also reads it
        if name in ('--local-rank', '--local_rank') and value.isdigit():
            os.environ.setdefault('LOCAL_RANK', value)
        else:
            kept.append(word)
    return kept


def user_error_exit(command, error):
    """The one place a ``UserError`` becomes what the user sees: its line after the command's name; the exit code."""
    print(f'{command}: {error.describe()}', file=sys.stderr)
    return error.exit_code


def run_command(prog, args):
    """``args.run(args)`` of the command ``prog`` chose; every ``UserError`` it raises as one line and an exit code."""
    from ..utils.errors import UserError
    if hasattr(sys.stdout, 'reconfigure'):  # file names that are not UTF-8 are printed as the bytes they are
        sys.stdout.reconfigure(errors='surrogateescape')
    try:
        return args.run(args)
    except UserError as error:
        return user_error_exit(f'{prog} {args.command}', error)


def run_pipeline(command, pipeline, args):
    """``pipeline`` (``pipeline.train|test|check``) with BasicSR's ``sys.argv`` rebuilt from ``args``; the exit code."""
    if not os.path.isfile(args.opt):
        from ..training.options_file import options_file_missing
        print(f'basicsr {command}: {options_file_missing(args.opt)}', file=sys.stderr)
        return 2
    from ..compat.argv import basicsr_command_line
    with basicsr_command_line([f'basicsr {command}'] + basicsr_argv(args)):
        return pipeline_exit_code(command, pipeline)


def pipeline_exit_code(command, work):
    """``work()`` (a BasicSR pipeline); its refusal of the options or a failed save as one line and an exit code."""
    from ..utils.atomic import OutputWriteError
    try:
        work()
    except OutputWriteError as error:  # a checkpoint: the ones saved before it are whole
        print(f'basicsr {command}: stopped: {error} The files saved before are complete and unchanged.',
              file=sys.stderr)
        return 1
    return 0
