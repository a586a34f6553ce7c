"""``backbones/clip_encoder.py`` on open_clip's timm towers (CLIP-ConvNeXt): the stage maps and the embedding are
open_clip's own, in one pass at any size, and TG-D reads them with the model's own text tower. (The ResNet and ViT
towers: tests/test_backbone_encoder.py.)"""
import open_clip
import pytest
import torch
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
