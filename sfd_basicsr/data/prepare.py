"""A folder of HR photos made into what BasicSR's paired options expect (``basicsr prepare``): HR sub-images and their
LR sub-images, a meta-info file, optionally LMDB, and a validation split, as BasicSR's own data-preparation scripts
make DF2K (``scripts/data_preparation`` in BasicSR's repository, which a pip install does not ship).

Each HR image is cropped to a multiple of the scale; its LR image is BasicSR's MATLAB-style bicubic ``imresize``
of it; both are cut into sub-images at the same places (``crop_size``, ``step``, ``thresh_size`` on HR; divided by
the scale on LR), named ``<stem>_s001.png``... as BasicSR's ``extract_subimages.py`` names them. The validation
images are whole (modcrop) with their bicubic LR, like Set5's ``GTmod12`` / ``LRbicx4``. Every file is written whole;
a file already there (from an interrupted run) is complete and kept, so a re-run goes on where it stopped.
"""
import contextlib
import os
import sys

import numpy as np

from ..utils.errors import InputError
from ..utils.image_io import ImageReadError, read_unchanged, scan_images, write_image
from ..utils.memory import DEFAULT_MAX_PIXELS
from .bicubic import bicubic_lr

DEFAULT_CROP_SIZE, DEFAULT_STEP, DEFAULT_THRESH_SIZE = 480, 240, 0  # BasicSR's settings for DF2K's HR images


def crop_positions(length, crop_size, step, thresh_size):
    """Start offsets of the crops along one side, as BasicSR's ``extract_subimages.py`` places them: every ``step``,
    plus one flush with the end when more than ``thresh_size`` pixels would be left over."""
    if length < crop_size:
        return []
    positions = list(range(0, length - crop_size + 1, step))
    if length - (positions[-1] + crop_size) > thresh_size:
        positions.append(length - crop_size)
    return positions


def _as_bgr8(array, path):
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ImageReadError(f"'{path}' is not an 8-bit colour image (got {array.dtype}, shape {array.shape}); "
                             'SR training sets are 8-bit RGB.')
    return array


def prepare(hr_folder, out, scale=4, crop_size=DEFAULT_CROP_SIZE, step=DEFAULT_STEP, thresh_size=DEFAULT_THRESH_SIZE,
            val_count=0, lmdb=False, progress=True, max_pixels=DEFAULT_MAX_PIXELS):
    """Prepare ``hr_folder`` into ``out``; return ``(paths, failures)``: the folders and files made, keyed as the
    options name them, and ``[(image, why)]`` of the images skipped."""
    from tqdm import tqdm
    if crop_size % scale or step % scale or thresh_size % scale:
        raise InputError(f'--crop-size, --step and --thresh-size must be multiples of the scale {scale} (the LR '
                         f'sub-images are cut at a quarter of them); got {crop_size}, {step}, {thresh_size}.')
    images, passed_over = scan_images(hr_folder)
    for path, why in passed_over:
        print(f'prepare: passed over {path}: {why}', file=sys.stderr)
    if len(images) <= val_count:
        raise InputError(f"-i '{hr_folder}' holds {len(images)} image(s); --val {val_count} would leave none to "
                         'train on.')
    val_images, train_images = images[:val_count], images[val_count:]
    paths = {'train_gt': os.path.join(out, 'train', 'hr_sub'),
             'train_lq': os.path.join(out, 'train', f'lr_x{scale}_sub'),
             'meta_info': os.path.join(out, 'train', 'meta_info.txt')}
    if val_count:
        paths.update(val_gt=os.path.join(out, 'val', 'gt_mod'), val_lq=os.path.join(out, 'val', f'lr_x{scale}'))
    made = _new_folders([paths[key] for key in ('train_gt', 'train_lq', 'val_gt', 'val_lq') if key in paths])
    failures, names = [], []
    for path in tqdm(train_images, unit='image', desc='prepare train', disable=not progress):
        try:
            names += _sub_images(path, paths, scale, crop_size, step, thresh_size, max_pixels)
        except (ValueError, OSError) as error:
            failures.append((path, str(error)))
            tqdm.write(f'prepare: skipped {path}: {error}', file=sys.stderr)
    for path in tqdm(val_images, unit='image', desc='prepare val', disable=not progress):
        try:
            _whole_pair(path, paths, scale, max_pixels)
        except (ValueError, OSError) as error:
            failures.append((path, str(error)))
            tqdm.write(f'prepare: skipped {path}: {error}', file=sys.stderr)
    if not names:  # a meta_info of no lines: BasicSR's first epoch would fail far from the cause
        for folder in reversed(made):
            with contextlib.suppress(OSError):  # a folder holding something (validation pairs) stays
                os.rmdir(folder)
        raise InputError(f"-i '{hr_folder}': none of its {len(train_images)} training image(s) gave a sub-image "
                         '(each was skipped, said above); nothing to train on.')
    from ..utils.atomic import atomic_write_text
    atomic_write_text(paths['meta_info'], ''.join(f'{name}\n' for name in sorted(names)))
    if lmdb:
        paths.update(_lmdb(paths, sorted(names)))
    return paths, failures


