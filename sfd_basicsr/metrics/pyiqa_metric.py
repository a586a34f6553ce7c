"""``calculate_pyiqa``: any pyiqa metric (lpips, dists, niqe, musiq, clipiqa, sfd_iqa, ...) as a BasicSR metric.

In an options file::

    val:
      metrics:
        lpips: {type: calculate_pyiqa, metric: lpips, crop_border: 4}
        musiq: {type: calculate_pyiqa, metric: musiq}

Full-reference metrics compare with the GT, no-reference ones score the SR image alone. Each metric is
built once per process and device. ``better`` defaults to pyiqa's ``lower_better``.
"""
import torch
from basicsr.utils.registry import METRIC_REGISTRY

from ..compat.registry import PreparedMetric, register
from ..iqa.pyiqa_metrics import pyiqa_metric
from ..utils.distributed import default_device
from ..utils.errors import InputError
from .basicsr_images import basicsr_image_to_tensor


def _calculate_pyiqa(img, img2=None, metric=None, crop_border=0, input_order='HWC', device=None, better=None,
                     **options):
    """pyiqa's ``metric`` of ``img`` (against ``img2`` for full-reference metrics); images as BasicSR passes
    them: BGR, HWC, uint8 (or uint16 / float in [0, 1]). ``options`` go to ``pyiqa.create_metric``."""
    if metric is None:
        raise InputError("calculate_pyiqa needs the option 'metric' (a pyiqa metric name, e.g. lpips).")
    scorer = pyiqa_metric(metric, device, **options)
    target = basicsr_image_to_tensor(img, crop_border, input_order).to(default_device(device))
    with torch.no_grad():
        if scorer.metric_mode == 'FR':
            if img2 is None:
                raise InputError(f"'{metric}' is a full-reference metric: it needs the GT image.")
            return scorer(target, basicsr_image_to_tensor(img2, crop_border, input_order).to(target.device)).item()
        return scorer(target).item()


def _prepare(opt):
    """Options-check hook: build the metric now, so a missing download fails before training; fill ``better``."""
    options = {k: v for k, v in opt.items() if k not in ('type', 'crop_border', 'input_order', 'better', 'metric',
                                                         'device')}
    if 'metric' not in opt:
        raise InputError("missing 'metric' (a pyiqa metric name, e.g. lpips)")
    scorer = pyiqa_metric(opt['metric'], opt.get('device'), **options)
    opt.setdefault('better', 'lower' if scorer.lower_better else 'higher')


calculate_pyiqa = register(METRIC_REGISTRY, 'calculate_pyiqa')(PreparedMetric(_calculate_pyiqa, _prepare))
