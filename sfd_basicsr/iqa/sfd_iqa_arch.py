"""SFD-IQA: opinion-unaware no-reference quality from a trained Feat-D and learnable prompt pairs.

Choices not from the paper: docs/method.md, "Our decisions".

``q = w * mean(sigmoid(Feat-D map)) + (1 - w) * mean_pairs(sigmoid(TG-D logit))``, in [0, 1], higher is
better; weights from a backbone without a text tower have no TG-D and ``w = 1``. Images are scored at full
resolution; one side over ``tile_size`` splits the image into near-equal tiles no larger than that, so memory stays
bounded. Each tile is encoded with ``tile_margin``
pixels of its neighbours around it and only its own part of the Feat-D map is kept, so tile borders add
no padding artefacts; the parts are averaged by area.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from ..archs.featd_arch import FeatD
from ..archs.tgd_arch import TGDiscriminator
from ..backbones.weights import EncoderWeightsError
from ..utils.errors import InputError
from ..utils.image_io import check_min_side
from ..utils.tiles import tiles_with_context
from .weights import WeightsError, fusion_weight_for, load_weights, resolve_weights_path, weights_from_checkpoints

DEFAULT_TILE_SIZE = 1024
DEFAULT_TILE_MARGIN = 64
BF16_TOLERANCE = 0.01  # |score under bf16 - float32 score|, scores in [0, 1] (docs/iqa.md, "bfloat16")


def clip_weights_advice(clip_model, clip_pretrained, error):
    """One line for CLIP weights SFD-IQA cannot load, with the ways to give them that SFD-IQA's users have."""
    reason = ' '.join(str(error).split()).split('. Without network access')[0]
    reason = reason if reason.endswith('...') else reason.rstrip('.')  # a cut reason keeps its ellipsis
    # open_clip's CLIP names (RN50-quickgelu) are bare; other backbones carry their library (timm:convnext_tiny)
    name = str(clip_model)
    encoder, local = (f'CLIP {name}', f"/path/to/{name.replace('-quickgelu', '')}.pt") if ':' not in name else (
        name, '/path/to/weights.pth')
    return (f"SFD-IQA needs the {encoder} weights '{clip_pretrained}', which cannot be loaded here ({reason}). "
            f"Give a local copy: clip_pretrained='{local}' (pyiqa.create_metric('sfd_iqa', ...) or SFDIQA), "
            f'--clip-pretrained {local} (sfd-iqa score), or record it in the weights file for the pyiqa '
            f'command: sfd-iqa export -m EXPERIMENT -o sfd_iqa.pth --clip-pretrained {local}.')


