"""What the discriminator sees, while training: at each validation the first few validation images go to TensorBoard
(and to wandb, which BasicSR syncs from TensorBoard) under tags that stay the same from one validation to the next,
so a user scrubs through the iterations (docs/training.md, "Images in TensorBoard").

    val/<dataset>/<image>/sr         the generator's output
    val/<dataset>/<image>/gt         the ground truth (logged once, at the first validation)
    val/<dataset>/<image>/featd_map  Feat-D's realness map over the output (SFD models; red reads as real)
    val/<dataset>/<image>/featd_realness, tgd_realness   the mean of the map, TG-D's realness (scalars)

Options: ``val.log_images`` (how many images, 0: none) and ``val.log_image_size`` (longest side of each picture).
"""
import os

import cv2
import numpy as np
import torch

DEFAULT_COUNT = 2
DEFAULT_SIZE = 256


def picture(image, max_side):
    """An RGB ``(1, 3, H, W)`` tensor in [0, 1] as an ``H x W x 3`` uint8 array, shrunk to ``max_side`` at most."""
    array = (image[0].detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
    return fitted(array, max_side)


def fitted(array, max_side):
    height, width = array.shape[:2]
    factor = max_side / max(height, width)
    if factor >= 1:
        return array
    return cv2.resize(array, (max(1, round(width * factor)), max(1, round(height * factor))),
                      interpolation=cv2.INTER_AREA)


def realness_overlay(image, realness, max_side):
    """The output with Feat-D's realness (``(1, 1, h, w)`` in [0, 1]) over it in JET colours, as ``sfd-iqa score``
    draws quality maps: red reads as real, blue as fake."""
    rgb = picture(image, max_side)
    heat = cv2.resize(realness[0, 0].float().cpu().numpy(), (rgb.shape[1], rgb.shape[0]),
                      interpolation=cv2.INTER_LINEAR)
    colours = cv2.cvtColor(cv2.applyColorMap((heat.clip(0, 1) * 255).round().astype(np.uint8), cv2.COLORMAP_JET),
                           cv2.COLOR_BGR2RGB)
    return cv2.addWeighted(rgb, 0.5, colours, 0.5, 0)


def _image_name(dataset, index):
    """The name BasicSR gives validation image ``index`` (its LR file's), without loading it where the dataset
    lists its files."""
    paths = getattr(dataset, 'paths', None)
    entry = paths[index] if isinstance(paths, list) and index < len(paths) else dataset[index]
    path = entry.get('lq_path') if isinstance(entry, dict) else entry
    return os.path.splitext(os.path.basename(path))[0] if isinstance(path, str) else f'{index:03d}'


class ValidationImages:
    """Mixin for BasicSR models: the first ``val.log_images`` validation images (output and GT) to TensorBoard.

    BasicSR's validation calls ``get_current_visuals`` once per image while the output is still held; that is where
    the pictures are taken, and they are written when the validation is over. Nothing is taken without a
    TensorBoard logger (``logger.use_tb_logger``), in ``basicsr test`` or on processes other than rank 0.
    """

    def validation(self, dataloader, current_iter, tb_logger, save_img=False):
        count = (self.opt.get('val') or {}).get('log_images', DEFAULT_COUNT)
        self._pictures = [] if tb_logger is not None and count else None
        try:
            super().validation(dataloader, current_iter, tb_logger, save_img)
            pictures = self._pictures
        finally:
            self._pictures = None
        if pictures:
            self._log(tb_logger, dataloader, pictures, current_iter)

    def get_current_visuals(self):
        visuals = super().get_current_visuals()
        pictures = getattr(self, '_pictures', None)
        val = self.opt.get('val') or {}
        if pictures is not None and len(pictures) < val.get('log_images', DEFAULT_COUNT):
            size = val.get('log_image_size', DEFAULT_SIZE)
            taken = {'sr': picture(visuals['result'], size)}
            if 'gt' in visuals:
                taken['gt'] = picture(visuals['gt'], size)
            taken.update(self.discriminator_views(self.output, size))
            pictures.append(taken)
        return visuals

    def discriminator_views(self, image, max_side):
        """``{tag: picture or scalar}`` of what the model's discriminators make of ``image``; none here."""
        return {}

    def _log(self, tb_logger, dataloader, pictures, current_iter):
        dataset = dataloader.dataset
        logged = getattr(self, '_logged_gt', set())
        for index, taken in enumerate(pictures):
            prefix = f"val/{dataset.opt['name']}/{_image_name(dataset, index)}"
            for key, value in taken.items():
                if key == 'gt' and prefix in logged:
                    continue  # the GT does not change
                if np.isscalar(value):
                    tb_logger.add_scalar(f'{prefix}/{key}', value, current_iter)
                else:
                    tb_logger.add_image(f'{prefix}/{key}', value, current_iter, dataformats='HWC')
            logged.add(prefix)
        self._logged_gt = logged
        tb_logger.flush()


class SFDValidationImages(ValidationImages):
    """``ValidationImages`` for ``SFDModel``: also Feat-D's realness map of the output and TG-D's realness.

    The bare networks are called in eval mode (spectral norm keeps its vectors; DDP would wait for the other
    processes, which do not validate) and put back as they were, so validating never changes training.
    """

    def discriminator_views(self, image, max_side):
        featd = self.get_bare_model(self.net_d) if self.net_d is not None else None
        tgd = self.get_bare_model(self.net_d_tg) if self.net_d_tg is not None else None
        need = max(net.min_size for net in (featd, tgd) if net is not None) if featd or tgd else None
        if need is None or min(image.shape[-2:]) < need:
            return {}
        views = {}
        with torch.no_grad():
            features = self._encode(image)
            for net in (featd, tgd):
                if net is not None:
                    was_training = net.training
                    net.eval()
                    try:
                        if net is featd:
                            realness = torch.sigmoid(net(features=features))
                            views['featd_map'] = realness_overlay(image, realness, max_side)
                            views['featd_realness'] = realness.mean().item()
                        else:
                            text = net.text_features(allow_stale=True)
                            views['tgd_realness'] = torch.sigmoid(net(embedding=features['embedding'],
                                                                      text_features=text)).mean().item()
                    finally:
                        net.train(was_training)
        return views
