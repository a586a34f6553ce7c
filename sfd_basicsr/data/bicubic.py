"""LR images as the SR papers make them: MATLAB's bicubic ``imresize`` (BasicSR's port) of the GT cropped to a
multiple of the scale."""
import numpy as np


def bicubic_lr(gt, scale):
    """GT cropped to a multiple of ``scale`` and its MATLAB-bicubic LR image (uint8, BGR)."""
    from basicsr.utils.matlab_functions import imresize
    height, width = gt.shape[0] - gt.shape[0] % scale, gt.shape[1] - gt.shape[1] % scale
    gt = gt[:height, :width]
    lr = imresize(gt.astype(np.float32) / 255., 1 / scale)
    return gt, (np.clip(lr, 0, 1) * 255).round().astype(np.uint8)
