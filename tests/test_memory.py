"""``utils/memory.py`` and its users: an image is admitted from its header before anything is decoded; too large is
one line naming the file, its size and the limit, in every command; too large to run whole runs in tiles."""
import os

import cv2
import numpy as np
import pytest

from helpers.hostile import png_claiming
from sfd_basicsr.inference import files
from sfd_basicsr.inference.upscaler import ACTIVATION_BYTES, memory_needed
from sfd_basicsr.utils import memory
from sfd_basicsr.utils.memory import image_header


@pytest.mark.parametrize('ext, shape, dtype', [('.png', (20, 30), np.uint16), ('.png', (20, 30, 3), np.uint16),
                                               ('.png', (20, 30, 4), np.uint8),
                                               ('.jpg', (21, 33, 3), np.uint8), ('.tif', (20, 30, 3), np.uint16),
                                               ('.webp', (20, 30, 3), np.uint8), ('.bmp', (7, 9, 3), np.uint8)])
def test_the_header_gives_what_opencv_decodes(ext, shape, dtype, tmp_path):
    path = str(tmp_path / f'a{ext}')
    cv2.imwrite(path, np.full(shape, 7, dtype))
    decoded = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    channels = 1 if decoded.ndim == 2 else decoded.shape[2]
    assert image_header(path) == (decoded.shape[0], decoded.shape[1], channels, decoded.dtype.itemsize)


def test_a_forged_header_is_read_without_decoding_and_a_non_image_gives_none(tmp_path):
    assert image_header(str(png_claiming(tmp_path / 'huge.png', 100000, 100000))) == (100000, 100000, 3, 1)
    (tmp_path / 'x.png').write_text('not an image')
    assert image_header(str(tmp_path / 'x.png')) is None


def test_the_upscale_estimate_worked_out_by_hand():
    # 100x50 RGB 8-bit, x4: decoded 15000 B, output 400x200x3 = 240000 B, whole pass 5000 px x (12 + 16 x (768 + 24))
    assert ACTIVATION_BYTES == 768
    assert memory_needed(4, 100, 50, 3, 1) == 15000 + 240000 + 5000 * (12 + 16 * 792)
    # a tile of 20 px with 5 px of context sees at most 30x30 of the input
    assert memory_needed(4, 100, 50, 3, 1, tile=20, tile_pad=5) == 15000 + 240000 + 900 * (12 + 16 * 792)


@pytest.fixture
def huge_png(tmp_path):
    folder = tmp_path / 'in'
    folder.mkdir()
    png_claiming(folder / 'huge.png', 100000, 100000)
    cv2.imwrite(str(folder / 'ok.png'), np.full((40, 48, 3), 128, np.uint8))
    return folder


LIMIT_LINE = "huge.png' is 100000x100000 (10000 MP), over the limit of 179 MP; raise it with --max-pixels"


def test_upscale_skips_an_image_over_the_pixel_limit_in_one_line(huge_png, models, tmp_path, basicsr_main):
    result = basicsr_main(['upscale', '-i', str(huge_png), '-o', str(tmp_path / 'out'), '-m',
                           str(models['experiment']), '-q'], cwd=tmp_path)
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert LIMIT_LINE in result.stderr and sorted(os.listdir(tmp_path / 'out')) == ['ok.png']


def test_sfd_iqa_score_skips_an_image_over_the_pixel_limit_in_one_line(huge_png, tmp_path, sfd_iqa_main):
    from helpers.iqa import random_sfd_iqa_weights
    weights = random_sfd_iqa_weights(tmp_path)[2]
    result = sfd_iqa_main(['score', '-t', str(huge_png), '--weights', str(weights), '-q'], cwd=tmp_path)
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert LIMIT_LINE in result.stderr and 'ok.png\t' in result.stdout


def test_evaluate_skips_a_gt_over_the_pixel_limit_in_one_line(huge_png, models, tmp_path, basicsr_main):
    result = basicsr_main(['evaluate', '-m', str(models['experiment']), '--data', f'S={huge_png}', '--metrics',
                           'psnr', '-o', str(tmp_path / 'eval'), '-q'], cwd=tmp_path)
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert LIMIT_LINE in result.stderr


