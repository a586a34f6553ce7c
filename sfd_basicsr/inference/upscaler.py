"""Upscale images with a loaded generator: tiles with overlap, grey, alpha, 8/16-bit and float images."""
import math
import warnings

import cv2
import numpy as np
import torch

from ..utils.distributed import default_device
from ..utils.errors import InputError
from ..utils.image_io import pixel_peak
from ..utils.memory import TooLarge, size_text
from ..utils.tiles import tiles_with_context


# float32 features per output pixel at the peak of a pass: three maps of 64 channels at the output size, as in an
# RRDBNet's upsampling convolutions (ESRGAN's generator); an estimate for admitting work, not a measurement
ACTIVATION_BYTES = 3 * 64 * 4
TILES_TRIED = (1024, 512, 256, 128, 64)


class Upscaler:
    """Runs ``generator`` (a ``LoadedGenerator``) on whole images or in tiles.

    Args:
        generator: from ``load_generator``.
        device: torch device; None picks CUDA when available.
        tile (int): largest input tile side; 0 upscales the whole image in one pass.
        tile_pad (int): input pixels of context around each tile, cropped from its output.
        half (bool): float16 on CUDA (ignored, with a warning, on CPU or for models that do not support it).
        bf16 (bool): bfloat16 weights and activations, on any device (ignored, with a warning, for models that do
            not support it); float32's range, so no overflow where float16 would.
    """

    def __init__(self, generator, device=None, tile=0, tile_pad=16, half=False, bf16=False):
        if tile < 0 or tile_pad < 0:
            raise InputError(f'tile and tile_pad must be >= 0; got {tile} and {tile_pad}.')
        if half and bf16:
            raise InputError('half (float16) and bf16 (bfloat16) are two precisions; choose one.')
        if generator.input_channels != 3:  # grey and alpha are handled around an RGB generator
            raise InputError(f'{generator.source} takes {generator.input_channels}-channel images; images are fed '
                             'to a generator as RGB (3 channels), as BasicSR and Real-ESRGAN train them.')
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
        elif bf16 and not generator.supports_bfloat16:
            warnings.warn(f'{generator.source} does not support bfloat16; running in float32.', stacklevel=2)
        elif bf16:
            self.dtype = torch.bfloat16
        self.module = generator.module.to(self.device, self.dtype)

    def _tiles(self, height, width, tile=None):
        """``(kept, padded)`` boxes ``(top, bottom, left, right)`` of the input: one per tile, or the whole image."""
        tile = self.tile if tile is None else tile
        if not tile or max(height, width) <= tile:
            return [((0, height, 0, width), (0, height, 0, width))]
        return list(tiles_with_context(height, width, tile, self.tile_pad))

    def tile_that_fits(self, path, height, width, channels, sample_bytes, available):
        """The tile side (0: whole) to upscale an image of that size within ``available`` bytes: ``tile`` when given,
        else whole if it fits, else the largest of ``TILES_TRIED`` that does; ``TooLarge`` when nothing fits."""
        if available is None:
            return self.tile
        for tile in [self.tile] if self.tile else (0,) + TILES_TRIED:
            if memory_needed(self.scale, height, width, channels, sample_bytes, tile, self.tile_pad) <= available:
                return tile
        need = memory_needed(self.scale, height, width, channels, sample_bytes, self.tile or TILES_TRIED[-1],
                             self.tile_pad)
        output = height * width * self.scale**2 * channels * sample_bytes
        raise TooLarge(f"'{path}': upscaling its {width}x{height} pixels x{self.scale} needs at least "
                       f'{size_text(need)} of memory (the output alone is {size_text(output)}); {size_text(available)} '
                       'is free.')

    def _run(self, patch, kept, padded):
        """The generator on ``patch`` (the padded box), cropped to the kept box: float32 in [0, 1] on the CPU."""
        s = self.scale
        result = self.module(patch.to(self.device, self.dtype)).float().clamp_(0, 1).cpu()
        (y0, y1, x0, x1), (top, _, left, _) = kept, padded
        return result[..., (y0 - top) * s:(y1 - top) * s, (x0 - left) * s:(x1 - left) * s]

    @torch.inference_mode()
    def upscale_tensor(self, image):
        """``(1, C, H, W)`` in [0, 1] -> ``(1, C, H * scale, W * scale)`` float32 on the CPU."""
        height, width = image.shape[-2:]
        s = self.scale
        tiles = list(self._tiles(height, width))
        if len(tiles) == 1:
            return self._run(image, *tiles[0])
        output = torch.empty(1, image.shape[1], height * s, width * s)
        for kept, padded in tiles:
            top, bottom, left, right = padded
            y0, y1, x0, x1 = kept
            output[..., y0 * s:y1 * s, x0 * s:x1 * s] = self._run(image[..., top:bottom, left:right], kept, padded)
        return output

    @torch.inference_mode()
    def upscale_array(self, array, outscale=None, tile=None):
        """An image as ``cv2.imread(..., IMREAD_UNCHANGED)`` gives it -> the upscaled image, same layout and type.

        Grey stays grey (run as RGB, converted back), BGRA keeps its alpha (resized bicubically), uint8 and
        uint16 keep their bit depth, float images stay float. ``outscale`` resizes the result to that
        factor of the input (Lanczos) when it differs from the network's scale. Each tile is converted to
        the output's type as soon as it is made, so with ``tile`` the memory needed is the output array in
        its final type plus one tile's buffers. ``tile`` overrides the upscaler's for this image.
        """
        peak = pixel_peak(array.dtype)
        grey = array.ndim == 2 or array.shape[2] == 1
        if not grey and array.shape[2] not in (3, 4):
            raise InputError(f'{array.shape[2]} channels; expected grey, BGR or BGRA.')
        height, width = array.shape[:2]
        s = self.scale
        result = np.empty((height * s, width * s) + (() if grey else (array.shape[2],)), array.dtype)
        for kept, padded in self._tiles(height, width, tile):
            top, bottom, left, right = padded
            patch = array[top:bottom, left:right].astype(np.float32) / peak
            rgb = np.repeat(patch.reshape(patch.shape[0], patch.shape[1], 1), 3, axis=2) if grey else patch[..., 2::-1]
            tensor = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None]
            bgr = np.ascontiguousarray(self._run(tensor, kept, padded)[0].permute(1, 2, 0).numpy()[..., ::-1])
            y0, y1, x0, x1 = kept
            target = result[y0 * s:y1 * s, x0 * s:x1 * s]
            if grey:
                target[...] = _to_type(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), peak, array.dtype)
            else:
                target[..., :3] = _to_type(bgr, peak, array.dtype)
        if not grey and array.shape[2] == 4:
            alpha = cv2.resize(array[..., 3], (width * s, height * s), interpolation=cv2.INTER_CUBIC)
            result[..., 3] = np.clip(alpha, 0, 1) if peak == 1 else alpha  # integer types saturate in cv2
        if outscale is not None and not math.isclose(outscale, self.scale):
            size = (max(1, round(width * outscale)), max(1, round(height * outscale)))
            result = cv2.resize(result, size, interpolation=cv2.INTER_LANCZOS4)
            if peak == 1:
                result = np.clip(result, 0, 1, out=result)
        return result


def memory_needed(scale, height, width, channels, sample_bytes, tile=0, tile_pad=0):
    """Bytes ``upscale_array`` holds at its peak for an image of that size: the decoded input, the output in its final
    type, and one pass's float32 buffers (input and output patches, ``ACTIVATION_BYTES`` of features per output
    pixel), for the whole image or for one tile of at most ``tile`` px with its context."""
    decoded = height * width * channels * sample_bytes
    output = height * scale * width * scale * channels * sample_bytes
    seen_h, seen_w = (min(tile + 2 * tile_pad, height), min(tile + 2 * tile_pad, width)) if tile else (height, width)
    working = seen_h * seen_w * (3 * 4 + scale * scale * (ACTIVATION_BYTES + 2 * 3 * 4))
    return decoded + output + working


def _to_type(image, peak, dtype):
    """Float pixels in [0, 1] -> ``dtype`` (rounded for integer types)."""
    image = np.clip(image, 0, 1) * peak
    return image.round().astype(dtype) if peak > 1 else image.astype(dtype)
