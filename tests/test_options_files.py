"""The shipped options files name only registered types and valid constructor options."""
import os
import re

import pytest
import torch
import yaml
from basicsr.utils.options import ordered_yaml

from sfd_basicsr.training.options_check import OptionsError, check_options

OPTIONS = os.path.join(os.path.dirname(__file__), os.pardir, 'options')


def load(name):
    with open(os.path.join(OPTIONS, name)) as f:
        return yaml.load(f, Loader=ordered_yaml()[0])


def point_paths_at(opt, folder, images=16):
    listing = folder / 'meta_info.txt'
    listing.write_text(''.join(f'{i}.png\n' for i in range(images)))
    for i in range(images):
        (folder / f'{i}.png').touch()
    for dataset in opt['datasets'].values():
        for key in ('dataroot_gt', 'dataroot_lq'):
            dataset[key] = str(folder)
        for key in ('meta_info', 'meta_info_file'):
            if dataset.get(key):
                dataset[key] = str(listing)
    checkpoint = folder / 'net.pth'
    torch.save({'params': {}}, checkpoint)  # read at the check (a plain-weights file), not matched to the network
    for key in list(opt['path']):
        if key.startswith('pretrain_network'):
            opt['path'][key] = str(checkpoint)
    return opt


@pytest.mark.parametrize('name', sorted(n for n in os.listdir(OPTIONS) if n.endswith('.yml')))
def test_options_file_is_valid_once_paths_exist(name, tmp_path, monkeypatch):
    monkeypatch.setenv('HF_HUB_OFFLINE', '0')  # CLIP tags are checked, not downloaded
    opt = load(name)
    with pytest.raises(OptionsError, match='does not exist'):
        check_options(opt)  # the SET: paths are placeholders
    check_options(point_paths_at(opt, tmp_path))


def test_esrgan_recipe_matches_the_documented_choices():
    opt = load('train_sfd_esrgan_x4.yml')
    assert opt['model_type'] == 'SFDModel' and opt['scale'] == 4
    g = opt['network_g']
    assert (g['type'], g['num_feat'], g['num_block'], g['num_grow_ch']) == ('RRDBNet', 64, 23, 32)
    assert opt['datasets']['train']['gt_size'] == 256 and opt['datasets']['train']['batch_size_per_gpu'] == 8
    assert opt['network_d']['clip_model'] == opt['network_d_tg']['clip_model'] == 'RN50-quickgelu'
    assert opt['network_d']['pretrained'] == 'openai'
    train = opt['train']
    assert train['featd_opt']['loss_weight'] == train['tgd_opt']['loss_weight'] == 0.1
    assert set(opt['val']['metrics']) == {'psnr', 'ssim', 'niqe'}


def test_offline_a_clip_tag_that_is_not_on_disk_names_the_key_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    monkeypatch.setenv('HF_HOME', str(tmp_path / 'empty_cache'))
    monkeypatch.setenv('HOME', str(tmp_path))
    opt = point_paths_at(load('train_sfd_esrgan_x4.yml'), tmp_path)
    with pytest.raises(OptionsError, match=r'^network_d\.pretrained: .*local file path'):
        check_options(opt)


@pytest.mark.parametrize('name', sorted(n for n in os.listdir(OPTIONS) if n.startswith('train_')))
def test_every_value_a_user_must_set_is_marked(name):
    """Data paths, pretrained networks and CLIP weights: the lines holding them say SET."""
    with open(os.path.join(OPTIONS, name)) as f:
        lines = f.read().splitlines()
    must_set = re.compile(r'^\s*(dataroot_\w+|meta_info\w*|pretrain_network_\w+|pretrained):')
    optional = re.compile(r':\s*(~|null)?\s*(#.*)?$')  # left empty on purpose
    unmarked = [line for line in lines if must_set.match(line) and not optional.search(line) and 'SET' not in line]
    assert not unmarked, unmarked


@pytest.mark.parametrize('name, backbone, has_tgd', [('train_sfd_dinov2_esrgan_x4.yml', 'timm:vit_small_patch14_dinov2',
                                                      False),
                                                     ('train_sfd_clip_convnext_esrgan_x4.yml',
                                                      'open_clip:convnext_base_w', True)])
def test_a_backbone_file_differs_from_the_esrgan_recipe_only_in_its_discriminators(name, backbone, has_tgd):
    base, other = load('train_sfd_esrgan_x4.yml'), load(name)
    discriminators = {'network_d', 'network_d_tg'}
    assert {k: v for k, v in other.items() if k not in discriminators | {'name', 'train'}} == \
        {k: v for k, v in base.items() if k not in discriminators | {'name', 'train'}}
    differing = {key for key in set(base['train']) | set(other['train'])
                 if base['train'].get(key) != other['train'].get(key)}
    assert differing == ({'diffaugment'} if has_tgd else {'diffaugment', 'tgd_opt'})
    assert other['train']['diffaugment']['policy'] == ['color', 'translation', 'cutout']
    assert other['network_d']['backbone'] == backbone and ('network_d_tg' in other) == has_tgd
    if has_tgd:
        assert other['network_d_tg']['backbone'] == backbone