def test_max_pixels_lowers_the_limit_and_must_be_positive(models, tmp_path, basicsr_main):
    cv2.imwrite(str(tmp_path / 'a.png'), np.zeros((16, 20, 3), np.uint8))
    words = ['upscale', '-i', str(tmp_path / 'a.png'), '-o', str(tmp_path / 'out'), '-m', str(models['experiment'])]
    result = basicsr_main(words + ['--max-pixels', '300'], cwd=tmp_path)
    assert result.returncode == 1
    assert "a.png' is 20x16 (0 MP), over the limit of 0 MP; raise it with --max-pixels" in result.stderr
    assert basicsr_main(words + ['--max-pixels', '320'], cwd=tmp_path).returncode == 0
    refused = basicsr_main(words + ['--max-pixels', '0'], cwd=tmp_path)
    assert refused.returncode == 2 and "argument --max-pixels: expected a positive whole number, got '0'" \
        in refused.stderr


def test_an_image_too_large_to_upscale_whole_runs_in_tiles_and_one_too_large_for_tiles_is_refused(
        models, tmp_path, basicsr_main, monkeypatch):
    cv2.imwrite(str(tmp_path / 'a.png'), np.random.default_rng(0).integers(0, 256, (300, 200, 3), dtype=np.uint8))
    words = ['upscale', '-i', str(tmp_path / 'a.png'), '-o', str(tmp_path / 'out'), '-m', str(models['experiment'])]
    whole, tiled = memory_needed(4, 300, 200, 3, 1), memory_needed(4, 300, 200, 3, 1, 128, 16)
    monkeypatch.setattr(files, 'available_memory', lambda: (whole + tiled) // 2)
    from sfd_basicsr.inference.upscaler import Upscaler
    tiles_run, upscale_array = [], Upscaler.upscale_array

    def recorded(self, array, outscale=None, tile=None):
        tiles_run.append(tile)
        return upscale_array(self, array, outscale, tile)

    monkeypatch.setattr(Upscaler, 'upscale_array', recorded)
    result = basicsr_main(words, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert 'a.png (200x300) does not fit in memory whole: upscaling it in tiles of 128 px' in result.stderr
    assert tiles_run == [128]  # the tiles said are the tiles run
    assert cv2.imread(str(tmp_path / 'out' / 'a.png')).shape == (1200, 800, 3)
    monkeypatch.setattr(files, 'available_memory', lambda: 300 * 200 * 16 * 3)  # the output alone, exactly
    result = basicsr_main(words, cwd=tmp_path)
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert "a.png': upscaling its 200x300 pixels x4 needs at least" in result.stderr
    assert '(the output alone is 3 MB); 3 MB is free.' in result.stderr


def test_decoding_what_the_free_memory_cannot_hold_is_refused_before_decoding(tmp_path, monkeypatch):
    from sfd_basicsr.utils.image_io import read_unchanged
    cv2.imwrite(str(tmp_path / 'a.png'), np.zeros((100, 100, 3), np.uint8))
    monkeypatch.setattr(memory, 'available_memory', lambda: 29999)
    with pytest.raises(memory.TooLarge, match=r"'.*a.png': decoding its 100x100 pixels needs 0 MB of memory"):
        read_unchanged(str(tmp_path / 'a.png'))
    monkeypatch.setattr(memory, 'available_memory', lambda: 30000)
    assert read_unchanged(str(tmp_path / 'a.png')).shape == (100, 100, 3)


def test_sizes_are_said_in_gigabytes_from_one_gigabyte_on():
    assert memory.size_text(2**30) == '1.0 GB' and memory.size_text(2**30 - 2**20) == '1023 MB'
    assert memory.size_text(5 * 2**20) == '5 MB'


@pytest.mark.parametrize('content', [b'', b'a', b'ab', b'BM', b'abc'])
def test_a_file_too_short_for_any_header_has_none(tmp_path, content):
    # Pillow's BMP check reads 4 bytes from whatever prefix it is given and raised struct.error on fewer
    (tmp_path / 'short.png').write_bytes(content)
    assert image_header(str(tmp_path / 'short.png')) is None
