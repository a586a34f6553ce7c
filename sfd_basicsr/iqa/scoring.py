"""SFD-IQA over a list of image files: scores, the files that could not be scored and why, quality maps."""
import os
import sys

import torch

from ..utils.atomic import OutputWriteError
from ..utils.image_io import ImageReadError, read_image
from .quality_map import quality_map_picture, write_png


def score_files(net, paths, device, maps_folder=None, map_size=None, show_progress=True):
    """``(scores, failures, stopped)``: ``{path: score}``, ``[(path, why)]`` of the files skipped, and whether a map
    could not be written (a full disk: every following map would fail too, so the loop stops there)."""
    from tqdm import tqdm
    scores, failures = {}, []
    for path in tqdm(paths, unit='image', desc='sfd_iqa', disable=not show_progress):
        try:
            image = read_image(path).to(device)
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
