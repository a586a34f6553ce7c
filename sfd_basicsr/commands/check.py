"""``basicsr check``: an options file checked as ``basicsr train`` would, building nothing."""
from .common import add_basicsr_options, run_pipeline


def add_parser(commands):
    parser = commands.add_parser('check', help='check an options file as train would, without training',
                                 description='Check an options file as basicsr train would (types, ranges, keys, '
                                 'data, checkpoints, device), print every problem, create and train nothing.')
    add_basicsr_options(parser, pipeline=False)
    parser.set_defaults(run=run)


def run(args):
    from ..training.pipeline import check
    code = run_pipeline('check', check, args)
    if code == 0:
        print(f'basicsr check: {args.opt}: no problem found.')
    return code
