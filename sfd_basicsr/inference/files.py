"""Upscale image files: where outputs go, reading and writing them safely, skipping unreadable files."""
import os
import sys

import cv2
import numpy as np

from ..utils.errors import InputError, InputNotFound
from ..utils.image_io import FOLDER_NOT_SEARCHED, IMAGE_EXTENSIONS, read_unchanged, scan_images, write_image
from ..utils.memory import DEFAULT_MAX_PIXELS, available_memory, check_pixels, image_header

LOSSLESS_EXTENSION = '.png'  # for alpha or 16-bit results that the input's format cannot hold
SWITCHED_TO_LOSSLESS = ('.jpg', '.jpeg', '.webp', '.bmp', '.ppm', '.pgm')


class OutputPathError(InputError):
    """Outputs that would overwrite an input or each other."""


def _extension(input_path, ext):
    return os.path.splitext(input_path)[1].lower() if ext == 'auto' else '.' + ext.lower().lstrip('.')


def _output_file(input_path, output_dir, suffix, ext, lossless=False):
    """Where ``input_path``'s result goes: its stem, ``suffix`` and extension, PNG where the result needs
    ``lossless`` (alpha or more than 8 bits) that the extension's format cannot hold."""
    stem = os.path.splitext(os.path.basename(input_path))[0]
    out_ext = _extension(input_path, ext)
    if lossless and out_ext in SWITCHED_TO_LOSSLESS:
        out_ext = LOSSLESS_EXTENSION
    return os.path.join(output_dir, f'{stem}{suffix}{out_ext}')


def output_path(input_path, output_dir, array, suffix='', ext='auto'):
    needs_lossless = array.dtype != np.uint8 or (array.ndim == 3 and array.shape[2] == 4)
    return _output_file(input_path, output_dir, suffix, ext, needs_lossless)


def output_folder(input_path, root, output_dir):
    """The folder of ``input_path``'s result: the sub-folder of ``output_dir`` that mirrors its place under ``root``
    (the ``-i`` folder; ``--recursive``), ``output_dir`` itself for the images directly in it or without a ``root``
    (a single file given)."""
    if root is None:
        return output_dir
    relative = os.path.relpath(os.path.dirname(input_path), root)
    return output_dir if relative == os.curdir else os.path.join(output_dir, relative)  # no normpath: '..' and links


def planned_outputs(inputs, output_dir, suffix='', ext='auto', root=None):
    """Refuse, before any work, outputs that would overwrite an input (same folder, no suffix) or collide.

    ``root``: the folder the inputs were found in, whose sub-folders the outputs mirror (``output_folder``).
    Returns the inputs' real paths, for the per-file check once the output format is known.
    """
    sources = {os.path.realpath(path) for path in inputs}
    seen = {}
    for path in inputs:
        folder = output_folder(path, root, output_dir)
        target = _output_file(path, folder, suffix, ext)
        if os.path.realpath(target) in sources:
            raise OutputPathError(f"Output '{target}' would overwrite the input '{path}': choose another output "
                                  'folder or give a --suffix.')
        if _extension(path, ext) in SWITCHED_TO_LOSSLESS:  # the header tells whether it will be written as PNG
            target = _output_file(path, folder, suffix, ext, _header_needs_lossless(path))
        real = os.path.realpath(target)
        if real in seen:
            advice = 'give --ext auto (each keeps its own extension), or ' if ext != 'auto' else ''
            raise OutputPathError(f"'{seen[real]}' and '{path}' would both be written to '{target}'; {advice}"
                                  'rename one of them or upscale them into different folders.')
        seen[real] = path
    return sources


def _make_folder(folder):
    """A mirrored sub-folder of ``-o``; one that cannot be made fails every file after it, as a full disk does."""
    from ..utils.atomic import OutputWriteError
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as error:
        raise OutputWriteError(f"cannot make the output folder '{folder}' ({error.strerror or error}).") from None


