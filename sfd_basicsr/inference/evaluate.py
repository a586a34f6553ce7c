"""A generator scored on test sets like the papers' tables (markdown + CSV), for ``basicsr evaluate``.

    basicsr evaluate -m MODEL --data Set5=datasets/Set5/GTmod12:datasets/Set5/LRbicx4 --data Urban100=GT/
                     --metrics lpips dists niqe sfd_iqa -o eval/

PSNR and SSIM on the Y channel with ``crop_border = scale`` (BasicSR's functions), then each pyiqa metric
(full-reference ones against the GT, the others on the SR image). A test set without an LR folder gets
MATLAB-style bicubic LR images made from its GT (BasicSR's ``imresize``), the GT cropped to a multiple of
the scale. A metric that cannot be built here (weights missing offline) is reported as unavailable with
the reason; the others still run.
"""
import os
import sys
import time

import numpy as np

from ..utils.atomic import atomic_write_csv, atomic_write_text
from ..utils.memory import DEFAULT_MAX_PIXELS, available_memory
from ..utils.errors import InputError, InputNotFound


def parse_test_set(text):
    """``NAME=GT_DIR[:LQ_DIR]`` -> (name, gt_dir, lq_dir or None)."""
    if '=' not in text:
        raise InputError(f"--data '{text}': expected NAME=GT_FOLDER[:LQ_FOLDER].")
    name, folders = text.split('=', 1)
    if not name.strip():
        raise InputError(f"--data '{text}': the test set needs a name before '=' (NAME=GT_FOLDER[:LQ_FOLDER]).")
    gt, _, lq = folders.partition(':')
    for folder in (gt, lq):
        if folder and not os.path.isdir(folder):
            raise InputNotFound(f"--data {name}: folder '{folder}' does not exist.")
    return name, gt, lq or None


def read_bgr8(path, max_pixels=DEFAULT_MAX_PIXELS):
    """An image through the commands' one reader, as the 8-bit BGR the papers' PSNR/SSIM are computed on.

    Grey becomes BGR, an alpha channel is dropped, 16-bit and float pixels are scaled to 0-255 and rounded.
    """
    import cv2

    from ..utils.image_io import pixel_peak, read_unchanged
    array = read_unchanged(path, max_pixels)
    if array.ndim == 2 or array.shape[2] == 1:
        array = cv2.cvtColor(array.reshape(array.shape[:2]), cv2.COLOR_GRAY2BGR)
    array = array[..., :3]
    if array.dtype != np.uint8:
        array = (np.clip(array.astype(np.float64) / pixel_peak(array.dtype, path), 0, 1) * 255).round()
    return np.ascontiguousarray(array.astype(np.uint8))


def check_pair(gt, sr, lq, scale):
    """A GT may exceed its SR by less than ``scale`` pixels a side (cut to a multiple of the scale, as BasicSR's
    modcrop); any other difference is an LR that is not this GT's, scored against the wrong pixels."""
    from ..utils.image_io import ImageReadError
    if not all(0 <= g - s < scale for g, s in zip(gt.shape[:2], sr.shape[:2])):
        raise ImageReadError(f'the GT ({gt.shape[1]}x{gt.shape[0]}) does not match the x{scale} output of its LR '
                             f'({lq.shape[1]}x{lq.shape[0]} -> {sr.shape[1]}x{sr.shape[0]}): a GT of '
                             f'{sr.shape[1]}-{sr.shape[1] + scale - 1} x {sr.shape[0]}-{sr.shape[0] + scale - 1} '
                             'pixels was expected; is the LR folder the one made from this GT?')


def smallest_side(scale):
    """The smallest GT side PSNR/SSIM can score: SSIM's 11x11 window inside a crop border of ``scale``."""
    return 2 * scale + 11


def _pairs(gt_dir, lq_dir, report=True):
    """``(gt, lq)`` paths: the LR image of the same name, else the first whose name starts with the GT's stem."""
    from ..utils.image_io import scan_images
    lq_paths = scan_images(lq_dir)[0] if lq_dir else []
    gt_paths, passed_over = scan_images(gt_dir)
    for path, why in passed_over if report else ():
        print(f'evaluate: passed over {path}: {why}', file=sys.stderr)
    if not gt_paths:
        raise InputNotFound(f"--data: no image files in '{gt_dir}'.")
    for gt_path in gt_paths:
        if not lq_dir:
            yield gt_path, None
            continue
        name = os.path.basename(gt_path)
        stem = os.path.splitext(name)[0]
        same_name = os.path.join(lq_dir, name)
        matches = [same_name] if same_name in lq_paths else [
            p for p in lq_paths if os.path.splitext(os.path.basename(p))[0].startswith(stem)]
        if not matches:
            raise InputNotFound(f"No LR image for '{gt_path}' in '{lq_dir}'.")
        yield gt_path, matches[0]


