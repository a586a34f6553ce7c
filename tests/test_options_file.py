"""``training/options_file.py``: the options file and ``--force_yml`` as BasicSR's ``parse_options`` reads them; each
refusal one line naming the file or the entry (messages worked out by hand)."""
import os

import pytest

from sfd_basicsr.training.options_check import OptionsError
from sfd_basicsr.training.options_file import apply_force_yml, load_options, read_options_file


def test_a_file_that_is_not_a_mapping_is_refused_naming_it(tmp_path):
    path = tmp_path / 'list.yml'
    path.write_text('- name\n- model_type\n')
    with pytest.raises(OptionsError) as error:
        read_options_file(str(path))
    assert error.value.problems == [f"{path}: holds list ['name', 'model_type'], not a mapping of options (key: value "
                                    'lines).']


@pytest.mark.parametrize('kind', ['is a folder', 'is not a regular file', 'does not exist'])
def test_an_options_path_that_is_no_file_says_what_it_is(tmp_path, kind):
    path = {'is a folder': tmp_path, 'is not a regular file': tmp_path / 'fifo.yml',
            'does not exist': tmp_path / 'absent.yml'}[kind]
    if kind == 'is not a regular file':
        os.mkfifo(path)
    with pytest.raises(OptionsError) as error:
        read_options_file(str(path))
    assert error.value.problems == [
        f"options file '{path}' {kind}; expected a YAML file (options/train_sfd_esrgan_x4.yml, ...)."]


def test_a_missing_nested_section_is_named_to_its_depth():
    opt = {'train': {'optim_g': {'lr': 1e-4}}}
    with pytest.raises(OptionsError) as error:
        apply_force_yml(opt, ['train:optim_x:lr=1'])
    assert error.value.problems == ["--force_yml train:optim_x:lr=1: the options have no section train:optim_x "
                                    "(BasicSR's --force_yml changes keys of existing sections only)."]


def test_entries_are_applied_with_basicsrs_value_parser(tmp_path):
    path = tmp_path / 'o.yml'
    path.write_text('name: x\ntrain:\n  total_iter: 10\n  optim_g: {lr: 1}\nval: {save_img: true}\n')
    # basicsr.utils.options._postprocess_yml_value: digits an int, !!float a float, false a bool, [..] a list
    opt = load_options(['-opt', str(path), '--force_yml', 'train:total_iter = 5', 'train:optim_g:lr=!!float 2e-4',
                        'val:save_img=false', 'train:milestones=[1, 2]'])
    assert opt == {'name': 'x', 'train': {'total_iter': 5, 'optim_g': {'lr': 2e-4}, 'milestones': [1, 2]},
                   'val': {'save_img': False}}
    assert type(opt['train']['total_iter']) is int
    assert load_options(['--force_yml', 'train:total_iter=5']) is None  # no -opt: nothing to read
