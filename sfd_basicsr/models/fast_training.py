"""traiNNer-redux's speed options for our models: mixed precision, channels-last and compiled networks.

Top-level options (declared in ``training/options_schema.py``, docs/training.md, "Mixed precision, channels-last and
compile"): ``use_amp`` and ``amp_bf16`` (``mixed_precision``), ``use_channels_last``, ``use_compile`` and
``compile_mode``. A model takes them by deriving from ``FastTraining`` (before ``ExactResume``) and decorating its
``optimize_parameters`` with ``fast_training_step``.
"""
import functools
from collections import OrderedDict

import torch
import torch.distributed as dist
from basicsr.utils import get_root_logger

from ..utils.atomic import OutputWriteError
from .mixed_precision import MixedPrecision

SCALED_OPTIMIZERS = ('optimizer_g', 'optimizer_d')  # the optimisers BasicSR's and our training steps call by name
LOSSES_UNDER_AUTOCAST = ('cri_perceptual', )  # VGG19 runs under autocast; only its result is made float32
# TG-D's forward is the frozen text tower behind a cache keyed on the prompts' version counter, which every
# optimiser step changes: compiled, it would be traced again (or broken into pieces) at every iteration.
NOT_COMPILED = ('TGDiscriminator', )


def fast_training_step(optimize_parameters):
    """A model's ``optimize_parameters`` under its autocast; the skipped fp16 steps join the logged values."""

    @functools.wraps(optimize_parameters)
    def step(self, current_iter):
        precision = getattr(self, 'mixed_precision', None)
        if precision is None:
            return optimize_parameters(self, current_iter)
        with precision.autocast():
            optimize_parameters(self, current_iter)
        for name in SCALED_OPTIMIZERS:
            optimizer = getattr(self, name, None)
            if hasattr(optimizer, 'skipped'):
                self.log_dict[f'amp_skipped_{name[len("optimizer_"):]}'] = optimizer.skipped

    return step


def _non_finite(state_dict):
    floating = [v for v in state_dict.values() if v.is_floating_point()]
    if not floating:
        return []
    finite = torch.stack([v.isfinite().all() for v in floating]).tolist()  # one host sync for the whole network
    return [name for (name, v), ok in zip([(n, v) for n, v in state_dict.items() if v.is_floating_point()], finite)
            if not ok]


class FastTraining:
    """Mixin for BasicSR models: the options ``use_amp``, ``amp_bf16``, ``use_channels_last``, ``use_compile``,
    ``compile_mode``, the scalers' state in the training state, logged losses read by the host only when the log
    is, and no checkpoint of non-finite weights."""

    def __init__(self, opt):
        super().__init__(opt)
        if self.is_train and opt.get('use_amp', False):
            self.mixed_precision = MixedPrecision(self.device, bf16=opt.get('amp_bf16', False))
            for name in [n for n, value in vars(self).items() if n.startswith('cri_') and value is not None]:
                setattr(self, name, self.mixed_precision.loss(getattr(self, name), name in LOSSES_UNDER_AUTOCAST))
            for name in [n for n in SCALED_OPTIMIZERS if getattr(self, n, None) is not None]:
                setattr(self, name, self.mixed_precision.optimizer(getattr(self, name)))

    def model_to_device(self, net):
        """Channels-last and compiled before BasicSR's DDP wrapping; ``torch.nn.Module.compile`` compiles the module
        in place, so its ``state_dict`` keeps BasicSR's key names (no ``_orig_mod.``)."""
        net = net.to(self.device)
        if self.opt.get('use_channels_last', False):
            net = net.to(memory_format=torch.channels_last)
        if self.opt.get('use_compile', False) and self.is_train and type(net).__name__ not in NOT_COMPILED:
            net.compile(mode=self.opt.get('compile_mode', 'default'))
        return super().model_to_device(net)

    def reduce_loss_dict(self, loss_dict):
        """BasicSR's average over processes, without its ``.item()`` per loss and step (a host sync each, which
        stalls a GPU step): the values stay on the device, read once when the log is (``get_current_log``)."""
        with torch.no_grad():
            values = torch.stack([value.detach().float().mean() for value in loss_dict.values()])
            if self.opt['dist']:
                dist.reduce(values, dst=0)
                if self.opt['rank'] == 0:
                    values /= self.opt['world_size']
        return OrderedDict(zip(loss_dict, values.unbind()))

    def get_current_log(self):
        tensors = [key for key, value in self.log_dict.items() if torch.is_tensor(value)]
        read = dict(zip(tensors, torch.stack([self.log_dict[k] for k in tensors]).tolist())) if tensors else {}
        return OrderedDict((key, read.get(key, value)) for key, value in self.log_dict.items())

    def _scaled_optimizers(self):
        return {name: getattr(self, name) for name in SCALED_OPTIMIZERS if hasattr(getattr(self, name, None), 'scaler')}

    def training_state(self, epoch, current_iter):
        state = super().training_state(epoch, current_iter)
        scaled = self._scaled_optimizers()
        if scaled:
            state['grad_scalers'] = {name: optimizer.state_dict() for name, optimizer in scaled.items()}
        return state

    def resume_training(self, resume_state):
        super().resume_training(resume_state)
        saved = resume_state.get('grad_scalers', {})
        for name, optimizer in self._scaled_optimizers().items():
            if name in saved:
                optimizer.load_state_dict(saved[name])
            else:
                get_root_logger().warning(f"Training state of iter {resume_state['iter']} holds no gradient scaler for "
                                          f'{name} (saved without float16 AMP): it starts at its initial scale.')

    def save_network(self, net, net_label, current_iter, param_key='params'):
        """Refuses (``OutputWriteError``, the run stops) to write weights that are not finite."""
        for n in net if isinstance(net, list) else [net]:
            bad = _non_finite(self.get_bare_model(n).state_dict())
            if bad:
                raise OutputWriteError(f'{net_label} not saved at iter {current_iter}: {len(bad)} of its tensors are '
                                       f'not finite (first: {bad[0]}); training diverged.')
        super().save_network(net, net_label, current_iter, param_key)
