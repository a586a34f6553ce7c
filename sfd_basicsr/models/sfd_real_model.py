"""SFDRealModel: SFD on Real-ESRGAN's on-the-fly second-order degradations, on any device."""
from basicsr.models.realesrgan_model import RealESRGANModel
from basicsr.utils import DiffJPEG, USMSharp
from basicsr.utils.registry import MODEL_REGISTRY

from ..compat.basicsr_patches import basicsr_filter2d_on_contiguous_inputs
from ..compat.registry import register
from ..utils.errors import InputError
from .sfd_model import SFDModel


@register(MODEL_REGISTRY)
class SFDRealModel(SFDModel):
    """``SFDModel`` fed by BasicSR's ``RealESRGANModel`` degradation pipeline (``RealESRGANDataset`` data).

    The degradations are BasicSR's own ``RealESRGANModel.feed_data`` and training-pair pool; only what
    BasicSR hard-codes to CUDA (the JPEG simulator, the USM sharpener, the pool's allocation) is made on
    the model's device instead, and its ``filter2D`` gets contiguous tensors, so it trains on CPU too.
    It is not a ``RealESRGANModel`` subclass: that class's ``__init__`` moves the JPEG simulator and sharpener to
    CUDA unconditionally, so any cooperative ``__init__`` chain through it fails on a CPU-only machine; its two
    methods are called on this model instead, which has every attribute they read. Options as Real-ESRGAN's, including
    ``l1_gt_usm``, ``percep_gt_usm`` and ``gan_gt_usm`` (USM-sharpened GT as the target of each loss).
    """

    def __init__(self, opt):
        super().__init__(opt)
        self.jpeger = DiffJPEG(differentiable=False).to(self.device)
        self.usm_sharpener = USMSharp().to(self.device)
        self.queue_size = opt.get('queue_size', 180)

    def feed_data(self, data):
        with basicsr_filter2d_on_contiguous_inputs():
            RealESRGANModel.feed_data(self, data)

    def _dequeue_and_enqueue(self):
        if not hasattr(self, 'queue_lr'):
            batch = self.lq.size(0)
            if self.queue_size % batch:
                raise InputError(f'queue_size {self.queue_size} must be a multiple of the batch size {batch}.')
            self.queue_lr = self.lq.new_zeros(self.queue_size, *self.lq.shape[1:])
            self.queue_gt = self.gt.new_zeros(self.queue_size, *self.gt.shape[1:])
            self.queue_ptr = 0
        RealESRGANModel._dequeue_and_enqueue(self)

    def nondist_validation(self, dataloader, current_iter, tb_logger, save_img):
        self.is_train = False  # validation pairs are used as they are, without synthetic degradation
        try:
            super().nondist_validation(dataloader, current_iter, tb_logger, save_img)
        finally:
            self.is_train = True

    def loss_targets(self):
        usm = {key: self.opt.get(key, default) for key, default in
               (('l1_gt_usm', True), ('percep_gt_usm', True), ('gan_gt_usm', False))}
        return tuple(self.gt_usm if usm[key] else self.gt for key in ('l1_gt_usm', 'percep_gt_usm', 'gan_gt_usm'))
