"""A bad options file stops with the key's name before anything is created or trained."""
import pytest

from training_helpers import run_basicsr, tiny_train_options, write_options


def break_arch(opt):
    opt['network_d']['type'] = 'FeatDiscriminatorTypo'


def break_data_path(opt):
    opt['datasets']['train']['dataroot_gt'] = '/nowhere/DF2K/HR'


def break_scale(opt):
    opt['network_g']['scale'] = 2


def break_arch_option(opt):
    opt['network_d_tg']['n_context'] = 4


@pytest.mark.parametrize('breaker, key', [
    (break_arch, 'network_d.type'),
    (break_data_path, 'datasets.train.dataroot_gt'),
    (break_scale, 'network_g.scale'),
    (break_arch_option, 'network_d_tg'),
])
def test_bad_options_stop_naming_the_key(tmp_path, breaker, key):
    opt = tiny_train_options(tmp_path, iters=2)
    breaker(opt)
    result = run_basicsr(['train', '-opt', write_options(tmp_path / 'bad.yml', opt)], cwd=tmp_path)
    assert result.returncode == 2
    assert key in result.stderr and 'Traceback' not in result.stderr, result.stderr[-2000:]
    assert not (tmp_path / 'experiments').exists()


def test_missing_options_file_is_named(tmp_path):
    result = run_basicsr(['train', '-opt', 'options/nope.yml'], cwd=tmp_path)
    assert result.returncode == 2 and 'options/nope.yml' in result.stderr
