"""``basicsr compare``: a page (and a paper figure) showing result folders side by side (``inference.compare_page``)."""
import argparse
import sys

from .common import add_device, add_metrics, add_quiet, add_weights, positive_whole_number

DEFAULT_METRICS = ('lpips', 'dists', 'niqe')


def _count(text):
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number (0: none), got '{text}'")
    return int(text)


def add_parser(commands):
    parser = commands.add_parser(
        'compare', help='a comparison page (and paper figure) of result folders',
        description='Show two or more result folders side by side in one page that works from disk: mean and '
        'per-image metrics (best marked), a before/after slider, zoom and pan shared by every pane, zoomed crops '
        'where the runs differ most, the SFD-IQA realness map. Images are matched by name, with the suffixes '
        'BasicSR adds (_<name>, _<iter>, x4) stripped.')
    parser.add_argument('runs', nargs='+', metavar='NAME=DIR',
                        help="a result folder: BasicSR's results/<name>/visualization/<set>/, an experiment's "
                        'visualization/ (NAME=DIR@ITER for one iteration; default: the latest), basicsr upscale '
                        'outputs, any folder of images')
    parser.add_argument('-o', '--output', required=True, metavar='PAGE_DIR',
                        help='folder for index.html and its images')
    parser.add_argument('--gt', default=None, metavar='GT_DIR', help='ground truth (PSNR/SSIM and full-reference '
                        'metrics need it)')
    parser.add_argument('--lr', default=None, metavar='LR_DIR', help='the LR inputs, shown bicubic-upscaled')
    add_metrics(parser, DEFAULT_METRICS, help='pyiqa metrics besides PSNR/SSIM-Y and SFD-IQA (default: '
                f"{' '.join(DEFAULT_METRICS)}); a name pyiqa does not know is refused, a metric that cannot be "
                'built here (weights not downloaded) is named as unavailable')
    add_weights(parser)
    parser.add_argument('--scale', type=positive_whole_number, default=None,
                        help='the crop border of PSNR/SSIM (default: from the LR and output sizes, else none)')
    parser.add_argument('--crop', action='append', default=[], metavar='IMAGE=X,Y,W,H',
                        help='a region to zoom in on (output pixels); repeat for several')
    parser.add_argument('--crops', type=_count, default=3, metavar='N',
                        help='crops chosen per image where the runs differ most (default 3)')
    parser.add_argument('--figure', nargs='*', default=None, metavar='IMAGE',
                        help='also write figure.png and figure.pdf: zoomed crops of these images (default: the '
                        'first) at their first --crop, else where the runs differ most')
    parser.add_argument('--figure-metric', default=None, metavar='METRIC',
                        help='the metric under each crop of the figure (default: PSNR-Y, else the first)')
    add_device(parser)
    add_quiet(parser)
    parser.set_defaults(run=run)


def run(args):
    from ..inference.compare_crops import parse_crop
    from ..inference.compare_match import parse_run
    from ..inference.compare_page import build_compare_page
    if len(args.runs) < 2:
        print('basicsr compare: give two or more result folders (NAME=DIR NAME=DIR ...).', file=sys.stderr)
        return 2
    runs = [parse_run(text) for text in args.runs]  # a refusal or a failed write: one line (commands.common)
    crops = [parse_crop(text) for text in args.crop]
    report = build_compare_page(args.output, runs, args.gt, args.lr, args.metrics, args.weights, args.device,
                                args.scale, crops, args.crops, args.figure, args.figure_metric, progress=not args.quiet)
    for note in report.notes:
        print(f'basicsr compare: {note}', file=sys.stderr)
    written = ' and '.join([report.index] + report.figure)
    print(f'basicsr compare: {report.images} image(s); wrote {written}', file=sys.stderr)
    return 1 if report.failures else 0
