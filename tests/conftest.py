"""Shared fixtures: CPU only, no network, random-initialised CLIP (SPEC: tests build CLIP with pretrained=None)."""
import os

os.environ.setdefault('HF_HUB_OFFLINE', '1')

import pytest  # noqa: E402
import torch  # noqa: E402

import sfd_basicsr  # noqa: E402,F401  (registers the plugin and makes basicsr importable)

CLIP = 'RN50-quickgelu'
CLIPS = ['RN50-quickgelu', 'ViT-B-16']  # the foundation tests run on a ResNet and a ViT tower


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)


@pytest.fixture(scope='session')
def encoder():
    from sfd_basicsr.archs.clip_encoder import get_clip_encoder
    return get_clip_encoder(CLIP, None, 'cpu')


@pytest.fixture(params=CLIPS)
def clip_model(request):
    return request.param


def tiny_featd(clip_model=CLIP, **kwargs):
    from sfd_basicsr.archs.featd_arch import FeatD
    kwargs.setdefault('num_feat', 16)
    return FeatD(clip_model=clip_model, pretrained=None, **kwargs)


def tiny_tgd(clip_model=CLIP, **kwargs):
    from sfd_basicsr.archs.tgd_arch import TGDiscriminator
    kwargs.setdefault('n_ctx', 4)
    return TGDiscriminator(clip_model=clip_model, pretrained=None, **kwargs)
