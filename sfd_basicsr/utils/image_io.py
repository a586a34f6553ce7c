"""Reading any image file as an RGB float tensor in [0, 1], with errors that name the file."""
import os

import cv2
import numpy as np
import torch

from .errors import InputError, InputNotFound
from .locks import OUTPUT_LOCK
from .memory import DEFAULT_MAX_PIXELS, check_fits, check_pixels, image_header, pil_reader

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm')
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
JPEG_SOI, JPEG_SOS, JPEG_EOI = b'\xff\xd8', b'\xff\xda', b'\xff\xd9'


class ImageReadError(InputError):
    """A file that is not a readable image."""


class NoImages(InputNotFound):
    """A folder given to score that holds no image file (empty, or only other files); ``sfd-iqa score`` and
    ``pyiqa sfd_iqa`` (``sfd_basicsr_pyiqa_hook``) refuse it in these words."""

    def __init__(self, folder):
        super().__init__(f"no images in the folder '{folder}': expected image files ({', '.join(IMAGE_EXTENSIONS)}).")


def pixel_peak(dtype, source='image'):
    """The value of full intensity for a pixel type: 255 (8-bit), 65535 (16-bit) or 1 (float)."""
    if dtype == np.uint8:
        return 255.
    if dtype == np.uint16:
        return 65535.
    if np.issubdtype(dtype, np.floating):
        return 1.
    raise ImageReadError(f'{source}: unsupported pixel type {dtype}; expected 8-bit, 16-bit or float.')


def to_rgb_float(array, source='image'):
    """HxW, HxWx1, HxWx3 (BGR) or HxWx4 (BGRA) uint8/uint16/float array -> HxWx3 RGB float32 in [0, 1].

    Grey is repeated to three channels; an alpha channel is dropped (the colour values are scored as
    stored, not composited on a background); 16-bit images keep their full precision.
    """
    image = np.clip(array.astype(np.float32) / pixel_peak(array.dtype, source), 0, 1)
    if image.ndim == 2:
        image = image[..., None]
    channels = image.shape[2]
    if channels == 1:
        return np.repeat(image, 3, axis=2)
    if channels == 3:
        return image[..., ::-1]
    if channels == 4:
        return image[..., 2::-1]
    raise ImageReadError(f'{source}: {channels} channels; expected grey, RGB or RGBA.')


def _truncation(data):
    """Why an encoded PNG or JPEG is cut short (decoders return what they got with only a warning), or None."""
    if data[:8].tobytes() == PNG_SIGNATURE and b'IEND' not in data[-4096:].tobytes():
        return 'truncated PNG (no IEND chunk at its end)'
    if data[:2].tobytes() == JPEG_SOI:
        raw = data.tobytes()
        if raw.rfind(JPEG_EOI) < raw.rfind(JPEG_SOS):
            return 'truncated JPEG (no end-of-image marker after its last scan)'
    return None


def read_unchanged(path, max_pixels=DEFAULT_MAX_PIXELS):
    """The file's pixels as stored (grey, BGR or BGRA; 8-bit, 16-bit or float), as ``cv2.IMREAD_UNCHANGED``.

    Refuses, naming the file: folders, broken links, empty files, truncated PNG and JPEG files (which
    decoders return with grey or repeated rows), GIF, multi-page TIFF and animated WebP / PNG (the pages or frames
    beyond the first would be lost), images whose
    header says more than ``max_pixels`` pixels or more than the free memory can decode (``memory``), and anything
    OpenCV cannot decode.
    """
    if os.path.islink(path) and not os.path.exists(path):
        raise ImageReadError(f"'{path}' is a broken link (to '{os.readlink(path)}').")
    if os.path.isdir(path):
        raise ImageReadError(f"'{path}' is a folder, not an image file.")
    if os.path.exists(path) and not os.path.isfile(path):  # a FIFO, a device: reading it could block forever
        raise ImageReadError(f"'{path}' is not a regular file (a pipe or a device), not an image file.")
    if not os.path.isfile(path):
        raise InputNotFound(f"Image file '{path}' does not exist.")
    data = np.fromfile(path, dtype=np.uint8)  # not cv2.imread: it cannot open non-ASCII paths on Windows
    if not data.size:
        raise ImageReadError(f"'{path}' is empty (0 bytes).")
    if data[:4].tobytes() == b'GIF8':
        raise ImageReadError(f"'{path}' is a GIF: not read (an animation would lose every frame but the first); "
                             'convert it to PNG.')
    problem = _truncation(data)
    if problem:
        raise ImageReadError(f"'{path}' is a {problem}: an interrupted download or copy?")
    header = image_header(path)
    if header is not None:
        height, width, channels, sample_bytes = header
        check_pixels(path, height, width, max_pixels)
        check_fits(path, height * width * channels * sample_bytes, f'decoding its {width}x{height} pixels')
    frames = frame_count(path)
    if frames > 1:
        raise ImageReadError(f"'{path}' holds {frames} pages or frames (a multi-page TIFF or an animation): only the "
                             'first would be read; save each as an image of its own.')
    try:
        array = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    except cv2.error as error:  # OpenCV's own size bound, an allocation it cannot make
        raise ImageReadError(f"'{path}' cannot be decoded ({' '.join(str(error).split())[-200:]}).") from None
    if array is None:
        raise ImageReadError(f"'{path}' is not a readable image (damaged or not an image format).")
    # a score or upscale of NaN is NaN; min and max carry any NaN or infinity without a mask the size of the image
    if np.issubdtype(array.dtype, np.floating) and not (np.isfinite(array.min()) and np.isfinite(array.max())):
        raise ImageReadError(f"'{path}' holds NaN or infinite pixels; not read.")
    return array


