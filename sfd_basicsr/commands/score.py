"""``sfd-iqa score``: SFD-IQA scores (and quality maps) of images; under torchrun, the files split between processes.

``pyiqa sfd_iqa -t images/`` gives the same scores (it reads the files as this command does); this command also keeps
going past unreadable files, and draws quality maps.
"""
import os
import sys

import numpy as np

from ..utils.errors import InputError
from .common import (BF16_HELP, add_device, add_max_pixels, add_quiet, add_weights, in_inference_processes,
                     outputs_writable_on_every_process, positive_whole_number)


def add_parser(commands):
    from ..iqa.quality_map import DEFAULT_MAX_SIDE
    from ..iqa.sfd_iqa_arch import DEFAULT_TILE_SIZE
    parser = commands.add_parser('score', help='score an image or a folder of images (higher is better)',
                                 description='SFD-IQA scores in [0, 1], higher is better; unreadable files are named '
                                 'and skipped (exit 1).')
    parser.add_argument('-t', '--target', required=True, help='image file or folder')
    parser.add_argument('-r', '--recursive', action='store_true',
                        help="also score the images in the folder's sub-folders, as pyiqa's command does (maps "
                        'mirror the sub-folders)')
    add_weights(parser)
    parser.add_argument('--fusion-weight', type=float, default=None, help="w of the score; default: the file's")
    parser.add_argument('--clip-pretrained', default=None, help="CLIP weights (tag, file or 'none'); default: the "
                        "file's")
    parser.add_argument('--tile-size', type=int, default=DEFAULT_TILE_SIZE, help='largest side scored in one pass')
    add_device(parser)
    parser.add_argument('--bf16', action='store_true', help=BF16_HELP + '; scores within 0.01 of float32')
    parser.add_argument('--maps', default=None, help='folder for quality-map pictures (<name>_sfd_map.png)')
    parser.add_argument('--map-size', type=positive_whole_number, default=DEFAULT_MAX_SIDE,
                        help=f'longest side of each map panel in pixels (default {DEFAULT_MAX_SIDE})')
    parser.add_argument('--csv', default=None, help='also write the scores to this CSV file')
    add_max_pixels(parser)
    add_quiet(parser)
    parser.set_defaults(run=run)


def run(args):
    return in_inference_processes(_score, args, outputs=[args.maps] if args.maps else [])


def _score(args, rank, world):
    from ..iqa.scoring import map_files, score_files
    from ..iqa.sfd_iqa_arch import SFDIQA
    from ..utils.distributed import default_device, gather, rank_0_list, shard
    from ..utils.image_io import FOLDER_NOT_SEARCHED, NoImages, scan_images
    outputs = ([(args.maps, '--maps')] if args.maps else []) + (
        [(os.path.dirname(os.path.abspath(args.csv)), '--csv')] if args.csv else [])
    # outputs that cannot be written stop the run before any network is built
    if not outputs_writable_on_every_process('sfd-iqa score', outputs, rank, world):
        return 1
    skip = {args.maps: 'the --maps folder of this run (its maps are not scored)'} if args.maps else {}
    paths, passed_over = scan_images(args.target, args.recursive, skip)
    paths = rank_0_list(paths, world)  # --maps may be inside -t: no process lists after another wrote a map
    for path, why in passed_over if rank == 0 else ():
        print(f'sfd-iqa: passed over {path}: {why}', file=sys.stderr)
    if rank == 0 and any(why == FOLDER_NOT_SEARCHED for _, why in passed_over):
        print('sfd-iqa: give --recursive to score the images in sub-folders too.', file=sys.stderr)
    if not paths:
        raise NoImages(args.target)
    root = args.target if os.path.isdir(args.target) else os.path.dirname(args.target) or os.curdir
    map_paths = map_files(paths, root, args.maps) if args.maps else None
    if args.csv:
        _refuse_csv_over_an_input(args.csv, paths, map_paths, args.weights)
    device = default_device(args.device)
    net = SFDIQA(args.weights, fusion_weight=args.fusion_weight, clip_pretrained=args.clip_pretrained,
                 tile_size=args.tile_size, bf16=args.bf16).to(device)
    scores, failures, stopped = score_files(net, shard(paths, rank, world), device, map_paths, args.map_size,
                                            show_progress=not args.quiet and rank == 0, max_pixels=args.max_pixels)
    # a process that stopped still takes part: one that left would end the others' gather in a traceback
    shares = gather(None if stopped else (scores, failures), world)
    if None in shares:
        return 1
    scores = {path: value for share, _ in shares for path, value in share.items()}
    position = {path: i for i, path in enumerate(paths)}
    failures = sorted((f for _, share in shares for f in share), key=lambda f: position[f[0]])
    if rank != 0:
        return 1 if failures else 0
    if world > 1:
        counts = ', '.join(str(len(share) + len(failed)) for share, failed in shares)
        print(f'sfd-iqa: {len(paths)} image(s) on {world} processes ({counts})', file=sys.stderr)
    results = [(path, scores[path]) for path in paths if path in scores]
    for path, value in results:
        print(f'{path}\t{value:.6f}')
    if results:
        print(f'mean\t{np.mean([v for _, v in results]):.6f}')
    if args.csv:
        _write_csv(args.csv, results, failures)
    if failures:
        print(f'sfd-iqa: {len(failures)} of {len(paths)} files could not be scored.', file=sys.stderr)
    return 1 if failures else 0


def _refuse_csv_over_an_input(csv_path, images, map_paths, weights):
    """``--csv`` naming a scored image, a map of this run or the weights file would replace it with the table."""
    from ..iqa.weights import resolve_weights_path
    def same(path):  # links, hard links, and names told apart by case only where the file system ignores it
        if os.path.exists(csv_path) and os.path.exists(path):
            return os.path.samefile(csv_path, path)
        return os.path.normcase(os.path.realpath(path)) == os.path.normcase(os.path.realpath(csv_path))
    given = [(path, 'an image this run scores') for path in images]
    given += [(path, 'a quality map this run writes') for path in (map_paths or {}).values()]
    given += [(resolve_weights_path(weights), 'the SFD-IQA weights this run reads')]
    for path, what in given:
        if path and same(path):
            raise InputError(f"--csv '{csv_path}' is {what}; writing the scores there would replace it. Give another "
                             'file name.')


def _write_csv(path, results, failures):
    from ..utils.atomic import atomic_write_csv
    atomic_write_csv(path, [['image', 'sfd_iqa', 'error']] + [[p, f'{v:.6f}', ''] for p, v in results]
                     + [[p, '', e] for p, e in failures])
