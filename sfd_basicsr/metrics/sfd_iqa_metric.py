"""``calculate_sfd_iqa`` in BasicSR's METRIC_REGISTRY, for ``val.metrics`` of any BasicSR options file."""

import torch
from basicsr.utils.registry import METRIC_REGISTRY

from ..compat.registry import register
from ..iqa.sfd_iqa_arch import DEFAULT_TILE_SIZE, SFDIQA
from ..iqa.weights import resolve_weights_path
from ..utils.distributed import default_device
from ..utils.process_cache import ProcessCache
from .basicsr_images import basicsr_image_to_tensor

_NETWORKS = ProcessCache()


def cached_sfd_iqa(pretrained_model_path=None, fusion_weight=None, clip_pretrained=None,
                   tile_size=DEFAULT_TILE_SIZE, device=None):
    """One SFD-IQA network per (weights, options, device) in this process."""
    device = default_device(device)
    key = (resolve_weights_path(pretrained_model_path), fusion_weight, clip_pretrained, tile_size, str(device))
    return _NETWORKS.get(key, lambda: SFDIQA(key[0], fusion_weight=fusion_weight, clip_pretrained=clip_pretrained,
                                             tile_size=tile_size).to(device))


@register(METRIC_REGISTRY)
def calculate_sfd_iqa(img, crop_border=0, input_order='HWC', pretrained_model_path=None, fusion_weight=None,
                      clip_pretrained=None, tile_size=DEFAULT_TILE_SIZE, device=None, **kwargs):
    """SFD-IQA (higher is better, in [0, 1]) of one image as BasicSR passes it: BGR, uint8, HWC.

    Other keys BasicSR passes (``img2``, ``better``) are ignored: the metric needs no reference.
    """
    net = cached_sfd_iqa(pretrained_model_path, fusion_weight, clip_pretrained, tile_size, device)
    tensor = basicsr_image_to_tensor(img, crop_border, input_order)
    with torch.no_grad():
        return net(tensor.to(next(net.parameters()).device)).item()
