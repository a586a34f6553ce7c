"""FeatD (archs/featd_arch.py): shapes, options, precomputed features, and its U-Net against BasicSR's."""
import re

import cv2
import numpy as np
import pytest
import torch
from basicsr.archs import build_network
from basicsr.archs.discriminator_arch import UNetDiscriminatorSN

from helpers.models import CLIP, tiny_featd


@pytest.mark.parametrize('shape', [(1, 3, 128, 128), (2, 3, 96, 160)])
def test_featd_returns_a_logit_map_at_the_finest_layer_stride(shape, clip_model):
    featd = tiny_featd(clip_model)
    assert featd.stride == (16 if clip_model.startswith('ViT') else 8)
    logits = featd(torch.rand(shape))
    assert logits.shape == (shape[0], 1, shape[2] // featd.stride, shape[3] // featd.stride)


def test_featd_layers_and_widths_are_options():
    featd = build_network({'type': 'FeatD', 'clip_model': CLIP, 'pretrained': None, 'layers': ['layer3'],
                           'num_feat': 8, 'num_down': 1})
    assert featd.stride == 16 and featd.project['layer3'].in_channels == 1024
    assert featd(torch.rand(1, 3, 64, 96)).shape == (1, 1, 4, 6)
    with pytest.raises(ValueError, match='at least 32 px'):
        featd(torch.rand(1, 3, 16, 64))


def test_featd_on_precomputed_features_equals_featd_on_the_image(clip_model):
    featd = tiny_featd(clip_model).eval()  # spectral norm's power iteration runs on every forward in train mode
    image = torch.rand(2, 3, 64, 64)
    features = featd.encoder()(image, layers=featd.layers, embedding=True)
    torch.testing.assert_close(featd(features=features), featd(image))


def resized_as_opencv_resizes(maps, size):
    """``(1, C, h, w)`` -> ``(1, C, H, W)``, each channel by OpenCV's bilinear resize (pixel centres)."""
    channels = [cv2.resize(channel, size[::-1], interpolation=cv2.INTER_LINEAR) for channel in maps[0].numpy()]
    return torch.from_numpy(np.stack(channels))[None]


# Feat-D's U-Net modules and the UNetDiscriminatorSN convolutions they are (conv0 reads pixels: Feat-D has none)
BASICSR_NAMES = {'down.0': 'conv1', 'down.1': 'conv2', 'down.2': 'conv3', 'up.0': 'conv4', 'up.1': 'conv5',
                 'up.2': 'conv6', 'head.0': 'conv7', 'head.2': 'conv8', 'head.4': 'conv9'}


def basicsr_names(state_dict):
    """Feat-D's U-Net entries of ``state_dict`` under UNetDiscriminatorSN's names."""
    return {key.replace(prefix, BASICSR_NAMES[prefix], 1): value for key, value in state_dict.items()
            for prefix in BASICSR_NAMES if key.startswith(prefix + '.')}


@pytest.mark.parametrize('skip_connection', [True, False])
def test_featd_is_basicsrs_unet_discriminator_on_its_projected_features(skip_connection):
    # layers given deepest first: the map is still the finest layer's, the coarser one resized onto it
    featd = build_network({'type': 'FeatD', 'clip_model': CLIP, 'pretrained': None, 'layers': ['layer3', 'layer2'],
                           'num_feat': 8, 'num_down': 3, 'skip_connection': skip_connection})
    torch.manual_seed(0)
    features = {'layer2': torch.randn(1, 512, 16, 24), 'layer3': torch.randn(1, 1024, 8, 12)}
    with torch.no_grad():
        for _ in range(30):  # spectral norm's power iteration converges (train mode); its fresh sigma is far off
            featd(features=features)
        featd.eval()
        projected = featd.project['layer2'](features['layer2']) + resized_as_opencv_resizes(
            featd.project['layer3'](features['layer3']), (16, 24))
        # BasicSR's UNetDiscriminatorSN from its first feature map on: conv0 made the identity, the rest Feat-D's
        unet = UNetDiscriminatorSN(num_in_ch=8, num_feat=8, skip_connection=skip_connection).eval()
        unet.conv0.weight.zero_()
        unet.conv0.weight[range(8), range(8), 1, 1] = 1
        unet.conv0.bias.zero_()
        ours = featd.state_dict()
        unet.load_state_dict({**unet.state_dict(), **basicsr_names(ours)})
        torch.testing.assert_close(featd(features=features), unet(projected), rtol=1e-4, atol=1e-5)


def assert_refused(call, message):
    """``call()`` raises the ValueError (InputError) saying ``message``: any other exception fails the assertion."""
    try:
        call()
    except Exception as error:  # noqa: BLE001  (an IndexError, KeyError, ... is what a missing refusal gives)
        assert isinstance(error, ValueError) and re.search(message, str(error)), repr(error)
    else:
        pytest.fail(f'not refused: {message}')


def test_featd_refuses_what_it_cannot_discriminate():
    assert_refused(lambda: tiny_featd(layers=[]), "FeatD option 'layers' must name at least one encoder layer")
    assert_refused(lambda: tiny_featd(layers=['layer2', 'layer7']),
                   r"Unknown encoder layer\(s\) \['layer7'\] for RN50-quickgelu")
    assert_refused(tiny_featd(), 'FeatD needs an image or precomputed encoder features')


def test_featd_needs_one_position_left_after_its_down_stages():
    """layer2 (stride 8) halved three times by the U-Net: an image side of at least 8 * 2**3 = 64 px."""
    featd = tiny_featd(layers=['layer2'], num_down=3)
    assert featd.min_size == 64
    with pytest.raises(ValueError, match='at least 64 px'):
        featd(torch.rand(1, 3, 56, 96))
    assert featd(torch.rand(1, 3, 64, 96)).shape == (1, 1, 8, 12)


@pytest.mark.parametrize('skip_connection', [True, False])
def test_odd_sized_feature_maps_give_one_logit_per_position(skip_connection):
    """13 x 11 halves to 6 x 5 and 3 x 2; each up stage returns to its skip's size, not to twice its own."""
    featd = tiny_featd(layers=['layer2'], num_down=2, skip_connection=skip_connection)
    try:
        logits = featd(features={'layer2': torch.randn(1, 512, 13, 11)})
    except RuntimeError as error:
        pytest.fail(f'odd-sized maps failed: {error}')
    assert logits.shape == (1, 1, 13, 11)


def test_featd_unet_has_basicsrs_parameters_and_buffers():
    """Every UNetDiscriminatorSN entry after conv0, of its shape, and nothing more (no bias where it has none)."""
    ours = {key: value.shape for key, value in basicsr_names(tiny_featd(num_feat=8, num_down=3).state_dict()).items()}
    theirs = {key: value.shape for key, value in UNetDiscriminatorSN(num_in_ch=8, num_feat=8).state_dict().items()
              if not key.startswith('conv0.')}
    assert ours == theirs
