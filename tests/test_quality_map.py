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
