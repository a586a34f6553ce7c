"""TGDiscriminator (archs/tgd_arch.py): logits, prompt contexts, the text-feature cache."""
import open_clip
import pytest
import torch

from helpers.models import tiny_tgd
from sfd_basicsr.utils.errors import InputError


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


def test_text_features_are_unit_vectors(clip_model):
    features = tiny_tgd(clip_model, prompt_pairs=[['Good photo.', 'Bad photo.'], ['Sharp.', 'Blurry.']]).text_features()
    assert features.shape[:2] == (2, 2)
    torch.testing.assert_close(features.norm(dim=-1), torch.ones(2, 2))


def test_a_prompt_may_fill_its_context_but_not_overflow_it():
    length = len(open_clip.tokenizer.SimpleTokenizer().encode('Good photo.'))  # open_clip's count: good, photo, .
    assert tiny_tgd(prompt_pairs=[['Good photo.', 'Bad.']], n_ctx=length).prompts.ctx.shape[2] == length
    with pytest.raises(Exception) as refused:
        tiny_tgd(prompt_pairs=[['Good photo.', 'Bad.']], n_ctx=length - 1)
    assert isinstance(refused.value, InputError)
    assert str(refused.value) == f"Prompt 'Good photo.' has {length} tokens, more than n_ctx={length - 1}."


def test_a_checkpoint_saved_before_any_text_pass_holds_no_text_features():
    fresh = tiny_tgd()
    assert not fresh.has_text_features()
    loaded = tiny_tgd()
    loaded.load_state_dict(fresh.state_dict())  # its cache is all zeros: no features yet
    assert not loaded.has_text_features()
    with torch.no_grad():
        fresh.text_features()
    loaded.load_state_dict(fresh.state_dict())
    assert loaded.has_text_features()
