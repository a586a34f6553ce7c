"""The shared frozen CLIP encoder: one pass, frozen, shared, loadable from a local file."""
import pytest
import torch

from helpers.models import CLIP, tiny_featd, tiny_tgd
from sfd_basicsr.backbones.clip_encoder import FrozenCLIPEncoder
from sfd_basicsr.backbones.encoder import get_encoder
from sfd_basicsr.backbones.weights import EncoderWeightsError


def test_one_instance_per_name_weights_and_device(encoder):
    assert get_encoder(CLIP, None, 'cpu') is encoder
    assert get_encoder(CLIP, None, torch.device('cpu')) is encoder
    featd, tgd = tiny_featd(), tiny_tgd()
    assert featd.encoder() is encoder and tgd.encoder() is encoder


def test_one_pass_gives_middle_maps_and_embedding_at_any_size(encoder):
    for h, w in [(64, 64), (96, 160), (100, 75)]:
        out = encoder(torch.rand(2, 3, h, w), layers=('layer1', 'layer2', 'layer3', 'layer4'), embedding=True)
        for name, stride in [('layer1', 4), ('layer2', 8), ('layer3', 16), ('layer4', 32)]:
            assert out[name].shape[:2] == (2, encoder.layer_channels[name])
            assert out[name].shape[-2] == -(-h // stride) or out[name].shape[-2] == h // stride
        assert out['embedding'].shape == (2, encoder.embed_dim)
    assert encoder.layer_channels == {'layer1': 256, 'layer2': 512, 'layer3': 1024, 'layer4': 2048}


def test_vit_token_grids_at_any_size(clip_model):
    encoder = get_encoder(clip_model, None, 'cpu')
    if not encoder.is_vit:
        pytest.skip('ViT-specific')
    assert encoder.default_layers == ('block6', 'block9')
    out = encoder(torch.rand(2, 3, 96, 160), layers=('block1', 'block6'), embedding=True)
    assert out['block1'].shape == out['block6'].shape == (2, 768, 6, 10)
    assert out['embedding'].shape == (2, 512)


def test_at_native_size_the_embedding_equals_open_clip(clip_model):
    encoder = get_encoder(clip_model, None, 'cpu')
    image = torch.rand(1, 3, 224, 224)
    ours = encoder(image, layers=(), embedding=True)['embedding']
    theirs = encoder.clip.encode_image((image - encoder.mean) / encoder.std)
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)


def test_too_small_or_wrong_shape_images_are_refused_clearly(encoder):
    with pytest.raises(ValueError, match='at least 32 px'):
        encoder(torch.rand(1, 3, 24, 64), layers=(), embedding=True)
    with pytest.raises(ValueError, match=r'\(B, 3, H, W\)'):
        encoder(torch.rand(1, 1, 64, 64))
    with pytest.raises(ValueError, match="layer7"):
        encoder(torch.rand(1, 3, 64, 64), layers=('layer7', ))


def test_frozen_eval_and_gradients_only_to_the_image(clip_model):
    featd, tgd = tiny_featd(clip_model), tiny_tgd(clip_model)
    encoder = featd.encoder()
    featd.train()
    tgd.train()
    encoder.train()
    assert not encoder.training and not any(m.training for m in encoder.modules())
    running = {k: v.clone() for k, v in encoder.state_dict().items() if 'running' in k}
    image = torch.rand(2, 3, 64, 64, requires_grad=True)
    optimizer = torch.optim.Adam(list(featd.parameters()) + list(tgd.parameters()), lr=1e-3)
    loss = featd(image).mean() + tgd(image).mean()
    loss.backward()
    optimizer.step()
    assert image.grad is not None and image.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in encoder.parameters())
    assert featd.project[featd.layers[0]].weight_orig.grad is not None and tgd.prompts.ctx.grad is not None
    for key, value in encoder.state_dict().items():
        if 'running' in key:
            torch.testing.assert_close(value, running[key], rtol=0, atol=0)


def test_weights_from_a_local_file_match_the_in_memory_model(tmp_path, clip_model):
    reference = FrozenCLIPEncoder(clip_model, None)
    path = tmp_path / 'clip_random.pth'
    torch.save(reference.clip.state_dict(), path)
    loaded = get_encoder(clip_model, str(path), 'cpu')
    assert loaded is not reference and get_encoder(clip_model, str(path), 'cpu') is loaded
    image = torch.rand(1, 3, 64, 96)
    expected = reference(image, layers=reference.default_layers[:1], embedding=True)
    actual = loaded(image, layers=reference.default_layers[:1], embedding=True)
    for key in expected:
        torch.testing.assert_close(actual[key], expected[key], rtol=0, atol=0)


def test_missing_or_truncated_weight_files_name_the_path(tmp_path):
    missing = tmp_path / 'nowhere' / 'RN50.pt'
    with pytest.raises(FileNotFoundError, match=str(missing)):
        FrozenCLIPEncoder(CLIP, str(missing))
    full = tmp_path / 'full.pth'
    torch.save(FrozenCLIPEncoder(CLIP, None).clip.state_dict(), full)
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(full.read_bytes()[:100_000])
    with pytest.raises(EncoderWeightsError, match=str(truncated)):
        FrozenCLIPEncoder(CLIP, str(truncated))


def test_unknown_model_or_tag_is_a_clear_error():
    with pytest.raises(ValueError, match="clip_model"):
        FrozenCLIPEncoder('RN51', None)
    with pytest.raises(ValueError, match='open_clip weight tag'):
        FrozenCLIPEncoder(CLIP, 'laion-imaginary')