def evaluate(upscaler, test_sets, metrics, progress=True, rank=0, world=1, sfd_iqa_weights=None,
             max_pixels=DEFAULT_MAX_PIXELS):
    """``{set: {column: value}}`` and ``{metric: reason}`` for metrics that could not be built.

    ``sfd_iqa_weights``: the SFD-IQA weights file for the ``sfd_iqa`` metric (default: pyiqa's lookup).
    ``max_pixels``: larger images are skipped with their size; an LR image too large to upscale whole in the free
    memory is upscaled in tiles (``Upscaler.tile_that_fits``).

    ``rank`` of ``world`` processes (a torchrun launch) scores its share of each set's images
    (``distributed.shard``); every rank returns the results of all of them.
    """
    import cv2
    from basicsr.metrics import calculate_psnr, calculate_ssim
    from tqdm import tqdm

    from ..data.bicubic import bicubic_lr
    from ..iqa.pyiqa_metrics import MetricUnavailable, metric_options, pyiqa_metric
    from ..metrics import calculate_pyiqa
    from ..utils.distributed import gather, shard
    from ..utils.image_io import ImageReadError
    scale = upscaler.scale
    scorers, unavailable = {}, {}
    options = {metric: metric_options(metric, sfd_iqa_weights) for metric in metrics}
    for metric in metrics:
        try:
            scorers[metric] = pyiqa_metric(metric, upscaler.device, **options[metric])
        except MetricUnavailable as error:
            unavailable[metric] = str(error)
    results = {}
    for name, gt_dir, lq_dir in test_sets:
        samples, skipped, started = {}, {}, time.perf_counter()
        share = shard(enumerate(_pairs(gt_dir, lq_dir, report=rank == 0)), rank, world)
        for index, (gt_path, lq_path) in tqdm(share, desc=name, unit='image', disable=not progress):
            try:
                gt = read_bgr8(gt_path, max_pixels)
                if min(gt.shape[:2]) < smallest_side(scale):
                    raise ImageReadError(f'{gt.shape[1]}x{gt.shape[0]} is too small: PSNR/SSIM with crop border '
                                         f'{scale} need at least {smallest_side(scale)} pixels a side.')
                gt, lq = bicubic_lr(gt, scale) if lq_path is None else (gt, read_bgr8(lq_path, max_pixels))
                tile = upscaler.tile_that_fits(gt_path, lq.shape[0], lq.shape[1], 3, 1, available_memory())
                sr = upscaler.upscale_array(lq, tile=tile)
                check_pair(gt, sr, lq, scale)
                gt = gt[:sr.shape[0], :sr.shape[1]]
                if min(gt.shape[:2]) < smallest_side(scale):
                    raise ImageReadError(f'the scored area, {gt.shape[1]}x{gt.shape[0]} (the GT cropped to the '
                                         f'{sr.shape[1]}x{sr.shape[0]} output), is too small: at least '
                                         f'{smallest_side(scale)} pixels a side.')
                sample = {'PSNR-Y': calculate_psnr(sr, gt, scale, test_y_channel=True),
                          'SSIM-Y': calculate_ssim(sr, gt, scale, test_y_channel=True)}
                for metric in scorers:
                    sample[metric] = calculate_pyiqa(sr, gt, metric=metric, crop_border=scale,
                                                     device=upscaler.device, **options[metric])
            except (ImageReadError, FileNotFoundError, ValueError, RuntimeError, cv2.error) as error:
                skipped[index] = (gt_path, ' '.join(str(error).split()))
                tqdm.write(f'evaluate: skipped {gt_path}: {skipped[index][1]}', file=sys.stderr)
                continue
            samples[index] = sample
        shares = gather((samples, time.perf_counter() - started, skipped), world)
        samples = {index: sample for share, _, _ in shares for index, sample in share.items()}
        skipped = {index: entry for _, _, share in shares for index, entry in share.items()}
        ordered = [samples[index] for index in sorted(samples)]  # the single-process order, so means agree
        results[name] = {column: float(np.mean([s[column] for s in ordered])) for column in ordered[0]} \
            if ordered else {}
        results[name]['images'] = len(ordered)
        results[name]['skipped'] = [skipped[index] for index in sorted(skipped)]
        results[name]['seconds'] = max(seconds for _, seconds, _ in shares)
        results[name]['images_per_process'] = [len(share) + len(failed) for share, _, failed in shares]
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
    notes += [f'- {name}: {len(row["skipped"])} image(s) not scored: '
              + '; '.join(f'{os.path.basename(path)} ({why})' for path, why in row['skipped'])
              for name, row in results.items() if row.get('skipped')]
    return '\n'.join(lines + ([''] + notes if notes else [])) + '\n'


def write_reports(folder, results, unavailable, lower_better, metrics, model, upscaled='whole'):
    """``results.md`` (the table, and how the outputs were made: ``upscaled``) and ``results.csv`` in ``folder``."""
    table = markdown_table(results, unavailable, lower_better, metrics)
    atomic_write_text(os.path.join(folder, 'results.md'), f'# Evaluation of `{model}`\n\nPSNR/SSIM on Y, crop border '
                      f'= scale. Upscaled {upscaled}.\n\n{table}')
    rows = [['test_set', 'metric', 'value', 'note']]
    for name, row in results.items():
        rows += [[name, column, f'{row[column]:.6f}' if column in row else '', unavailable.get(column, '')]
                 for column in ['PSNR-Y', 'SSIM-Y'] + list(metrics)]
        skipped = row.get('skipped', ())
        rows += [[name, 'images', row['images'], ''],
                 [name, 'skipped', len(skipped), '; '.join(f'{path}: {why}' for path, why in skipped)]]
    atomic_write_csv(os.path.join(folder, 'results.csv'), rows)
    return table
