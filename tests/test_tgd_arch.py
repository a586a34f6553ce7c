"""TGDiscriminator (archs/tgd_arch.py): logits, prompt contexts, the text-feature cache."""
import open_clip
import pytest
import torch

from helpers.models import tiny_tgd
from sfd_basicsr.archs.tgd_arch import TGDiscriminator
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


@pytest.mark.parametrize('kernel', [{'foreach': False}, {'foreach': True}, {'fused': True}],
                         ids=['for-loop', 'foreach', 'fused'])  # torch's three Adams: fused bumps no version counter
def test_text_features_are_cached_until_the_prompts_change(kernel):
    tgd = tiny_tgd()
    calls = []
    tgd.prompts.register_forward_hook(lambda *args: calls.append(1))
    with torch.no_grad():
        first = tgd.text_features()
        assert tgd.text_features() is first and len(calls) == 1
    optimizer = torch.optim.Adam(tgd.parameters(), lr=0.1, **kernel)
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


def test_a_context_of_just_the_init_words_gives_open_clips_own_text_features(clip_model):
    # n_ctx = the init text's token count: the prompt is [SOS] good photo . [EOS], what open_clip's tokenizer gives
    tokenizer = open_clip.get_tokenizer(clip_model)
    texts = ['Good photo.', 'Bad photo.']
    length = len(tokenizer.encode(texts[0]))
    assert len(tokenizer.encode(texts[1])) == length
    tgd = tiny_tgd(clip_model, prompt_pairs=[texts], n_ctx=length)
    with torch.no_grad():
        expected = tgd.encoder().clip.encode_text(tokenizer(texts), normalize=True)
        torch.testing.assert_close(tgd.text_features()[0], expected, rtol=1e-4, atol=1e-5)


def test_every_prompt_of_every_pair_starts_from_its_own_init_words(encoder):
    pairs = [['Good photo.', 'Bad photo.'], ['Sharp.', 'Blurry.']]
    tgd = tiny_tgd(prompt_pairs=pairs, n_ctx=5)
    assert tgd.prompts.ctx.shape[:3] == (2, 2, 5)
    for p, pair in enumerate(pairs):
        for k, text in enumerate(pair):
            words = encoder.tokenizer().encode(text)
            torch.testing.assert_close(tgd.prompts.ctx[p, k, -len(words):], encoder.embed_tokens(torch.tensor(words)))


def test_the_context_before_the_init_words_starts_coop_random_with_std_0_02():
    ctx = tiny_tgd(prompt_pairs=[['Good photo.', 'Bad photo.']], n_ctx=16).prompts.ctx.detach()
    random_part = ctx[..., :16 - 3, :]  # good, photo, . fill the last 3 of each prompt
    assert 0.018 < random_part.std().item() < 0.022 and abs(random_part.mean().item()) < 0.002


def test_a_prompt_pair_of_other_than_two_texts_is_refused():
    for pairs in ([['Good photo.']], [['Good.', 'Bad.', 'Ugly.']], []):
        with pytest.raises(Exception) as refused:
            tiny_tgd(prompt_pairs=pairs)
        assert isinstance(refused.value, InputError), pairs
        assert "Option 'prompt_pairs' must be a non-empty list of [positive, negative] texts" in str(refused.value)


def test_a_prompt_exactly_filling_its_context_is_accepted():
    length = len(open_clip.tokenizer.SimpleTokenizer().encode('Good photo.'))
    try:
        built = tiny_tgd(prompt_pairs=[['Good photo.', 'Bad.']], n_ctx=length)
    except InputError as error:
        built = error
    assert isinstance(built, TGDiscriminator), built


def test_a_fresh_tgd_asked_for_stale_features_computes_them_rather_than_return_its_empty_cache():
    with torch.no_grad():
        features = tiny_tgd().text_features(allow_stale=True)
    torch.testing.assert_close(features.norm(dim=-1), torch.ones(1, 2))


def test_the_discriminator_steps_gradient_reaches_the_prompt_contexts():
    tgd = tiny_tgd()
    tgd(torch.rand(2, 3, 64, 64, requires_grad=True)).sum().backward()
    grad = tgd.prompts.ctx.grad
    assert grad is not None and grad.abs().sum() > 0
