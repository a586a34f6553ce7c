"""The ``basicsr`` command: ``basicsr train|test -opt FILE [BasicSR's flags]`` and ``basicsr demo``.

BasicSR 1.4.2 ships no command of its own; this one runs its stock pipelines with the plugin loaded.
"""
import os
import sys

USAGE = """usage: basicsr {train,test} -opt FILE [--launcher {none,pytorch,slurm}] [--auto_resume] [--debug]
                            [--force_yml KEY=VALUE ...]
       basicsr check -opt FILE [--force_yml KEY=VALUE ...]
       torchrun --nproc_per_node=N $(which basicsr) train -opt FILE --launcher pytorch
       basicsr demo [--iters N] [--out DIR]
       basicsr upscale -i IMAGES -o FOLDER -m MODEL [--tile N] [--outscale S] [--half] ...
       basicsr export -m MODEL -o generator.safetensors
       basicsr evaluate -m MODEL --data NAME=GT[:LQ] ... [--metrics lpips niqe ...] [-o FOLDER]

  train     BasicSR's train_pipeline (experiments/ under the working directory)
  test      BasicSR's test_pipeline (results/ under the working directory)
  check     check an options file as train would (paths, types, keys, checkpoints), without training
  demo      a short SFD training run on CPU on images that ship with scikit-image
  upscale   run a trained generator on your own images (basicsr upscale -h)
  export    a trained generator as .safetensors for spandrel / chaiNNer (basicsr export -h)
  evaluate  PSNR/SSIM-Y and pyiqa metrics of a generator over test sets, as a table (basicsr evaluate -h)"""


def _take_local_rank(words):
    """Drop the ``--local-rank=N`` that ``python -m torch.distributed.launch`` puts first (BasicSR 1.4.2 only knows
    ``--local_rank``, BasicSR issue #626); its value goes to ``LOCAL_RANK``, where torchrun puts it."""
    kept = []
    for word in words:
        name, _, value = word.partition('=')
        if name in ('--local-rank', '--local_rank') and value.isdigit():
            os.environ.setdefault('LOCAL_RANK', value)
        else:
            kept.append(word)
    return kept


def options_error_text(command, error):
    """One line for one problem; a count and an indented line each for several."""
    problems = getattr(error, 'problems', [str(error)])
    if len(problems) == 1:
        return f'{command}: invalid options: {problems[0]}'
    return f'{command}: invalid options ({len(problems)} problems):\n' + '\n'.join(f'  {line}' for line in problems)


def main(prefix=None):
    """Entry point. ``prefix`` holds words to put before the command line (``python -m`` wrappers)."""
    words = _take_local_rank(list(prefix or []) + sys.argv[1:])
    if not words or words[0] in ('-h', '--help'):
        print(USAGE)
        return 0 if words else 2
    command, rest = words[0], words[1:]
    if command not in ('train', 'test', 'check', 'demo', 'upscale', 'export', 'evaluate'):
        print(f"basicsr: unknown command '{command}'\n{USAGE}", file=sys.stderr)
        return 2
    if command == 'demo':
        from .demo import main as demo_main
        return demo_main(rest)
    if command == 'upscale':
        from .inference.upscale_cli import main as upscale_main
        return upscale_main(rest)
    if command == 'export':
        from .inference.export import main as export_main
        return export_main(rest)
    if command == 'evaluate':
        from .inference.evaluate import main as evaluate_main
        return evaluate_main(rest)
    if '-opt' in rest and rest.index('-opt') + 1 < len(rest):
        opt_file = rest[rest.index('-opt') + 1]
        if not os.path.isfile(opt_file):
            print(f"basicsr {command}: options file '{opt_file}' does not exist.", file=sys.stderr)
            return 2
    from .atomic import OutputWriteError
    from .options_check import OptionsError
    from .pipeline import check, test, train
    sys.argv = [f'basicsr {command}'] + rest  # BasicSR's own argument parser reads sys.argv
    try:
        {'train': train, 'test': test, 'check': check}[command]()
    except OptionsError as error:
        print(options_error_text(f'basicsr {command}', error), file=sys.stderr)
        return 2
    except OutputWriteError as error:
        print(f'basicsr {command}: stopped: {error} The files saved before are complete and unchanged.',
              file=sys.stderr)
        return 1
    if command == 'check':
        print(f"basicsr check: {rest[rest.index('-opt') + 1] if '-opt' in rest else 'the options'}: no problem found.")
    return 0


if __name__ == '__main__':
    sys.exit(main())
