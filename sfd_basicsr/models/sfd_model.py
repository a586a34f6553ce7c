"""SFDModel: adversarial SR training with Feat-D and TG-D on one shared CLIP pass (docs/method.md)."""
from collections import OrderedDict

import torch
from basicsr.archs import build_network
from basicsr.losses import build_loss
from basicsr.models.sr_model import SRModel
from basicsr.utils import get_root_logger
from basicsr.utils.registry import MODEL_REGISTRY

from ..archs.featd_arch import FeatD
from ..archs.tgd_arch import TGDiscriminator
from ..compat.registry import register
from ..utils.errors import InputError
from .diff_augment import DiffAugmentTraining, augment
from .exact_resume import ExactResume
from .fast_training import FastTraining, fast_training_step
from .split_validation import SplitValidation
from .validation_images import SFDValidationImages


def encoder_mismatch(encoders):
    """Why ``{'network_d': (clip_model, pretrained), 'network_d_tg': (...)}`` cannot share one encoder, or None.

    SFDModel runs one CLIP pass per image for both discriminators, so they must name the same encoder.
    """
    if len(set(encoders.values())) < 2:
        return None
    return (f"network_d_tg.clip_model/pretrained: {encoders['network_d_tg']} differs from network_d's "
            f"{encoders['network_d']}; both discriminators share one CLIP encoder pass, so set the same clip_model "
            'and pretrained in both.')


