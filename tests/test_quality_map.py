"""Quality-map pictures (iqa/quality_map.py): panels, overlay and colour bar against OpenCV's own colour map."""
import cv2
import numpy as np
import torch

from sfd_basicsr.iqa.quality_map import quality_map_picture


def jet(value):
    """OpenCV's JET colour of one 8-bit value, BGR."""
    return cv2.applyColorMap(np.array([[value]], np.uint8), cv2.COLORMAP_JET)[0, 0]


def panels(picture, height, width):
    """The picture's image, overlay and colour-bar panels (below the score line)."""
    body = picture[picture.shape[0] - height:]
    return body[:, :width], body[:, width:2 * width], body[:, 2 * width:]


def test_the_overlay_is_half_the_image_and_half_the_jet_colour_of_the_realness():
    rgb = np.random.default_rng(0).integers(0, 256, (160, 200, 3), np.uint8)
    image = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    realness = torch.ones(1, 1, 160, 200)
    realness[..., 80:, :] = 0
    picture = quality_map_picture(image, realness, 0.5)
    shown, overlay, _ = panels(picture, 160, 200)
    bgr = rgb[..., ::-1]
    assert np.array_equal(shown, bgr)  # 160 px high: neither shrunk nor enlarged
    for rows, colour in ((slice(0, 80), jet(255)), (slice(80, 160), jet(0))):
        expected = bgr[rows].astype(np.float64) * 0.5 + colour.astype(np.float64) * 0.5
        assert np.abs(overlay[rows].astype(np.float64) - expected).max() <= 1  # cv2.addWeighted rounds


def test_the_colour_bar_runs_from_real_at_the_top_to_fake_at_the_bottom():
    picture = quality_map_picture(torch.rand(1, 3, 160, 200), torch.rand(1, 1, 160, 200), 0.5)
    _, _, bar = panels(picture, 160, 200)
    assert np.array_equal(bar[0, 10], jet(255)) and np.array_equal(bar[-1, 10], jet(0))


def test_a_small_image_is_enlarged_without_smoothing():
    rgb = np.random.default_rng(1).integers(0, 256, (48, 60, 3), np.uint8)
    image = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    picture = quality_map_picture(image, torch.rand(1, 1, 48, 60), 0.5)
    shown, _, _ = panels(picture, 128, 160)  # 128 px high at least: 8/3 times, so pixels repeat 2 or 3 times
    assert np.array_equal(shown, cv2.resize(rgb[..., ::-1], (160, 128), interpolation=cv2.INTER_NEAREST))
    assert len(np.unique(shown.reshape(-1, 3), axis=0)) == len(np.unique(rgb.reshape(-1, 3), axis=0))  # no blends


def test_quality_map_pictures_of_huge_images_are_capped():
    image = torch.rand(1, 3, 3000, 4500)
    picture = quality_map_picture(image, torch.rand(1, 1, 3000, 4500), 0.5, max_side=1024)
    assert picture.shape[0] < 1024 + 64 and picture.shape[1] < 2 * 1024 + 128


def test_values_outside_0_1_are_clipped_and_levels_between_8_bit_steps_shown_as_the_nearest():
    # four bands of 40 rows: below 0, above 1, 100.6 / 255 (nearest 8-bit level 101, not 100) and 0
    levels = torch.tensor([-0.5, 1.5, 100.6 / 255, 0.0]).repeat_interleave(40).view(1, 1, 160, 1)
    image = levels.expand(1, 3, 160, 200)
    realness = torch.tensor([1.5, -0.5, 100.6 / 255, 0.0]).repeat_interleave(40).view(1, 1, 160, 1)
    realness = realness.expand(1, 1, 160, 200)
    shown, overlay, _ = panels(quality_map_picture(image, realness, 0.5), 160, 200)
    for band, (grey, colour) in enumerate([(0, jet(255)), (255, jet(0)), (101, jet(101)), (0, jet(0))]):
        rows = slice(40 * band, 40 * band + 40)
        assert (shown[rows] == grey).all(), band
        expected = grey * 0.5 + colour.astype(np.float64) * 0.5
        assert np.abs(overlay[rows].astype(np.float64) - expected).max() <= 1, band  # cv2.addWeighted rounds


def test_an_image_enlarged_by_less_than_twice_is_enlarged_without_smoothing_too():
    rgb = np.random.default_rng(2).integers(0, 256, (80, 100, 3), np.uint8)
    image = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    picture = quality_map_picture(image, torch.rand(1, 1, 80, 100), 0.5)
    shown, _, _ = panels(picture, 128, 160)  # 80 px -> 128 px: 1.6 times
    assert np.array_equal(shown, cv2.resize(rgb[..., ::-1], (160, 128), interpolation=cv2.INTER_NEAREST))


def text_lines(header):
    """The runs of rows with dark (text) pixels in a header, and the rightmost column with any."""
    ink = (header < 128).any(axis=2)
    rows = ink.any(axis=1).astype(int)
    return int((np.diff(np.concatenate([[0], rows])) == 1).sum()), int(np.nonzero(ink.any(axis=0))[0].max())


def test_the_score_line_is_split_in_two_on_a_narrow_picture_so_nothing_is_cut_off():
    # OpenCV measures the one-line text at 393 px and its longer half at 226 px: a 160 x 200 image gives
    # 200 + 200 + 86 px, room for one line; a 128 x 80 one gives 80 + 80 + 86 = 246 px, room for the halves only
    wide = quality_map_picture(torch.rand(1, 3, 160, 200), torch.rand(1, 1, 160, 200), 0.5)
    narrow = quality_map_picture(torch.rand(1, 3, 128, 80), torch.rand(1, 1, 128, 80), 0.5)
    assert narrow.shape[1] == 246
    lines, right = text_lines(wide[:wide.shape[0] - 160])
    assert lines == 1 and right < wide.shape[1] - 6
    lines, right = text_lines(narrow[:narrow.shape[0] - 128])
    assert lines == 2 and right < narrow.shape[1] - 6


def test_on_a_picture_too_narrow_even_for_the_halves_the_font_shrinks_and_nothing_is_cut_off():
    # 40 + 40 + 86 = 166 px: OpenCV measures the longer half at 226 px in the usual font
    picture = quality_map_picture(torch.rand(1, 3, 128, 40), torch.rand(1, 1, 128, 40), 0.5)
    assert picture.shape[1] == 166
    lines, right = text_lines(picture[:picture.shape[0] - 128])
    assert lines == 2 and right < picture.shape[1] - 6


def test_write_png_writes_a_lossless_png_beside_whatever_extension_it_is_given(tmp_path):
    from sfd_basicsr.iqa.quality_map import write_png
    picture = np.random.default_rng(3).integers(0, 256, (32, 48, 3), np.uint8)
    write_png(str(tmp_path / 'map.jpg'), picture)
    assert sorted(path.name for path in tmp_path.iterdir()) == ['map.png']
    with open(tmp_path / 'map.png', 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    assert np.array_equal(cv2.imread(str(tmp_path / 'map.png'), cv2.IMREAD_UNCHANGED), picture)
