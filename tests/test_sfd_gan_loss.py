"""The SFD GAN loss: BasicSR's GANLoss per output, averaged over outputs, in float32; values worked out by hand."""
import math
import os

import pytest
import torch
import yaml

import sfd_basicsr  # noqa: F401  (registers the losses)
from sfd_basicsr.losses.sfd_gan_loss import SFDGANLoss

LN3 = math.log(3)


def test_the_generator_loss_is_the_weighted_bce_against_real_averaged_over_positions():
    # vanilla: -log(sigmoid(x)) = log(1 + e^-x): log 2 at 0, log(4/3) at ln 3
    loss = SFDGANLoss(loss_weight=0.1)(torch.tensor([[0.0, LN3]]), True)
    assert loss.item() == pytest.approx(0.1 * (math.log(2) + math.log(4 / 3)) / 2, rel=1e-6)


def test_the_discriminator_loss_is_not_weighted():
    # fake target: -log(1 - sigmoid(x)) = log(1 + e^x): log 4 at ln 3
    loss = SFDGANLoss(loss_weight=0.1)(torch.tensor([LN3]), False, is_disc=True)
    assert loss.item() == pytest.approx(math.log(4), rel=1e-6)


def test_several_outputs_count_alike_whatever_their_sizes():
    outputs = [torch.tensor([0.0]), torch.tensor([LN3, LN3, LN3])]
    loss = SFDGANLoss()(outputs, True, is_disc=True)
    assert loss.item() == pytest.approx((math.log(2) + math.log(4 / 3)) / 2, rel=1e-6)  # not (log 2 + 3 log 4/3) / 4


def test_bfloat16_logits_give_a_float32_loss_of_their_values():
    logits = torch.tensor([0.3, -1.7, 2.2]).bfloat16()
    loss = SFDGANLoss()(logits, True, is_disc=True)
    expected = sum(math.log1p(math.exp(-x)) for x in logits.float().tolist()) / 3
    assert loss.dtype == torch.float32 and loss.item() == pytest.approx(expected, rel=1e-6)


def test_the_default_weight_is_the_recipes():
    recipe = os.path.join(os.path.dirname(__file__), '..', 'options', 'train_sfd_esrgan_x4.yml')
    with open(recipe) as f:
        train = yaml.safe_load(f)['train']
    assert SFDGANLoss().loss_weight == train['featd_opt']['loss_weight'] == train['tgd_opt']['loss_weight']


def test_a_loss_made_before_its_module_is_reloaded_still_averages_several_outputs():
    import importlib
    module = importlib.import_module('sfd_basicsr.losses.sfd_gan_loss')
    made_before = module.SFDGANLoss()
    importlib.reload(module)  # a notebook's autoreload, or a plugin registered twice
    loss = made_before([torch.tensor([0.0]), torch.tensor([LN3])], True, is_disc=True)
    assert loss.item() == pytest.approx((math.log(2) + math.log(4 / 3)) / 2, rel=1e-6)


def test_several_bfloat16_outputs_give_a_float32_loss_of_their_values():
    outputs = [torch.tensor([0.3, -1.7]).bfloat16(), torch.tensor([2.2]).bfloat16()]
    loss = SFDGANLoss()(outputs, True, is_disc=True)
    first, second = ([math.log1p(math.exp(-x)) for x in o.float().tolist()] for o in outputs)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx((sum(first) / 2 + sum(second)) / 2, rel=1e-6)


def test_a_tuple_of_outputs_averages_like_a_list():
    try:
        loss = SFDGANLoss()((torch.tensor([0.0]), torch.tensor([LN3, LN3])), True, is_disc=True)
    except AttributeError as error:  # taken for one tensor
        pytest.fail(f'a tuple of outputs was not averaged as several outputs: {error}')
    assert loss.item() == pytest.approx((math.log(2) + math.log(4 / 3)) / 2, rel=1e-6)


@pytest.mark.parametrize('name', ['FeatDGANLoss', 'TGDGANLoss'])
def test_basicsr_builds_the_loss_under_both_option_names(name):
    from basicsr.losses import build_loss
    from basicsr.utils.registry import LOSS_REGISTRY
    assert name in LOSS_REGISTRY
    loss = build_loss({'type': name, 'gan_type': 'vanilla', 'loss_weight': 0.1})
    assert type(loss).__name__ == 'SFDGANLoss'
    assert loss(torch.tensor([0.0]), True).item() == pytest.approx(0.1 * math.log(2), rel=1e-6)
