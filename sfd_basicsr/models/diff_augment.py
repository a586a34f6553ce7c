"""DiffAugment (Zhao et al., NeurIPS 2020) before the encoder in SFDModel's training step: colour, translation, cutout.

Training side only. The serving side (validation metrics, SFD-IQA in ``iqa/``, ``inference/``) never imports
``models/`` (docs/architecture.md, enforced by tests/test_architecture.py), and the models call ``augment`` in
their training step only, never in ``_encode``, which validation's realness maps use: no validation and no
SFD-IQA score ever sees an augmented image.

The transforms are the reference code's (``DiffAugment_pytorch.py`` of mit-han-lab/data-efficient-gans), on the
reference's [-1, 1] images: ours, in [0, 1], are mapped there and back, so a brightness shift moves at most a quarter
of the range and what translation and cutout leave is mid-grey, as in the reference (on [0, 1] directly the shift
would be twice as strong and the gaps black). They are split into drawing the parameters (``draw_augmentation``) and
applying them (``augment``): one draw per iteration is
applied to the SR batch (generator step, and the discriminators' fake half) and to the GT batch (their real half)
alike, so sample i of GT and sample i of SR get the identical transform and paired data stays pixel-aligned.
Every value comes from torch's global generator on the images' device, which exact resume saves and restores.

``DiffAugment`` adds the probability: fixed, or moved as ADA (Karras et al., NeurIPS 2020) moves it, from the sign
of the discriminator's real logits. ``DiffAugmentTraining`` reads ``train.diffaugment`` (docs/training.md) and
keeps that probability in the training state.
"""
import dataclasses

import torch
import torch.distributed as dist
import torch.nn.functional as F
from basicsr.utils import get_root_logger

POLICIES = ('color', 'translation', 'cutout')  # applied in this order, as the reference's default policy string
TRANSLATION_RATIO = 1 / 8  # the largest shift, as a fraction of each side
CUTOUT_RATIO = 1 / 2  # the zeroed square's side, as a fraction of each side
DEFAULT_INTERVAL = 4  # ADA's ada_interval
DEFAULT_IMAGES = 500000  # ADA's ada_kimg * 1000: images over which p can move from 0 to 1


@dataclasses.dataclass
class Augmentation:
    """One draw for a batch: per sample, whether it is augmented and each transform's values (None: not in the
    policy). ``shift`` (rows, columns): output pixel (i, j) is input pixel (i + rows, j + columns), 0 outside the
    image. ``cutout_centre`` (row, column): the zeroed square spans rows ``centre - side // 2`` onwards, clipped."""
    applied: torch.Tensor  # (B,) bool
    brightness: torch.Tensor | None = None  # (B,) added
    saturation: torch.Tensor | None = None  # (B,) factor around each pixel's channel mean
    contrast: torch.Tensor | None = None  # (B,) factor around the image's mean
    shift: torch.Tensor | None = None  # (B, 2) long
    cutout_centre: torch.Tensor | None = None  # (B, 2) long


def cutout_sides(height, width):
    return int(height * CUTOUT_RATIO + 0.5), int(width * CUTOUT_RATIO + 0.5)


def draw_augmentation(batch, height, width, probability, policy, device):
    """The random values of one augmentation of ``batch`` images of ``height`` x ``width``."""
    def uniform():
        return torch.rand(batch, device=device)

    drawn = {'applied': uniform() < probability}
    if 'color' in policy:
        drawn.update(brightness=uniform() - 0.5, saturation=uniform() * 2, contrast=uniform() + 0.5)
    if 'translation' in policy:
        limits = [int(side * TRANSLATION_RATIO + 0.5) for side in (height, width)]
        drawn['shift'] = torch.stack([torch.randint(-limit, limit + 1, (batch,), device=device) for limit in limits], 1)
    if 'cutout' in policy:
        # the reference's range: an even side may reach one past the edge
        ends = [side + 1 - cut % 2 for side, cut in zip((height, width), cutout_sides(height, width))]
        drawn['cutout_centre'] = torch.stack([torch.randint(0, end, (batch,), device=device) for end in ends], 1)
    return Augmentation(**drawn)


def augment(images, augmentation):
    """``images`` (B, C, H, W) transformed by ``augmentation`` (None: no augmentation this iteration);
    differentiable; the samples it does not apply to come back unchanged."""
    if augmentation is None:
        return images

    def per_sample(values):
        return values.to(images.dtype).view(-1, 1, 1, 1)

    out = images * 2 - 1  # the reference's range
    if augmentation.brightness is not None:
        out = out + per_sample(augmentation.brightness)
        mean = out.mean(dim=1, keepdim=True)
        out = (out - mean) * per_sample(augmentation.saturation) + mean
        mean = out.mean(dim=(1, 2, 3), keepdim=True)
        out = (out - mean) * per_sample(augmentation.contrast) + mean
    if augmentation.shift is not None:
        out = _translated(out, augmentation.shift)
    if augmentation.cutout_centre is not None:
        out = out * _cutout_mask(out, augmentation.cutout_centre)
    out = (out + 1) / 2
    # in the input's memory layout: the translation's gather returns channels-last strides, on which the encoder's
    # CPU convolutions ran 1.5x slower (measured), and a channels-last run keeps its own
    return torch.where(augmentation.applied.view(-1, 1, 1, 1), out, images).contiguous(memory_format=_layout(images))


def _layout(images):
    channels_last = images.is_contiguous(memory_format=torch.channels_last) and not images.is_contiguous()
    return torch.channels_last if channels_last else torch.contiguous_format


