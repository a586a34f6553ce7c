"""`basicsr train|test` with SFDModel through BasicSR's stock pipelines, on tiny options."""
import os

import cv2
import numpy as np
import pytest
import torch
from basicsr.metrics import calculate_niqe

from helpers.training import LOSS_KEYS, logged_losses, read_log, run_basicsr, tiny_train_options, write_options


@pytest.mark.slow
def test_basicsr_train_runs_the_stock_pipeline_and_fills_the_experiment(tmp_path):
    opt_file = write_options(tmp_path / 'train_sfd_tiny.yml', tiny_train_options(tmp_path, iters=4))
    result = run_basicsr(['train', '-opt', opt_file], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    experiment = tmp_path / 'experiments' / 'sfd_tiny'
    log = read_log(experiment, 'train_sfd_tiny')
    assert 'RANDOMLY INITIALISED' in log
    losses = logged_losses(log)
    assert sorted(losses) == [1, 2, 3, 4]
    assert set(LOSS_KEYS) <= set(losses[4]), set(LOSS_KEYS) - set(losses[4])
    for name in ('net_g', 'net_d', 'net_d_tg'):
        assert (experiment / 'models' / f'{name}_4.pth').is_file()
        assert (experiment / 'models' / f'{name}_latest.pth').is_file()
    assert (experiment / 'training_states' / '4.state').is_file()
    assert not list(experiment.rglob('*.tmp')), 'a temporary checkpoint file was left behind'
    for metric in ('psnr', 'ssim', 'niqe'):
        assert f'# {metric}:' in log
    assert sorted(os.listdir(experiment / 'visualization')) == ['chelsea', 'coffee']
    g = torch.load(experiment / 'models' / 'net_g_latest.pth')
    assert {'params', 'params_ema'} <= set(g)
    tg = torch.load(experiment / 'models' / 'net_d_tg_latest.pth')['params']
    assert 'prompts.ctx' in tg and not any('clip' in k for k in tg)


@pytest.mark.slow
def test_debug_flag_is_basicsrs_debug_run(tmp_path):
    """BasicSR's --debug: the experiment is named debug_<name>, logs every iteration, writes no tb_logger."""
    opt = tiny_train_options(tmp_path, iters=2, warm_start=False, with_val=False)
    opt['logger'].update({'print_freq': 100, 'use_tb_logger': True})
    result = run_basicsr(['train', '-opt', write_options(tmp_path / 'debug.yml', opt), '--debug'], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    experiment = tmp_path / 'experiments' / 'debug_sfd_tiny'
    assert experiment.is_dir() and not (tmp_path / 'experiments' / 'sfd_tiny').exists()
    assert sorted(logged_losses(read_log(experiment, 'train_debug_sfd_tiny'))) == [1, 2]  # print_freq 1
    assert not (tmp_path / 'tb_logger').exists()


@pytest.mark.slow
def test_auto_resume_continues_exactly_like_an_uninterrupted_run(tmp_path):
    def train(name, iters, *flags):
        opt = tiny_train_options(tmp_path, name=name, iters=6, deterministic_data=True, with_val=False)
        opt_file = write_options(tmp_path / f'{name}.yml', opt)
        result = run_basicsr(['train', '-opt', opt_file, '--force_yml', f'train:total_iter={iters}', *flags],
                             cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        return tmp_path / 'experiments' / name

    straight = train('straight', 6)
    resumed = train('resumed', 4)
    assert (resumed / 'training_states' / '4.state').is_file()
    stale = [resumed / 'models' / '.net_g_6.pth.k2j4_x9a.tmp', resumed / 'training_states' / '.6.state.q0w9e8r7.tmp']
    for path in stale:  # what a kill during a checkpoint save leaves
        path.write_bytes(b'partial')
    train('resumed', 6, '--auto_resume')
    assert not any(path.exists() for path in stale)

    straight_losses = logged_losses(read_log(straight, 'train_straight'))
    resumed_log = read_log(resumed, 'train_resumed')
    assert 'Resuming training from epoch' in resumed_log
    resumed_losses = logged_losses(resumed_log)
    assert sorted(resumed_losses) == [5, 6]
    for it in (5, 6):
        for key, value in straight_losses[it].items():
            if key.startswith(('l_', 'out_')):
                assert abs(resumed_losses[it][key] - value) <= 1e-3 * abs(value) + 1e-6, (it, key)
    for name in ('net_g', 'net_d', 'net_d_tg'):
        assert torch.load(resumed / 'models' / f'{name}_6.pth')['iter'] == 6  # checkpoints record their iteration
        a = torch.load(straight / 'models' / f'{name}_6.pth')['params']
        b = torch.load(resumed / 'models' / f'{name}_6.pth')['params']
        for key in a:
            torch.testing.assert_close(b[key], a[key], rtol=1e-4, atol=1e-6, msg=f'{name}.{key}')


@pytest.mark.slow
def test_basicsr_test_writes_sr_images_and_metrics(tmp_path):
    train_opt = tiny_train_options(tmp_path, iters=2)
    result = run_basicsr(['train', '-opt', write_options(tmp_path / 'train.yml', train_opt)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    model = tmp_path / 'experiments' / 'sfd_tiny' / 'models' / 'net_g_latest.pth'
    test_opt = {
        'name': 'sfd_tiny_test', 'model_type': 'SRModel', 'scale': 4, 'num_gpu': 0, 'manual_seed': 0,
        'datasets': {'test_1': train_opt['datasets']['val']},
        'network_g': train_opt['network_g'],
        'path': {'pretrain_network_g': str(model), 'param_key_g': 'params_ema', 'strict_load_g': True},
        'val': {'save_img': True, 'suffix': None, 'metrics': train_opt['val']['metrics']},
    }
    result = run_basicsr(['test', '-opt', write_options(tmp_path / 'test.yml', test_opt)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    results = tmp_path / 'results' / 'sfd_tiny_test'
    assert sorted(os.listdir(results / 'visualization' / 'skimage_val')) == [
        'chelsea_sfd_tiny_test.png', 'coffee_sfd_tiny_test.png']
    log = read_log(results, 'test_sfd_tiny_test')
    for metric in ('psnr', 'ssim', 'niqe'):
        assert f'# {metric}:' in log


@pytest.mark.slow
def test_python_m_sfd_basicsr_train_is_the_same_command(tmp_path):
    import subprocess
    import sys
    opt_file = write_options(tmp_path / 'o.yml', tiny_train_options(tmp_path, iters=1, with_val=False))
    env = dict(os.environ, HF_HUB_OFFLINE='1')
    result = subprocess.run([sys.executable, '-m', 'sfd_basicsr.train', '-opt', opt_file], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / 'experiments' / 'sfd_tiny' / 'models' / 'net_d_tg_latest.pth').is_file()


@pytest.mark.slow
def test_a_validation_metric_that_fails_on_an_image_never_ends_training(tmp_path):
    flat_gt, flat_lq = tmp_path / 'flat' / 'gt', tmp_path / 'flat' / 'lq'
    for folder, side in ((flat_gt, 384), (flat_lq, 96)):
        folder.mkdir(parents=True)
        for name in ('a', 'b'):
            cv2.imwrite(str(folder / f'{name}.png'), np.full((side, side, 3), 128, np.uint8))
    with pytest.raises(np.linalg.LinAlgError):  # BasicSR's NIQE on a flat image: what such a run meets
        calculate_niqe(np.full((384, 384, 3), 128, np.uint8), crop_border=4)
    opt = tiny_train_options(tmp_path, iters=2, warm_start=False)
    opt['datasets']['val'].update(dataroot_gt=str(flat_gt), dataroot_lq=str(flat_lq))
    opt['val']['metrics'] = {'niqe': {'type': 'calculate_niqe', 'crop_border': 4, 'better': 'lower'},
                             'psnr': {'type': 'calculate_psnr', 'crop_border': 4, 'test_y_channel': False}}
    result = run_basicsr(['train', '-opt', write_options(tmp_path / 'o.yml', opt)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    experiment = tmp_path / 'experiments' / 'sfd_tiny'
    log = read_log(experiment, 'train_sfd_tiny')
    assert 'Validation metric calculate_niqe unavailable for an image' in log
    assert '# niqe: nan' in log and '# psnr: nan' not in log and '# psnr:' in log
    assert (experiment / 'models' / 'net_g_latest.pth').is_file()


BACKBONES = {  # Feat-D alone where the backbone has no text tower; CLIP-ConvNeXt with TG-D too
    'timm:vit_small_patch14_dinov2': ['net_d'], 'timm:convnext_atto': ['net_d'], 'timm:efficientnet_b0': ['net_d'],
    'open_clip:convnext_tiny': ['net_d', 'net_d_tg'],
}


@pytest.mark.slow
@pytest.mark.parametrize('backbone', list(BACKBONES))
def test_basicsr_train_on_other_backbones(tmp_path, backbone):
    opt = tiny_train_options(tmp_path, name='backbone', iters=2, warm_start=False, with_val=False)
    for key in ('network_d', 'network_d_tg'):
        opt[key].pop('clip_model')
        opt[key]['backbone'] = backbone
    if 'net_d_tg' not in BACKBONES[backbone]:
        del opt['network_d_tg'], opt['train']['tgd_opt']
    result = run_basicsr(['train', '-opt', write_options(tmp_path / 'backbone.yml', opt)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    experiment = tmp_path / 'experiments' / 'backbone'
    losses = logged_losses(read_log(experiment, 'train_backbone'))
    assert sorted(losses) == [1, 2] and all(np.isfinite(value) for value in losses[2].values())
    assert ('l_g_tgd' in losses[2]) == ('net_d_tg' in BACKBONES[backbone])
    assert sorted(path.name for path in (experiment / 'models').glob('net_d*_2.pth')) == \
        [f'{name}_2.pth' for name in BACKBONES[backbone]]
    saved = torch.load(experiment / 'models' / 'net_d_2.pth')['params']
    assert bytes(v for v in saved['backbone'].tolist() if v).decode() == backbone.replace('open_clip:', '')
