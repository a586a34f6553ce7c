"""SeD baselines on the shared encoder: shapes, semantic conditioning, stock BasicSR training."""
import pytest
import skimage.data
import torch
from basicsr.archs import build_network
from basicsr.models import build_model

from helpers.models import CLIP
from helpers.models import stock_options

SED = {'SeDPatchDiscriminator': lambda h, w: (h // 8 - 2, w // 8 - 2), 'SeDUNetDiscriminator': lambda h, w: (h, w)}


@pytest.mark.parametrize('arch', sorted(SED))
@pytest.mark.parametrize('shape', [(1, 3, 64, 64), (2, 3, 96, 128)])
def test_output_shapes_on_two_sizes(arch, shape):
    net = build_network({'type': arch, 'num_feat': 16, 'fused_channels': 16, 'clip_model': CLIP, 'pretrained': None})
    out = net(torch.rand(shape))
    assert out.shape == (shape[0], 1, *SED[arch](shape[2], shape[3]))


@pytest.mark.parametrize('arch', sorted(SED))
def test_semantics_condition_the_output_and_can_come_from_another_image(arch):
    net = build_network({'type': arch, 'num_feat': 16, 'fused_channels': 16, 'clip_model': CLIP, 'pretrained': None})
    for _ in range(5):  # spectral norm's power iteration settles in train mode, as during training
        net(torch.rand(2, 3, 64, 64))
    net.eval()
    for fusion in net.fusions:  # SeD's zero-initialised projections: give them weights to open the path
        torch.nn.init.normal_(fusion.proj_out.weight, std=1.0)
    image, hr = (torch.nn.functional.interpolate(
        torch.from_numpy(getattr(skimage.data, name)()).permute(2, 0, 1)[None].float() / 255, size=(64, 64),
        mode='area') for name in ('astronaut', 'coffee'))
    own = net(image)
    torch.testing.assert_close(net(image, semantic=net.semantic(image)), own)
    assert (net(image, semantic=net.semantic(hr)) - own).abs().max() > 1e-4 * own.abs().max()
    assert not net.encoder().training and 'clip' not in ''.join(net.state_dict())


@pytest.mark.parametrize('arch', sorted(SED))
def test_a_few_iterations_in_a_stock_basicsr_model(arch):
    model = build_model(stock_options('SRGANModel', {'type': arch, 'num_feat': 8, 'fused_channels': 8,
                                                     'clip_model': CLIP, 'pretrained': None}))
    model.feed_data({'lq': torch.rand(2, 3, 16, 16), 'gt': torch.rand(2, 3, 64, 64)})
    for it in (1, 2, 3):
        model.optimize_parameters(it)
    assert all(torch.isfinite(torch.as_tensor(v)) for v in model.get_current_log().values())


def test_too_small_input_is_a_clear_error():
    net = build_network({'type': 'SeDPatchDiscriminator', 'num_feat': 8, 'fused_channels': 8, 'clip_model': CLIP,
                         'pretrained': None})
    with pytest.raises(ValueError, match='at least 32 px'):
        net(torch.rand(1, 3, 16, 64))


@pytest.mark.parametrize('backbone, layer, channels', [('timm:efficientnet_b0', 'stage4', 112),
                                                       ('timm:vit_small_patch14_dinov2', 'block9', 384)])
def test_on_another_backbone_sed_reads_its_deepest_default_layer(backbone, layer, channels):
    """Any width works: SeD's GroupNorm takes the largest group count dividing it (16 for EfficientNet's 112)."""
    from sfd_basicsr.backbones.layout import encoder_layout
    net = build_network({'type': 'SeDUNetDiscriminator', 'num_feat': 8, 'fused_channels': 8, 'backbone': backbone,
                         'pretrained': None})
    layout = encoder_layout(backbone)
    assert net.semantic_layer == layout.default_layers[-1] == layer
    assert net.fusions[0].norm.num_channels == layout.layer_channels[layer] == channels
    assert channels % net.fusions[0].norm.num_groups == 0 and net.fusions[0].norm.num_groups in (16, 32)
    image = torch.rand(1, 3, 56, 56)
    assert net(image).shape == (1, 1, 56, 56)
    assert net.semantic(image).shape[1] == channels
    with pytest.raises(ValueError, match=r"Unknown encoder layer\(s\) \['layer3'\]"):
        build_network({'type': 'SeDUNetDiscriminator', 'backbone': backbone, 'pretrained': None,
                       'semantic_layer': 'layer3'})
