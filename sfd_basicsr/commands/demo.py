"""``basicsr demo``: a short SFD training run on the CPU, on images that install with scikit-image (``demo``)."""
import sys

from .common import pipeline_exit_code, positive_whole_number


def add_parser(commands):
    parser = commands.add_parser('demo', help='a short SFD training run on images that ship with scikit-image',
                                 description='About half a minute on 2 idle CPU cores: bicubic x4 pairs of '
                                 'skimage.data photos, an options file and an SFD experiment under --out, trained, '
                                 'validated and saved.')
    parser.add_argument('--iters', type=positive_whole_number, default=100, help='training iterations (default 100)')
    parser.add_argument('--out', default='sfd_demo', help='folder for data, options and experiments (default sfd_demo)')
    parser.set_defaults(run=run)


def run(args):
    from ..utils.atomic import OutputWriteError, check_writable_folder
    from ..training.demo import run_demo
    try:
        check_writable_folder(args.out, '--out')
    except OutputWriteError as error:
        print(f'basicsr demo: {error}', file=sys.stderr)
        return 1
    return pipeline_exit_code('demo', lambda: print(run_demo(args.out, args.iters)))  # the summary, once it trained
