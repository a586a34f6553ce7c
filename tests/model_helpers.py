"""Small networks, options and images the model, inference and IQA tests share (fixtures live in conftest.py)."""
import re

import skimage.data
import torch
from basicsr.archs.rrdbnet_arch import RRDBNet

from conftest import CLIP

ENCODER = {'clip_model': CLIP, 'pretrained': None}


def sfd_options(featd_weight=0.1, tgd_weight=0.1, **train):
    opt = {
        'model_type': 'SFDModel', 'scale': 4, 'num_gpu': 0, 'is_train': True, 'dist': False,
        'network_g': {'type': 'RRDBNet', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 8, 'num_block': 1,
                      'num_grow_ch': 4},
        'network_d': {'type': 'FeatD', **ENCODER, 'num_feat': 8},
        'network_d_tg': {'type': 'TGDiscriminator', **ENCODER, 'n_ctx': 4},
        'path': {},
        'train': {
            'optim_g': {'type': 'Adam', 'lr': 1e-4, 'betas': [0.9, 0.99]},
            'optim_d': {'type': 'Adam', 'lr': 1e-4, 'betas': [0.9, 0.99]},
            'scheduler': {'type': 'MultiStepLR', 'milestones': [100], 'gamma': 0.5},
            'pixel_opt': {'type': 'L1Loss', 'loss_weight': 1.0, 'reduction': 'mean'},
            'featd_opt': {'type': 'FeatDGANLoss', 'loss_weight': featd_weight},
            'tgd_opt': {'type': 'TGDGANLoss', 'loss_weight': tgd_weight},
            **train,
        },
    }
    return opt


def batch():
    return {'lq': torch.rand(2, 3, 16, 16), 'gt': torch.rand(2, 3, 64, 64)}


def count_encoder_calls(model):
    calls = []
    model.encoder.register_forward_hook(lambda module, args, kwargs, out: calls.append(args[0]), with_kwargs=True)
    return calls


STOCK_G = {'type': 'RRDBNet', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 8, 'num_block': 1, 'num_grow_ch': 4}


def stock_options(model_type, network_d):
    return {
        'model_type': model_type, 'scale': 4, 'num_gpu': 0, 'is_train': True, 'dist': False,
        'network_g': dict(STOCK_G), 'network_d': network_d,
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


# spandrel's ESRGAN detection assumes ESRGAN's 32 growth channels (as every released RRDBNet has)
TINY_RRDB = {'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 8, 'num_block': 2, 'num_grow_ch': 32, 'scale': 4}


def tiny_rrdbnet(seed=0):
    torch.manual_seed(seed)
    net = RRDBNet(**TINY_RRDB).eval()
    with torch.no_grad():  # a random RRDBNet's residual branch is ~0; make every weight matter
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return net


def esrgan_key_names(state_dict):
    """BasicSR RRDBNet keys renamed as in the original ESRGAN / KAIR releases (the SFD authors' format)."""
    renamed = {}
    for key, value in state_dict.items():
        key = re.sub(r'^body\.(\d+)\.rdb(\d)\.', r'RRDB_trunk.\1.RDB\2.', key)
        key = re.sub(r'^conv_body\.', 'trunk_conv.', key)
        key = key.replace('conv_up1.', 'upconv1.').replace('conv_up2.', 'upconv2.').replace('conv_hr.', 'HRconv.')
        renamed[key] = value
    return renamed


def astronaut(size=None):
    image = torch.from_numpy(skimage.data.astronaut()).permute(2, 0, 1)[None].float() / 255
    return image if size is None else torch.nn.functional.interpolate(image, size=size, mode='area')
