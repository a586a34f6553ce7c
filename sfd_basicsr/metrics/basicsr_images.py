"""Images as BasicSR's metrics receive them, as the tensors pyiqa and SFD-IQA score."""
import numpy as np
import torch

from ..utils.image_io import to_rgb_float


def basicsr_image_to_tensor(img, crop_border=0, input_order='HWC'):
    """An image as BasicSR's metrics receive it (BGR, HWC or CHW, 8/16-bit or float) -> ``(1, 3, H, W)`` RGB."""
    from basicsr.metrics.metric_util import reorder_image

    img = reorder_image(img, input_order=input_order)
    if crop_border:
        img = img[crop_border:-crop_border, crop_border:-crop_border]
    return torch.from_numpy(np.ascontiguousarray(to_rgb_float(img))).permute(2, 0, 1)[None]
