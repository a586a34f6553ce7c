"""SFD-IQA over a list of image files: scores, the files that could not be scored and why, quality maps."""
import os
import sys

import torch

from ..utils.atomic import OutputWriteError
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


def score_files(net, paths, device, maps_folder=None, map_size=None, show_progress=True,
                max_pixels=DEFAULT_MAX_PIXELS):
    """``(scores, failures, stopped)``: ``{path: score}``, ``[(path, why)]`` of the files skipped, and whether a map
    could not be written (a full disk: every following map would fail too, so the loop stops there). An image over
    ``max_pixels`` or too large for the free memory is skipped with its size, before it is decoded."""
    from tqdm import tqdm
    scores, failures = {}, []
    for path in tqdm(paths, unit='image', desc='sfd_iqa', disable=not show_progress):
        try:
            header = image_header(path) if os.path.isfile(path) else None
            if header is not None:
                check_pixels(path, header[0], header[1], max_pixels)
                check_fits(path, memory_needed(header[0], header[1], net.tile_size, bool(maps_folder)),
                           f'scoring its {header[1]}x{header[0]} pixels')
            image = read_image(path, max_pixels).to(device)
            with torch.no_grad():
                value, quality_map = net(image, return_map=True)
        except (ImageReadError, ValueError, FileNotFoundError) as error:
            failures.append((path, str(error)))
            tqdm.write(f'sfd-iqa: skipped {path}: {error}', file=sys.stderr)
            continue
        scores[path] = value.item()
        if maps_folder:
            stem = os.path.splitext(os.path.basename(path))[0]
            picture = quality_map_picture(image, quality_map, value.item(), map_size)
            try:
                write_png(os.path.join(maps_folder, f'{stem}_sfd_map.png'), picture)
            except OutputWriteError as error:
                print(f'sfd-iqa score: stopped: {error}', file=sys.stderr)
                return scores, failures, True
    return scores, failures, False