def _translated(images, shift):
    """The reference's index gather into the image padded by one zero pixel: indices past the edge read the zeros."""
    batch, _, height, width = images.shape
    rows = (torch.arange(height, device=images.device) + shift[:, :1] + 1).clamp(0, height + 1)
    columns = (torch.arange(width, device=images.device) + shift[:, 1:] + 1).clamp(0, width + 1)
    padded = F.pad(images, [1, 1, 1, 1]).permute(0, 2, 3, 1)
    samples = torch.arange(batch, device=images.device)[:, None, None]
    return padded[samples, rows[:, :, None], columns[:, None, :]].permute(0, 3, 1, 2)


def _cutout_mask(images, centre):
    """(B, 1, H, W): 0 inside each sample's square, 1 elsewhere."""
    inside = []
    for axis, (side, cut) in enumerate(zip(images.shape[-2:], cutout_sides(*images.shape[-2:]))):
        start = centre[:, axis:axis + 1] - cut // 2
        positions = torch.arange(side, device=images.device)
        inside.append((positions >= start) & (positions < start + cut))
    return (~(inside[0][:, :, None] & inside[1][:, None, :])).to(images.dtype)[:, None]


class DiffAugment:
    """The policy and the probability of augmenting a sample; with ``target`` set, p moves as ADA moves it.

    ADA's overfitting heuristic: r_t = E[sign(real logits)] over ``interval`` iterations (every process's logits);
    then p += sign(r_t - target) * (images judged) / ``ramp_images``, clamped to [0, 1]. Reading the sums
    costs one host sync (and one all-reduce) every ``interval`` iterations.
    """

    def __init__(self, policy, probability, target=None, interval=DEFAULT_INTERVAL, ramp_images=DEFAULT_IMAGES,
                 device='cpu'):
        self.policy = tuple(name for name in POLICIES if name in policy)
        self.probability = float(probability)
        self.target, self.interval, self.ramp_images = target, interval, ramp_images
        self._signs = torch.zeros((), device=device)  # on the device: no host sync per iteration
        self._logits = self._images = 0

    @property
    def adaptive(self):
        return self.target is not None

    def draw(self, images):
        """An ``Augmentation`` for a batch shaped as ``images``, or None where p is 0 (nothing would change)."""
        if self.probability == 0:
            return None
        batch, _, height, width = images.shape
        return draw_augmentation(batch, height, width, self.probability, self.policy, images.device)

    def observe(self, real_logits):
        """The discriminator's logits on (augmented) real images, shaped (B, ...)."""
        if self.adaptive:
            self._signs += real_logits.detach().float().sign().sum()
            self._logits += real_logits.numel()
            self._images += real_logits.shape[0]

    def iteration_done(self, current_iter):
        if self.adaptive and current_iter % self.interval == 0:
            signs, logits, images = self._totals()
            self._signs.zero_()
            self._logits = self._images = 0
            overfitting = signs / logits - self.target
            step = (overfitting > 0) - (overfitting < 0)
            self.probability = min(max(self.probability + step * images / self.ramp_images, 0.0), 1.0)

    def _totals(self):
        """The sums since the last update, over every process."""
        totals = torch.stack([self._signs, self._signs.new_tensor(self._logits), self._signs.new_tensor(self._images)])
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(totals)
        signs, logits, images = totals.tolist()
        return signs, logits, images

    def state_dict(self):
        """p and every process's sums since the last update; every process must call it."""
        signs, logits, images = self._totals()
        return {'probability': self.probability, 'signs': signs, 'logits': int(logits), 'images': int(images)}

    def load_state_dict(self, state, rank=0):
        """Rank 0 takes back the sums of all processes, the others none: the next update adds up the same."""
        self.probability = state['probability']
        self._signs.fill_(state['signs'] if rank == 0 else 0)
        self._logits, self._images = (state['logits'], state['images']) if rank == 0 else (0, 0)


class DiffAugmentTraining:
    """Mixin for SFD models: ``train.diffaugment`` as ``self.diffaugment`` (None: off), the current p in the log as
    ``diffaugment_p``, and an adaptive p with its sums in the training state."""
    diffaugment = None

    def setup_diffaugment(self):
        augment_opt = self.opt['train'].get('diffaugment')
        if augment_opt is None:
            return
        target = augment_opt.get('adaptive_target')
        self.diffaugment = DiffAugment(
            augment_opt.get('policy', POLICIES), augment_opt.get('probability', 1.0 if target is None else 0.0),
            target, augment_opt.get('adaptive_interval', DEFAULT_INTERVAL),
            augment_opt.get('adaptive_images', DEFAULT_IMAGES), self.device)

    def draw_augmentation(self, images):
        return self.diffaugment.draw(images) if self.diffaugment is not None else None

    def diffaugment_iteration_done(self, current_iter):
        """Logs the p this iteration used, then lets ADA move it."""
        if self.diffaugment is not None:
            self.log_dict['diffaugment_p'] = self.diffaugment.probability
            self.diffaugment.iteration_done(current_iter)

    def training_state(self, epoch, current_iter):
        state = super().training_state(epoch, current_iter)
        if self.diffaugment is not None and self.diffaugment.adaptive:
            state['diffaugment'] = self.diffaugment.state_dict()
        return state

    def resume_training(self, resume_state):
        super().resume_training(resume_state)
        if self.diffaugment is None or not self.diffaugment.adaptive:
            return  # a fixed p is the options' own
        saved = resume_state.get('diffaugment')
        if saved is None:
            get_root_logger().warning(
                f"Training state of iter {resume_state['iter']} holds no adaptive DiffAugment probability: it starts "
                f'again at train.diffaugment.probability ({self.diffaugment.probability}).')
            return
        self.diffaugment.load_state_dict(saved, self.opt.get('rank', 0))
