"""The GAN loss of both SFD discriminators, on top of BasicSR's ``GANLoss`` (docs/method.md, "Our decisions")."""
from basicsr.losses.gan_loss import GANLoss
from basicsr.utils.registry import LOSS_REGISTRY

from ..compat.registry import register


@register(LOSS_REGISTRY, 'FeatDGANLoss', 'TGDGANLoss')
class SFDGANLoss(GANLoss):
    """``GANLoss`` averaged over every element of a discriminator output, or over several outputs.

    Feat-D's output is a pixel-wise logit map, TG-D's one logit per (image, prompt pair); for the discriminator
    step HQ is real (for TG-D: the positive prompt) and SR fake, the generator step asks SR to read as real.
    Options files name it ``FeatDGANLoss`` (``train.featd_opt``) and ``TGDGANLoss`` (``train.tgd_opt``): one class,
    registered under both. Computed in float32, so bf16/fp16 logits under autocast keep the loss's precision.

    Args: as BasicSR's ``GANLoss`` (``gan_type``: vanilla | lsgan | wgan | wgan_softplus | hinge).
    """

    def __init__(self, gan_type='vanilla', real_label_val=1.0, fake_label_val=0.0, loss_weight=0.1):
        super().__init__(gan_type, real_label_val, fake_label_val, loss_weight)

    def forward(self, outputs, target_is_real, is_disc=False):
        # bound here, not by name inside the generator: a reloaded module rebinds the name to a new class object
        gan_loss = super().forward
        if isinstance(outputs, (list, tuple)):
            return sum(gan_loss(o.float(), target_is_real, is_disc) for o in outputs) / len(outputs)
        return gan_loss(outputs.float(), target_is_real, is_disc)


FeatDGANLoss = TGDGANLoss = SFDGANLoss  # the names options files and code already use
