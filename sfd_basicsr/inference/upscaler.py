"""Upscale images with a loaded generator: tiles with overlap, grey, alpha, 8/16-bit and float images."""
import math
import warnings

import cv2
import numpy as np
import torch

from ..distributed import default_device
from ..iqa.image_io import pixel_peak


class Upscaler:
    """Runs ``generator`` (a ``LoadedGenerator``) on whole images or in tiles.

    Args:
        generator: from ``load_generator``.
        device: torch device; None picks CUDA when available.
        tile (int): largest input tile side; 0 upscales the whole image in one pass.
        tile_pad (int): input pixels of context around each tile, cropped from its output.
        half (bool): float16 on CUDA (ignored, with a warning, on CPU or for models that do not support it).
    """

    def __init__(self, generator, device=None, tile=0, tile_pad=16, half=False):
        if tile < 0 or tile_pad < 0:
            raise ValueError(f'tile and tile_pad must be >= 0; got {tile} and {tile_pad}.')
        self.device = default_device(device)
        self.generator, self.scale = generator, generator.scale
        self.tile, self.tile_pad = tile, tile_pad
        self.dtype = torch.float32
        if half and self.device.type != 'cuda':
            warnings.warn('half precision needs a CUDA device; running in float32.', stacklevel=2)
        elif half and not generator.supports_half:
            warnings.warn(f'{generator.source} does not support float16; running in float32.', stacklevel=2)
        elif half:
            self.dtype = torch.float16
        self.module = generator.module.to(self.device, self.dtype)

    @torch.inference_mode()
    def upscale_tensor(self, image):
        """``(1, C, H, W)`` in [0, 1] -> ``(1, C, H * scale, W * scale)`` float32 on the CPU."""
        image = image.to(self.device, self.dtype)
        height, width = image.shape[-2:]
        if not self.tile or max(height, width) <= self.tile:
            return self.module(image).float().clamp_(0, 1).cpu()
        s, pad = self.scale, self.tile_pad
        output = torch.empty(1, image.shape[1], height * s, width * s)
        for y0 in range(0, height, self.tile):
            for x0 in range(0, width, self.tile):
                y1, x1 = min(y0 + self.tile, height), min(x0 + self.tile, width)
                top, left = max(0, y0 - pad), max(0, x0 - pad)
                patch = image[..., top:min(height, y1 + pad), left:min(width, x1 + pad)]
                result = self.module(patch).float().clamp_(0, 1).cpu()
                output[..., y0 * s:y1 * s, x0 * s:x1 * s] = result[
                    ..., (y0 - top) * s:(y1 - top) * s, (x0 - left) * s:(x1 - left) * s]
        return output

    def upscale_array(self, array, outscale=None):
        """An image as ``cv2.imread(..., IMREAD_UNCHANGED)`` gives it -> the upscaled image, same layout and type.

        Grey stays grey (run as RGB, converted back), BGRA keeps its alpha (resized bicubically), uint8 and
        uint16 keep their bit depth, float images stay float. ``outscale`` resizes the result to that
        factor of the input (Lanczos) when it differs from the network's scale.
        """
        peak = pixel_peak(array.dtype)
        image = array.astype(np.float32) / peak
        grey = image.ndim == 2 or image.shape[2] == 1
        alpha = image[..., 3] if image.ndim == 3 and image.shape[2] == 4 else None
        if grey:
            rgb = np.repeat(image.reshape(image.shape[0], image.shape[1], 1), 3, axis=2)
        elif image.shape[2] in (3, 4):
            rgb = image[..., 2::-1]
        else:
            raise ValueError(f'{image.shape[2]} channels; expected grey, BGR or BGRA.')
        tensor = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None]
        result = self.upscale_tensor(tensor)[0].permute(1, 2, 0).numpy()[..., ::-1]  # back to BGR
        height, width = result.shape[:2]
        if grey:
            result = cv2.cvtColor(np.ascontiguousarray(result), cv2.COLOR_BGR2GRAY)
        elif alpha is not None:
            upscaled_alpha = np.clip(cv2.resize(alpha, (width, height), interpolation=cv2.INTER_CUBIC), 0, 1)
            result = np.concatenate([result, upscaled_alpha[..., None]], axis=2)
        if outscale is not None and not math.isclose(outscale, self.scale):
            size = (max(1, round(array.shape[1] * outscale)), max(1, round(array.shape[0] * outscale)))
            result = cv2.resize(np.ascontiguousarray(result), size, interpolation=cv2.INTER_LANCZOS4)
        result = np.clip(result, 0, 1) * peak
        return result.round().astype(array.dtype) if peak > 1 else result.astype(array.dtype)
