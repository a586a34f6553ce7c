"""FeatD / TGDiscriminator dropped into stock BasicSR GAN models as `network_d`."""
import pytest
import torch
from basicsr.models import build_model

from helpers.models import CLIPS
from helpers.models import stock_options


@pytest.mark.parametrize('model_type', ['SRGANModel', 'ESRGANModel'])
@pytest.mark.parametrize('clip_model', CLIPS)
@pytest.mark.parametrize('network_d', [
    {'type': 'FeatD', 'pretrained': None, 'num_feat': 8},
    {'type': 'TGDiscriminator', 'pretrained': None, 'n_ctx': 4},
], ids=['FeatD', 'TGDiscriminator'])
def test_stock_gan_model_optimizes_with_semantic_discriminator(model_type, network_d, clip_model):
    model = build_model(stock_options(model_type, {**network_d, 'clip_model': clip_model}))
    before = [p.detach().clone() for p in model.net_d.parameters()]
    model.feed_data({'lq': torch.rand(2, 3, 16, 16), 'gt': torch.rand(2, 3, 64, 64)})
    model.optimize_parameters(1)
    log = model.get_current_log()
    assert {'l_g_pix', 'l_g_gan', 'l_d_real', 'l_d_fake'} <= set(log)
    assert all(torch.isfinite(torch.as_tensor(v)).all() for v in log.values())
    assert any(not torch.equal(b, p) for b, p in zip(before, model.net_d.parameters()))
