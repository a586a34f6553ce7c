"""An experiment records the options it ran with, and every reader of it rebuilds what was trained."""
import os
import subprocess
import warnings

import cv2
import numpy as np
import pytest
import torch
import yaml

from sfd_basicsr.utils.experiment import EFFECTIVE_OPTIONS, training_options
from helpers.training import command_path, run_basicsr, tiny_train_options, write_options


@pytest.fixture(scope='module')
def overridden_run(tmp_path_factory):
    """A tiny run whose generator and Feat-D widths come from --force_yml, not from the options file."""
    root = tmp_path_factory.mktemp('overridden')
    opt = tiny_train_options(root, iters=2, with_val=False, warm_start=False)
    assert opt['network_g']['num_feat'] == 8 and opt['network_d']['num_feat'] == 8
    result = run_basicsr(['train', '-opt', write_options(root / 'o.yml', opt), '--force_yml', 'network_g:num_feat=4',
                          'network_d:num_feat=4'], cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    return root, root / 'experiments' / opt['name']


@pytest.mark.slow
def test_the_run_writes_the_options_it_used(overridden_run):
    _, experiment = overridden_run
    assert sorted(os.listdir(experiment)).count(EFFECTIVE_OPTIONS) == 1, sorted(os.listdir(experiment))
    with open(experiment / EFFECTIVE_OPTIONS) as f:
        recorded = yaml.safe_load(f)
    assert recorded['network_g']['num_feat'] == 4 and recorded['network_d']['num_feat'] == 4
    assert recorded['path']['experiments_root'] == str(experiment)
    copy = yaml.safe_load(open(experiment / 'o.yml'))
    assert copy['network_g']['num_feat'] == 8, "BasicSR's copy is the file as given"
    weights = torch.load(experiment / 'models' / 'net_g_latest.pth', weights_only=True)['params']
    assert weights['conv_first.weight'].shape[0] == 4


@pytest.mark.slow
def test_upscale_and_sfd_iqa_export_rebuild_the_trained_networks(overridden_run):
    root, experiment = overridden_run
    (root / 'in').mkdir(exist_ok=True)
    cv2.imwrite(str(root / 'in' / 'a.png'), np.full((16, 16, 3), 100, np.uint8))
    result = run_basicsr(['upscale', '-i', str(root / 'in'), '-o', str(root / 'out'), '-m', str(experiment), '-q'],
                         cwd=root)
    assert result.returncode == 0, result.stderr[-2000:]
    assert cv2.imread(str(root / 'out' / 'a.png')).shape == (64, 64, 3)
    env = dict(os.environ, HF_HUB_OFFLINE='1')
    result = subprocess.run([command_path('sfd-iqa'), 'export', str(experiment), '-o', str(root / 'w.pth')],
                            cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert torch.load(root / 'w.pth', weights_only=True)['featd']['config']['num_feat'] == 4


def test_readers_prefer_the_recorded_options_to_basicsrs_copy(tmp_path):
    (tmp_path / 'a_copy.yml').write_text(yaml.safe_dump({'network_g': {'num_feat': 8}}))
    (tmp_path / EFFECTIVE_OPTIONS).write_text(yaml.safe_dump({'network_g': {'num_feat': 4}}))
    assert training_options(str(tmp_path), 'network_g')['network_g']['num_feat'] == 4


def test_an_older_experiment_still_reads_and_warns_about_overrides_its_copy_lacks(tmp_path):
    header = '# GENERATE TIME: Mon Nov 23 10:00:00 2026\n# CMD:\n# basicsr train -opt o.yml --force_yml ' \
             'network_g:num_feat=4\n\n'
    (tmp_path / 'o.yml').write_text(header + yaml.safe_dump({'network_g': {'num_feat': 8}}))
    with pytest.warns(UserWarning, match=r'trained with --force_yml network_g:num_feat=4, which the copy'):
        assert training_options(str(tmp_path), 'network_g')['network_g']['num_feat'] == 8
    (tmp_path / 'o.yml').write_text(header.replace(' --force_yml network_g:num_feat=4', '')
                                    + yaml.safe_dump({'network_g': {'num_feat': 8}}))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert training_options(str(tmp_path), 'network_g')['network_g']['num_feat'] == 8


def test_the_latest_checkpoint_is_latest_then_the_highest_iteration_by_number(tmp_path):
    from sfd_basicsr.utils.experiment import latest_checkpoint
    with pytest.raises(FileNotFoundError, match='No net_g_\\*.pth checkpoint in'):
        latest_checkpoint(str(tmp_path), 'net_g')
    for name in ('net_g_2.pth', 'net_g_10.pth', 'net_g_9.pth', 'net_d_20.pth', 'net_g_ema.pth'):
        (tmp_path / name).write_bytes(b'')
    assert latest_checkpoint(str(tmp_path), 'net_g') == str(tmp_path / 'net_g_10.pth')  # 10 > 9, though '10' < '9'
    (tmp_path / 'net_g_latest.pth').write_bytes(b'')
    assert latest_checkpoint(str(tmp_path), 'net_g') == str(tmp_path / 'net_g_latest.pth')
