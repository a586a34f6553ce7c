"""Photos that install with scikit-image (``skimage.data``), as HR/LR pairs: data for the demo, tests and benchmarks
on a machine without a dataset."""
import os

import cv2

from ..utils.image_io import write_image
from .bicubic import bicubic_lr


def write_bicubic_pairs(folder, names, hr_size, scale=4):
    """Centre crops of ``skimage.data`` images as ``folder/hr/<name>.png`` and MATLAB-bicubic ``folder/lr``."""
    import skimage.data
    for sub in ('hr', 'lr'):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
    for name in names:
        image = getattr(skimage.data, name)()
        h, w = image.shape[:2]
        side = min(h, w)
        crop = image[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
        hr = cv2.resize(crop, (hr_size, hr_size), interpolation=cv2.INTER_AREA)
        hr, lr = bicubic_lr(hr, scale)  # HR cropped to a multiple of the scale
        write_image(os.path.join(folder, 'hr', f'{name}.png'), cv2.cvtColor(hr, cv2.COLOR_RGB2BGR))
        write_image(os.path.join(folder, 'lr', f'{name}.png'), cv2.cvtColor(lr, cv2.COLOR_RGB2BGR))
    return os.path.join(folder, 'hr'), os.path.join(folder, 'lr')
