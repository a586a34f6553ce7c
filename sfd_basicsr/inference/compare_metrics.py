"""Per-image metrics of ``basicsr compare``: PSNR/SSIM on Y, SFD-IQA with its realness map, pyiqa metrics.

PSNR/SSIM are BasicSR's (``test_y_channel``, ``crop_border`` = the scale where it is known), full-reference pyiqa
metrics take the same crop, no-reference metrics and SFD-IQA score the whole image (as ``sfd-iqa score``). A metric
that cannot be built here is unavailable, with the reason, and the others still run.
"""
from dataclasses import dataclass

import cv2
import numpy as np
import torch

FULL_REFERENCE = ('PSNR-Y', 'SSIM-Y')
SFD_IQA = 'sfd_iqa'
SSIM_WINDOW = 11  # basicsr.metrics.psnr_ssim: an 11x11 Gaussian window, then 5 px cut from each side


@dataclass
class Column:
    key: str
    label: str
    higher_better: bool
    needs_gt: bool


class Scorers:
    """The metrics of one page, built once: ``columns`` in the table's order, ``unavailable`` ``{metric: why}``."""

    def __init__(self, metrics, has_gt, crop_border, device=None, weights=None, weights_required=False):
        from ..iqa.pyiqa_metrics import MetricUnavailable, pyiqa_metric
        from ..utils.distributed import default_device
        self.device, self.crop_border = default_device(device), crop_border
        self.columns = [Column(key, key, True, True) for key in FULL_REFERENCE] if has_gt else []
        self.unavailable = {} if has_gt else {key: 'no --gt folder' for key in FULL_REFERENCE}
        self.realness_net = self._sfd_iqa(weights, weights_required)
        self.pyiqa = {}
        for metric in dict.fromkeys(m for m in metrics if m != SFD_IQA):
            try:
                scorer = pyiqa_metric(metric, self.device)
            except MetricUnavailable as error:
                self.unavailable[metric] = str(error)
                continue
            if scorer.metric_mode == 'FR' and not has_gt:
                self.unavailable[metric] = 'a full-reference metric, and no --gt folder'
                continue
            self.pyiqa[metric] = scorer
            self.columns.append(Column(metric, metric, not scorer.lower_better, scorer.metric_mode == 'FR'))

    def _sfd_iqa(self, weights, required):
        from ..iqa.sfd_iqa_arch import SFDIQA
        from ..iqa.weights import WeightsError
        try:
            net = SFDIQA(weights).to(self.device)
        except (FileNotFoundError, WeightsError) as error:
            if required:
                raise
            self.unavailable[SFD_IQA] = f'no realness map either: {" ".join(str(error).split())}'
            return None
        self.columns.append(Column(SFD_IQA, 'SFD-IQA', True, False))
        return net

    def score(self, image, gt=None):
        """``({column: value}, realness map or None, notes)`` of a BGR uint8 image (``gt``: the same size)."""
        from basicsr.metrics import calculate_psnr, calculate_ssim

        from ..metrics import calculate_pyiqa
        from ..metrics.basicsr_images import basicsr_image_to_tensor
        values, notes, realness = {}, [], None
        border = self.crop_border
        left = min(image.shape[:2]) - 2 * (border or 0)
        if gt is not None and left < SSIM_WINDOW:
            notes.append(f'PSNR-Y, SSIM-Y and full-reference metrics: a crop border of {border} px (--scale) leaves '
                         f'{max(left, 0)} px of the {image.shape[0]}x{image.shape[1]} image; SSIM needs '
                         f'{SSIM_WINDOW}.')
            gt = None  # scored as no-reference, like a run without GT
        if gt is not None:
            values['PSNR-Y'] = calculate_psnr(image, gt, border, test_y_channel=True)
            values['SSIM-Y'] = calculate_ssim(image, gt, border, test_y_channel=True)
        for metric, scorer in self.pyiqa.items():
            if scorer.metric_mode == 'FR' and gt is None:
                continue
            try:
                values[metric] = calculate_pyiqa(image, gt, metric=metric, crop_border=border if gt is not None
                                                 and scorer.metric_mode == 'FR' else 0, device=self.device)
            except (ValueError, RuntimeError) as error:
                notes.append(f'{metric}: {" ".join(str(error).split())}')
        if self.realness_net is not None:
            try:
                with torch.no_grad():
                    score, quality_map = self.realness_net(basicsr_image_to_tensor(image).to(self.device),
                                                           return_map=True)
                values[SFD_IQA], realness = score.item(), quality_map[0, 0].float().cpu().numpy()
            except ValueError as error:  # smaller than the encoder reads
                notes.append(f'SFD-IQA: {" ".join(str(error).split())}')
        return values, realness, notes


def realness_picture(realness):
    """The realness map (1 reads as real) as a JET picture, red real, blue fake: the colours of ``sfd-iqa score``."""
    return cv2.applyColorMap((np.clip(realness, 0, 1) * 255).round().astype(np.uint8), cv2.COLORMAP_JET)


def best_label(values, higher_better):
    """The key of the best of ``{label: value}`` (ties: the first), or None when fewer than two compete."""
    known = {label: value for label, value in values.items() if value is not None and not np.isnan(value)}
    if len(known) < 2:
        return None
    return (max if higher_better else min)(known, key=known.get)  # PSNR's inf (identical to the GT) is the best


def means(per_image, labels, columns):
    """``{pane: {column: (mean, count)}}`` over the images where the pane has the column."""
    table = {}
    for label in labels:
        table[label] = {}
        for column in columns:
            found = [row[label][column.key] for row in per_image.values()
                     if column.key in row.get(label, {})]
            table[label][column.key] = (float(np.mean(found)), len(found)) if found else (None, 0)
    return table
