"""``sfd-iqa correlate``: SROCC/PLCC/KRCC of no-reference metrics against MOS on an image set (``iqa.correlate``)."""
import sys

from ..utils.errors import InputError
from .common import add_device, add_metrics, add_quiet, add_weights


def add_parser(commands):
    from ..iqa.correlate import DEFAULT_METRICS
    parser = commands.add_parser('correlate', help='SROCC/PLCC/KRCC of NR metrics against MOS on an image set',
                                 description='How well no-reference metrics agree with human opinion: SROCC, PLCC, '
                                 'KRCC and seconds per image (lower-is-better metrics negated first).')
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--images', help='folder of images named in the MOS file')
    source.add_argument('--dataset', help='a pyiqa dataset name (with --data-root holding it and its meta_info)')
    parser.add_argument('--mos', help='CSV with an image-name column and a MOS column (with --images)')
    parser.add_argument('--name-column', default=None, help='image-name column of the MOS file (default: detected)')
    parser.add_argument('--score-column', default=None,
                        help='score column of the MOS file (default: mos, dmos, score)')
    parser.add_argument('--data-root', default='./datasets', help='where the pyiqa dataset is (with --dataset)')
    add_metrics(parser, DEFAULT_METRICS, help=f"pyiqa NR metrics (default: {' '.join(DEFAULT_METRICS)})")
    add_weights(parser)
    add_device(parser)
    parser.add_argument('--csv', default=None, help="write every image's scores to this CSV")
    add_quiet(parser)
    parser.set_defaults(run=run)


def run(args):
    from ..iqa.correlate import correlate, pyiqa_dataset_pairs, read_mos_csv, table, write_scores_csv
    if args.images:
        if not args.mos:
            raise InputError('--images needs --mos (a CSV of image names and MOS).')
        pairs, missing = read_mos_csv(args.mos, args.images, args.name_column, args.score_column)
        if missing:
            print(f"sfd-iqa correlate: {len(missing)} image(s) of '{args.mos}' are not in '{args.images}'; "
                  f'using the {len(pairs)} present.', file=sys.stderr)
    else:
        pairs, _ = pyiqa_dataset_pairs(args.dataset, args.data_root)
    results, unavailable, scores = correlate(pairs, args.metrics, args.device, args.weights, not args.quiet)
    print(table(results, unavailable, len(pairs)))
    if args.csv:
        write_scores_csv(args.csv, pairs, scores)
    return 0
