"""Zoomed crops chosen where the runs disagree most (inference/compare_crops.py): planted differences are found,
the window sums agree with a sum written out in numpy, and named regions are read as written."""
import numpy as np
import pytest

from sfd_basicsr.inference.compare_crops import auto_crops, clipped, crop_side, disagreement, parse_crop


def runs_differing_at(blocks, shape=(120, 160)):
    """Two identical grey images but for ``blocks`` ``(x, y, side, strength)`` where the second is brighter."""
    first = np.full(shape + (3,), 100, np.uint8)
    second = first.copy()
    for x, y, side, strength in blocks:
        second[y:y + side, x:x + side] += strength
    return [first, second]


def test_the_crops_land_on_the_planted_differences_strongest_first():
    images = runs_differing_at([(100, 70, 16, 60), (10, 20, 16, 30)])
    assert auto_crops(images, count=2, side=16) == [(100, 70, 16, 16), (10, 20, 16, 16)]


def test_the_crops_never_overlap():
    images = runs_differing_at([(40, 40, 40, 50)])
    crops = auto_crops(images, count=3, side=20)
    for i, (x, y, w, h) in enumerate(crops):
        for x2, y2, w2, h2 in crops[i + 1:]:
            assert x + w <= x2 or x2 + w2 <= x or y + h <= y2 or y2 + h2 <= y
    assert crops[:1] == [(40, 40, 20, 20)]  # ties: the first corner in reading order


def test_the_chosen_window_holds_the_largest_sum_of_disagreement():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (40, 50, 3), dtype=np.uint8) for _ in range(3)]
    spread = disagreement(images)
    side = 8
    sums = np.array([[spread[y:y + side, x:x + side].sum() for x in range(50 - side + 1)]
                     for y in range(40 - side + 1)])
    x, y, _, _ = auto_crops(images, count=1, side=side)[0]
    assert sums[y, x] == pytest.approx(sums.max(), rel=1e-5)


def test_disagreement_is_the_spread_of_the_runs_luma():
    images = runs_differing_at([(0, 0, 10, 40)], shape=(10, 10))
    # grey pixels: luma is the grey level; two runs at 100 and 140 are 20 away from their mean
    assert disagreement(images)[0, 0] == pytest.approx(20)


def test_crop_side_is_a_sixth_of_the_short_side_within_bounds():
    assert (crop_side(504, 504), crop_side(60, 90), crop_side(2000, 3000), crop_side(10, 10)) == (84, 16, 128, 10)


def test_a_region_is_read_as_written_and_a_bad_one_refused():
    assert parse_crop('baby=120,40,64,32') == ('baby', (120, 40, 64, 32))
    assert parse_crop('img_1=x=0,0,8,8') == ('img_1=x', (0, 0, 8, 8))
    for text in ('baby', 'baby=1,2,3', 'baby=1,2,0,4', 'baby=-1,2,3,4'):
        with pytest.raises(ValueError, match=f"--crop '{text}': expected IMAGE=X,Y,W,H"):
            parse_crop(text)


def test_a_region_over_the_edge_is_cut_to_the_image_and_one_outside_is_none():
    assert clipped((90, 50, 20, 20), 60, 100) == (90, 50, 10, 10)
    assert clipped((100, 0, 8, 8), 60, 100) is None
