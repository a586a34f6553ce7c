"""``training/options_data.py``: the image count and the one-batch-per-GPU check, held against BasicSR's own dataset,
sampler and data loader (what ``basicsr.train`` builds), never against the code under test."""
import os

import pytest
from basicsr.data import build_dataloader
from basicsr.data.data_sampler import EnlargedSampler
from basicsr.utils.registry import DATASET_REGISTRY

from sfd_basicsr.training.options_data import check_training_set_size, count_training_images

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _touch_images(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).touch()  # BasicSR's datasets list paths at construction and open images only when indexed
    return str(folder)


def _paired(tmp_path, names, **more):
    return {'name': 'pairs', 'type': 'PairedImageDataset', 'phase': 'train', 'io_backend': {'type': 'disk'},
            'dataroot_gt': _touch_images(tmp_path / 'hr', names), 'dataroot_lq': _touch_images(tmp_path / 'lr', names),
            'filename_tmpl': '{}', 'scale': 4, **more}


def _basicsr_length(dataset_opt):
    return len(DATASET_REGISTRY.get(dataset_opt['type'])(dict(dataset_opt)))


def test_a_folder_counts_the_images_basicsr_lists_not_hidden_files_or_subfolders(tmp_path):
    # basicsr.utils.scandir, which paired_paths_from_folder uses, skips names starting with '.' and folders
    opt = _paired(tmp_path, ['a.png', 'b.png', '.DS_Store'])
    (tmp_path / 'hr' / 'crops').mkdir()
    (tmp_path / 'lr' / 'crops').mkdir()
    assert _basicsr_length(opt) == 2
    assert count_training_images(opt) == 2


def test_a_meta_info_file_counts_the_pairs_it_lists(tmp_path):
    opt = _paired(tmp_path, ['a.png', 'b.png', 'c.png'])
    meta = tmp_path / 'meta_info.txt'
    meta.write_text('a.png (64,64,3)\nc.png (64,64,3)\n')
    opt['meta_info_file'] = str(meta)
    assert _basicsr_length(opt) == 2
    assert count_training_images(opt) == 2


def test_real_esrgan_datasets_count_the_lines_of_meta_info(tmp_path):
    from sfd_basicsr.utils.yaml_file import read_yaml
    opt = read_yaml(os.path.join(ROOT, 'options', 'train_sfd_realesrgan_x4plus.yml'))['datasets']['train']
    meta = tmp_path / 'meta_info.txt'
    meta.write_text('a.png\nb.png\nc.png\n')
    opt.update(dataroot_gt=_touch_images(tmp_path / 'hr', ['a.png', 'b.png', 'c.png', 'd.png']), meta_info=str(meta))
    assert _basicsr_length(opt) == 3
    assert count_training_images(opt) == 3


# (images, processes, dataset_enlarge_ratio, batch_size_per_gpu): each side of every boundary
LOADERS = [(4, 1, 1, 4), (4, 1, 1, 5), (5, 2, 1, 3), (4, 2, 1, 3), (2, 1, 3, 5), (2, 1, 2, 5), (3, 4, 1, 1),
           (7, 3, 2, 5), (7, 3, 2, 6)]


@pytest.mark.parametrize('images, world_size, ratio, batch', LOADERS)
def test_a_training_set_is_refused_exactly_when_basicsrs_loader_has_no_batch(tmp_path, images, world_size, ratio,
                                                                             batch):
    opt = _paired(tmp_path, [f'{i}.png' for i in range(images)], batch_size_per_gpu=batch, num_worker_per_gpu=0,
                  dataset_enlarge_ratio=ratio)
    # basicsr.train: EnlargedSampler(train_set, world_size, rank, dataset_enlarge_ratio), then build_dataloader
    # (drop_last=True) with the batch per process
    dataset = list(range(images))
    loader = build_dataloader(dataset, opt, num_gpu=1, dist=True,
                              sampler=EnlargedSampler(dataset, world_size, 0, ratio))
    problem = check_training_set_size(opt, world_size)
    assert (problem is None) == (len(loader) >= 1), problem


# (images, num_gpu, batch_size_per_gpu) of a run without a launcher: one loader, the batch times num_gpu
ONE_PROCESS_LOADERS = [(4, 2, 2), (3, 2, 2), (8, 4, 2), (7, 4, 2), (5, 1, 5)]


@pytest.mark.parametrize('images, num_gpu, batch', ONE_PROCESS_LOADERS)
def test_without_a_launcher_the_batch_is_taken_for_every_gpu_at_once(tmp_path, images, num_gpu, batch):
    opt = _paired(tmp_path, [f'{i}.png' for i in range(images)], batch_size_per_gpu=batch, num_worker_per_gpu=0)
    dataset = list(range(images))
    loader = build_dataloader(dataset, opt, num_gpu=num_gpu, dist=False, sampler=EnlargedSampler(dataset, 1, 0, 1))
    problem = check_training_set_size(opt, 1, num_gpu)
    assert (problem is None) == (len(loader) >= 1), problem
