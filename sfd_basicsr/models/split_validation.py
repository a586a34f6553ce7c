"""Validation split across processes: each validates its share of the images, every process gets the whole set's means.

BasicSR's ``dist_validation`` validates on rank 0 while every other process waits. Here each process runs BasicSR's
own ``nondist_validation`` on every N-th image (``distributed.shard``), saving its images (so each is written once,
by one process), while the values BasicSR's loop gets from ``calculate_metric`` are recorded
(``compat.basicsr_validation_metric_values``); the shard's own means, best-metric update and log line are dropped.
The per-image values are gathered, put back in the dataset's order and summed in that order, as the single-process
loop sums them; the best-metric bookkeeping and the log (rank 0's logger and TensorBoard) then run as BasicSR's.
docs/training.md, "Distributed training".
"""
import copy

from torch.utils.data import DataLoader, Dataset

from ..compat.basicsr_patches import basicsr_validation_metric_values
from ..utils.distributed import gather, shard, unshard


class DatasetShard(Dataset):
    """The items of ``dataset`` at ``indices``, with its ``opt`` (BasicSR's loop reads the dataset's name there)."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices, self.opt = dataset, list(indices), dataset.opt

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        return self.dataset[self.indices[i]]


def whole_set_means(shares, metrics):
    """``{metric: mean}`` from each rank's ``[[value per metric] per image]``, summed in the dataset's order."""
    per_image = unshard(shares)
    means = {}
    for column, metric in enumerate(metrics):
        total = 0  # BasicSR's loop: 0, then += each image's value in order, then / count
        for values in per_image:
            total += values[column]
        means[metric] = total / len(per_image)
    return means


class SplitValidation:
    """Mixin for BasicSR ``SRModel`` subclasses: ``dist_validation`` split across the processes."""

    _shard_only = False  # while a process validates its share: BasicSR's per-set log line is not the set's

    def dist_validation(self, dataloader, current_iter, tb_logger, save_img):
        rank, world = self.opt['rank'], self.opt['world_size']
        dataset = dataloader.dataset
        indices = shard(range(len(dataset)), rank, world)
        metrics = list((self.opt['val'].get('metrics') or {}).keys())
        values, best = [], copy.deepcopy(getattr(self, 'best_metric_results', None))
        if indices:
            loader = DataLoader(DatasetShard(dataset, indices), batch_size=1, shuffle=False, num_workers=0)
            self._shard_only = True
            try:
                with basicsr_validation_metric_values(values):
                    self.nondist_validation(loader, current_iter, None, save_img)
            finally:
                self._shard_only = False
        shares = gather([values[i:i + len(metrics)] for i in range(0, len(values), len(metrics))] if metrics else [],
                        world)
        if not metrics:
            return
        self.__dict__.pop('best_metric_results', None)  # as before the share's run: it updated them with its own means
        if best is not None:
            self.best_metric_results = best
        name = dataset.opt['name']
        self._initialize_best_metric_results(name)
        self.metric_results = whole_set_means(shares, metrics)
        for metric, value in self.metric_results.items():
            self._update_best_metric_result(name, metric, value, current_iter)
        self._log_validation_metric_values(current_iter, name, tb_logger)

    def _log_validation_metric_values(self, current_iter, dataset_name, tb_logger):
        if not self._shard_only:
            super()._log_validation_metric_values(current_iter, dataset_name, tb_logger)
