"""Tiled SFD-IQA aggregates exactly: margins are context only, tiles are weighted by their area."""
import pytest
import torch

from helpers.iqa import random_sfd_iqa_weights
from helpers.models import astronaut
from sfd_basicsr.iqa.sfd_iqa_arch import SFDIQA
from sfd_basicsr.utils.tiles import tile_bounds


def probe_scorer(path, tile_size, fusion_weight):
    """SFD-IQA whose encoder and heads are replaced by a probe: realness = pixel brightness.

    The Feat-D map is the mean of the red channel over each ``stride x stride`` block, the TG-D realness
    the mean of the whole tile it sees. Exact aggregation then gives the image's mean whatever the tiling.
    """
    net = SFDIQA(path, tile_size=tile_size, fusion_weight=fusion_weight)
    stride = net.featd.stride

    def probe_encoder(image, layers, embedding):
        red = image[:, :1]
        return {'map': torch.nn.functional.avg_pool2d(red, stride), 'embedding': red.mean(dim=(2, 3))}

    net.featd.encoder = lambda device=None: probe_encoder
    net.featd.forward = lambda features: torch.logit(features['map'])
    net.tgd.forward = lambda embedding: torch.logit(embedding)
    return net


def ramp_image(height, width):
    rows = torch.linspace(0.1, 0.9, height).view(-1, 1)
    cols = torch.linspace(0.0, 0.5, width).view(1, -1) ** 2
    return ((rows + cols) / 1.4).clamp(0.05, 0.95).expand(1, 3, height, width).contiguous()


def test_unequal_tiles_are_area_weighted_and_margins_never_counted(tmp_path):
    path = str(random_sfd_iqa_weights(tmp_path)[2])
    image = ramp_image(328, 440)
    tile_size = 200
    stride = probe_scorer(path, tile_size, 1.0).featd.stride
    rows, cols = tile_bounds(328, tile_size, stride), tile_bounds(440, tile_size, stride)
    assert len({b - a for a, b in rows}) > 1 and len({b - a for a, b in cols}) > 1  # unequal tiles
    red = image[0, 0]
    # Feat-D: every stride block counted once, so the image's mean
    featd_part = probe_scorer(path, tile_size, 1.0)(image)[0]
    torch.testing.assert_close(featd_part, red.mean(), rtol=0, atol=1e-5)
    torch.testing.assert_close(probe_scorer(path, 1024, 1.0)(image)[0], red.mean(), rtol=0, atol=1e-5)
    # TG-D: each tile judged with its margin as context, weighted by the tile's own area
    net = probe_scorer(path, tile_size, 0.0)
    margin = net.tile_margin
    expected = sum((y1 - y0) * (x1 - x0) * red[max(0, y0 - margin):y1 + margin, max(0, x0 - margin):x1 + margin].mean()
                   for y0, y1 in rows for x0, x1 in cols) / red.numel()
    torch.testing.assert_close(net(image)[0], expected, rtol=0, atol=1e-5)


def test_a_tile_seen_with_its_margin_is_closer_to_the_whole_image_map(tmp_path):
    path = str(random_sfd_iqa_weights(tmp_path)[2])
    image = astronaut(512)
    with torch.no_grad():
        _, whole = SFDIQA(path, tile_size=1024)(image, return_map=True)
        _, with_margin = SFDIQA(path, tile_size=256, tile_margin=64)(image, return_map=True)
        _, without_margin = SFDIQA(path, tile_size=256, tile_margin=0)(image, return_map=True)
    error_with = (with_margin - whole).abs().mean()
    error_without = (without_margin - whole).abs().mean()
    assert error_with < 0.5 * error_without, (error_with, error_without)


def test_the_quality_map_is_the_realness_map_resized_as_opencv_resizes_it(tmp_path):
    import cv2
    path = str(random_sfd_iqa_weights(tmp_path)[2])
    image = ramp_image(64, 96)
    _, quality_map = probe_scorer(path, 1024, 1.0)(image, return_map=True)
    blocks = image[0, 0].reshape(8, 8, 12, 8).mean(dim=(1, 3)).numpy()  # the probe's map: 8x8 block means
    expected = cv2.resize(blocks, (96, 64), interpolation=cv2.INTER_LINEAR)  # OpenCV's bilinear: pixel centres
    assert quality_map.shape == (1, 1, 64, 96)
    assert abs(quality_map[0, 0].numpy() - expected).max() < 1e-5


def test_a_margin_is_rounded_up_to_whole_feature_positions_and_tiles_must_hold_two_minimum_sides(tmp_path):
    path = str(random_sfd_iqa_weights(tmp_path)[2])
    # the tiny Feat-D reads RN50's layer2 (stride 8) through a U-Net that halves it twice: 32 px at least
    assert SFDIQA(path, tile_margin=60).tile_margin == 64 and SFDIQA(path, tile_margin=64).tile_margin == 64
    assert SFDIQA(path, tile_size=64).tile_size == 64
    with pytest.raises(ValueError, match='tile_size must be at least 64; got 63'):
        SFDIQA(path, tile_size=63)
