"""Validation split across processes: each process its share of the images, every process the whole set's means.

The two ranks are played in turn by one model in this process (its ``gather`` handed what the other rank gathered):
the expected values are BasicSR's own ``nondist_validation`` of the whole set on the same model.
"""
import copy
import math
import os

import pytest
import torch
from basicsr.data import build_dataloader, build_dataset
from basicsr.models import build_model

from helpers.models import sfd_options
from sfd_basicsr.data.sample_images import write_bicubic_pairs
from sfd_basicsr.models import split_validation
from sfd_basicsr.models.split_validation import whole_set_means
from sfd_basicsr.training.recipe import paired_dataset
from sfd_basicsr.utils.distributed import shard

IMAGES = ('astronaut', 'coffee', 'chelsea')  # three: rank 0 gets two, rank 1 one


def test_whole_set_means_sum_the_images_in_the_datasets_order():
    per_image = [[1.0, 0.1], [2.0, 0.2], [4.0, float('nan')]]
    means = whole_set_means([shard(per_image, 0, 2), shard(per_image, 1, 2)], ['psnr', 'niqe'])
    assert means['psnr'] == (0 + 1.0 + 2.0 + 4.0) / 3 and math.isnan(means['niqe'])
    tiny = [[0.1], [1e16], [-1e16]]  # float addition is not associative: the order shows
    assert whole_set_means([shard(tiny, 0, 2), shard(tiny, 1, 2)], ['x'])['x'] == ((0 + 0.1) + 1e16 - 1e16) / 3


@pytest.fixture
def validating_model(tmp_path):
    hr, lr = write_bicubic_pairs(str(tmp_path / 'val'), IMAGES, 96)
    dataset_opt = dict(paired_dataset('three', hr, lr, 'val'), phase='val', scale=4)
    loader = build_dataloader(build_dataset(dataset_opt), dataset_opt, num_gpu=0, dist=False, sampler=None)
    opt = sfd_options()
    opt.update(name='split', rank=0, world_size=2)
    opt['path']['visualization'] = str(tmp_path / 'visualization')
    opt['val'] = {'val_freq': 1, 'save_img': True, 'metrics': {
        'psnr': {'type': 'calculate_psnr', 'crop_border': 4, 'test_y_channel': False},
        'ssim': {'type': 'calculate_ssim', 'crop_border': 4, 'test_y_channel': False, 'better': 'lower'}}}
    model = build_model(opt)
    model.opt['dist'] = True  # after building: no process group, so no DDP wrapper
    return model, loader, tmp_path / 'visualization'


def saved_images(folder):
    return sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, files in os.walk(folder) for f in files)


def test_two_ranks_log_the_single_process_means_save_each_image_once_and_keep_the_best_metrics(
        validating_model, monkeypatch):
    model, loader, visualization = validating_model
    gathered = {}

    def gather_as(rank):
        def gather(value, world):
            gathered[rank] = value
            return [gathered.get(r, []) for r in range(world)]
        return gather

    for it in (1, 2):
        before = copy.deepcopy(getattr(model, 'best_metric_results', None))
        model.nondist_validation(loader, it, None, False)  # one process, the whole set
        expected = copy.deepcopy((model.metric_results, model.best_metric_results))
        model.best_metric_results = before
        if before is None:
            del model.best_metric_results
        for rank in (1, 0):  # rank 1 first, so rank 0 gathers its values
            model.opt['rank'] = rank
            monkeypatch.setattr(split_validation, 'gather', gather_as(rank))
            best = copy.deepcopy(getattr(model, 'best_metric_results', None))
            model.validation(loader, it, None, save_img=True)
            assert len(gathered[rank]) == len(shard(IMAGES, rank, 2))
            if rank == 1:  # rank 1's own means cover only its share: it is not the one that counts here
                model.best_metric_results = best
                if best is None:
                    del model.best_metric_results
        assert (model.metric_results, model.best_metric_results) == expected
        with torch.no_grad():  # another generator for the second validation: other values, another best
            for p in model.net_g.parameters():
                p.mul_(0.9)
    assert saved_images(visualization) == sorted(f'{n}/{n}_{it}.png' for n in IMAGES for it in (1, 2))


def test_each_rank_saves_only_its_own_share(validating_model, monkeypatch):
    model, loader, visualization = validating_model
    monkeypatch.setattr(split_validation, 'gather', lambda value, world: [value, []])
    model.opt['rank'] = 1
    model.validation(loader, 5, None, save_img=True)
    second = os.path.splitext(os.path.basename(loader.dataset.paths[1]['lq_path']))[0]  # BasicSR's order: scandir's
    assert saved_images(visualization) == [f'{second}/{second}_5.png']


def test_a_rank_with_no_image_still_takes_part_and_gets_the_means(validating_model, monkeypatch):
    model, loader, _ = validating_model
    model.opt.update(rank=3, world_size=4)
    others = [[[30.0, 0.5]], [[32.0, 0.7]], [[28.0, 0.6]], []]
    monkeypatch.setattr(split_validation, 'gather', lambda value, world: others if value == [] else None)
    model.validation(loader, 1, None, save_img=True)
    assert model.metric_results == pytest.approx({'psnr': 30.0, 'ssim': 0.6})
    assert model.best_metric_results['three']['psnr'] == {'better': 'higher', 'val': 30.0, 'iter': 1}


def test_the_best_metrics_compare_the_whole_sets_means_with_the_best_before(validating_model, monkeypatch):
    model, loader, _ = validating_model
    model.opt.update(rank=3, world_size=4)  # no image of its own: the means are the three others' (30, 0.6)
    others = [[[30.0, 0.5]], [[32.0, 0.7]], [[28.0, 0.6]], []]
    monkeypatch.setattr(split_validation, 'gather', lambda value, world: others)
    model.best_metric_results = {'three': {'psnr': {'better': 'higher', 'val': 31.0, 'iter': 0},
                                           'ssim': {'better': 'lower', 'val': 0.9, 'iter': 0}}}
    model.validation(loader, 1, None, save_img=False)
    best = model.best_metric_results['three']
    assert best['psnr'] == {'better': 'higher', 'val': 31.0, 'iter': 0}, '30 is no better than 31: kept'
    assert best['ssim'] == {'better': 'lower', 'val': pytest.approx(0.6), 'iter': 1}


def test_a_rank_logs_the_whole_sets_means_once_and_never_its_shares(validating_model, monkeypatch):
    import basicsr.models.sr_model
    model, loader, _ = validating_model
    logged = []
    monkeypatch.setattr(basicsr.models.sr_model, 'get_root_logger',
                        lambda: type('Logger', (), {'info': staticmethod(logged.append)}))
    monkeypatch.setattr(split_validation, 'gather', lambda value, world: [value, [[30.0, 0.5]]])
    model.validation(loader, 1, None, save_img=False)  # rank 0: two images of its own, one of rank 1
    validation_lines = [line for line in logged if line.startswith('Validation three')]
    assert len(validation_lines) == 1, validation_lines
