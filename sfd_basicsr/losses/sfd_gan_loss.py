"""GAN losses for the two SFD discriminators, on top of BasicSR's ``GANLoss`` (docs/method.md, "Our decisions")."""
from basicsr.losses.gan_loss import GANLoss
from basicsr.utils.registry import LOSS_REGISTRY

from ..registry import register


class _MeanGANLoss(GANLoss):
    """``GANLoss`` averaged over every element of a discriminator output, or over several outputs.

    Computed in float32, so bf16/fp16 logits under autocast do not lose the loss's precision.
    """

    def forward(self, outputs, target_is_real, is_disc=False):
        if isinstance(outputs, (list, tuple)):
            return sum(super(_MeanGANLoss, self).forward(o.float(), target_is_real, is_disc)
                       for o in outputs) / len(outputs)
        return super().forward(outputs.float(), target_is_real, is_disc)


@register(LOSS_REGISTRY)
class FeatDGANLoss(_MeanGANLoss):
    """Feat-D loss: the GAN loss of every position of the pixel-wise logit map, averaged.

    Args: as BasicSR's ``GANLoss`` (``gan_type``: vanilla | lsgan | wgan | wgan_softplus | hinge).
    """

    def __init__(self, gan_type='vanilla', real_label_val=1.0, fake_label_val=0.0, loss_weight=0.1):
        super().__init__(gan_type, real_label_val, fake_label_val, loss_weight)


@register(LOSS_REGISTRY)
class TGDGANLoss(_MeanGANLoss):
    """TG-D loss: the GAN loss of every (image, prompt pair) logit, averaged.

    For the discriminator step HQ is real (positive prompt) and SR fake; the generator step asks SR
    to read as real. Args: as BasicSR's ``GANLoss``.
    """

    def __init__(self, gan_type='vanilla', real_label_val=1.0, fake_label_val=0.0, loss_weight=0.1):
        super().__init__(gan_type, real_label_val, fake_label_val, loss_weight)
