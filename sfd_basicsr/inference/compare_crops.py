"""Zoomed crops for ``basicsr compare``: chosen where the runs disagree most, or named by the user."""
import re

import cv2
import numpy as np

from ..utils.errors import InputError

CROP = re.compile(r'^(?P<image>.+)=(?P<x>\d+),(?P<y>\d+),(?P<w>\d+),(?P<h>\d+)$')


def crop_side(height, width):
    """A sixth of the shorter side, as papers' zoomed crops are, within 16-128 px."""
    return int(min(max(min(height, width) // 6, 16), 128, height, width))


def parse_crop(text):
    """``IMAGE=X,Y,W,H`` (pixels of the output image) -> ``(image, (x, y, w, h))``."""
    match = CROP.match(text)
    if not match or int(match['w']) == 0 or int(match['h']) == 0:
        raise InputError(f"--crop '{text}': expected IMAGE=X,Y,W,H, whole pixels of the output, e.g. "
                         'baby=120,40,64,64.')
    return match['image'], tuple(int(match[k]) for k in 'xywh')


def disagreement(images):
    """Per pixel, how far the runs' outputs (same-sized BGR uint8 arrays) are from their mean, on luma."""
    luma = np.stack([cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32) for image in images])
    return luma.std(axis=0)


def auto_crops(images, count=3, side=None):
    """``count`` squares ``(x, y, side, side)`` that do not overlap, holding the most disagreement of all such
    squares, most first; fewer when the image has room for fewer."""
    spread = disagreement(images)
    height, width = spread.shape
    side = side or crop_side(height, width)
    # sum over each side x side window, indexed by its top-left corner
    window = cv2.boxFilter(spread, -1, (side, side), normalize=False, anchor=(0, 0),
                           borderType=cv2.BORDER_CONSTANT)[:height - side + 1, :width - side + 1].astype(np.float64)
    crops = []
    for _ in range(count):
        y, x = np.unravel_index(np.argmax(window), window.shape)
        if not np.isfinite(window[y, x]):
            break
        crops.append((int(x), int(y), side, side))
        window[max(0, y - side + 1):y + side, max(0, x - side + 1):x + side] = -np.inf  # overlapping corners
    return crops


def clipped(box, height, width):
    """``box`` inside an image of ``height`` x ``width``, or None when it lies outside."""
    x, y, w, h = box
    x1, y1 = min(x + w, width), min(y + h, height)
    return (x, y, x1 - x, y1 - y) if x < width and y < height else None
