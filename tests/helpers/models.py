"""Small networks, options and images the model, inference and IQA tests share (fixtures live in conftest.py)."""
import re

import skimage.data
import torch
from basicsr.archs.rrdbnet_arch import RRDBNet

from sfd_basicsr.training.recipe import gan_options

CLIP = 'RN50-quickgelu'
CLIPS = ['RN50-quickgelu', 'ViT-B-16']  # the foundation tests run on a ResNet and a ViT tower
ENCODER = {'clip_model': CLIP, 'pretrained': None}
STOCK_G = {'type': 'RRDBNet', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 8, 'num_block': 1, 'num_grow_ch': 4}


def sfd_options(featd_weight=0.1, tgd_weight=0.1, **train):
    """``SFDModel`` options for ``build_model``: a tiny RRDBNet, Feat-D and TG-D on a random CLIP, no EMA."""
    opt = gan_options('SFDModel', STOCK_G, encoder=ENCODER, featd={'num_feat': 8}, tgd={'n_ctx': 4},
                      featd_weight=featd_weight, tgd_weight=tgd_weight)
    opt['path'] = {}
    opt['train'].pop('ema_decay')
    opt['train'].update(train)
    return opt


def batch():
    return {'lq': torch.rand(2, 3, 16, 16), 'gt': torch.rand(2, 3, 64, 64)}


def count_encoder_calls(model):
    calls = []
    model.encoder.register_forward_hook(lambda module, args, kwargs, out: calls.append(args[0]), with_kwargs=True)
    return calls


def stock_options(model_type, network_d):
    """A BasicSR GAN model's options for ``build_model``: a tiny RRDBNet against ``network_d``, no EMA."""
    opt = gan_options(model_type, STOCK_G, network_d=network_d)
    opt['path']['pretrain_network_d'] = None
    opt['train'].pop('ema_decay')
    return opt


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


def tiny_featd(clip_model=CLIP, **kwargs):
    from sfd_basicsr.archs.featd_arch import FeatD
    kwargs.setdefault('num_feat', 16)
    return FeatD(clip_model=clip_model, pretrained=None, **kwargs)


def tiny_tgd(clip_model=CLIP, **kwargs):
    from sfd_basicsr.archs.tgd_arch import TGDiscriminator
    kwargs.setdefault('n_ctx', 4)
    return TGDiscriminator(clip_model=clip_model, pretrained=None, **kwargs)