def _header_needs_lossless(path):
    """Whether the header says the result will have alpha or more than 8 bits (no readable header: judged later,
    from the result, by ``output_path``)."""
    header = image_header(path) if os.path.isfile(path) else None
    return header is not None and (header[2] == 4 or header[3] > 1)


def _tile_admitted(upscaler, path, max_pixels):
    """The tile side to upscale ``path`` with (``Upscaler.tile_that_fits``), said when it is not the one asked for."""
    header = image_header(path) if os.path.isfile(path) else None
    if header is None:
        return None  # no header Pillow reads: the decoder's own checks apply
    height, width, channels, sample_bytes = header
    check_pixels(path, height, width, max_pixels)
    tile = upscaler.tile_that_fits(path, height, width, channels, sample_bytes, available_memory())
    if tile != upscaler.tile:
        print(f'upscale: {path} ({width}x{height}) does not fit in memory whole: upscaling it in tiles of {tile} px',
              file=sys.stderr)
    return tile


def upscale_files(upscaler, target, output_dir, suffix='', ext='auto', outscale=None, progress=True, rank=0, world=1,
                  max_pixels=DEFAULT_MAX_PIXELS, recursive=False):
    """Upscale an image file or every image of a folder into ``output_dir`` (``recursive``: and of its sub-folders,
    each result in the sub-folder of ``output_dir`` that mirrors its input's).

    ``rank`` of ``world`` processes upscales its share of the files (``distributed.shard``); the output checks
    cover all of them. Returns ``(written, failures)``: output paths, and ``(input, reason)`` for files that
    were skipped. Folder entries that are no image files are named (on rank 0); a folder without any image
    files is a ``FileNotFoundError``. Each image is admitted before it is decoded (``memory``): one over ``max_pixels``
    or too large for the free memory even in tiles is skipped with the sizes; one too large to upscale whole is
    upscaled in tiles.
    """
    from tqdm import tqdm

    from ..utils.atomic import OutputWriteError, check_writable_folder
    from ..utils.distributed import rank_0_list, shard
    inputs, passed_over = scan_images(target, recursive, {output_dir: 'the -o folder of this run (not upscaled)'})
    inputs = rank_0_list(inputs, world)  # -o may be -i: no process lists after another wrote
    unsearched = any(why == FOLDER_NOT_SEARCHED for _, why in passed_over)
    if not inputs:
        raise InputNotFound(f"-i '{target}': no image files ({', '.join(IMAGE_EXTENSIONS)}) to upscale"
                            + (' (give --recursive to search its sub-folders).' if unsearched else '.'))
    for path, why in passed_over if rank == 0 else ():
        print(f'upscale: passed over {path}: {why}', file=sys.stderr)
    if rank == 0 and unsearched:
        print('upscale: give --recursive to upscale the images in sub-folders too.', file=sys.stderr)
    root = target if os.path.isdir(target) else None
    sources = planned_outputs(inputs, output_dir, suffix, ext, root)
    check_writable_folder(output_dir, '-o')
    written, failures = [], []
    for path in tqdm(shard(inputs, rank, world), unit='image', desc='upscale', disable=not progress):
        try:
            tile = _tile_admitted(upscaler, path, max_pixels)
            array = read_unchanged(path, max_pixels)
            result = upscaler.upscale_array(array, outscale, tile)
            folder = output_folder(path, root, output_dir)
            destination = output_path(path, folder, result, suffix, ext)
            if os.path.realpath(destination) in sources:  # a format switch to PNG can land on another input
                raise InputError(f"its output '{destination}' would overwrite an input; give --suffix.")
            if folder != output_dir:
                _make_folder(folder)
            write_image(destination, result)
        except OutputWriteError:
            raise  # a full disk or a read-only folder fails every following file too
        except (ValueError, OSError, cv2.error) as error:
            failures.append((path, str(error)))
            tqdm.write(f'upscale: skipped {path}: {error}', file=sys.stderr)
            continue
        written.append(destination)
    return written, failures
