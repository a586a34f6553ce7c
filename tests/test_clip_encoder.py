"""``backbones/clip_encoder.py`` on open_clip's timm towers (CLIP-ConvNeXt): the stage maps and the embedding are
open_clip's own, in one pass at any size, and TG-D reads them with the model's own text tower. The ResNet and ViT
towers' maps and embeddings at sizes open_clip was not built for are open_clip's own with the positional embedding
resized (the rest of those towers: tests/test_backbone_encoder.py.)"""
import copy

import open_clip
import pytest
import torch
from torch import nn
from torchvision.transforms import Normalize

from helpers.models import tiny_tgd
from sfd_basicsr.backbones.encoder import get_encoder

CONVNEXT = 'convnext_tiny'  # open_clip's CLIP-ConvNeXt config with the smallest trunk (convnext_base_w: the same code)


@pytest.fixture(scope='module')
def convnext():
    return get_encoder(f'open_clip:{CONVNEXT}', None, 'cpu')


@pytest.mark.parametrize('size', [(128, 128), (96, 160)])
def test_stage_maps_and_embedding_are_open_clips_in_one_pass(convnext, size):
    visual = convnext.clip.visual
    found = []
    hooks = [stage.register_forward_hook(lambda m, i, out: found.append(out)) for stage in visual.trunk.stages]
    image = torch.rand(2, 3, *size)
    with torch.no_grad():
        theirs = convnext.clip.encode_image((image - convnext.mean) / convnext.std)
        for hook in hooks:
            hook.remove()
        ours = convnext(image, layers=('stage2', 'stage3'), embedding=True)
        embedding_only = convnext(image, layers=(), embedding=True)['embedding']
    torch.testing.assert_close(ours['embedding'], theirs, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(embedding_only, theirs, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours['stage2'], found[1])
    torch.testing.assert_close(ours['stage3'], found[2])


def test_normalisation_is_open_clips_preprocessing(convnext):
    _, _, preprocess = open_clip.create_model_and_transforms(CONVNEXT, pretrained=None)
    normalize = next(t for t in preprocess.transforms if isinstance(t, Normalize))
    assert convnext.mean.flatten().tolist() == pytest.approx(normalize.mean)
    assert convnext.std.flatten().tolist() == pytest.approx(normalize.std)


def test_tgd_reads_the_convnext_embedding_with_its_text_tower(convnext):
    tgd = tiny_tgd(f'open_clip:{CONVNEXT}')
    assert tgd.encoder() is convnext
    pair = ['Good photo.', 'Bad photo.']
    with torch.no_grad():
        texts = open_clip.get_tokenizer(CONVNEXT)(pair)
        reference = convnext.clip.encode_text(texts, normalize=True)
        image = torch.rand(1, 3, 64, 64)
        image_features = convnext.clip.encode_image((image - convnext.mean) / convnext.std, normalize=True)
        logits = tgd(image, text_features=reference[None])
    expected = convnext.clip.logit_scale.exp() * (image_features @ reference.t())
    torch.testing.assert_close(logits[:, 0], expected[:, 0] - expected[:, 1], rtol=1e-4, atol=1e-4)


def _resized(pos, height, width):
    """timm's resize of a ``(1 + S*S, C)`` positional embedding (class token first), without the antialiasing it
    adds by default (as ``F.interpolate``'s bicubic mode, which open_clip's towers are given here)."""
    from timm.layers import resample_abs_pos_embed
    return resample_abs_pos_embed(pos[None], [height, width], num_prefix_tokens=1, antialias=False)[0]


def test_the_positional_embedding_is_resized_as_timm_resizes_one():
    from sfd_basicsr.backbones.clip_encoder import resize_positional_embedding
    pos = torch.randn(1 + 7 * 7, 16)
    for size in [(7, 7), (3, 5), (10, 12)]:
        torch.testing.assert_close(resize_positional_embedding(pos, *size), _resized(pos, *size))


def test_resnet_maps_at_any_size_are_open_clips():
    """The ResNet tower's maps are open_clip's own ``forward_intermediates``, asked without the embedding too (the
    pass then stops at the deepest layer asked for)."""
    encoder = get_encoder('RN50-quickgelu', None, 'cpu')
    image = torch.rand(2, 3, 96, 160)
    with torch.no_grad():
        layer1, layer3 = encoder.clip.visual.forward_intermediates(
            (image - encoder.mean) / encoder.std, indices=[1, 3], intermediates_only=True)['image_intermediates']
        ours = encoder(image, layers=('layer3', 'layer1'), embedding=False)
    assert set(ours) == {'layer1', 'layer3'}
    torch.testing.assert_close(ours['layer1'], layer1)
    torch.testing.assert_close(ours['layer3'], layer3)


@pytest.mark.parametrize('grid', [(7, 7), (3, 5)])
def test_resnet_attention_pool_is_open_clips_with_its_positional_embedding_resized(grid):
    """On any layer4 grid (7 x 7: 224 px, open_clip's own), open_clip's attention pool once its positional
    embedding is resized to that grid."""
    encoder = get_encoder('RN50-quickgelu', None, 'cpu')
    pool = copy.deepcopy(encoder.clip.visual.attnpool)
    pool.positional_embedding = nn.Parameter(_resized(pool.positional_embedding, *grid))
    x = torch.randn(2, 2048, *grid)
    with torch.no_grad():
        torch.testing.assert_close(encoder.attention_pool(x), pool(x), rtol=1e-4, atol=1e-5)


def test_vit_block_maps_and_embedding_at_any_size_are_open_clips():
    """The ViT tower's token grids and embedding are open_clip's own ``forward_intermediates`` once its positional
    embedding is resized to the 6 x 10 grid of a 96 x 160 image."""
    encoder = get_encoder('ViT-B-16', None, 'cpu')
    visual = copy.deepcopy(encoder.clip.visual)
    visual.positional_embedding = nn.Parameter(_resized(visual.positional_embedding, 6, 10))
    image = torch.rand(2, 3, 96, 160)
    with torch.no_grad():
        theirs = visual.forward_intermediates((image - encoder.mean) / encoder.std, indices=[0, 5, 8])
        ours = encoder(image, layers=('block1', 'block6', 'block9'), embedding=True)
    assert set(ours) == {'block1', 'block6', 'block9', 'embedding'}
    for name, expected in zip(('block1', 'block6', 'block9'), theirs['image_intermediates']):
        torch.testing.assert_close(ours[name], expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours['embedding'], theirs['image_features'], rtol=1e-4, atol=1e-5)


def test_vit_layers_asked_deepest_first_are_still_each_their_own_map():
    """As the ResNet and timm towers do (tests/test_timm_encoder.py): FeatD keeps a ViT's layers in the order the
    options give them, since all its blocks have one stride."""
    encoder = get_encoder('ViT-B-16', None, 'cpu')
    image = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        forwards = encoder(image, layers=('block1', 'block9'), embedding=False)
        backwards = encoder(image, layers=('block9', 'block1'), embedding=False)
    for name in ('block1', 'block9'):
        torch.testing.assert_close(backwards[name], forwards[name])
