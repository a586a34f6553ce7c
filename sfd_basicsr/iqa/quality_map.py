"""Quality-map pictures: the image, its Feat-D realness overlay, a labelled colour bar and the score."""
import os

import cv2
import numpy as np

from ..utils.image_io import write_image

DEFAULT_MAX_SIDE = 1024  # each panel's longest side; a 8K input would otherwise give a 16K-wide PNG
MIN_HEIGHT = 128  # room for the colour bar's labels
FONT = cv2.FONT_HERSHEY_SIMPLEX
BLACK = (0, 0, 0)


def _fit(array, max_side, interpolation):
    height, width = array.shape[:2]
    scale = min(max_side / max(height, width), max(1, MIN_HEIGHT / height))
    if scale > 1:  # tiny images are enlarged without smoothing, so their pixels stay visible
        interpolation = cv2.INTER_NEAREST
    elif scale == 1:
        return array
    return cv2.resize(array, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=interpolation)


def _colour_bar(height):
    """A JET bar from realness 1 (top, reads as real) to 0 (bottom, reads as fake), with its labels."""
    bar_width, width = 18, 86
    panel = np.full((height, width, 3), 255, np.uint8)
    values = np.linspace(255, 0, height).round().astype(np.uint8)[:, None]
    panel[:, 4:4 + bar_width] = cv2.applyColorMap(np.repeat(values, bar_width, axis=1), cv2.COLORMAP_JET)
    for text, y in (('1 real', 14), ('0.5', height // 2 + 5), ('0 fake', height - 6)):
        cv2.putText(panel, text, (bar_width + 8, y), FONT, 0.4, BLACK, 1, cv2.LINE_AA)
    return panel


def quality_map_picture(image, quality_map, score, max_side=DEFAULT_MAX_SIDE):
    """BGR uint8 picture: score line above [image | realness overlay | colour bar].

    ``image`` is a ``(1, 3, H, W)`` RGB tensor in [0, 1], ``quality_map`` the ``(1, 1, H, W)`` Feat-D realness
    (1 = reads as real), ``score`` the SFD-IQA score. Panels are shrunk to ``max_side`` pixels at most.
    """
    rgb = (image[0].permute(1, 2, 0).clamp(0, 1).cpu().numpy() * 255).round().astype(np.uint8)
    bgr = _fit(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), max_side, cv2.INTER_AREA)
    realness = _fit(quality_map[0, 0].clamp(0, 1).cpu().numpy().astype(np.float32), max_side, cv2.INTER_AREA)
    heat = cv2.applyColorMap((realness * 255).round().astype(np.uint8), cv2.COLORMAP_JET)
    body = np.concatenate([bgr, cv2.addWeighted(bgr, 0.5, heat, 0.5, 0), _colour_bar(bgr.shape[0])], axis=1)
    return np.concatenate([_header(body.shape[1], score), body], axis=0)


def _header(width, score):
    """The score line; on narrow pictures split in two, in a smaller font where even the halves would not fit, so
    nothing is cut off."""
    parts = [f'SFD-IQA {score:.4f} (higher = better)', 'overlay: Feat-D realness']
    one_line = '   '.join(parts)
    lines = [one_line] if _text_width(one_line, 0.5) + 12 <= width else parts
    scale = 0.5
    while scale > 0.2 and max(_text_width(line, scale) for line in lines) + 12 > width:
        scale = round(scale - 0.02, 2)
    step = round(44 * scale)  # 22 px lines at the usual 0.5
    header = np.full((8 + step * len(lines), width, 3), 255, np.uint8)
    for i, line in enumerate(lines):
        cv2.putText(header, line, (6, step - 2 + step * i), FONT, scale, BLACK, 1, cv2.LINE_AA)
    return header


def _text_width(text, scale):
    return cv2.getTextSize(text, FONT, scale, 1)[0][0]


def write_png(path, picture):
    """Write a picture as PNG atomically, whatever ``path``'s extension."""
    write_image(os.path.splitext(path)[0] + '.png', picture)
