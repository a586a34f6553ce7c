"""``utils/tiles.py``: tiles worked out by hand."""
from sfd_basicsr.utils.tiles import tile_bounds, tiles_with_context


def test_the_fewest_near_equal_parts_on_the_alignment():
    assert tile_bounds(100, 100) == [(0, 100)]
    assert tile_bounds(101, 100) == [(0, 50), (50, 101)]  # two parts, not 100 + 1
    assert tile_bounds(300, 128) == [(0, 100), (100, 200), (200, 300)]
    assert tile_bounds(300, 128, align=32) == [(0, 96), (96, 192), (192, 300)]  # round(100/32)*32, round(200/32)*32


def test_each_tile_is_seen_with_its_context_clipped_to_the_image():
    boxes = list(tiles_with_context(10, 20, 10, 3))
    assert boxes == [((0, 10, 0, 10), (0, 10, 0, 13)), ((0, 10, 10, 20), (0, 10, 7, 20))]


def test_context_is_added_on_every_side_a_neighbour_has():
    boxes = list(tiles_with_context(20, 10, 10, 3))  # two rows of one column
    assert boxes == [((0, 10, 0, 10), (0, 13, 0, 10)), ((10, 20, 0, 10), (7, 20, 0, 10))]
