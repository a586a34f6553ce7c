"""The command lines (``sfd_basicsr/commands``): every command listed, each one's -h from argparse, shared options
with one name everywhere, and refusals of a bad command line before any work."""
import os
import subprocess
import sys

import pytest

BASICSR = ('train', 'test', 'check', 'demo', 'upscale', 'export', 'evaluate', 'compare')
SFD_IQA = ('score', 'export', 'correlate')
# the options each command must offer, under the one name they have in every command
SHARED = {
    ('basicsr', 'upscale'): ['-m', '--device', '-q'], ('basicsr', 'export'): ['-m'],
    ('basicsr', 'evaluate'): ['-m', '--weights', '--device', '-q'],
    ('basicsr', 'compare'): ['-o', '--weights', '--device', '-q'],
    ('sfd-iqa', 'score'): ['--weights', '--device', '-q'], ('sfd-iqa', 'export'): ['-m'],
    ('sfd-iqa', 'correlate'): ['--weights', '--device', '-q'],
    ('basicsr', 'train'): ['-opt', '--launcher', '--auto_resume', '--debug', '--force_yml'],
    ('basicsr', 'test'): ['-opt', '--launcher', '--force_yml'], ('basicsr', 'check'): ['-opt', '--force_yml'],
}


@pytest.mark.parametrize('command, subcommands', [('basicsr', BASICSR), ('sfd-iqa', SFD_IQA)])
def test_the_help_lists_every_command_and_no_command_is_refused(command, subcommands, request):
    entry_point = request.getfixturevalue(command.replace('-', '_') + '_main')  # in this process
    listed = entry_point(['-h'])
    assert listed.returncode == 0, listed.stderr
    assert all(f'    {name}' in listed.stdout for name in subcommands), listed.stdout
    bare = entry_point([])
    assert bare.returncode == 2 and 'the following arguments are required: COMMAND' in bare.stderr
    unknown = entry_point(['trian'])
    assert unknown.returncode == 2 and "invalid choice: 'trian'" in unknown.stderr


@pytest.mark.parametrize('command, subcommand', sorted(SHARED), ids=lambda value: value)
def test_each_command_offers_the_shared_options_under_one_name(command, subcommand, request):
    result = request.getfixturevalue(command.replace('-', '_') + '_main')([subcommand, '-h'])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f'usage: {command} {subcommand} ')
    offered = {word.strip('[],') for word in result.stdout.split()}
    assert [option for option in SHARED[command, subcommand] if option not in offered] == []
    assert '`' not in result.stdout, 'help texts are plain text'


@pytest.mark.slow
def test_python_m_sfd_basicsr_train_is_basicsr_train(tmp_path):
    result = subprocess.run([sys.executable, '-m', 'sfd_basicsr.train', '-opt', str(tmp_path / 'absent.yml')],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"basicsr train: options file '{tmp_path / 'absent.yml'}' does not exist; "
                                     'expected a YAML file (options/train_sfd_esrgan_x4.yml, ...).')


def test_an_option_the_command_does_not_know_is_refused_before_any_work(tmp_path, basicsr_main):
    result = basicsr_main(['train', '-opt', 'x.yml', '--auto-resume'], cwd=tmp_path)
    assert result.returncode == 2 and 'unrecognized arguments: --auto-resume' in result.stderr
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize('words', [['--local-rank=1'], ['--local_rank=1'], ['--local_rank', '1']])
def test_the_local_rank_torch_distributed_launch_passes_becomes_local_rank(words, monkeypatch):
    from sfd_basicsr.commands.common import take_local_rank
    monkeypatch.setenv('LOCAL_RANK', '')  # recorded, so that what take_local_rank sets is undone afterwards
    monkeypatch.delenv('LOCAL_RANK')
    assert take_local_rank([*words, 'train', '-opt', 'o.yml']) == ['train', '-opt', 'o.yml']
    assert os.environ['LOCAL_RANK'] == '1'
    monkeypatch.setenv('LOCAL_RANK', '0')  # torchrun's own value is kept
    assert take_local_rank(['train', *words]) == ['train'] and os.environ['LOCAL_RANK'] == '0'
