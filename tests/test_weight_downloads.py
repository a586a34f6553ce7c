"""Weights the networks need are fetched before any folder exists, and a failed download names its option."""
import os
import sys

import pytest

from sfd_basicsr.training.options_check import OptionsError
from helpers.training import tiny_train_options, write_options


def test_clip_and_vgg_downloads_happen_before_the_experiment_folder_and_name_their_options(tmp_path, monkeypatch):
    import open_clip
    import torch

    from sfd_basicsr.training import pipeline
    opt = tiny_train_options(tmp_path, iters=2, warm_start=False, with_val=False)
    for key in ('network_d', 'network_d_tg'):
        opt[key]['pretrained'] = 'openai'
    opt['train']['perceptual_opt'] = {'type': 'PerceptualLoss', 'layer_weights': {'conv5_4': 1}, 'vgg_type': 'vgg19',
                                      'perceptual_weight': 1.0, 'style_weight': 0}
    monkeypatch.delenv('HF_HUB_OFFLINE', raising=False)
    monkeypatch.setenv('HF_HOME', str(tmp_path / 'hf'))  # caches without CLIP's or VGG's weights
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'torch_hub'))
    monkeypatch.chdir(tmp_path)
    asked = []

    def no_network(*args, **kwargs):
        asked.append(args[0] if args else kwargs)
        assert not (tmp_path / 'experiments').exists() and not (tmp_path / 'tb_logger').exists()
        raise ConnectionError('no route to host')

    monkeypatch.setattr(open_clip, 'download_pretrained', no_network)
    monkeypatch.setattr(torch.hub, 'download_url_to_file', no_network)
    monkeypatch.setattr(sys, 'argv', ['basicsr train', '-opt', write_options(tmp_path / 'weights.yml', opt)])
    with pytest.raises(OptionsError) as error:
        pipeline.train(str(tmp_path))
    assert len(asked) == 2  # one CLIP download for both discriminators, one VGG download
    assert asked[0]['url'].endswith('/RN50.pt') and asked[1] == 'https://download.pytorch.org/models/vgg19-dcbb9e9d.pth'
    clip_line, vgg_line = error.value.problems
    assert clip_line.startswith("network_d.pretrained / network_d_tg.pretrained: could not download the 'openai' "
                                'weights of CLIP RN50-quickgelu (ConnectionError: no route to host); fetch https://')
    assert vgg_line.startswith("train.perceptual_opt: BasicSR's perceptual loss could not download its VGG weights "
                               '(ConnectionError: no route to host); put vgg19-dcbb9e9d.pth at ')
    assert not (tmp_path / 'experiments').exists()


def test_weights_already_on_disk_are_not_downloaded(tmp_path, monkeypatch):
    import torch

    from sfd_basicsr.training.weight_downloads import fetch_weights
    opt = tiny_train_options(tmp_path, iters=2, warm_start=False, with_val=False)  # random CLIP: nothing to fetch
    opt['train']['perceptual_opt'] = {'type': 'PerceptualLoss', 'vgg_type': 'vgg19', 'layer_weights': {'conv5_4': 1}}
    (tmp_path / 'hub' / 'checkpoints').mkdir(parents=True)
    (tmp_path / 'hub' / 'checkpoints' / 'vgg19-dcbb9e9d.pth').write_bytes(b'cached')
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'hub'))
    monkeypatch.setattr(torch.hub, 'download_url_to_file', lambda *a, **k: pytest.fail('downloaded a cached file'))
    fetch_weights(opt)


