"""``utils/yaml_file.py``: options files and an experiment's recorded options are read safely and within bounds;
every refusal is one line naming the file, through the commands a user would run."""
import re
import shutil

import pytest

from helpers.hostile import PAYLOAD_TAG, alias_bomb
from helpers.iqa import random_sfd_iqa_weights
from helpers.training import tiny_train_options, write_options
from sfd_basicsr.utils import yaml_file
from sfd_basicsr.utils.errors import InputError


# first in the file: a bound that is broken shows here as a failed assertion, before the real bomb would hang
def test_the_bound_counts_expanded_values_and_reads_what_stays_under_it(tmp_path, monkeypatch):
    path = tmp_path / 'small.yml'
    path.write_text(alias_bomb(levels=2, width=3))  # 3 + 9 + 27 leaves and their lists, and the other keys
    value = yaml_file.read_yaml(str(path))['train']['total_iter']
    assert value == [[['x'] * 3] * 3] * 3
    monkeypatch.setattr(yaml_file, 'MAX_VALUES', 30)
    with pytest.raises(InputError, match='expand to more than 30 values'):
        yaml_file.read_yaml(str(path))


@pytest.mark.parametrize('command', ['check', 'train'])
def test_an_alias_bomb_in_a_typed_key_is_refused_in_one_line(command, tmp_path, basicsr_main):
    path = tmp_path / 'bomb.yml'
    path.write_text(alias_bomb())
    assert len(path.read_bytes()) < 1200
    result = basicsr_main([command, '-opt', str(path)], cwd=tmp_path)
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert result.stderr == (f"basicsr {command}: invalid options: options file '{path}': its YAML aliases expand to "
                             f'more than {yaml_file.MAX_VALUES} values (an alias bomb?); not read.\n')


def test_a_recursive_alias_a_tag_and_an_oversized_file_are_refused_by_name(tmp_path, monkeypatch):
    (tmp_path / 'loop.yml').write_text('a: &a [1, *a]\n')
    with pytest.raises(InputError, match=r"options file '.*loop.yml': a YAML alias refers to a node that holds it"):
        yaml_file.read_yaml(str(tmp_path / 'loop.yml'), 'options file')
    marker = tmp_path / 'pwned'
    (tmp_path / 'tag.yml').write_text(f'name: {PAYLOAD_TAG.format(marker=marker)}\n')
    with pytest.raises(InputError, match=r"'.*tag.yml' \(line 1\): could not determine a constructor for the tag "
                                         r"'tag:yaml.org,2002:python/object/apply:os.system'"):
        yaml_file.read_yaml(str(tmp_path / 'tag.yml'))
    assert not marker.exists()
    monkeypatch.setattr(yaml_file, 'MAX_BYTES', 10)
    with pytest.raises(InputError, match='is 0.0 MB; an options file is a few kB'):
        yaml_file.read_yaml(str(tmp_path / 'loop.yml'))


@pytest.mark.parametrize('recorded', ['effective_options.yml', 'train_sfd_x4.yml'])
@pytest.mark.parametrize('main, words', [
    ('basicsr_main', ['upscale', '-i', 'in.png', '-o', 'out']),
    ('basicsr_main', ['export', '-o', 'g.safetensors']),
    ('basicsr_main', ['evaluate', '--data', 'S=gt', '--metrics', 'psnr', '-o', 'eval']),
    ('sfd_iqa_main', ['export', '-o', 'w.pth']),
])
def test_a_tampered_options_file_inside_an_experiment_is_one_line(recorded, main, words, models, tmp_path, request):
    import cv2
    import numpy as np
    experiment = tmp_path / 'experiment'
    shutil.copytree(models['experiment'], experiment)
    for old in experiment.glob('*.yml'):
        old.unlink()
    featd, tgd, _ = random_sfd_iqa_weights(tmp_path)  # sfd-iqa export reads the discriminators first
    shutil.copy(featd, experiment / 'models' / 'net_d_5.pth')
    shutil.copy(tgd, experiment / 'models' / 'net_d_tg_5.pth')
    marker = tmp_path / 'pwned'
    (experiment / recorded).write_text(f'scale: 4\nnetwork_g: {PAYLOAD_TAG.format(marker=marker)}\n')
    (tmp_path / 'gt').mkdir()
    cv2.imwrite(str(tmp_path / 'gt' / 'a.png'), np.zeros((64, 64, 3), np.uint8))
    cv2.imwrite(str(tmp_path / 'in.png'), np.zeros((16, 16, 3), np.uint8))
    result = request.getfixturevalue(main)(words + ['-m', str(experiment)], cwd=tmp_path)
    assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert f"the options recorded in the experiment '{experiment / recorded}' (line 2): could not determine a " \
           "constructor for the tag 'tag:yaml.org,2002:python/object/apply:os.system'" in last
    assert not marker.exists()


