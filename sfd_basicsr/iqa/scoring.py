"""SFD-IQA over a list of image files: scores, the files that could not be scored and why, quality maps."""
import os
import sys
from collections import Counter

import torch

from ..utils.atomic import OutputWriteError, check_writable_folder
from ..utils.image_io import ImageReadError, read_image
from ..utils.memory import DEFAULT_MAX_PIXELS, check_fits, check_pixels, image_header
from .quality_map import quality_map_picture, write_png

# float32 activations of the CLIP encoder and Feat-D per pixel of one tile at their peak (RN50: layer1's 256
# channels at 1/4 of the side, the stem's 64 at 1/2, kept for the U-Net); an estimate for admitting work
TILE_BYTES_PER_PIXEL = 600


def memory_needed(height, width, tile_size, maps=False):
    """Bytes SFD-IQA holds at its peak for an image of that size: the float32 image and, with ``maps``, its quality
    map and picture; one tile's encoder pass (``TILE_BYTES_PER_PIXEL`` per pixel of a tile with its margin)."""
    tile = min(height, tile_size) * min(width, tile_size)
    return height * width * 3 * 4 * (3 if maps else 1) + tile * TILE_BYTES_PER_PIXEL


def map_files(paths, root, maps_folder):
    """``{image: its quality map's file}``: ``<name>_sfd_map.png`` in the sub-folder of ``maps_folder`` that mirrors
    the image's place under ``root``; where two images share a name but for the extension (``a.png``, ``a.jpg``,
    also told apart by case only) their maps keep it (``a.png_sfd_map.png``), so no map overwrites another."""
    relative = {path: os.path.relpath(path, root) for path in paths}
    stems = Counter(os.path.splitext(name)[0].casefold() for name in relative.values())
    names = {path: name if stems[os.path.splitext(name)[0].casefold()] > 1 else os.path.splitext(name)[0]
             for path, name in relative.items()}
    return {path: os.path.join(maps_folder, f'{name}_sfd_map.png') for path, name in names.items()}


def score_files(net, paths, device, map_paths=None, map_size=None, show_progress=True,
                max_pixels=DEFAULT_MAX_PIXELS):
    """``(scores, failures, stopped)``: ``{path: score}``, ``[(path, why)]`` of the files skipped, and whether a map
    could not be written (a full disk: every following map would fail too, so the loop stops there). An image over
    ``max_pixels`` or too large for the free memory is skipped with its size, before it is decoded. ``map_paths``:
    ``{image: file}`` of the quality maps to draw (``map_files``)."""
    from tqdm import tqdm
    scores, failures, map_folders = {}, [], set()
    for path in tqdm(paths, unit='image', desc='sfd_iqa', disable=not show_progress):
        try:
            header = image_header(path) if os.path.isfile(path) else None
            if header is not None:
                check_pixels(path, header[0], header[1], max_pixels)
                check_fits(path, memory_needed(header[0], header[1], net.tile_size, bool(map_paths)),
                           f'scoring its {header[1]}x{header[0]} pixels')
            image = read_image(path, max_pixels).to(device)
            with torch.no_grad():
                value, quality_map = net(image, return_map=True)
        except (ImageReadError, ValueError, FileNotFoundError) as error:
            failures.append((path, str(error)))
            tqdm.write(f'sfd-iqa: skipped {path}: {error}', file=sys.stderr)
            continue
        scores[path] = value.item()
        if map_paths:
            picture = quality_map_picture(image, quality_map, value.item(), map_size)
            try:
                folder = os.path.dirname(map_paths[path])
                if folder not in map_folders:  # a sub-folder mirroring the image's (--recursive)
                    check_writable_folder(folder, '--maps')
                    map_folders.add(folder)
                write_png(map_paths[path], picture)
            except OutputWriteError as error:
                print(f'sfd-iqa score: stopped: {error}', file=sys.stderr)
                return scores, failures, True
    return scores, failures, False
