"""Dataset options that can be checked before any data is loaded: enough images for one batch per GPU."""
import math
import os

META_INFO_KEYS = ('meta_info_file', 'meta_info')


def count_training_images(dataset_opt):
    """Images the dataset will list: meta-info lines, else files in ``dataroot_gt``; None if unknown."""
    for key in META_INFO_KEYS:
        path = dataset_opt.get(key)
        if path and os.path.isfile(path):
            with open(path) as f:
                return sum(1 for line in f if line.strip())
    folder = dataset_opt.get('dataroot_gt') or dataset_opt.get('dataroot_lq')
    if folder and os.path.isdir(folder):
        # as basicsr.utils.scandir lists a folder for BasicSR's datasets: files only, hidden ones (.DS_Store) skipped
        return sum(1 for entry in os.scandir(folder) if not entry.name.startswith('.') and entry.is_file())
    return None


def check_training_set_size(dataset_opt, world_size=1, gpus_per_process=1):
    """A message if the training set cannot fill one batch per process (BasicSR drops partial batches), else None.

    ``world_size``: processes (torchrun), each loading ``batch_size_per_gpu``; ``gpus_per_process``: the GPUs of a
    run without a launcher (``num_gpu``), whose one loader takes ``batch_size_per_gpu`` for each of them at once.
    """
    images, batch = count_training_images(dataset_opt), dataset_opt.get('batch_size_per_gpu')
    if images is None or not batch:
        return None
    ratio = dataset_opt.get('dataset_enlarge_ratio', 1)
    per_process = math.ceil(images * ratio / max(1, world_size))
    if per_process >= batch * gpus_per_process:
        return None
    if gpus_per_process > 1:
        return (f'{batch} per GPU on {gpus_per_process} GPUs of one process ({batch * gpus_per_process} images a '
                f'batch), but the training set has {images} images (x{ratio} dataset_enlarge_ratio), so not one full '
                f'batch exists and training would run 0 iterations. Lower batch_size_per_gpu to '
                f'{per_process // gpus_per_process or 1} or less, use fewer GPUs, or raise dataset_enlarge_ratio.')
    return (f'{batch} per GPU, but the training set has {images} images (x{ratio} dataset_enlarge_ratio, '
            f'over {world_size} GPU(s): {per_process} per GPU), so not one full batch exists and training would run '
            f'0 iterations. Lower batch_size_per_gpu to {per_process} or less, or raise dataset_enlarge_ratio.')
