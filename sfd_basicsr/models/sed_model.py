"""SeDModel: SeD (CVPR 2024) as its paper trains it, real and fake judged under the HR image's semantics."""
import torch
from basicsr.models.srgan_model import SRGANModel
from basicsr.utils.registry import MODEL_REGISTRY

from ..compat.registry import register
from .exact_resume import ExactResume
from .fast_training import FastTraining, fast_training_step
from .split_validation import SplitValidation
from .validation_images import ValidationImages

SED_ARCHS = ('SeDPatchDiscriminator', 'SeDUNetDiscriminator')


@register(MODEL_REGISTRY)
class SeDModel(FastTraining, SplitValidation, ValidationImages, ExactResume, SRGANModel):
    """BasicSR's ``SRGANModel`` with a SeD discriminator conditioned on the GT's CLIP ``layer3`` semantics.

    Per iteration the frozen encoder runs once, on the GT batch, without gradient; the discriminator judges
    the HR image and the SR image under those same semantics, in the generator step and in the
    discriminator step. The encoder never sees the SR image, so the generator's adversarial gradient reaches
    it through the discriminator's image path alone. Everything else (losses, EMA, ``net_d_iters``,
    vanilla GAN as SeD's configs use) is ``SRGANModel``'s own training step, run unchanged inside
    ``conditioned_on``. Options: those of ``SRGANModel`` and ``FastTraining``'s; ``network_d`` must be a SeD arch.
    """

    network_types = {'network_d': SED_ARCHS}  # checked by the options check before anything is built

    @fast_training_step
    def optimize_parameters(self, current_iter):
        discriminator = self.get_bare_model(self.net_d)
        with torch.no_grad():
            semantic = discriminator.semantic(self.gt)
        with discriminator.conditioned_on(semantic):
            super().optimize_parameters(current_iter)
        self.trained_iter = current_iter