def test_options_problems_are_cut_to_a_bounded_length(tmp_path, basicsr_main):
    opt = tiny_train_options(tmp_path, warm_start=False)
    opt['train']['total_iter'] = ['x' * 50] * 200  # 10 kB of value in one problem
    result = basicsr_main(['check', '-opt', write_options(tmp_path / 'o.yml', opt)], cwd=tmp_path)
    assert result.returncode == 2
    line = next(line for line in result.stderr.splitlines() if 'train.total_iter' in line)
    assert len(line) < 2100 and line.endswith(' characters)')


@pytest.mark.parametrize('content', [b'\xff\xfe\x00name', b'name: \xff\xfe x\n', b'\x00\x01\x02'])
def test_bytes_that_are_no_yaml_text_are_refused_naming_the_file(tmp_path, content):
    path = tmp_path / 'options.yml'
    path.write_bytes(content)
    with pytest.raises(InputError, match=rf"^options file '{re.escape(str(path))}' is not YAML text \(.+\)\.$"):
        yaml_file.read_yaml(str(path), 'options file')


REPEATED = '''name: run
network_d:
  type: FeatD
  num_feat: 64
  num_feat: 32
'''


def test_a_key_written_twice_in_the_options_is_refused_naming_both_lines(tmp_path, basicsr_main):
    import yaml
    (tmp_path / 'twice.yml').write_text(REPEATED)
    assert yaml.safe_load(REPEATED)['network_d']['num_feat'] == 32  # PyYAML (and so BasicSR) keeps the second unsaid
    for command in ('check', 'train'):
        refused = basicsr_main([command, '-opt', str(tmp_path / 'twice.yml')], cwd=tmp_path)
        assert refused.returncode == 2 and 'Traceback' not in refused.stderr
        assert refused.stderr.strip().splitlines()[-1].endswith(
            f"options file '{tmp_path / 'twice.yml'}': the key 'num_feat' is written twice in one block (lines 4 and "
            "5); YAML would keep the second alone. Merge them or remove one.")
    assert not (tmp_path / 'experiments').exists()


@pytest.mark.parametrize('text', [
    'a: {x: 1}\nb: {x: 2}\n',  # the same key in two blocks
    'base: &base {x: 1, y: 2}\nrun:\n  <<: *base\n  x: 3\n',  # a merge key, then an override of what it brought
    'a:\n  - {x: 1}\n  - {x: 2}\n',  # items of a list
    'a: &a {x: 1}\nb: &b {y: 2}\nrun:\n  <<: *a\n  <<: *b\n',  # two merge keys in one block
    'm:\n  1: a\n  "1": b\n',  # the number 1 and the text "1": two keys
])
def test_the_same_key_in_other_blocks_and_a_merge_override_are_read_as_pyyaml_reads_them(tmp_path, text):
    import yaml
    (tmp_path / 'ok.yml').write_text(text)
    assert yaml_file.read_yaml(str(tmp_path / 'ok.yml'), unique_keys=True) == yaml.safe_load(text)


@pytest.mark.parametrize('text, key', [
    ('m:\n  null: a\n  ~: b\n', '~'),
    ('m:\n  yes: a\n  true: b\n', 'true'),  # YAML 1.1 booleans, as PyYAML reads them
    ('m:\n  1: a\n  0x1: b\n', '0x1'),
    ('m:\n  1: a\n  1.0: b\n', '1.0'),  # a dict's keys 1 and 1.0 are one
])
def test_two_spellings_of_one_key_are_refused_as_a_key_written_twice(tmp_path, text, key):
    import yaml
    assert len(yaml.safe_load(text)['m']) == 1  # PyYAML keeps the second alone
    (tmp_path / 'spelt.yml').write_text(text)
    with pytest.raises(InputError, match=rf"the key '{re.escape(key)}' is written twice in one block \(lines 2 and 3"):
        yaml_file.read_yaml(str(tmp_path / 'spelt.yml'), unique_keys=True)


def test_a_repeated_key_is_found_inside_a_list_and_read_as_pyyaml_does_where_not_asked(tmp_path):
    import yaml
    text = 'datasets:\n  - {name: a, name: b}\n'
    (tmp_path / 'list.yml').write_text(text)
    with pytest.raises(InputError, match=r"the key 'name' is written twice in one block \(lines 2 and 2\)"):
        yaml_file.read_yaml(str(tmp_path / 'list.yml'), unique_keys=True)
    assert yaml_file.read_yaml(str(tmp_path / 'list.yml')) == yaml.safe_load(text)  # an experiment's recorded copy
