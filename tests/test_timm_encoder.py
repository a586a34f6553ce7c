"""``backbones/timm_encoder.py``: a frozen timm model gives the middle maps timm's own feature extractor gives, under
the normalisation timm's data config names, and is shared, frozen and embedding-free."""
import pytest
import timm
import torch

from sfd_basicsr.archs.featd_arch import FeatD
from sfd_basicsr.backbones.encoder import get_encoder
from sfd_basicsr.backbones.weights import normalisation
from sfd_basicsr.utils.errors import InputError


def _timm_reference(model, path, levels, **kwargs):
    """timm's feature extractor for ``model`` with the weights in ``path``, and its data config's mean and std."""
    built = timm.create_model(model, pretrained=True, pretrained_cfg_overlay={'file': str(path)}, features_only=True,
                              out_indices=levels, **kwargs).eval()
    config = timm.data.resolve_data_config({}, model=built)
    return built, torch.tensor(config['mean']).view(1, 3, 1, 1), torch.tensor(config['std']).view(1, 3, 1, 1)


@pytest.mark.parametrize('model, layers, levels, kwargs', [
    ('convnext_atto', ('stage2', 'stage3'), (1, 2), {}),
    ('efficientnet_b0', ('stage3', 'stage5'), (2, 4), {}),
    ('vit_small_patch14_dinov2', ('block6', 'block9'), (5, 8), {'img_size': 98}),
])
def test_middle_maps_equal_timms_feature_extractor(tmp_path, model, layers, levels, kwargs):
    encoder = get_encoder(f'timm:{model}', None, 'cpu')
    path = tmp_path / 'weights.pth'
    torch.save(encoder.timm.state_dict(), path)
    reference, mean, std = _timm_reference(model, path, levels, **kwargs)
    image = torch.rand(2, 3, 98, 98)
    with torch.no_grad():
        theirs = reference((image - mean) / std)
        ours = encoder(image, layers=layers, embedding=False)
    assert list(ours) == list(layers)
    for name, expected in zip(layers, theirs):
        torch.testing.assert_close(ours[name], expected, rtol=1e-4, atol=1e-5)
    with torch.no_grad():  # asked deepest first, each layer is still its own map
        backwards = encoder(image, layers=layers[::-1], embedding=False)
    for name in layers:
        torch.testing.assert_close(backwards[name], ours[name])


def test_any_input_size_gives_the_vit_token_grid_dropping_a_remainder_as_open_clips_vits_do():
    encoder = get_encoder('timm:vit_small_patch14_dinov2', None, 'cpu')
    image = torch.rand(1, 3, 75, 153)
    maps = encoder(image, layers=('block1', 'block12'), embedding=False)
    assert maps['block1'].shape == maps['block12'].shape == (1, 384, 5, 10)
    cropped = encoder(image[..., :70, :140], layers=('block12', ), embedding=False)['block12']
    torch.testing.assert_close(maps['block12'], cropped)


def test_normalisation_is_timms_for_the_weights_asked_for():
    """CLIP-trained timm weights use OpenAI's statistics, ImageNet-trained ones ImageNet's: read per tag, not
    hard-coded."""
    for model, tag in (('convnext_base', 'clip_laion2b'), ('convnext_base', 'fb_in22k_ft_in1k'),
                       ('vit_small_patch14_dinov2', 'lvd142m')):  # convnext_base: CLIP's and ImageNet's, per tag
        with torch.device('meta'):
            built = timm.create_model(f'{model}.{tag}', pretrained=False)
        config = timm.data.resolve_data_config({}, model=built)
        assert normalisation(f'timm:{model}', tag) == (tuple(config['mean']), tuple(config['std']))
    encoder = get_encoder('timm:convnext_atto', None, 'cpu')
    config = timm.data.resolve_data_config({}, model=timm.create_model('convnext_atto', pretrained=False))
    assert encoder.mean.flatten().tolist() == pytest.approx(config['mean'])
    assert encoder.std.flatten().tolist() == pytest.approx(config['std'])


def test_shared_frozen_and_gradients_reach_only_the_image():
    featd = FeatD(backbone='timm:convnext_atto', pretrained=None, num_feat=8)
    encoder = featd.encoder()
    assert encoder is get_encoder('timm:convnext_atto', None, 'cpu')
    assert encoder is FeatD(backbone='timm:convnext_atto', pretrained=None, num_feat=16).encoder()
    featd.train()
    encoder.train()
    assert not encoder.training and not any(m.training for m in encoder.modules())
    image = torch.rand(1, 3, 64, 64, requires_grad=True)
    featd(image).mean().backward()
    assert image.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in encoder.parameters())
    assert not any('timm' in key or 'network' in key for key in featd.state_dict())


def test_there_is_no_embedding_to_ask_for():
    encoder = get_encoder('timm:convnext_atto', None, 'cpu')
    with pytest.raises(InputError, match='timm:convnext_atto has no image embedding'):
        encoder(torch.rand(1, 3, 64, 64), layers=('stage2', ), embedding=True)


def test_a_vit_remainder_is_dropped_to_give_timms_maps_of_the_cropped_image(tmp_path):
    """75 x 153 with 14-pixel patches: the 70 x 140 top-left crop, as timm's feature extractor built for that size
    sees it, rather than timm's patch embedding refusing the size."""
    encoder = get_encoder('timm:vit_small_patch14_dinov2', None, 'cpu')
    path = tmp_path / 'weights.pth'
    torch.save(encoder.timm.state_dict(), path)
    reference, mean, std = _timm_reference('vit_small_patch14_dinov2', path, (11, ), img_size=(70, 140))
    image = torch.rand(1, 3, 75, 153)
    with torch.no_grad():
        try:
            ours = encoder(image, layers=('block12', ), embedding=False)
        except AssertionError as error:  # timm's own refusal, not this test's
            pytest.fail(f'the remainder was not dropped: {error}')
        theirs, = reference((image[..., :70, :140] - mean) / std)
    torch.testing.assert_close(ours['block12'], theirs, rtol=1e-4, atol=1e-5)


def test_no_layers_asked_gives_no_maps():
    encoder = get_encoder('timm:convnext_atto', None, 'cpu')
    try:
        maps = encoder(torch.rand(1, 3, 64, 64), layers=(), embedding=False)
    except ValueError as error:  # timm's forward_intermediates has no answer for no indices
        pytest.fail(f'asking for nothing failed: {error}')
    assert maps == {}
