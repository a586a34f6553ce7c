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