def test_random_encoders_are_reproducible_and_leave_the_global_rng_alone():
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a = FrozenCLIPEncoder(CLIP, None)
    assert torch.equal(torch.rand(1), expected_next)
    b = FrozenCLIPEncoder(CLIP, None)
    for (name, p), q in zip(a.clip.named_parameters(), b.clip.parameters()):
        assert torch.equal(p, q), name


def test_eval_mode_straight_after_construction(clip_model):
    encoder = FrozenCLIPEncoder(clip_model, None)  # nobody has called train() or eval() on it yet
    assert not any(m.training for m in encoder.modules())
    running = {k: v.clone() for k, v in encoder.state_dict().items() if 'running' in k}
    encoder(torch.rand(2, 3, 64, 64), layers=encoder.default_layers)
    assert all(torch.equal(v, running[k]) for k, v in encoder.state_dict().items() if 'running' in k)


def test_prompt_text_features_equal_open_clip_encode_text_and_are_unit_norm(clip_model):
    import open_clip

    from sfd_basicsr.archs.tgd_arch import LearnablePromptPairs
    encoder = get_encoder(clip_model, None, 'cpu')
    pair = ['Good photo.', 'Bad photo.']
    # as many context vectors as the texts have tokens: the prompts start exactly as the texts
    prompts = LearnablePromptPairs(encoder, [pair], n_ctx=3)
    with torch.no_grad():
        ours = prompts(encoder)[0]
        reference = encoder.clip.encode_text(open_clip.get_tokenizer(clip_model)(pair), normalize=True)
    torch.testing.assert_close(ours, reference, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours.norm(dim=-1), torch.ones(2))


def test_the_input_normalisation_is_open_clips_preprocessing_for_the_model(clip_model):
    import open_clip
    from torchvision.transforms import Normalize
    _, _, preprocess = open_clip.create_model_and_transforms(clip_model, pretrained=None)
    normalize = next(t for t in preprocess.transforms if isinstance(t, Normalize))
    encoder = get_encoder(clip_model, None, 'cpu')
    torch.testing.assert_close(encoder.mean.flatten(), torch.tensor(normalize.mean, dtype=torch.float32))
    torch.testing.assert_close(encoder.std.flatten(), torch.tensor(normalize.std, dtype=torch.float32))


def test_every_spelling_of_one_backbone_and_its_weights_shares_one_encoder(monkeypatch):
    from sfd_basicsr.backbones import encoder as encoder_module
    built = []
    monkeypatch.setattr(encoder_module, '_ENCODERS', type(encoder_module._ENCODERS)())
    monkeypatch.setattr(encoder_module, 'build_encoder', lambda name, pretrained: built.append((name, pretrained)) or
                        torch.nn.Identity())
    first = get_encoder('timm:convnext_atto', 'default', 'cpu')
    assert get_encoder('timm:convnext_atto', 'd2_in1k', torch.device('cpu')) is first  # timm's default tag
    assert get_encoder('open_clip:RN50-quickgelu', None, 'cpu') is get_encoder('RN50-quickgelu', None, 'cpu')
    assert get_encoder('RN50-quickgelu', 'default', 'cpu') is get_encoder('RN50-quickgelu', 'openai', 'cpu')
    assert get_encoder('timm:convnext_atto', None, 'cpu') is not first
    assert built == [('timm:convnext_atto', 'default'), ('RN50-quickgelu', None), ('RN50-quickgelu', 'default'),
                     ('timm:convnext_atto', None)]


@pytest.fixture
def built_encoders(monkeypatch):
    """A fresh process cache whose encoders are ``Linear(1, 1)`` stand-ins; the list records each one built."""
    from sfd_basicsr.backbones import encoder as encoder_module
    built = []
    monkeypatch.setattr(encoder_module, '_ENCODERS', type(encoder_module._ENCODERS)())
    monkeypatch.setattr(encoder_module, 'build_encoder',
                        lambda name, pretrained: built.append((name, pretrained)) or torch.nn.Linear(1, 1))
    return built


def test_the_encoder_is_moved_to_the_device_asked_for(built_encoders):
    assert get_encoder(CLIP, None, 'meta').weight.device == torch.device('meta')
    assert get_encoder(CLIP, None, 'cpu').weight.device == torch.device('cpu')


def test_cuda_without_an_index_is_the_current_cuda_device(built_encoders, monkeypatch):
    """``'cuda'`` is whichever device ``torch.cuda.current_device()`` says (torch's own rule): one encoder for
    ``'cuda'`` and ``'cuda:<current>'``, another for any other index."""
    monkeypatch.setattr(torch.cuda, 'current_device', lambda: 1)
    monkeypatch.setattr(torch.nn.Linear, 'to', lambda self, device: self)  # no CUDA on the test machine
    assert get_encoder(CLIP, None, 'cuda') is get_encoder(CLIP, None, 'cuda:1')
    assert get_encoder(CLIP, None, 'cuda:0') is not get_encoder(CLIP, None, torch.device('cuda'))
    assert len(built_encoders) == 2


@pytest.mark.parametrize('backbone', ['RN50-quickgelu', 'ViT-B-16', 'convnext_base_w', 'timm:convnext_atto'])
def test_asking_for_nothing_gives_nothing_from_every_tower(backbone):
    """open_clip's ResNet, ViT and timm towers and a timm model alike (the ResNet tower failed, the timm tower gave
    its embedding)."""
    with torch.no_grad():
        assert get_encoder(backbone, None, 'cpu')(torch.rand(1, 3, 64, 64), layers=(), embedding=False) == {}
