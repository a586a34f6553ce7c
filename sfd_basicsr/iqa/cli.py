"""The ``sfd-iqa`` command: score images (optionally saving quality maps) and export trained weights.

    sfd-iqa score -t images/ [--weights sfd_iqa.pth] [--maps maps/] [--csv scores.csv]
    sfd-iqa export experiments/<name> -o sfd_iqa.pth [--fusion-weight 0.5]
    sfd-iqa correlate --images DIR --mos mos.csv [--metrics sfd_iqa niqe piqe ...]

``pyiqa sfd_iqa -t images/`` gives the same scores; this command also reads 16-bit files at full
precision, keeps going past unreadable files, and draws quality maps.
"""
import argparse
import os
import sys

import numpy as np
import torch


def score(args):
    from ..distributed import inference_processes
    with inference_processes() as (rank, world):  # under torchrun each process scores a share; rank 0 reports
        return _score(args, rank, world)


def _score(args, rank, world):
    from tqdm import tqdm

    from ..atomic import check_writable_folder
    from ..distributed import default_device, gather, shard
    from ..image_io import ImageReadError, read_image, scan_images
    from .quality_map import quality_map_picture, write_png
    from .sfd_iqa_arch import SFDIQA
    if args.maps:  # outputs that cannot be written stop the run before any network is built
        check_writable_folder(args.maps, '--maps')
    if args.csv and rank == 0:
        check_writable_folder(os.path.dirname(os.path.abspath(args.csv)), '--csv')
    device = default_device(args.device)
    net = SFDIQA(args.weights, fusion_weight=args.fusion_weight, clip_pretrained=args.clip_pretrained,
                 tile_size=args.tile_size).to(device)
    paths, passed_over = scan_images(args.target)
    for path, why in passed_over if rank == 0 else ():
        print(f'sfd-iqa: passed over {path}: {why}', file=sys.stderr)
    if not paths:
        print(f"sfd-iqa: no image files in '{args.target}'.", file=sys.stderr)
        return 1
    scores, failures = {}, []
    for path in tqdm(shard(paths, rank, world), unit='image', desc='sfd_iqa', disable=args.quiet or rank != 0):
        try:
            image = read_image(path).to(device)
            with torch.no_grad():
                value, quality_map = net(image, return_map=True)
        except (ImageReadError, ValueError, FileNotFoundError) as error:
            failures.append((path, str(error)))
            tqdm.write(f'sfd-iqa: skipped {path}: {error}', file=sys.stderr)
            continue
        scores[path] = value.item()
        if args.maps:
            stem = os.path.splitext(os.path.basename(path))[0]
            picture = quality_map_picture(image, quality_map, value.item(), args.map_size)
            write_png(os.path.join(args.maps, f'{stem}_sfd_map.png'), picture)
    shares = gather((scores, failures), world)
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


def _write_csv(path, results, failures):
    from ..atomic import atomic_write_csv
    atomic_write_csv(path, [['image', 'sfd_iqa', 'error']] + [[p, f'{v:.6f}', ''] for p, v in results]
                     + [[p, '', e] for p, e in failures])


def export(args):
    from .weights import FROM_TRAINING_RUN, export_experiment
    clip_pretrained = FROM_TRAINING_RUN if args.clip_pretrained is None else args.clip_pretrained
    weights = export_experiment(args.experiment, args.output, args.fusion_weight, clip_pretrained)
    trained = weights['trained_iter']
    if trained is None:
        print(f"sfd-iqa export: the checkpoints in '{args.experiment}' do not record their iteration; check that "
              'the run trained before relying on this export.', file=sys.stderr)
    print(f"Exported SFD-IQA weights from iteration {'unknown' if trained is None else trained} "
          f"(CLIP {weights['clip_model']}, weights '{weights['clip_pretrained']}', "
          f"fusion weight {weights['fusion_weight']}) to {args.output}")
    return 0


def build_parser():
    from .quality_map import DEFAULT_MAX_SIDE
    from .sfd_iqa_arch import DEFAULT_TILE_SIZE
    from .weights import DEFAULT_FUSION_WEIGHT, WEIGHTS_ENV
    parser = argparse.ArgumentParser(prog='sfd-iqa', description='SFD-IQA: opinion-unaware no-reference IQA.')
    commands = parser.add_subparsers(dest='command', required=True)
    s = commands.add_parser('score', help='score an image or a folder of images (higher is better)')
    s.add_argument('-t', '--target', required=True, help='image file or folder')
    s.add_argument('--weights', default=None, help=f'SFD-IQA weights file (default: ${WEIGHTS_ENV}, then pyiqa\'s '
                   'weight folder)')
    s.add_argument('--fusion-weight', type=float, default=None, help='w of the score; default: the file\'s')
    s.add_argument('--clip-pretrained', default=None, help="CLIP weights (tag, file or 'none'); default: the file's")
    s.add_argument('--tile-size', type=int, default=DEFAULT_TILE_SIZE, help='largest side scored in one pass')
    s.add_argument('--device', default=None, help='cpu, cuda, cuda:1, ... (default: cuda if available)')
    s.add_argument('--maps', default=None, help='folder for quality-map pictures (<name>_sfd_map.png)')
    s.add_argument('--map-size', type=int, default=DEFAULT_MAX_SIDE,
                   help=f'longest side of each map panel in pixels (default {DEFAULT_MAX_SIDE})')
    s.add_argument('--csv', default=None, help='also write the scores to this CSV file')
    s.add_argument('-q', '--quiet', action='store_true', help='no progress bar')
    s.set_defaults(run=score)
    e = commands.add_parser('export', help='export a trained SFD experiment as one SFD-IQA weights file')
    e.add_argument('experiment', help='experiments/<name> folder of an SFD training run')
    e.add_argument('-o', '--output', required=True, help='the SFD-IQA weights file to write')
    e.add_argument('--fusion-weight', type=float, default=DEFAULT_FUSION_WEIGHT, help='w (default 0.5)')
    e.add_argument('--clip-pretrained', default=None,
                   help='CLIP weights scorers should load (default: those of the training options)')
    e.set_defaults(run=export)
    from .correlate import add_parser as add_correlate
    add_correlate(commands)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    import sfd_basicsr  # noqa: F401  (basicsr compatibility before the networks are imported)
    from ..atomic import OutputWriteError
    from .weights import WeightsError
    try:
        return args.run(args)
    except (WeightsError, FileNotFoundError, ValueError) as error:
        print(f'sfd-iqa {args.command}: {error}', file=sys.stderr)
        return 2
    except OutputWriteError as error:
        print(f'sfd-iqa {args.command}: stopped: {error}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
