"""``backbones/timm_weights.py``: timm weights from a hub tag (through the Hugging Face cache, offline), a local file
the test writes, or none; what cannot be loaded is refused naming the file or the tag."""
import os
import pickle

import huggingface_hub
import pytest
import safetensors.torch
import timm
import torch

from sfd_basicsr.backbones.encoder import build_encoder
from sfd_basicsr.backbones.options import check_encoder_options
from sfd_basicsr.backbones.weights import EncoderWeightsError, cached_pretrained_file, resolve_pretrained
from sfd_basicsr.utils.errors import InputError, InputNotFound

MODEL = 'convnext_atto'


def _weights(seed):
    torch.manual_seed(seed)
    return timm.create_model(MODEL, pretrained=False).state_dict()


def _assert_loaded(encoder, weights):
    loaded = encoder.timm.state_dict()
    assert set(loaded) == set(weights)
    assert all(torch.equal(loaded[key], value) for key, value in weights.items())


@pytest.mark.parametrize('suffix', ['.safetensors', '.pth'])
def test_a_local_file_the_test_wrote_is_what_the_encoder_holds(tmp_path, suffix):
    weights = _weights(7)
    path = tmp_path / f'atto{suffix}'
    if suffix == '.safetensors':
        safetensors.torch.save_file(weights, path)
    else:
        torch.save(weights, path)
    _assert_loaded(build_encoder(f'timm:{MODEL}', str(path)), weights)


def _fake_hub_cache(root, weights):
    """What ``hf_hub_download`` leaves behind for ``timm/convnext_atto.d2_in1k``."""
    repo = root / f'models--timm--{MODEL}.d2_in1k'
    snapshot = repo / 'snapshots' / ('0' * 40)
    snapshot.mkdir(parents=True)
    (repo / 'refs').mkdir()
    (repo / 'refs' / 'main').write_text('0' * 40)
    safetensors.torch.save_file(weights, snapshot / 'model.safetensors')
    return snapshot / 'model.safetensors'


def test_a_hub_tag_loads_offline_from_the_hugging_face_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, 'HF_HUB_CACHE', str(tmp_path))
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    assert resolve_pretrained(f'timm:{MODEL}', 'default') == timm.list_pretrained(f'{MODEL}.*')[0].split('.', 1)[1]
    with pytest.raises(InputError, match=rf"the 'd2_in1k' weights of timm:{MODEL} are not on this machine and "
                                         rf'HF_HUB_OFFLINE=1 forbids downloading them; fetch '
                                         rf'https://huggingface.co/timm/{MODEL}.d2_in1k elsewhere'):
        check_encoder_options(f'timm:{MODEL}', 'default')
    weights = _weights(11)
    cached = _fake_hub_cache(tmp_path, weights)
    assert cached_pretrained_file(f'timm:{MODEL}', 'd2_in1k') == str(cached)
    check_encoder_options(f'timm:{MODEL}', 'default')
    _assert_loaded(build_encoder(f'timm:{MODEL}', 'default'), weights)


def test_unknown_tags_and_missing_files_are_refused_by_option():
    with pytest.raises(InputError, match=rf"^pretrained: 'laion' is neither a file nor a timm weight tag of {MODEL} "
                                         r"\(tags: \['d2_in1k'\]\)"):
        check_encoder_options(f'timm:{MODEL}', 'laion')
    with pytest.raises(InputError, match="^pretrained: encoder weights file 'nowhere/atto.pth' does not exist"):
        check_encoder_options(f'timm:{MODEL}', 'nowhere/atto.pth')
    with pytest.raises(InputNotFound, match="timm weights file 'nowhere/atto.pth'"):
        build_encoder(f'timm:{MODEL}', 'nowhere/atto.pth')
    with pytest.raises(InputError, match='pretrained: timm publishes no weights for'):
        resolve_pretrained('timm:vit_small_patch16_18x2_224', 'default')


class _Payload:
    def __reduce__(self):
        return (os.system, ('touch PWNED', ))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_damaged_and_hostile_files_are_refused_naming_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    damaged = tmp_path / 'cut.safetensors'
    damaged.write_bytes(b'\x10\x00\x00\x00\x00\x00\x00\x00{"a":')
    other = tmp_path / 'other.pth'
    torch.save({'head.weight': torch.zeros(3)}, other)
    hostile = tmp_path / 'hostile.pth'
    hostile.write_bytes(pickle.dumps(_Payload()))
    for path in (damaged, other, hostile):
        with pytest.raises(EncoderWeightsError,
                           match=rf"Cannot read timm weights for '{MODEL}' from '{path}'") as error:
            build_encoder(f'timm:{MODEL}', str(path))
        assert '\n' not in str(error.value) and 'weights_only' not in str(error.value)
    assert not (tmp_path / 'PWNED').exists()


def test_a_training_checkpoint_gives_its_ema_weights_as_timms_loader_does(tmp_path):
    ema, plain = _weights(3), _weights(4)
    path = tmp_path / 'train.pth'
    torch.save({'state_dict': {f'module.{key}': value for key, value in plain.items()}, 'state_dict_ema': ema,
                'epoch': 9}, path)
    _assert_loaded(build_encoder(f'timm:{MODEL}', str(path)), ema)
    torch.save({'state_dict': {f'module.{key}': value for key, value in plain.items()}, 'epoch': 9}, path)
    _assert_loaded(build_encoder(f'timm:{MODEL}', str(path)), plain)


def test_hub_weights_that_cannot_be_had_say_where_to_get_them(tmp_path, monkeypatch):
    from sfd_basicsr.backbones.weights import create_backbone
    monkeypatch.setattr(huggingface_hub.constants, 'HF_HUB_CACHE', str(tmp_path))  # empty, and offline
    monkeypatch.setattr(huggingface_hub.constants, 'HF_HUB_OFFLINE', True)
    with pytest.raises(EncoderWeightsError, match=rf"^Could not get the 'd2_in1k' weights of timm:{MODEL}: \w+.*\. "
                                                  rf'Without network access, download https://huggingface.co/timm/'
                                                  rf"{MODEL}.d2_in1k on another machine and set 'pretrained' to the "
                                                  'local file path.$'):
        create_backbone(f'timm:{MODEL}', 'default')


def test_a_home_relative_file_passes_the_options_check(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    torch.save(_weights(5), tmp_path / 'atto.pth')
    try:
        check_encoder_options(f'timm:{MODEL}', '~/atto.pth')
    except InputError as error:
        pytest.fail(f'the file in HOME was refused: {error}')
    with pytest.raises(InputError, match="^pretrained: encoder weights file '~/other.pth' does not exist"):
        check_encoder_options(f'timm:{MODEL}', '~/other.pth')


def test_default_weights_and_local_files_are_normalised_as_timms_default_config():
    """``'default'`` and a local file (whose training the options do not say) both get timm's default data config
    for the model: ImageNet's statistics for convnext_base, though some of its tags are CLIP-trained."""
    from sfd_basicsr.backbones.weights import normalisation
    with torch.device('meta'):
        built = timm.create_model('convnext_base', pretrained=False)
    config = timm.data.resolve_data_config({}, model=built)
    expected = (tuple(config['mean']), tuple(config['std']))
    assert normalisation('timm:convnext_base', 'default') == expected
    try:
        from_file = normalisation('timm:convnext_base', '/nowhere/convnext_base.pth')
    except InputError as error:
        pytest.fail(f'a weights file was read as a timm tag: {error}')
    assert from_file == expected
