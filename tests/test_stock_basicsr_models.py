"""FeatD / TGDiscriminator dropped into stock BasicSR GAN models as `network_d`."""
import pytest
import torch
from basicsr.models import build_model

from conftest import CLIPS

TINY_RRDB = {'type': 'RRDBNet', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 8, 'num_block': 1, 'num_grow_ch': 4}


def stock_options(model_type, network_d):
    return {
        'model_type': model_type, 'scale': 4, 'num_gpu': 0, 'is_train': True, 'dist': False,
        'network_g': dict(TINY_RRDB), 'network_d': network_d,
        'path': {'pretrain_network_g': None, 'pretrain_network_d': None, 'strict_load_g': True},
        'train': {
            'optim_g': {'type': 'Adam', 'lr': 1e-4, 'betas': [0.9, 0.99]},
            'optim_d': {'type': 'Adam', 'lr': 1e-4, 'betas': [0.9, 0.99]},
            'scheduler': {'type': 'MultiStepLR', 'milestones': [100], 'gamma': 0.5},
            'pixel_opt': {'type': 'L1Loss', 'loss_weight': 1.0, 'reduction': 'mean'},
            'gan_opt': {'type': 'GANLoss', 'gan_type': 'vanilla', 'loss_weight': 0.1},
            'net_d_iters': 1, 'net_d_init_iters': 0,
        },
    }


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
