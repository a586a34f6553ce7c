"""``basicsr prepare``: HR photos made into sub-images, LR images and a meta-info file (``data.prepare``)."""
import sys

from .common import add_max_pixels, add_quiet, in_inference_processes, positive_whole_number


def add_parser(commands):
    from ..data.prepare import DEFAULT_CROP_SIZE, DEFAULT_STEP, DEFAULT_THRESH_SIZE
    parser = commands.add_parser('prepare', help='make training data (sub-images, LR, meta-info) from HR photos',
                                 description='From a folder of HR images to what the paired options expect: HR and '
                                 "MATLAB-bicubic LR sub-images (BasicSR's crop size, step and threshold), a meta-info "
                                 'file, optionally LMDB, and a validation split; then the --force_yml that points an '
                                 'options file at them. A re-run keeps what is already written.')
    parser.add_argument('-i', '--input', required=True, help='folder of HR images')
    parser.add_argument('-o', '--output', required=True, help='folder for train/ (and val/)')
    parser.add_argument('--scale', type=positive_whole_number, default=4, help='downscaling factor (default 4)')
    parser.add_argument('--crop-size', type=positive_whole_number, default=DEFAULT_CROP_SIZE,
                        help=f'HR sub-image side (default {DEFAULT_CROP_SIZE})')
    parser.add_argument('--step', type=positive_whole_number, default=DEFAULT_STEP,
                        help=f'distance between sub-images (default {DEFAULT_STEP})')
    parser.add_argument('--thresh-size', type=int, default=DEFAULT_THRESH_SIZE,
                        help=f'one more sub-image flush with the edge when more than this is left (default '
                             f'{DEFAULT_THRESH_SIZE})')
    parser.add_argument('--val', type=int, default=0, metavar='N', help='keep the first N images whole for validation')
    parser.add_argument('--lmdb', action='store_true', help="also write the sub-images as LMDB (BasicSR's writer)")
    parser.add_argument('--opt', default='options/train_sfd_esrgan_x4.yml', help='options file the printed command '
                        'trains with (default: the shipped SFD x4 file)')
    add_max_pixels(parser)
    add_quiet(parser)
    parser.set_defaults(run=run)


def run(args):
    return in_inference_processes(_prepare, args, outputs=[args.output])


def _prepare(args, rank, world):
    from ..data.prepare import force_yml, prepare
    if world > 1:
        print('basicsr prepare: runs in one process; start it without torchrun.', file=sys.stderr)
        return 2
    if args.val < 0 or args.thresh_size < 0:
        print('basicsr prepare: --val and --thresh-size must be 0 or more.', file=sys.stderr)
        return 2
    paths, failures = prepare(args.input, args.output, args.scale, args.crop_size, args.step, args.thresh_size,
                              args.val, args.lmdb, progress=not args.quiet, max_pixels=args.max_pixels)
    print(f"basicsr prepare: wrote {paths['train_gt']}, {paths['train_lq']} and {paths['meta_info']}"
          + (f" ({paths['val_gt']}, {paths['val_lq']} for validation)" if 'val_gt' in paths else ''), file=sys.stderr)
    print(f"basicsr train -opt {args.opt} --force_yml {' '.join(force_yml(paths))}")
    if failures:
        print(f'basicsr prepare: {len(failures)} image(s) skipped: ' + ', '.join(p for p, _ in failures),
              file=sys.stderr)
        return 1
    return 0
