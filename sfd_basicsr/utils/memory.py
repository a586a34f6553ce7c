"""Memory admitted before work: an image's size read from its header (nothing decoded), the memory a command will
need for it, and the memory this machine has free. A command refuses an image that cannot fit in one line naming the
file, its size and the limit, instead of dying in ``_ArrayMemoryError`` minutes later."""
import os
import struct
import warnings

from .errors import InputError

DEFAULT_MAX_PIXELS = 178_956_970  # Pillow's decompression-bomb bound (2 x 89.5 MP); --max-pixels raises it
_BYTES_PER_SAMPLE = {'I;16': 2, 'I;16B': 2, 'I;16L': 2, 'I;16N': 2, 'I': 4, 'F': 4}


class TooLarge(InputError):
    """An image over the pixel limit, or one whose work would not fit in the free memory."""


def size_text(size):
    return f'{size / 2**30:.1f} GB' if size >= 2**30 else f'{size / 2**20:.0f} MB'


def pil_reader(path):
    """Pillow's reader of ``path``'s format, opened without ``Image.open``'s size bound (the bound is ours here)."""
    from PIL import Image, ImageFile
    Image.preinit()
    Image.init()
    with open(path, 'rb') as f:
        prefix = f.read(16)
    for format_id in Image.ID:
        factory, accept = Image.OPEN[format_id]
        try:
            accepted = accept is None or accept(prefix)
        except (struct.error, IndexError, ValueError):  # some checks read past a prefix of under 4 bytes (BMP's)
            continue
        if accepted:
            try:
                reader = factory(path)
            except (SyntaxError, OSError, ValueError, IndexError, TypeError):
                continue
            if isinstance(reader, ImageFile.ImageFile):
                return reader
    return None


def image_header(path):
    """``(height, width, channels, bytes_per_sample)`` of an image file from its header, or None where Pillow cannot
    read that header (OpenCV's decoder then has the last word)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            reader = pil_reader(path)
    except OSError:
        return None
    if reader is None:
        return None
    try:
        width, height = reader.size
        return height, width, len(reader.getbands()), _sample_bytes(reader)
    finally:
        reader.close()


def _sample_bytes(reader):
    """Bytes per sample as OpenCV decodes it: Pillow opens 16-bit RGB files in mode 'RGB' and says the depth only
    in its raw mode ('RGB;16B', 'RGB;16N')."""
    raw = ''
    if reader.tile:
        args = reader.tile[0][3]
        raw = str(args[0] if isinstance(args, tuple) else args)
    return 2 if ';16' in raw else _BYTES_PER_SAMPLE.get(reader.mode, 1)


def available_memory():
    """Bytes this machine can give without swapping (``MemAvailable``), or None where it cannot tell."""
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf('SC_AVPHYS_PAGES') * os.sysconf('SC_PAGE_SIZE')
    except (ValueError, OSError, AttributeError):
        return None


def check_pixels(path, height, width, max_pixels, option='--max-pixels'):
    """Refuse an image of more than ``max_pixels`` pixels, naming the limit and how to raise it."""
    if max_pixels and height * width > max_pixels:
        raise TooLarge(f"'{path}' is {width}x{height} ({height * width / 1e6:.0f} MP), over the limit of "
                       f'{max_pixels / 1e6:.0f} MP; raise it with {option} if this machine can hold it.')


def check_fits(path, need, what, available=None):
    """Refuse work that needs ``need`` bytes when fewer are free (``available``: this machine's by default)."""
    available = available_memory() if available is None else available
    if available is not None and need > available:
        raise TooLarge(f"'{path}': {what} needs {size_text(need)} of memory; {size_text(available)} is free.")
