"""How well no-reference metrics agree with human opinion on an image set with MOS.

    sfd-iqa correlate --images tid2013/distorted_images --mos mos.csv --metrics sfd_iqa niqe piqe clipiqa
    sfd-iqa correlate --dataset tid2013 --data-root datasets/ --metrics sfd_iqa piqe

``correlate`` gives SROCC, PLCC and KRCC (pyiqa's correlation functions) and seconds per image for each
metric. Scores of lower-is-better metrics are negated first, so every correlation reads "higher is better". A
metric that cannot be built here (weights missing offline) is listed as unavailable with the reason.
"""
import csv
import math
import os
import sys
import time

from ..utils.errors import InputError

NAME_COLUMNS = ('image_name', 'image', 'img_name', 'name', 'filename', 'file', 'dis_img_path')
SCORE_COLUMNS = ('mos', 'dmos', 'score', 'mos_zscore', 'mos_label')
DEFAULT_METRICS = ('sfd_iqa', 'niqe', 'piqe', 'clipiqa', 'qualiclip')


FEW_IMAGES = 10  # fewer points: a correlation is mostly chance


def _mos_rows(path):
    """``[(line number, row), ...]`` of a CSV file (UTF-8, with or without the byte-order mark spreadsheets write)."""
    try:
        with open(path, newline='', encoding='utf-8-sig') as f:
            reader = csv.DictReader(f)
            return [(reader.line_num, row) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise InputError(f"--mos '{path}': cannot be read as a UTF-8 CSV file ({reason}).") from None


def _score(path, line, column, value):
    try:
        score = float(value)
    except (TypeError, ValueError):
        score = None
    if score is None or not math.isfinite(score):
        raise InputError(f"--mos '{path}', line {line}: the {column} column holds "
                         f"{'nothing' if value in (None, '') else repr(value)}, not a finite number.")
    return score


def read_mos_csv(path, images_dir, name_column=None, score_column=None):
    """``[(image_path, mos), ...]`` for the rows of ``path`` whose image is in ``images_dir``, and the rows missing."""
    if not os.path.isdir(images_dir):
        raise InputError(f"--images '{images_dir}' is not a folder.")
    rows = _mos_rows(path)
    if not rows:
        raise InputError(f"--mos '{path}' has no rows under its header.")
    first = rows[0][1]
    header = {str(name).lower(): name for name in first}
    name_column = name_column or next((header[n] for n in NAME_COLUMNS if n in header), list(first)[0])
    score_column = score_column or next((header[n] for n in SCORE_COLUMNS if n in header), None)
    if score_column is None or name_column not in first or score_column not in first:
        raise InputError(f"--mos '{path}': cannot tell the image-name and score columns apart ({list(first)}); give "
                         '--name-column and --score-column.')
    pairs, missing, lines = [], [], {}
    for line, row in rows:
        if not row[name_column]:
            raise InputError(f"--mos '{path}', line {line}: the {name_column} column holds no image name.")
        name = os.path.basename(row[name_column])
        if name in lines:  # it would weigh twice in every correlation
            raise InputError(f"--mos '{path}', lines {lines[name]} and {line}: the image {name} is listed twice; give "
                             'each image one score (the mean of its ratings).')
        lines[name] = line
        image = os.path.join(images_dir, name)
        score = _score(path, line, score_column, row[score_column])
        (pairs if os.path.isfile(image) else missing).append((image, score))
    return pairs, missing


def pyiqa_dataset_pairs(name, data_root):
    """``[(image_path, mos), ...]`` of a pyiqa dataset kept under ``data_root`` (meta-info file included)."""
    import pyiqa
    dataset = pyiqa.load_dataset(name, data_root=data_root)
    # no-reference sets list [image, mos], full-reference ones [reference, image, mos]
    return [(str(row[-2]), float(row[-1])) for row in dataset.paths_mos], []


def correlate(pairs, metrics, device=None, weights=None, progress=True):
    """``({metric: {'srocc', 'plcc', 'krcc', 'seconds_per_image'}}, {metric: reason}, {metric: [scores]})``."""
    import numpy as np
    import torch
    from pyiqa.metrics.correlation_coefficient import calculate_krcc, calculate_plcc, calculate_srcc
    from tqdm import tqdm

    from ..utils.distributed import default_device
    from ..utils.image_io import read_image
    from .pyiqa_metrics import MetricUnavailable, metric_options, pyiqa_metric
    if len(pairs) < 3:
        raise InputError(f'correlations need at least 3 images with MOS; found {len(pairs)}.')
    if len(pairs) < FEW_IMAGES:
        print(f'sfd-iqa correlate: warning: only {len(pairs)} images with MOS; correlations of so few points mean '
              f'little (a benchmark has hundreds).', file=sys.stderr)
    mos = np.array([score for _, score in pairs])
    device = default_device(device)
    results, unavailable, scores, scorers = {}, {}, {}, {}
    for metric in metrics:  # every metric built before any is scored: a typo (UnknownMetric) stops no finished work
        try:
            scorers[metric] = pyiqa_metric(metric, device, **metric_options(metric, weights))
        except MetricUnavailable as error:
            unavailable[metric] = str(error)
    for metric, scorer in scorers.items():
        values, started = [], time.perf_counter()
        for path, _ in tqdm(pairs, desc=metric, unit='image', disable=not progress):
            with torch.no_grad():
                values.append(scorer(read_image(path).to(device)).item())
        seconds = (time.perf_counter() - started) / len(pairs)
        oriented = -np.array(values) if scorer.lower_better else np.array(values)
        scores[metric] = values
        results[metric] = {'srocc': float(calculate_srcc(oriented, mos)), 'plcc': float(calculate_plcc(oriented, mos)),
                           'krcc': float(calculate_krcc(oriented, mos)), 'seconds_per_image': seconds}
    return results, unavailable, scores


def table(results, unavailable, count):
    lines = [f'{count} images; lower-is-better metrics negated before correlating.', '',
             '| metric | SROCC | PLCC | KRCC | s/image |', '|---|---:|---:|---:|---:|']
    for metric, row in results.items():
        lines.append(f"| {metric} | {row['srocc']:.4f} | {row['plcc']:.4f} | {row['krcc']:.4f} | "
                     f"{row['seconds_per_image']:.3f} |")
    for metric, reason in unavailable.items():
        lines.append(f'| {metric} | unavailable | | | |')
    notes = [f'- {metric}: {reason}' for metric, reason in unavailable.items()]
    return '\n'.join(lines + ([''] + notes if notes else []))


def write_scores_csv(path, pairs, scores):
    from ..utils.atomic import atomic_write_csv
    atomic_write_csv(path, [['image', 'mos'] + list(scores)] + [
        [image, mos] + [f'{scores[m][i]:.6f}' for m in scores] for i, (image, mos) in enumerate(pairs)])
