"""FeatD and TGDiscriminator as BasicSR archs: shapes, entry points, checkpoints."""
import pytest
import torch
from basicsr.archs import build_network

from helpers.models import CLIP, tiny_featd, tiny_tgd


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


def test_tgd_gives_one_logit_per_image_and_pair_on_image_or_embedding(clip_model):
    tgd = tiny_tgd(clip_model, prompt_pairs=[['Good photo.', 'Bad photo.'], ['Sharp photo.', 'Blurry photo.']])
    image = torch.rand(3, 3, 96, 64)
    logits = tgd(image)
    assert logits.shape == (3, 2)
    torch.testing.assert_close(tgd(embedding=tgd.extract(image)), logits)


def test_tgd_logit_is_scaled_cosine_difference(clip_model):
    tgd = tiny_tgd(clip_model)
    image = torch.rand(2, 3, 64, 64)
    v = torch.nn.functional.normalize(tgd.extract(image), dim=-1)
    t = tgd.text_features()
    expected = tgd.encoder().logit_scale * (v @ t[0, 0] - v @ t[0, 1])
    torch.testing.assert_close(tgd(image)[:, 0], expected)
    # log-odds of the softmax over the pair
    probs = torch.softmax(tgd.encoder().logit_scale * torch.stack([v @ t[0, 0], v @ t[0, 1]], -1), -1)[:, 0]
    torch.testing.assert_close(torch.sigmoid(tgd(image)[:, 0]), probs)


def test_prompt_context_starts_from_the_init_words(encoder):
    tgd = tiny_tgd(prompt_pairs=[['Good photo.', 'Bad photo.']], n_ctx=5)
    words = encoder.tokenizer().encode('Good photo.')
    expected = encoder.embed_tokens(torch.tensor(words))
    torch.testing.assert_close(tgd.prompts.ctx[0, 0, -len(words):], expected)
    with pytest.raises(ValueError, match='n_ctx=2'):
        tiny_tgd(prompt_pairs=[['A very good photo.', 'Bad.']], n_ctx=2)


def test_text_features_are_cached_until_the_prompts_change():
    tgd = tiny_tgd()
    calls = []
    tgd.prompts.register_forward_hook(lambda *args: calls.append(1))
    with torch.no_grad():
        first = tgd.text_features()
        assert tgd.text_features() is first and len(calls) == 1
    optimizer = torch.optim.Adam(tgd.parameters(), lr=0.1)
    tgd(torch.rand(1, 3, 64, 64)).mean().backward()  # with gradients: always recomputed
    optimizer.step()
    assert len(calls) == 2
    with torch.no_grad():
        stale = tgd.text_features(allow_stale=True).clone()
        assert len(calls) == 2
        refreshed = tgd.text_features()
    assert len(calls) == 3 and not torch.equal(refreshed, stale)
    clone = tiny_tgd()
    clone.load_state_dict(tgd.state_dict())  # checkpoints carry the cache: a resumed G step reads the same
    torch.testing.assert_close(clone.text_features(allow_stale=True), refreshed, rtol=0, atol=0)


@pytest.mark.parametrize('make', [tiny_featd, tiny_tgd])
def test_state_dict_holds_no_encoder_and_round_trips(make, tmp_path, clip_model):
    net = make(clip_model)
    keys = list(net.state_dict())
    assert not any(k.startswith(('clip.', 'encoder')) or '.clip.' in k for k in keys)
    assert sum(v.numel() for v in net.state_dict().values()) < 5_000_000
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p))
    torch.save({'params': net.state_dict()}, tmp_path / 'net_d.pth')
    clone = make(clip_model)
    clone.load_state_dict(torch.load(tmp_path / 'net_d.pth')['params'])
    image = torch.rand(1, 3, 64, 64)
    net.eval()
    clone.eval()
    torch.testing.assert_close(clone(image), net(image))


def test_checkpoint_of_another_backbone_is_refused_by_name():
    state = tiny_tgd().state_dict()
    from sfd_basicsr.archs.encoder_client import encode_backbone_name
    state['backbone'] = encode_backbone_name('ViT-B-16')
    with pytest.raises(ValueError, match='ViT-B-16'):
        tiny_tgd().load_state_dict(state)
