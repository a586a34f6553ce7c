"""``backbones/names.py``: what a ``backbone`` / ``clip_model`` / ``pretrained`` value means, before anything is
built."""
import os

import pytest

from sfd_basicsr.backbones.names import backbone_name, is_weights_path, split_backbone, weights_key


@pytest.mark.parametrize('name, expected', [('RN50-quickgelu', ('open_clip', 'RN50-quickgelu')),
                                            ('open_clip:convnext_base_w', ('open_clip', 'convnext_base_w')),
                                            ('timm:vit_small_patch14_dinov2', ('timm', 'vit_small_patch14_dinov2'))])
def test_a_name_splits_into_its_library_and_model(name, expected):
    assert split_backbone(name) == expected


def test_the_canonical_name_is_bare_for_open_clip_as_older_checkpoints_recorded_it():
    assert backbone_name() == 'RN50-quickgelu'
    assert backbone_name('open_clip:ViT-B-16') == backbone_name(clip_model='ViT-B-16') == 'ViT-B-16'
    assert backbone_name('timm:convnext_tiny') == 'timm:convnext_tiny'
    assert backbone_name('open_clip:ViT-B-16', 'ViT-B-16') == 'ViT-B-16'  # the same encoder spelled twice
    with pytest.raises(ValueError, match="backbone 'timm:convnext_tiny' and clip_model 'RN50' name different"):
        backbone_name('timm:convnext_tiny', 'RN50')
    for bad in ('dino:vits14', 'timm:', ':x'):
        with pytest.raises(ValueError, match=f"backbone: '{bad}' is not '<library>:<model>'"):
            split_backbone(bad)


def test_weights_are_a_file_or_a_tag(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert not is_weights_path('lvd142m') and is_weights_path('model.safetensors') and is_weights_path('a/b')
    (tmp_path / 'mine').write_bytes(b'')
    assert is_weights_path('mine')  # an existing file of any name
    assert weights_key(None) is None and weights_key('openai') == 'openai'
    assert weights_key('mine') == weights_key(str(tmp_path / 'mine')) == os.path.realpath(tmp_path / 'mine')


def test_every_weights_file_suffix_names_a_file():
    """The suffixes weights are saved under (PyTorch, Hugging Face, safetensors, Lightning) are files, not tags."""
    for name in ('w.pt', 'w.pth', 'pytorch_model.bin', 'model.safetensors', 'last.ckpt'):
        assert is_weights_path(name), name


def test_a_home_relative_file_is_the_file_in_home(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    (tmp_path / 'w.pth').write_bytes(b'')
    assert weights_key('~/w.pth') == os.path.realpath(tmp_path / 'w.pth')