def frame_count(path):
    """Images in a TIFF (pages, thumbnails and masks aside), WebP or PNG (APNG) file as Pillow reads them, of which
    OpenCV would read the first alone; 1 for other formats and for files whose pages Pillow cannot walk."""
    import warnings
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            reader = pil_reader(path)
            if reader is None:
                return 1
            try:
                if reader.format == 'TIFF':
                    return _tiff_images(reader)
                return int(getattr(reader, 'n_frames', 1)) if reader.format in ('WEBP', 'PNG') else 1
            finally:
                reader.close()
    except Exception:  # noqa: BLE001  (a page Pillow cannot set up, a damaged chain: OpenCV's decoder decides)
        return 1


def _tiff_images(reader):
    """Pages of a TIFF that are images of their own: not a reduced-resolution copy (a thumbnail, a preview) nor a
    transparency mask of another page (NewSubfileType, tag 254, bits 0 and 2)."""
    images = 0
    for index in range(reader.n_frames):
        reader.seek(index)
        images += not int(reader.tag_v2.get(254, 0)) & 0b101
    return max(images, 1)


def write_image(path, array):
    """Encode ``array`` in the format of ``path``'s extension and write it atomically."""
    from .atomic import atomic_write_bytes
    extension = os.path.splitext(path)[1]
    ok, data = cv2.imencode(extension, array)
    if not ok:
        raise ImageReadError(f"cannot encode an image as '{extension}' for '{path}'.")
    atomic_write_bytes(path, data)


def check_min_side(shape, min_side, what, hint=''):
    """Refuse an image (``shape`` ending in ``H, W``) with a side under ``min_side`` px, naming ``what`` needs it."""
    height, width = shape[-2], shape[-1]
    if min(height, width) < min_side:
        raise InputError(f'{what} needs images of at least {min_side} px per side; got {height}x{width} px.{hint}')


def read_image(path, max_pixels=DEFAULT_MAX_PIXELS):
    """``(1, 3, H, W)`` float tensor of the image at ``path``."""
    array = read_unchanged(path, max_pixels)
    image = to_rgb_float(array, source=path)
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]


def no_such_target(target):
    """The refusal of a target that is neither a file nor a folder, in the words every scoring command uses."""
    return InputNotFound(f"'{target}' is neither an image file nor a folder.")


FOLDER_NOT_SEARCHED = 'a folder (folders are not searched)'


def list_images(target):
    """A file -> [file]; a folder -> its files with image extensions, sorted; else a clear error."""
    return scan_images(target)[0]


def scan_images(target, recursive=False, skip_folders=()):
    """``(images, passed_over)``: the image files ``list_images`` gives, and ``(entry, why)`` for every other
    entry of a folder (sub-folders, broken links, other extensions, GIF), so that nothing is dropped unsaid.

    ``recursive`` searches sub-folders too, as pyiqa's command does (links to folders followed, each folder once);
    images are sorted by path either way. ``skip_folders``: ``{folder: why}`` of sub-folders not to search (a
    command's own output folder inside its input).
    """
    if os.path.isfile(target):
        return [target], []
    if not os.path.isdir(target):
        raise no_such_target(target)
    images, passed_over = [], []
    skipped = {os.path.realpath(folder): why for folder, why in dict(skip_folders).items()}
    _scan_folder(target, recursive, skipped, {os.path.realpath(target)}, images, passed_over)
    return sorted(images), passed_over


def _scan_folder(folder, recursive, skipped, searched, images, passed_over):
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name == OUTPUT_LOCK:
            continue  # the lock of a command that wrote this folder (utils.locks)
        if os.path.islink(path) and not os.path.exists(path):
            passed_over.append((path, 'a broken link'))
        elif os.path.isdir(path):
            real = os.path.realpath(path)
            if real in skipped:  # named for what it is, searched or not
                passed_over.append((path, skipped[real]))
            elif not recursive:
                passed_over.append((path, FOLDER_NOT_SEARCHED))
            elif real in searched:  # a link loop, or a second link to one folder: its images are listed once
                passed_over.append((path, 'a folder searched already (a link to it, or a link loop)'))
            else:
                searched.add(real)
                _scan_folder(path, recursive, skipped, searched, images, passed_over)
        elif name.lower().endswith('.gif'):
            passed_over.append((path, 'a GIF (not read: convert it to PNG)'))
        elif not name.lower().endswith(IMAGE_EXTENSIONS):
            passed_over.append((path, f'not an image extension ({", ".join(IMAGE_EXTENSIONS)})'))
        else:
            images.append(path)