def _new_folders(leaves):
    """Make the folders ``leaves``; those this made, parents first, to remove if nothing is written."""
    made = []
    for leaf in leaves:
        missing, folder = [], os.path.abspath(leaf)
        while not os.path.isdir(folder):
            missing.insert(0, folder)
            folder = os.path.dirname(folder)
        os.makedirs(leaf, exist_ok=True)
        made += [folder for folder in missing if folder not in made]
    return made


def _sub_images(path, paths, scale, crop_size, step, thresh_size, max_pixels):
    """Cut one HR image and its bicubic LR image into sub-images; their file names."""
    stem = os.path.splitext(os.path.basename(path))[0]
    hr = _as_bgr8(read_unchanged(path, max_pixels), path)
    hr, lr = bicubic_lr(hr, scale)  # HR cropped to a multiple of the scale
    rows = crop_positions(hr.shape[0], crop_size, step, thresh_size)
    cols = crop_positions(hr.shape[1], crop_size, step, thresh_size)
    if not rows or not cols:
        raise InputError(f'{hr.shape[1]}x{hr.shape[0]} is smaller than one {crop_size} px sub-image (--crop-size).')
    names, index = [], 0
    for top in rows:
        for left in cols:
            index += 1
            name = f'{stem}_s{index:03d}.png'
            names.append(name)
            gt_file, lq_file = os.path.join(paths['train_gt'], name), os.path.join(paths['train_lq'], name)
            if not os.path.isfile(gt_file):
                write_image(gt_file, np.ascontiguousarray(hr[top:top + crop_size, left:left + crop_size]))
            if not os.path.isfile(lq_file):
                t, left_lr, size = top // scale, left // scale, crop_size // scale
                write_image(lq_file, np.ascontiguousarray(lr[t:t + size, left_lr:left_lr + size]))
    return names


def _whole_pair(path, paths, scale, max_pixels):
    name = os.path.splitext(os.path.basename(path))[0] + '.png'
    gt_file, lq_file = os.path.join(paths['val_gt'], name), os.path.join(paths['val_lq'], name)
    if os.path.isfile(gt_file) and os.path.isfile(lq_file):
        return
    gt, lr = bicubic_lr(_as_bgr8(read_unchanged(path, max_pixels), path), scale)
    write_image(gt_file, gt)
    write_image(lq_file, lr)


def _lmdb(paths, names):
    """The training sub-images as LMDB, by BasicSR's own writer (``make_lmdb_from_imgs``)."""
    from basicsr.utils.lmdb_util import make_lmdb_from_imgs
    made = {}
    for key in ('train_gt', 'train_lq'):
        target = paths[key] + '.lmdb'
        if not os.path.isfile(os.path.join(target, 'meta_info.txt')):
            make_lmdb_from_imgs(paths[key], target, names, [os.path.splitext(n)[0] for n in names],
                                multiprocessing_read=False)
        made[f'{key}_lmdb'] = target
    return made


def force_yml(paths):
    """BasicSR's ``--force_yml`` words that point a shipped paired options file at what ``prepare`` made."""
    lmdb = 'train_gt_lmdb' in paths
    words = [f"datasets:train:dataroot_gt={os.path.abspath(paths['train_gt_lmdb' if lmdb else 'train_gt'])}",
             f"datasets:train:dataroot_lq={os.path.abspath(paths['train_lq_lmdb' if lmdb else 'train_lq'])}"]
    if lmdb:
        words.append('datasets:train:io_backend:type=lmdb')
    else:
        words.append(f"datasets:train:meta_info_file={os.path.abspath(paths['meta_info'])}")
    if 'val_gt' in paths:
        words += [f"datasets:val:dataroot_gt={os.path.abspath(paths['val_gt'])}",
                  f"datasets:val:dataroot_lq={os.path.abspath(paths['val_lq'])}"]
    return words
