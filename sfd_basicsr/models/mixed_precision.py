"""Mixed precision for a BasicSR model's training step: autocast, float32 losses, a gradient scaler per optimiser.

The step runs under ``torch.autocast`` (bfloat16 or float16); every loss is computed in float32 outside it (the
perceptual loss's VGG stays under it, only its result is float32). Under float16 each optimiser gets its own
``torch.amp.GradScaler``: the optimiser last ``zero_grad``-ed owns the step, the losses computed in it have their
gradient (not their value, which the log shows) multiplied by that scaler's scale, and its ``step`` is the
scaler's, which skips an update whose gradients are not finite and lowers the scale. Skipped steps are counted.
docs/training.md, "Mixed precision, channels-last and compile".
"""
import torch
from torch import nn


class _ScaledGradient(torch.autograd.Function):
    """The loss unchanged forward; its gradient multiplied by ``scale`` backward (``GradScaler.scale`` would change
    the value too, and BasicSR logs the value it is given)."""

    @staticmethod
    def forward(ctx, loss, scale):
        ctx.save_for_backward(scale)
        return loss.clone()

    @staticmethod
    def backward(ctx, grad):
        scale, = ctx.saved_tensors
        return grad * scale.to(grad.dtype), None


def _float32(value):
    return value.float() if torch.is_tensor(value) and value.is_floating_point() else value


def _each_tensor(value, change):
    if isinstance(value, (list, tuple)):
        return type(value)(_each_tensor(v, change) for v in value)
    return change(value) if torch.is_tensor(value) else value


class Float32Loss(nn.Module):
    """A BasicSR loss module computed in float32, its gradient scaled for the step in progress.

    ``under_autocast``: the loss runs its own networks (BasicSR's perceptual loss, VGG19) under the step's autocast
    and only its result is made float32.
    """

    def __init__(self, loss, precision, under_autocast=False):
        super().__init__()
        self.loss = loss
        self.under_autocast = under_autocast
        self.__dict__['precision'] = precision  # not a submodule: it owns the optimisers, not the other way round

    def forward(self, *args, **kwargs):
        if self.under_autocast:
            result = self.loss(*args, **kwargs)
        else:
            with torch.autocast(self.precision.device_type, enabled=False):
                result = self.loss(*[_float32(a) for a in args], **{k: _float32(v) for k, v in kwargs.items()})
        return _each_tensor(result, lambda loss: self.precision.scaled_for_backward(loss.float()))

    def __getattr__(self, name):  # the wrapped loss's attributes (``loss_weight``...) read as before
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(super().__getattr__('loss'), name)


class ScaledOptimizer:
    """``optimizer`` with its own ``GradScaler``: ``step`` unscales, skips a step with non-finite gradients, updates
    the scale and counts what it skipped. Everything else is the optimiser's (BasicSR's schedulers and training
    states keep the optimiser itself)."""

    def __init__(self, optimizer, precision):
        self.optimizer = optimizer
        self.precision = precision
        self.scaler = torch.amp.GradScaler(precision.device_type)
        self.skipped = 0
        self._scale = self.scaler.get_scale()

    def zero_grad(self, set_to_none=True):
        self.precision.step_owner = self
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def step(self):
        self.scaler.step(self.optimizer)
        self.scaler.update()
        scale = self.scaler.get_scale()  # one host sync per fp16 step: the scale falls only when a step was skipped
        self.skipped += scale < self._scale
        self._scale = scale
        self.precision.step_owner = None

    def state_dict(self):
        return {'scaler': self.scaler.state_dict(), 'skipped': self.skipped}

    def load_state_dict(self, state):
        self.scaler.load_state_dict(state['scaler'])
        self.skipped = state['skipped']
        self._scale = self.scaler.get_scale()

    def __getattr__(self, name):
        return getattr(self.optimizer, name)


class MixedPrecision:
    """The autocast of one model's training steps and, under float16, its optimisers' scalers.

    Args:
        device: the model's device.
        bf16 (bool): bfloat16 (no scaler: its range is float32's) instead of float16.
    """

    def __init__(self, device, bf16=False):
        self.device_type = torch.device(device).type
        self.dtype = torch.bfloat16 if bf16 else torch.float16
        self.scaled = not bf16
        self.step_owner = None  # the ScaledOptimizer whose step is in progress

    def autocast(self):
        return torch.autocast(self.device_type, dtype=self.dtype)

    def optimizer(self, optimizer):
        """``optimizer`` as the training step calls it: a ``ScaledOptimizer`` under float16, else itself."""
        return ScaledOptimizer(optimizer, self) if self.scaled else optimizer

    def loss(self, loss, under_autocast=False):
        return Float32Loss(loss, self, under_autocast)

    def scaled_for_backward(self, loss):
        if not (self.scaled and loss.requires_grad):
            return loss
        if self.step_owner is None:
            raise RuntimeError('a loss with gradient was computed outside an optimiser step (zero_grad ... step): '
                               'no gradient scaler owns it, so its float16 gradient would be unscaled wrongly.')
        scale = self.step_owner.scaler.scale(torch.ones((), device=loss.device))
        return _ScaledGradient.apply(loss, scale)
