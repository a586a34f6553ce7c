"""``basicsr evaluate``: score a generator on test sets like the papers' tables (markdown + CSV).

    basicsr evaluate -m MODEL --data Set5=datasets/Set5/GTmod12:datasets/Set5/LRbicx4 --data Urban100=GT/
                     --metrics lpips dists niqe sfd_iqa -o eval/

PSNR and SSIM on the Y channel with ``crop_border = scale`` (BasicSR's functions), then each pyiqa metric
(full-reference ones against the GT, the others on the SR image). A test set without an LR folder gets
MATLAB-style bicubic LR images made from its GT (BasicSR's ``imresize``), the GT cropped to a multiple of
the scale. A metric that cannot be built here (weights missing offline) is reported as unavailable with
the reason; the others still run.
"""
import argparse
import csv
import io
import os
import sys
import time

import numpy as np

from ..atomic import atomic_write


def parse_test_set(text):
    """``NAME=GT_DIR[:LQ_DIR]`` -> (name, gt_dir, lq_dir or None)."""
    if '=' not in text:
        raise ValueError(f"--data '{text}': expected NAME=GT_FOLDER[:LQ_FOLDER].")
    name, folders = text.split('=', 1)
    gt, _, lq = folders.partition(':')
    for folder in (gt, lq):
        if folder and not os.path.isdir(folder):
            raise FileNotFoundError(f"--data {name}: folder '{folder}' does not exist.")
    return name, gt, lq or None


def bicubic_lr(gt, scale):
    """GT cropped to a multiple of ``scale`` and its MATLAB-bicubic LR image (uint8, BGR)."""
    from basicsr.utils.matlab_functions import imresize
    height, width = gt.shape[0] - gt.shape[0] % scale, gt.shape[1] - gt.shape[1] % scale
    gt = gt[:height, :width]
    lr = imresize(gt.astype(np.float32) / 255., 1 / scale)
    return gt, (np.clip(lr, 0, 1) * 255).round().astype(np.uint8)


def _pairs(gt_dir, lq_dir):
    """``(gt, lq)`` paths: the LR image of the same name, else the first whose name starts with the GT's stem."""
    from ..iqa.image_io import list_images
    lq_paths = list_images(lq_dir) if lq_dir else []
    for gt_path in list_images(gt_dir):
        if not lq_dir:
            yield gt_path, None
            continue
        name = os.path.basename(gt_path)
        stem = os.path.splitext(name)[0]
        same_name = os.path.join(lq_dir, name)
        matches = [same_name] if same_name in lq_paths else [
            p for p in lq_paths if os.path.splitext(os.path.basename(p))[0].startswith(stem)]
        if not matches:
            raise FileNotFoundError(f"No LR image for '{gt_path}' in '{lq_dir}'.")
        yield gt_path, matches[0]


def evaluate(upscaler, test_sets, metrics, progress=True, rank=0, world=1):
    """``{set: {column: value}}`` and ``{metric: reason}`` for metrics that could not be built.

    ``rank`` of ``world`` processes (a torchrun launch) scores its share of each set's images
    (``distributed.shard``); every rank returns the results of all of them.
    """
    import cv2
    from basicsr.metrics import calculate_psnr, calculate_ssim
    from tqdm import tqdm

    from ..distributed import gather, shard
    from ..metrics import MetricUnavailable, calculate_pyiqa, pyiqa_metric
    scale = upscaler.scale
    scorers, unavailable = {}, {}
    for metric in metrics:
        try:
            scorers[metric] = pyiqa_metric(metric, upscaler.device)
        except MetricUnavailable as error:
            unavailable[metric] = str(error)
    results = {}
    for name, gt_dir, lq_dir in test_sets:
        samples, started = {}, time.perf_counter()
        share = shard(enumerate(_pairs(gt_dir, lq_dir)), rank, world)
        for index, (gt_path, lq_path) in tqdm(share, desc=name, unit='image', disable=not progress):
            gt = cv2.imread(gt_path, cv2.IMREAD_COLOR)
            if lq_path is None:
                gt, lq = bicubic_lr(gt, scale)
            else:
                lq = cv2.imread(lq_path, cv2.IMREAD_COLOR)
            sr = upscaler.upscale_array(lq)
            gt = gt[:sr.shape[0], :sr.shape[1]]
            sample = {'PSNR-Y': calculate_psnr(sr, gt, scale, test_y_channel=True),
                      'SSIM-Y': calculate_ssim(sr, gt, scale, test_y_channel=True)}
            for metric in scorers:
                sample[metric] = calculate_pyiqa(sr, gt, metric=metric, crop_border=scale, device=upscaler.device)
            samples[index] = sample
        shares = gather((samples, time.perf_counter() - started), world)
        samples = {index: sample for share, _ in shares for index, sample in share.items()}
        ordered = [samples[index] for index in sorted(samples)]  # the single-process order, so means agree
        results[name] = {column: float(np.mean([s[column] for s in ordered])) for column in ordered[0]} \
            if ordered else {}
        results[name]['images'] = len(ordered)
        results[name]['seconds'] = max(seconds for _, seconds in shares)
        results[name]['images_per_process'] = [len(share) for share, _ in shares]
    return results, unavailable, {m: s.lower_better for m, s in scorers.items()}


