"""``inference/compare_metrics.py``: which pane is best, the means, the realness picture; values worked by hand."""
import cv2
import numpy as np

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
