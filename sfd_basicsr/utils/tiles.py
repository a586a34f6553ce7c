"""An image cut into tiles with context around each: how ``basicsr upscale`` and SFD-IQA bound their memory."""
import math


def tile_bounds(length, tile_size, align=1):
    """``[(start, stop), ...]``: the fewest near-equal parts of at most ``tile_size``, inner edges on ``align``."""
    parts = max(1, math.ceil(length / tile_size))
    inner = [round(i * length / parts / align) * align for i in range(1, parts)]
    edges = [0] + inner + [length]
    return list(zip(edges[:-1], edges[1:]))


def tiles_with_context(height, width, tile_size, margin, align=1):
    """``(kept, seen)`` boxes ``(top, bottom, left, right)``: each tile (``tile_bounds`` on both axes) and the tile
    with up to ``margin`` pixels of its neighbours around it, clipped to the image."""
    for top, bottom in tile_bounds(height, tile_size, align):
        for left, right in tile_bounds(width, tile_size, align):
            seen = max(0, top - margin), min(height, bottom + margin), max(0, left - margin), min(width, right + margin)
            yield (top, bottom, left, right), seen
