"""``basicsr evaluate``: PSNR/SSIM-Y and pyiqa metrics of a generator over test sets, as the papers' tables.

Under torchrun each process scores a share of the images and rank 0 writes the tables (``inference.evaluate``).
"""
import os
import sys

from ..utils.errors import InputError
from .common import (add_device, add_max_pixels, add_metrics, add_model, add_precision, add_quiet, add_weights,
                     in_inference_processes, outputs_writable_on_every_process)

DEFAULT_METRICS = ('lpips', 'dists', 'niqe', 'musiq', 'clipiqa', 'sfd_iqa')
PRECISION_WORDS = {'torch.float16': ', in float16', 'torch.bfloat16': ', in bfloat16'}  # the report says how


def add_parser(commands):
    parser = commands.add_parser('evaluate', help='PSNR/SSIM-Y and pyiqa metrics of a generator over test sets',
                                 description="Score a generator on test sets like the papers' tables: PSNR/SSIM on Y "
                                 'with crop border = scale, then pyiqa metrics; results.md and results.csv.')
    add_model(parser, help='experiments/<name> folder or generator weights file')
    parser.add_argument('--data', action='append', required=True, metavar='NAME=GT[:LQ]',
                        help='a test set: its GT folder and, optionally, its LR folder (repeat for several)')
    add_metrics(parser, DEFAULT_METRICS, help=f"pyiqa metrics besides PSNR/SSIM (default: {' '.join(DEFAULT_METRICS)})")
    add_weights(parser)
    parser.add_argument('-o', '--output', default='evaluation', help='folder for results.md and results.csv')
    parser.add_argument('--tile', type=int, default=0, help='upscale in tiles of this size (0: whole images)')
    parser.add_argument('--tile-pad', type=int, default=16, help='context pixels around each tile (default 16)')
    add_precision(parser)
    add_device(parser)
    add_max_pixels(parser)
    add_quiet(parser)
    parser.set_defaults(run=run)


def run(args):
    return in_inference_processes(_evaluate, args, outputs=[args.output])


def _evaluate(args, rank, world):
    from ..inference.evaluate import evaluate, parse_test_set, write_reports
    from ..inference.generator import load_generator
    from ..inference.upscaler import Upscaler
    if not outputs_writable_on_every_process('basicsr evaluate', [(args.output, '-o')], rank, world):
        return 1
    test_sets = [parse_test_set(text) for text in args.data]
    names = [name for name, _, _ in test_sets]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:  # one row per name: the second set would be dropped from the table unsaid
        raise InputError(f"--data: the name {', '.join(repeated)} is given more than once; give each test set its "
                         'own name.')
    if args.weights and 'sfd_iqa' in args.metrics:  # weights given are read now, as compare reads them: a bad file
        from ..iqa.weights import load_weights    # is refused, not reported as an unavailable column after the work
        load_weights(args.weights)
    upscaler = Upscaler(load_generator(args.model), args.device, tile=args.tile, tile_pad=args.tile_pad,
                        half=args.half, bf16=args.bf16)
    results, unavailable, lower_better = evaluate(upscaler, test_sets, args.metrics,
                                                  progress=not args.quiet and rank == 0, rank=rank, world=world,
                                                  sfd_iqa_weights=args.weights, max_pixels=args.max_pixels)
    if rank != 0:
        return 0
    if world > 1:
        for name, row in results.items():
            print(f"basicsr evaluate: {name}: {row['images']} image(s) on {world} processes "
                  f"({', '.join(map(str, row['images_per_process']))})", file=sys.stderr)
    upscaled = (f'in tiles of {upscaler.tile} px with {upscaler.tile_pad} px of context' if upscaler.tile
                else 'whole') + PRECISION_WORDS.get(str(upscaler.dtype), '')
    table = write_reports(args.output, results, unavailable, lower_better, args.metrics, args.model, upscaled)
    print(table)
    print(f"basicsr evaluate: wrote {os.path.join(args.output, 'results.md')} and results.csv", file=sys.stderr)
    skipped = sum(len(row['skipped']) for row in results.values())
    if skipped:
        print(f'basicsr evaluate: {skipped} image(s) could not be scored (named in the table).', file=sys.stderr)
    return 1 if skipped else 0
