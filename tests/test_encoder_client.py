"""EncoderClient (archs/encoder_client.py): checkpoints without the encoder, carrying the backbone's name."""
import pytest
import torch

from helpers.models import tiny_featd, tiny_tgd


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


def test_a_forward_looks_no_file_up_and_meets_the_encoder_of_its_weights_file(tmp_path, monkeypatch):
    import os

    import timm

    from sfd_basicsr.archs.featd_arch import FeatD
    from sfd_basicsr.backbones.encoder import get_encoder
    weights = timm.create_model('convnext_atto', pretrained=False).state_dict()
    torch.save(weights, tmp_path / 'atto.pth')
    os.symlink(tmp_path / 'atto.pth', tmp_path / 'link.pth')
    net = FeatD(backbone='timm:convnext_atto', pretrained=str(tmp_path / 'link.pth'), num_feat=8)
    net(torch.rand(1, 3, 64, 64))  # builds the encoder (which reads the file)

    def no_lookup(*args):
        raise AssertionError(f'a file look-up on a forward: {args}')
    for name in ('exists', 'realpath', 'expanduser'):
        monkeypatch.setattr(os.path, name, no_lookup)
    logits = net(torch.rand(1, 3, 64, 64))
    monkeypatch.undo()
    assert logits.shape == (1, 1, 8, 8)
    # the link and the file it points to are one weights file: one encoder, holding what the test wrote
    shared = get_encoder('timm:convnext_atto', str(tmp_path / 'atto.pth'))
    assert net.encoder() is shared
    assert all(torch.equal(shared.timm.state_dict()[k], v) for k, v in weights.items())


def test_a_backbone_name_of_exactly_64_bytes_fits():
    from sfd_basicsr.archs.encoder_client import decode_backbone_name, encode_backbone_name
    name = 'timm:' + 'x' * 59
    assert len(name.encode('utf-8')) == 64
    try:
        encoded = encode_backbone_name(name)
    except ValueError as error:
        pytest.fail(f'a name of exactly 64 bytes was refused: {error}')
    assert decode_backbone_name(encoded) == name
    with pytest.raises(ValueError, match='longer than 64 bytes'):
        encode_backbone_name(name + 'x')


def test_the_encoder_is_looked_up_on_the_networks_device(monkeypatch):
    from sfd_basicsr.archs import encoder_client
    asked = []
    monkeypatch.setattr(encoder_client, 'get_encoder', lambda name, pretrained, device, *rest: asked.append(device))
    featd = tiny_featd().to('meta')
    featd.encoder()
    featd.encoder('cpu')
    assert [torch.device(device) for device in asked] == [torch.device('meta'), torch.device('cpu')]


def test_a_checkpoint_with_an_empty_backbone_name_is_refused_as_damaged():
    state = tiny_featd().state_dict()
    state['backbone'] = torch.zeros(64, dtype=torch.uint8)  # the right shape, but no name saved in it
    with pytest.raises(ValueError, match='FeatD checkpoint has a damaged backbone name'):
        tiny_featd().load_state_dict(state)


def test_default_weights_are_recorded_as_the_tag_they_mean():
    """``'default'``: OpenAI's weights for RN50-quickgelu (open_clip publishes them), timm's default tag for a timm
    model; a network asked for ``'default'`` and one asked for that tag then name one encoder."""
    import open_clip
    import timm

    from sfd_basicsr.archs.featd_arch import FeatD
    assert 'openai' in open_clip.list_pretrained_tags_by_model('RN50-quickgelu')
    assert FeatD(clip_model='RN50-quickgelu', pretrained='default', num_feat=8).pretrained == 'openai'
    assert FeatD(backbone='timm:convnext_atto', pretrained='default', num_feat=8).pretrained == \
        timm.models.get_pretrained_cfg('convnext_atto').tag