def test_check_finds_every_missing_piece_of_the_shipped_options_at_once(tmp_path, basicsr_main, monkeypatch):
    """A new user's first `basicsr check` on the shipped file: the data (GT and LR, train and val), the PSNR
    generator, CLIP and VGG, all in one pass; and the weights listed with where they are."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))  # no VGG in torch's cache
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    shipped = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'options',
                           'train_sfd_esrgan_x4.yml')
    result = basicsr_main(['check', '-opt', shipped], cwd=tmp_path)
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    keys = [line.strip().split(':')[0] for line in result.stderr.splitlines()[1:]]
    assert keys == ['network_d.pretrained', 'network_d_tg.pretrained', 'datasets.train.dataroot_gt',
                    'datasets.train.dataroot_lq', 'datasets.val.dataroot_gt', 'datasets.val.dataroot_lq',
                    'path.pretrain_network_g', 'train.perceptual_opt']
    assert 'vgg19-dcbb9e9d.pth elsewhere and put it at ' in result.stderr
    assert "basicsr check: weights: network_d.pretrained: CLIP RN50-quickgelu 'openai' not on this machine\n" \
        in result.stdout
    assert 'basicsr check: weights: train.perceptual_opt: VGG weights https://download.pytorch.org/models/' \
           'vgg19-dcbb9e9d.pth not on this machine\n' in result.stdout
    assert set(os.listdir(tmp_path)) <= {'torch'}  # nothing made by the check


def test_check_lists_weights_it_finds_where_they_are(tmp_path, basicsr_main, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    opt = tiny_train_options(tmp_path, warm_start=False)
    opt['train']['perceptual_opt'] = {'type': 'PerceptualLoss', 'layer_weights': {'conv5_4': 1.0},
                                      'vgg_type': 'vgg19', 'perceptual_weight': 1.0, 'style_weight': 0}
    vgg = tmp_path / 'experiments' / 'pretrained_models' / 'vgg19-dcbb9e9d.pth'
    vgg.parent.mkdir(parents=True)
    vgg.write_bytes(b'x')
    result = basicsr_main(['check', '-opt', write_options(tmp_path / 'o.yml', opt)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f'basicsr check: weights: train.perceptual_opt: VGG weights found at {vgg}\n' in result.stdout
    assert 'basicsr check: weights: network_d.pretrained: none (a random CLIP RN50-quickgelu: for tests only)' \
        in result.stdout


@pytest.mark.parametrize('environment, fetches', [
    ({'RANK': '1', 'LOCAL_RANK': '0'}, True), ({'RANK': '1', 'LOCAL_RANK': '1'}, False),
    ({'SLURM_PROCID': '3', 'SLURM_LOCALID': '0'}, True), ({'SLURM_PROCID': '3', 'SLURM_LOCALID': '2'}, False),
], ids=['node 2 local rank 0', 'local rank 1', 'srun local task 0', 'srun local task 2'])
def test_each_machines_local_rank_0_fetches_its_weights(tmp_path, monkeypatch, environment, fetches):
    from sfd_basicsr.training import pipeline
    for name in ('RANK', 'LOCAL_RANK', 'SLURM_PROCID', 'SLURM_LOCALID', 'WORLD_SIZE'):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    fetched = []
    monkeypatch.setattr(pipeline, 'fetch_weights', fetched.append)
    opt_file = write_options(tmp_path / 'o.yml', tiny_train_options(tmp_path, iters=2, warm_start=False,
                                                                   with_val=False))
    monkeypatch.setattr(sys, 'argv', ['basicsr train', '-opt', opt_file])
    pipeline.parse_and_check_options(str(tmp_path), fetch=True)
    assert len(fetched) == fetches


def test_the_report_names_other_backbones_weights_and_resolves_default(tmp_path, monkeypatch):
    from sfd_basicsr.training.weight_downloads import weights_report
    monkeypatch.delenv('HF_HUB_OFFLINE', raising=False)
    monkeypatch.setattr('huggingface_hub.constants.HF_HUB_CACHE', str(tmp_path))  # an empty cache
    monkeypatch.setenv('HOME', str(tmp_path))  # OpenAI's own cache, ~/.cache/clip, is empty too
    opt = {'network_d': {'type': 'FeatD', 'backbone': 'timm:convnext_atto'},
           'network_d_tg': {'type': 'TGDiscriminator', 'backbone': 'open_clip:convnext_base_w', 'pretrained': None},
           'network_sed': {'type': 'SeDUNetDiscriminator'}}  # every encoder option left at its default
    assert weights_report(opt) == [
        "network_d.pretrained: timm:convnext_atto 'd2_in1k' not on this machine: train downloads it first",
        'network_d_tg.pretrained: none (a random CLIP convnext_base_w: for tests only)',
        "network_sed.pretrained: CLIP RN50-quickgelu 'openai' not on this machine: train downloads it first"]


def _perceptual_only(tmp_path, monkeypatch, **loss):
    """Options with one perceptual loss, in a folder and a torch hub cache that hold no VGG file."""
    import torch
    monkeypatch.chdir(tmp_path)  # BasicSR's own copy: experiments/pretrained_models/ of the working directory
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'hub'))
    return {'train': {'perceptual_opt': {'type': 'PerceptualLoss', **loss}}}


@pytest.mark.parametrize('value, offline', [('1', True), ('ON', True), ('yes', True), ('True', True), ('0', False),
                                            ('', False)])
def test_offline_is_read_as_huggingface_hub_reads_hf_hub_offline(tmp_path, monkeypatch, value, offline):
    from huggingface_hub.constants import _is_true

    from sfd_basicsr.training.weight_downloads import offline_problems
    assert _is_true(value) == offline
    opt = _perceptual_only(tmp_path, monkeypatch, vgg_type='vgg19')
    monkeypatch.setenv('HF_HUB_OFFLINE', value)
    assert len(offline_problems(opt)) == offline


def test_a_perceptual_loss_without_vgg_type_needs_basicsrs_default_vgg(tmp_path, monkeypatch):
    import inspect

    from basicsr.losses.basic_loss import PerceptualLoss

    from sfd_basicsr.training.weight_downloads import offline_problems
    assert inspect.signature(PerceptualLoss).parameters['vgg_type'].default == 'vgg19'
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    [line] = offline_problems(_perceptual_only(tmp_path, monkeypatch))
    assert 'fetch https://download.pytorch.org/models/vgg19-dcbb9e9d.pth elsewhere' in line


def test_the_report_expands_a_local_encoder_file_written_with_a_tilde(tmp_path, monkeypatch):
    from sfd_basicsr.training.weight_downloads import weights_report
    monkeypatch.setenv('HOME', str(tmp_path))
    opt = {'network_d': {'type': 'FeatD', 'clip_model': 'RN50-quickgelu', 'pretrained': '~/weights/rn50.pt'}}
    assert weights_report(opt) == [f'network_d.pretrained: the local file {tmp_path}/weights/rn50.pt']


def test_offline_the_report_promises_no_download(tmp_path, monkeypatch):
    from sfd_basicsr.training.weight_downloads import weights_report
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    [line] = weights_report(_perceptual_only(tmp_path, monkeypatch))
    assert line == 'train.perceptual_opt: VGG weights https://download.pytorch.org/models/vgg19-dcbb9e9d.pth not on ' \
                   'this machine'
