"""``inference/compare_metrics.py``: which pane is best, the means, the realness picture; values worked by hand."""
import warnings

import cv2
import numpy as np
import pytest

from sfd_basicsr.inference.compare_metrics import best_label, realness_picture


def test_the_best_pane_is_the_highest_or_lowest_known_value_and_needs_a_contest():
    values = {'A': 30.0, 'B': 31.5, 'C': None, 'D': float('nan')}  # no value, or one no metric could give
    assert best_label(values, higher_better=True) == 'B'
    assert best_label(values, higher_better=False) == 'A'
    assert best_label({'A': float('inf'), 'B': 40.0}, higher_better=True) == 'A'  # PSNR of a copy of the GT
    assert best_label({'A': 30.0, 'B': float('nan'), 'C': None}, higher_better=True) is None  # nothing to beat


def test_the_realness_picture_is_opencvs_jet_of_the_clipped_map():
    realness = np.array([[1.0, 0.0], [1.7, -0.3]], np.float32)  # bilinear upsampling may leave [0, 1] slightly
    expected = cv2.applyColorMap(np.array([[255, 0], [255, 0]], np.uint8), cv2.COLORMAP_JET)
    assert np.array_equal(realness_picture(realness), expected)


def _ssim_works_in_basicsr(side, border):
    from basicsr.metrics import calculate_ssim
    image = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    try:  # below its window it gives NaN (the mean of nothing); with nothing left, OpenCV refuses
        with np.errstate(all='ignore'), warnings.catch_warnings():
            warnings.simplefilter('ignore')
            return bool(np.isfinite(calculate_ssim(image, image, border, test_y_channel=True)))
    except cv2.error:
        return False


@pytest.mark.parametrize('side, border', [(64, 26), (64, 27), (32, 10), (32, 11), (33, 11), (64, 1000)])
def test_a_crop_border_that_leaves_too_little_for_basicsrs_ssim_is_a_note_not_a_crash(side, border):
    from basicsr.metrics import calculate_psnr, calculate_ssim

    from sfd_basicsr.inference.compare_metrics import Scorers
    rng = np.random.default_rng(1)
    image, gt = (rng.integers(0, 256, (side, side, 3), dtype=np.uint8) for _ in range(2))
    values, _, notes = Scorers([], True, border, device='cpu').score(image, gt)
    if _ssim_works_in_basicsr(side, border):
        assert not notes
        assert values == {'PSNR-Y': calculate_psnr(image, gt, border, test_y_channel=True),
                          'SSIM-Y': calculate_ssim(image, gt, border, test_y_channel=True)}
    else:
        assert values == {} and notes == [
            f'PSNR-Y, SSIM-Y and full-reference metrics: a crop border of {border} px (--scale) leaves '
            f'{max(side - 2 * border, 0)} px of the {side}x{side} image; SSIM needs 11.']
