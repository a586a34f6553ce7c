"""``basicsr demo``: a short SFD training run on the CPU, on images that install with scikit-image (``demo``)."""


def add_parser(commands):
    parser = commands.add_parser('demo', help='a short SFD training run on images that ship with scikit-image',
                                 description='About a minute on 2 CPU cores: bicubic x4 pairs of skimage.data photos, '
                                 'an options file and an SFD experiment under --out, trained, validated and saved.')
    parser.add_argument('--iters', type=int, default=100, help='training iterations (default 100)')
    parser.add_argument('--out', default='sfd_demo', help='folder for data, options and experiments (default sfd_demo)')
    parser.set_defaults(run=run)


def run(args):
    from ..demo import run_demo
    print(run_demo(args.out, args.iters))
    return 0