class SFDIQA(nn.Module):
    """The SFD-IQA network (pyiqa arch ``SFDIQA``, metric ``sfd_iqa``).

    Args:
        pretrained_model_path (str | None): exported SFD-IQA file; None looks at ``$SFD_IQA_WEIGHTS``, then
            pyiqa's weight folder (``~/.cache/torch/hub/pyiqa/sfd_iqa.pth``).
        featd_checkpoint, tgd_checkpoint (str | None): instead of an exported file, the ``net_d_*.pth`` and
            ``net_d_tg_*.pth`` files of an SFD training run (a Feat-D alone: ``tgd_checkpoint`` None).
        fusion_weight (float | None): ``w``; None takes the file's (0.5 by default, 1 without TG-D).
        clip_pretrained (str | None): CLIP weights (open_clip tag or file, or ``'none'`` for random);
            None takes the ones recorded in the file.
        tile_size (int): largest tile side scored in one pass (without its margin).
        tile_margin (int): context around each tile when the image is tiled.
        bf16 (bool): the encoder and both heads under bfloat16 autocast (fast on GPUs; CPUs without bfloat16
            instructions are slower); scores and maps stay float32 and within ``BF16_TOLERANCE`` of float32's.
    """

    def __init__(self, pretrained_model_path=None, featd_checkpoint=None, tgd_checkpoint=None, fusion_weight=None,
                 clip_pretrained=None, tile_size=DEFAULT_TILE_SIZE, tile_margin=DEFAULT_TILE_MARGIN, bf16=False):
        super().__init__()
        self.bf16 = bool(bf16)
        if featd_checkpoint or tgd_checkpoint:
            if not featd_checkpoint:
                raise InputError('SFD-IQA from training checkpoints needs featd_checkpoint (and tgd_checkpoint where '
                                 'the run trained TG-D).')
            weights = weights_from_checkpoints(featd_checkpoint, tgd_checkpoint)
        else:
            weights = load_weights(resolve_weights_path(pretrained_model_path))
        clip_pretrained = weights['clip_pretrained'] if clip_pretrained is None else clip_pretrained
        clip_pretrained = None if str(clip_pretrained).lower() in ('none', 'null', '~') else clip_pretrained
        encoder = {'clip_model': weights['clip_model'], 'pretrained': clip_pretrained}
        try:
            self.featd = FeatD(**encoder, **weights['featd']['config'])
            self.tgd = TGDiscriminator(**encoder, **weights['tgd']['config']) if weights['tgd'] else None
            self.featd.encoder('cpu')  # built here, so its weights load inside this guard
        except (FileNotFoundError, EncoderWeightsError) as error:
            raise WeightsError(clip_weights_advice(weights['clip_model'], clip_pretrained, error)) from None
        for part, net in (('featd', self.featd), ('tgd', self.tgd)):
            if net is None:
                continue
            try:
                net.load_state_dict(weights[part]['params'])
            except (RuntimeError, InputError) as error:  # shapes or names the config does not describe
                first = str(error).strip().splitlines()[-1].strip()[:300]
                raise WeightsError(f"the SFD-IQA weights' {part} parameters do not fit the {type(net).__name__} "
                                   f'their own config builds ({first}); the file is damaged or was edited: '
                                   'export it again with sfd-iqa export.') from None
        self.fusion_weight = fusion_weight_for(weights['fusion_weight'] if fusion_weight is None else fusion_weight,
                                               self.tgd is not None, 'these SFD-IQA weights')
        self.min_size = max(self.featd.min_size, self.tgd.min_size if self.tgd else 0)
        if tile_size < 2 * self.min_size:
            raise InputError(f'tile_size must be at least {2 * self.min_size}; got {tile_size}.')
        self.tile_size = tile_size
        stride = self.featd.stride
        self.tile_margin = math.ceil(tile_margin / stride) * stride  # keeps tile maps on the full map's grid
        # a metric never trains: as_loss sends gradients to the image only, and the prompt texts are
        # encoded once, not again on every call made with gradients enabled
        self.requires_grad_(False)
        self.eval()

    def _check(self, x):
        if x.dim() != 4 or x.shape[1] not in (1, 3):
            raise InputError(f'SFD-IQA expects images shaped (B, 3, H, W) or (B, 1, H, W); got {tuple(x.shape)}.')
        check_min_side(x.shape, self.min_size, 'SFD-IQA', hint=' Upscale or pad such small images first.')
        return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x

    def _score_tile(self, x, kept, seen):
        """Feat-D realness map of the tile ``kept`` (encoded as ``seen``, with its margin) and its TG-D realness."""
        stride = self.featd.stride
        (y0, y1, x0, x1), (top, bottom, left, right) = kept, seen
        context = x[..., top:bottom, left:right]
        features = self.featd.encoder(x.device)(context, layers=self.featd.layers, embedding=self.tgd is not None)
        realness_map = torch.sigmoid(self.featd(features=features))
        r0, c0 = (y0 - top) // stride, (x0 - left) // stride
        r1, c1 = r0 + math.ceil((y1 - y0) / stride), c0 + math.ceil((x1 - x0) / stride)
        if self.tgd is None:  # w = 1: nothing to fuse
            return realness_map[..., r0:r1, c0:c1], realness_map.new_zeros(realness_map.shape[0])
        prompt_realness = torch.sigmoid(self.tgd(embedding=features['embedding'])).mean(dim=1)
        return realness_map[..., r0:r1, c0:c1], prompt_realness

    def forward(self, x, return_map=False):
        """Scores ``(B,)``; with ``return_map`` also the Feat-D realness map upsampled to ``(B, 1, H, W)``."""
        x = self._check(x)
        height, width = x.shape[-2:]
        featd_sum = tgd_sum = 0
        quality_map = x.new_zeros(x.shape[0], 1, height, width) if return_map else None
        stride = self.featd.stride
        for kept, seen in tiles_with_context(height, width, self.tile_size, self.tile_margin, stride):
            with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                realness_map, prompt_realness = self._score_tile(x, kept, seen)
            realness_map, prompt_realness = realness_map.float(), prompt_realness.float()
            y0, y1, x0, x1 = kept
            area = (y1 - y0) * (x1 - x0)
            featd_sum = featd_sum + realness_map.mean(dim=(1, 2, 3)) * area
            tgd_sum = tgd_sum + prompt_realness * area
            if return_map:
                quality_map[..., y0:y1, x0:x1] = F.interpolate(
                    realness_map, size=(y1 - y0, x1 - x0), mode='bilinear', align_corners=False)
        w = self.fusion_weight
        score = (w * featd_sum + (1 - w) * tgd_sum) / (height * width)
        return (score, quality_map) if return_map else score
