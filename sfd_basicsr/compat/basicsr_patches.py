"""Scoped patches of BasicSR 1.4.2, each restored on exit (also on an exception).

- ``module_names_swapped``: the module-level functions of ``basicsr.train`` / ``basicsr.test`` that
  ``training.pipeline`` replaces (listed there);
- ``basicsr_filter2d_on_contiguous_inputs``: around ``SFDRealModel.feed_data``;
- ``basicsr_distributed_on_any_device``: BasicSR's distributed set-up on machines without CUDA;
- ``validation_metrics_that_cannot_end_training``: a metric failing on one image is logged, not fatal;
- ``basicsr_validation_metric_values``: every value of BasicSR's validation loop, recorded (split validation).
"""
from contextlib import contextmanager


@contextmanager
def module_names_swapped(module, replacements):
    """Within the block, ``module.<name>`` is ``replacements[name]``: how ``pipeline`` hooks into BasicSR's
    ``train_pipeline`` / ``test_pipeline``, which look these names up in their module at every run."""
    originals = {name: getattr(module, name) for name in replacements}
    for name, value in replacements.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in originals.items():
            setattr(module, name, value)


@contextmanager
def basicsr_distributed_on_any_device(dist_params=None):
    """Within the block, BasicSR's distributed training runs without CUDA too (gloo on CPU).

    BasicSR 1.4.2 hard-codes CUDA in two places, both replaced here and restored on exit:
    - ``basicsr.utils.options.init_dist`` (called by ``parse_options``) sets the CUDA device to
      ``rank % torch.cuda.device_count()``, a ZeroDivisionError without GPUs, and passes the options'
      ``dist_params`` only to SLURM launches. Ours (``distributed.init_dist``) keeps BasicSR's set-up where
      CUDA exists, otherwise joins with gloo, and applies ``dist_params`` (backend, timeout) to every launcher.
    - ``BaseModel.model_to_device`` wraps DDP with ``device_ids=[torch.cuda.current_device()]``; ours gives
      the network's own device, none on the CPU. Every model that inherits it (SRGANModel, ESRGANModel,
      ours) is affected, nothing else.
    """
    from basicsr.models.base_model import BaseModel
    from basicsr.utils import options
    from torch.nn.parallel import DataParallel

    from ..utils.distributed import init_dist, wrap_ddp
    original_init_dist, original_model_to_device = options.init_dist, BaseModel.model_to_device

    def init_dist_on_any_device(launcher, **kwargs):
        init_dist(launcher, basicsr_init_dist=original_init_dist, **{**(dist_params or {}), **kwargs})

    def model_to_device(self, net):
        net = net.to(self.device)
        if self.opt['dist']:
            return wrap_ddp(net, self.opt.get('find_unused_parameters', False))
        return DataParallel(net) if self.opt['num_gpu'] > 1 else net

    options.init_dist, BaseModel.model_to_device = init_dist_on_any_device, model_to_device
    try:
        yield
    finally:
        options.init_dist, BaseModel.model_to_device = original_init_dist, original_model_to_device


@contextmanager
def validation_metrics_that_cannot_end_training():
    """Within the block, a validation metric that raises on one image gives NaN there instead of ending the run.

    BasicSR's ``SRModel.nondist_validation`` (SRGAN/ESRGAN/Real-ESRGAN and our models validate through it)
    calls ``calculate_metric`` per image; NIQE's SVD fails on a near-constant output (any early generator)
    and a pyiqa metric can lack its weights, and the exception ended training mid-loop with no
    ``net_g_latest.pth``. Here the failure is logged with the metric and the reason, that image's value is
    NaN (so the dataset's mean reads ``nan``: unavailable), and training goes on.
    """
    from basicsr.models import sr_model
    from basicsr.utils import get_root_logger
    original = sr_model.calculate_metric

    def calculate_metric(data, opt):
        try:
            return original(data, opt)
        except Exception as error:  # noqa: BLE001  (any metric failure: log it, keep training)
            reason = ' '.join(str(error).split())[:200]
            get_root_logger().warning(f"Validation metric {opt.get('type')} unavailable for an image "
                                      f'({type(error).__name__}: {reason}); it counts as nan, training goes on.')
            return float('nan')

    sr_model.calculate_metric = calculate_metric
    try:
        yield
    finally:
        sr_model.calculate_metric = original


@contextmanager
def basicsr_validation_metric_values(values):
    """Within the block, each value BasicSR's ``SRModel.nondist_validation`` gets from ``calculate_metric`` (per image,
    per metric, in that order) is also appended to ``values``: the loop keeps only their sum, and split validation
    (``models.split_validation``) needs them one by one to sum the whole set as one process would."""
    from basicsr.models import sr_model
    original = sr_model.calculate_metric

    def calculate_metric(data, opt):
        value = original(data, opt)
        values.append(value)
        return value

    sr_model.calculate_metric = calculate_metric
    try:
        yield values
    finally:
        sr_model.calculate_metric = original


@contextmanager
def basicsr_filter2d_on_contiguous_inputs():
    """Within the block, ``RealESRGANModel``'s degradation code calls BasicSR's ``filter2D`` on contiguous tensors.

    ``basicsr.utils.img_process_util.filter2D`` calls ``.view`` on its input, which fails on the channels-last
    tensors that CPU convolutions and resizes can return (the CUDA path BasicSR was written for never made them);
    ``SFDRealModel.feed_data`` runs BasicSR's own degradations inside this block, so they train on the CPU too.
    """
    from basicsr.models import realesrgan_model
    original = realesrgan_model.filter2D
    realesrgan_model.filter2D = lambda img, kernel: original(img.contiguous(), kernel)
    try:
        yield
    finally:
        realesrgan_model.filter2D = original