def markdown_table(results, unavailable, lower_better, metrics):
    arrows = {'PSNR-Y': '↑', 'SSIM-Y': '↑', **{m: '↓' if low else '↑' for m, low in lower_better.items()}}
    columns = ['PSNR-Y', 'SSIM-Y'] + list(metrics)
    lines = ['| test set | images | ' + ' | '.join(f'{c} {arrows.get(c, "")}'.strip() for c in columns) + ' |',
             '|---|---:|' + '---:|' * len(columns)]
    for name, row in results.items():
        cells = [f'{row[c]:.4f}' if c in row else 'unavailable' for c in columns]
        lines.append(f"| {name} | {row['images']} | " + ' | '.join(cells) + ' |')
    notes = [f'- {metric}: unavailable ({reason})' for metric, reason in unavailable.items()]
    return '\n'.join(lines + ([''] + notes if notes else [])) + '\n'


def write_reports(folder, results, unavailable, lower_better, metrics, model):
    os.makedirs(folder, exist_ok=True)
    table = markdown_table(results, unavailable, lower_better, metrics)
    atomic_write(os.path.join(folder, 'results.md'), lambda tmp: open(tmp, 'w').write(
        f'# Evaluation of `{model}`\n\nPSNR/SSIM on Y, crop border = scale.\n\n{table}'))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(['test_set', 'metric', 'value', 'note'])
    for name, row in results.items():
        for column in ['PSNR-Y', 'SSIM-Y'] + list(metrics):
            writer.writerow([name, column, f'{row[column]:.6f}' if column in row else '', unavailable.get(column, '')])
    atomic_write(os.path.join(folder, 'results.csv'), lambda tmp: open(tmp, 'w', newline='').write(buffer.getvalue()))
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(prog='basicsr evaluate', description=__doc__.splitlines()[0].strip('`'))
    parser.add_argument('-m', '--model', required=True, help='experiments/<name> folder or generator weights file')
    parser.add_argument('--data', action='append', required=True, metavar='NAME=GT[:LQ]',
                        help='a test set: its GT folder and, optionally, its LR folder (repeat for several)')
    parser.add_argument('--metrics', nargs='*', default=['lpips', 'dists', 'niqe', 'musiq', 'clipiqa', 'sfd_iqa'],
                        help='pyiqa metrics besides PSNR/SSIM (default: lpips dists niqe musiq clipiqa sfd_iqa)')
    parser.add_argument('-o', '--output', default='evaluation', help='folder for results.md and results.csv')
    parser.add_argument('--tile', type=int, default=0, help='upscale in tiles of this size (0: whole images)')
    parser.add_argument('--device', default=None, help='cpu, cuda, ... (default: cuda if available)')
    parser.add_argument('-q', '--quiet', action='store_true', help='no progress bars')
    args = parser.parse_args(argv)
    from ..distributed import join_for_inference
    from .generator import GeneratorLoadError, load_generator
    from .upscaler import Upscaler
    rank, world = join_for_inference()  # under torchrun each process scores a share; rank 0 writes the tables
    try:
        test_sets = [parse_test_set(text) for text in args.data]
        upscaler = Upscaler(load_generator(args.model), args.device, tile=args.tile)
        results, unavailable, lower_better = evaluate(upscaler, test_sets, args.metrics,
                                                      progress=not args.quiet and rank == 0, rank=rank, world=world)
    except (GeneratorLoadError, FileNotFoundError, ValueError) as error:
        print(f'basicsr evaluate: {error}', file=sys.stderr)
        return 2
    if rank != 0:
        return 0
    if world > 1:
        for name, row in results.items():
            print(f"basicsr evaluate: {name}: {row['images']} image(s) on {world} processes "
                  f"({', '.join(map(str, row['images_per_process']))})", file=sys.stderr)
    print(write_reports(args.output, results, unavailable, lower_better, args.metrics, args.model))
    print(f"basicsr evaluate: wrote {os.path.join(args.output, 'results.md')} and results.csv", file=sys.stderr)
    return 0
