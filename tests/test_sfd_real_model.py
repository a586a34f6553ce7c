"""``models/sfd_real_model.py``: SFD on Real-ESRGAN's degradations: the training-pair pool made on the model's
device (against BasicSR's own pool), validation without degradation, and the USM-sharpened loss targets."""
import pytest
import torch
from basicsr.models import build_model

from helpers.models import sfd_options
from sfd_basicsr.models.sfd_model import SFDModel
from sfd_basicsr.utils.errors import InputError


def real_model(**top):
    torch.manual_seed(0)
    return build_model(dict(sfd_options(), model_type='SFDRealModel', **top))


def numbered_batch(first, size):
    """LR/GT pairs whose every pixel is the pair's number, so a pair that lost its partner shows."""
    numbers = torch.arange(first, first + size, dtype=torch.float32).view(-1, 1, 1, 1)
    return numbers.expand(size, 3, 4, 4).clone(), numbers.expand(size, 3, 16, 16).clone()


def test_the_pair_pool_refuses_a_queue_that_is_not_a_multiple_of_the_batch():
    model = real_model(queue_size=5)
    model.lq, model.gt = numbered_batch(0, 2)
    with pytest.raises(InputError, match=r'^queue_size 5 must be a multiple of the batch size 2\.$'):
        model._dequeue_and_enqueue()


def test_the_pair_pool_does_what_basicsrs_pool_does_on_a_pool_made_on_the_cpu():
    from basicsr.models.realesrnet_model import RealESRNetModel

    class Pool:  # BasicSR's pool, its queues made here (its own code makes them with .cuda())
        queue_size, queue_ptr = 4, 0
        queue_lr, queue_gt = torch.zeros(4, 3, 4, 4), torch.zeros(4, 3, 16, 16)
    model, reference = real_model(queue_size=4), Pool()
    for first in (0, 10, 20, 30):
        for pool in (model, reference):
            pool.lq, pool.gt = numbered_batch(first, 2)
            torch.manual_seed(first)  # the pool's shuffle
            (RealESRNetModel._dequeue_and_enqueue if pool is reference else type(model)._dequeue_and_enqueue)(pool)
        assert torch.equal(model.lq, reference.lq) and torch.equal(model.gt, reference.gt), first
        assert model.queue_ptr == reference.queue_ptr
    assert torch.equal(model.lq[:, :, 0, 0], model.gt[:, :, 0, 0]), 'each LR kept its GT'
    assert not torch.equal(model.lq, numbered_batch(30, 2)[0]), 'a full pool hands out earlier pairs'


def test_validation_uses_its_pairs_as_they_are_and_training_degrades_again_after_it(monkeypatch):
    model, seen = real_model(), []

    def validation(self, *args):
        seen.append(self.is_train)
        raise RuntimeError('a metric failed')
    monkeypatch.setattr(SFDModel, 'nondist_validation', validation)
    with pytest.raises(RuntimeError, match='a metric failed'):
        model.nondist_validation(None, 1, None, False)
    assert seen == [False] and model.is_train is True


@pytest.mark.parametrize('options, targets', [
    ({}, ('gt_usm', 'gt_usm', 'gt')),  # Real-ESRGAN's options: l1 and perceptual on the sharpened GT, GAN on the GT
    ({'l1_gt_usm': False}, ('gt', 'gt_usm', 'gt')),
    ({'percep_gt_usm': False}, ('gt_usm', 'gt', 'gt')),
    ({'gan_gt_usm': True}, ('gt_usm', 'gt_usm', 'gt_usm')),
])
def test_loss_targets_follow_the_usm_options_and_real_esrgans_defaults(options, targets):
    model = real_model(**options)
    model.gt, model.gt_usm = torch.zeros(1), torch.ones(1)
    assert tuple(model.loss_targets()) == tuple(getattr(model, name) for name in targets)
