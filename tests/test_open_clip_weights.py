"""``backbones/open_clip_weights.py``: a local copy of published CLIP weights is checked against the SHA-256 in its
URL."""
import hashlib

import open_clip
import pytest

from sfd_basicsr.backbones import open_clip_weights as weights
from sfd_basicsr.utils.errors import InputError

OPENAI_RN50_SHA256 = 'afeb0e10f9e5a86da6080e35cf09123aca3b358a0c3e3b6c78a7b63bc04b6762'  # in OpenAI's RN50 URL


def test_a_file_named_like_openais_rn50_with_other_bytes_is_refused_with_both_hashes(tmp_path):
    fake = tmp_path / 'RN50.pt'
    fake.write_bytes(b'not the weights')
    assert OPENAI_RN50_SHA256 in open_clip.get_pretrained_url('RN50-quickgelu', 'openai')
    with pytest.raises(InputError) as error:
        weights.verify_file('RN50-quickgelu', str(fake))
    message = str(error.value)
    assert f"is not the RN50-quickgelu 'openai' file published as RN50.pt: its SHA-256 is " \
           f"{hashlib.sha256(b'not the weights').hexdigest()}, the published one {OPENAI_RN50_SHA256}" in message


def test_the_published_bytes_pass_and_a_file_of_another_name_is_not_checked(tmp_path, monkeypatch):
    good = tmp_path / 'toy.pt'
    good.write_bytes(b'published bytes')
    digest = hashlib.sha256(b'published bytes').hexdigest()
    monkeypatch.setattr(open_clip, 'list_pretrained_tags_by_model', lambda name: ['toy'])
    monkeypatch.setattr(open_clip, 'get_pretrained_cfg', lambda name, tag: {'url': f'https://x/{digest}/toy.pt'})
    assert weights.published_sha256('RN50-quickgelu', str(good)) == ('toy', digest)
    weights.verify_file('RN50-quickgelu', str(good))
    other = tmp_path / 'mine.pt'
    other.write_bytes(b'anything')
    assert weights.published_sha256('RN50-quickgelu', str(other)) is None
    weights.verify_file('RN50-quickgelu', str(other))


def test_the_options_check_names_the_option_holding_a_damaged_copy(tmp_path):
    from sfd_basicsr.backbones.options import check_encoder_options
    fake = tmp_path / 'RN50.pt'
    fake.write_bytes(b'cut')
    with pytest.raises(InputError, match=r"^pretrained: CLIP weights file '.*RN50.pt' is not the RN50-quickgelu "):
        check_encoder_options('RN50-quickgelu', str(fake))


def test_normalisation_follows_the_weights_tag_as_open_clips_tables_give_it():
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
    from sfd_basicsr.backbones.weights import normalisation
    # LAION's ViT-L-14 was trained on images normalised to [-1, 1]; OpenAI's on its dataset statistics
    assert normalisation('ViT-L-14', 'laion2b_s32b_b82k') == ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    assert normalisation('ViT-L-14', 'openai') == (tuple(OPENAI_DATASET_MEAN), tuple(OPENAI_DATASET_STD))
    assert normalisation('ViT-L-14', None) == normalisation('ViT-L-14', 'openai')  # random weights: the model's own


def test_default_means_the_default_tags_weights_in_every_question(tmp_path, monkeypatch):
    """``'default'`` is OpenAI's tag where published (RN50), else open_clip's only one (MobileCLIP-S1, trained on
    unnormalised images): its statistics, its URL and its cached file, however the question is asked."""
    import huggingface_hub

    from sfd_basicsr.backbones.weights import cached_pretrained_file, normalisation, pretrained_url
    assert open_clip.list_pretrained_tags_by_model('MobileCLIP-S1') == ['datacompdr']
    config = open_clip.get_pretrained_cfg('MobileCLIP-S1', 'datacompdr')
    assert normalisation('MobileCLIP-S1', 'default') == (tuple(config['mean']), tuple(config['std']))
    assert normalisation('MobileCLIP-S1', 'default') == ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    url = open_clip.get_pretrained_url('RN50-quickgelu', 'openai')
    assert pretrained_url('RN50-quickgelu', 'default') == url
    monkeypatch.setattr(huggingface_hub.constants, 'HF_HUB_CACHE', str(tmp_path / 'hub'))  # empty
    monkeypatch.setenv('HOME', str(tmp_path))  # OpenAI's downloads are kept in ~/.cache/clip under the URL's name
    assert cached_pretrained_file('RN50-quickgelu', 'default') is None
    cached = tmp_path / '.cache' / 'clip' / url.rsplit('/', 1)[1]
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b'')
    assert cached_pretrained_file('RN50-quickgelu', 'default') == str(cached)
