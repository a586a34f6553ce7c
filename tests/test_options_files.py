"""The shipped options files name only registered types and valid constructor options."""
import os

import pytest
import yaml
from basicsr.utils.options import ordered_yaml

from sfd_basicsr.options_check import OptionsError, check_options

OPTIONS = os.path.join(os.path.dirname(__file__), os.pardir, 'options')


def load(name):
    with open(os.path.join(OPTIONS, name)) as f:
        return yaml.load(f, Loader=ordered_yaml()[0])


def point_paths_at(opt, folder):
    listing = folder / 'meta_info.txt'
    listing.write_text('')
    for dataset in opt['datasets'].values():
        for key in ('dataroot_gt', 'dataroot_lq'):
            dataset[key] = str(folder)
        for key in ('meta_info', 'meta_info_file'):
            if dataset.get(key):
                dataset[key] = str(listing)
    for key in list(opt['path']):
        if key.startswith('pretrain_network'):
            opt['path'][key] = str(folder)
    return opt


@pytest.mark.parametrize('name', sorted(n for n in os.listdir(OPTIONS) if n.endswith('.yml')))
def test_options_file_is_valid_once_paths_exist(name, tmp_path):
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