@register(MODEL_REGISTRY)
class SFDModel(FastTraining, SplitValidation, SFDValidationImages, DiffAugmentTraining, ExactResume, SRModel):
    """SRGAN-style training of ``network_g`` against Feat-D (``network_d``) and TG-D (``network_d_tg``).

    It derives from BasicSR's ``SRModel`` (EMA, pixel and perceptual losses, validation, saving) and writes its own
    discriminator set-up, optimisers and training step: ``SRGANModel`` has exactly one ``network_d`` and ``gan_opt``.
    Options beyond ``SRGANModel``'s (``net_d_iters``, ``net_d_init_iters``, ``optim_d``, ``pretrain_network_d``):
        train.featd_opt: Feat-D GAN loss (``FeatDGANLoss``); ``loss_weight: 0`` (or no ``network_d``) turns Feat-D off.
        train.tgd_opt: TG-D GAN loss (``TGDGANLoss``); ``loss_weight: 0`` (or no ``network_d_tg``) turns TG-D off.
        train.optim_d: one optimiser for both discriminators, Feat-D weights and prompt contexts as two
            parameter groups; ``train.optim_d_tg`` (optional) overrides its settings for the prompt group.
        path.pretrain_network_d_tg / param_key_d_tg / strict_load_d_tg: as for ``network_d``.
        use_amp, amp_bf16, use_channels_last, use_compile, compile_mode (top level): ``FastTraining``.
        train.diffaugment: DiffAugment before the encoder, one draw per iteration for SR and GT alike
            (``DiffAugmentTraining``); off without discriminators, which are all it augments for.

    Per iteration the encoder runs once on the SR batch (graph kept for the generator, reused detached by
    the discriminators) and once on the GT batch without gradient; the prompt texts are encoded once, in
    the discriminator step, and the next generator step reuses those features.
    """

    # read by the options check: keys other BasicSR models read, and each discriminator's loss
    foreign_train_keys = {'gan_opt': 'SFDModel reads train.featd_opt and train.tgd_opt; gan_opt is for '
                                     'SRGANModel/ESRGANModel (and RealESRGANModel).'}
    trained_networks = {'network_d': 'featd_opt', 'network_d_tg': 'tgd_opt'}
    network_types = {'network_d': ('FeatD', ), 'network_d_tg': ('TGDiscriminator', )}

    def init_training_settings(self):
        train_opt = self.opt['train']
        self.net_d, self.cri_featd = self._build_discriminator('d', 'featd_opt', FeatD)
        self.net_d_tg, self.cri_tgd = self._build_discriminator('d_tg', 'tgd_opt', TGDiscriminator)
        built = (('network_d', self.net_d), ('network_d_tg', self.net_d_tg))
        self.encoder = self._shared_encoder({key: net for key, net in built if net is not None})
        self.featd_layers = self.get_bare_model(self.net_d).layers if self.net_d is not None else ()
        if self.encoder is not None:
            self.setup_diffaugment()
        if self.net_d_tg is not None and not self.get_bare_model(self.net_d_tg).has_text_features():
            with torch.no_grad():  # for the first generator step; a resumed TG-D brings its own
                self.get_bare_model(self.net_d_tg).text_features()
        self.trained_iter = 0  # recorded in the saved networks, so an export can tell what it exports
        self.net_d_iters = train_opt.get('net_d_iters', 1)
        self.net_d_init_iters = train_opt.get('net_d_init_iters', 0)
        # EMA, pixel/perceptual losses; it calls our setup_optimizers and setup_schedulers
        super().init_training_settings()

    def _build_discriminator(self, label, loss_key, expected_type):
        loss_opt = self.opt['train'].get(loss_key)
        criterion = build_loss(loss_opt).to(self.device) if loss_opt else None
        logger = get_root_logger()
        if criterion is None or criterion.loss_weight == 0:
            logger.info(f'SFDModel: train.{loss_key} is absent or has loss_weight 0: network_{label} is off.')
            return None, None
        net_opt = self.opt.get(f'network_{label}')
        if net_opt is None:
            raise InputError(f'{type(self).__name__}: train.{loss_key} is set, but the options have no '
                             f'network_{label}.')
        net = build_network(net_opt)
        # by name, not isinstance: a reloaded arch module registers a new class object of the same name
        if expected_type.__name__ not in {cls.__name__ for cls in type(net).__mro__}:
            raise InputError(f'{type(self).__name__}: network_{label} must be a {expected_type.__name__}; '
                             f"got type '{net_opt.get('type')}'.")
        net = self.model_to_device(net)
        self.print_network(net)
        path_opt = self.opt['path']
        load_path = path_opt.get(f'pretrain_network_{label}')
        if load_path is not None:
            self.load_network(net, load_path, path_opt.get(f'strict_load_{label}', True),
                              path_opt.get(f'param_key_{label}', 'params'))
        net.train()
        return net, criterion

    def _shared_encoder(self, discriminators):
        bare = {label: self.get_bare_model(d) for label, d in discriminators.items()}
        problem = encoder_mismatch({label: (d.clip_model, d.pretrained) for label, d in bare.items()})
        if problem:
            raise InputError(f'SFDModel: {problem}')
        return next(iter(bare.values())).encoder(self.device) if bare else None

    def setup_optimizers(self):
        train_opt = self.opt['train']
        optim_g = dict(train_opt['optim_g'])
        self.optimizer_g = self.get_optimizer(optim_g.pop('type'), self.net_g.parameters(), **optim_g)
        self.optimizers.append(self.optimizer_g)
        groups = []
        if self.net_d is not None:
            groups.append({'params': list(self.net_d.parameters())})
        if self.net_d_tg is not None:
            groups.append({'params': list(self.net_d_tg.parameters()), **train_opt.get('optim_d_tg', {})})
        if groups:
            optim_d = dict(train_opt['optim_d'])
            self.optimizer_d = self.get_optimizer(optim_d.pop('type'), groups, **optim_d)
            self.optimizers.append(self.optimizer_d)

    def _discriminators(self):
        return [net for net in (self.net_d, self.net_d_tg) if net is not None]

    def _encode(self, image):
        return self.encoder(image, layers=self.featd_layers, embedding=self.net_d_tg is not None)

    def loss_targets(self):
        """Targets of the pixel loss, the perceptual loss, and the discriminators' real images."""
        return self.gt, self.gt, self.gt

    @fast_training_step
    def optimize_parameters(self, current_iter):
        discriminators = self._discriminators()
        pixel_gt, percep_gt, real_gt = self.loss_targets()
        loss_dict = OrderedDict()
        for p in (p for net in discriminators for p in net.parameters()):
            p.requires_grad = False

        self.optimizer_g.zero_grad()
        self.output = self.net_g(self.lq)
        augmentation = self.draw_augmentation(self.output)  # one draw for SR and GT: paired data stays aligned
        sr_features = None
        if current_iter % self.net_d_iters == 0 and current_iter > self.net_d_init_iters:
            l_g_total = 0
            if self.cri_pix:
                loss_dict['l_g_pix'] = l_g_pix = self.cri_pix(self.output, pixel_gt)
                l_g_total += l_g_pix
            if self.cri_perceptual:
                l_g_percep, l_g_style = self.cri_perceptual(self.output, percep_gt)
                for key, value in (('l_g_percep', l_g_percep), ('l_g_style', l_g_style)):
                    if value is not None:
                        loss_dict[key] = value
                        l_g_total += value
            if discriminators:
                sr_features = self._encode(augment(self.output, augmentation))
            if self.net_d is not None:
                loss_dict['l_g_featd'] = l_g_featd = self.cri_featd(self.net_d(features=sr_features), True, False)
                l_g_total += l_g_featd
            if self.net_d_tg is not None:
                text = self.get_bare_model(self.net_d_tg).text_features(allow_stale=True)
                logits = self.net_d_tg(embedding=sr_features['embedding'], text_features=text)
                loss_dict['l_g_tgd'] = l_g_tgd = self.cri_tgd(logits, True, False)
                l_g_total += l_g_tgd
            loss_dict['l_g_total'] = l_g_total
            l_g_total.backward()
            self.optimizer_g.step()

        if discriminators:
            self._optimize_discriminators(real_gt, sr_features, loss_dict, augmentation)
        self.log_dict = self.reduce_loss_dict(loss_dict)
        self.diffaugment_iteration_done(current_iter)
        if self.ema_decay > 0:
            self.model_ema(decay=self.ema_decay)
        self.trained_iter = current_iter

    def _optimize_discriminators(self, real_gt, sr_features, loss_dict, augmentation):
        for p in (p for net in self._discriminators() for p in net.parameters()):
            p.requires_grad = True
        with torch.no_grad():
            gt_features = self._encode(augment(real_gt, augmentation))
            if sr_features is None:  # generator step skipped (net_d_init_iters / net_d_iters)
                sr_features = self._encode(augment(self.output, augmentation))
        # real and fake in one batch: one discriminator forward, one prompt-text pass
        both = {key: torch.cat([gt_features[key], sr_features[key].detach()]) for key in gt_features}
        batch = real_gt.shape[0]
        self.optimizer_d.zero_grad()
        l_d_total = 0
        for name, net, criterion, run in (
            ('featd', self.net_d, self.cri_featd, lambda: self.net_d(features=both)),
            ('tgd', self.net_d_tg, self.cri_tgd, lambda: self.net_d_tg(embedding=both['embedding'])),
        ):
            if net is None:
                continue
            real, fake = run().split(batch)
            if net is self._discriminators()[0] and self.diffaugment is not None:  # ADA reads Feat-D, else TG-D
                self.diffaugment.observe(real)
            loss_dict[f'l_d_{name}_real'] = l_real = criterion(real, True, is_disc=True)
            loss_dict[f'l_d_{name}_fake'] = l_fake = criterion(fake, False, is_disc=True)
            loss_dict[f'out_d_{name}_real'] = real.detach().mean()
            loss_dict[f'out_d_{name}_fake'] = fake.detach().mean()
            l_d_total = l_d_total + l_real + l_fake
        l_d_total.backward()
        self.optimizer_d.step()

    def save(self, epoch, current_iter):
        """BasicSR's checkpoints: ``net_g`` (with ``params_ema``), ``net_d``, ``net_d_tg`` and the training state."""
        if hasattr(self, 'net_g_ema'):
            self.save_network([self.net_g, self.net_g_ema], 'net_g', current_iter, ['params', 'params_ema'])
        else:
            self.save_network(self.net_g, 'net_g', current_iter)
        for net, label in ((self.net_d, 'net_d'), (self.net_d_tg, 'net_d_tg')):
            if net is not None:
                self.save_network(net, label, current_iter)
        self.save_training_state(epoch, current_iter)
