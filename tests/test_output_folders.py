"""``training/output_folders.py``: a run writes under experiments/, results/ and tb_logger/ of the working directory
and nowhere else, and one run per experiment at a time; through the ``basicsr`` command."""
import os
import subprocess
import time

import pytest

from helpers.training import command_path, tiny_train_options, write_options
from sfd_basicsr.utils.locks import take_lock


def _options(tmp_path, name):
    opt = tiny_train_options(tmp_path, warm_start=False)
    opt['name'] = name
    return write_options(tmp_path / 'o.yml', opt)


@pytest.mark.parametrize('name, message', [
    ('../../escaped', "name: '../../escaped' climbs out of experiments/ with '..'; give a plain folder name"),
    ('ok/../../escaped', "name: 'ok/../../escaped' climbs out of experiments/ with '..'"),
    ('/tmp/escaped_abs', "name: '/tmp/escaped_abs' is an absolute path; experiments are folders under experiments/"),
    ('~/escaped', "name: '~/escaped' is an absolute path"),
])
@pytest.mark.parametrize('command', ['check', 'train'])
def test_a_name_that_leaves_the_output_folders_is_refused_before_anything_is_made(name, message, command, tmp_path,
                                                                                    basicsr_main):
    work = tmp_path / 'work'
    work.mkdir()
    opt_file = _options(tmp_path, name)
    result = basicsr_main([command, '-opt', opt_file], cwd=work)
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert message in result.stderr
    assert os.listdir(work) == [] and not os.path.exists('/tmp/escaped_abs')


def test_a_link_planted_in_experiments_is_refused(tmp_path, basicsr_main):
    work, outside = tmp_path / 'work', tmp_path / 'outside'
    (work / 'experiments').mkdir(parents=True)
    outside.mkdir()
    os.symlink(outside, work / 'experiments' / 'evil')
    result = basicsr_main(['train', '-opt', _options(tmp_path, 'evil')], cwd=work)
    assert result.returncode == 2
    assert f"name: experiments/evil is a link to '{outside}', outside experiments/; remove the link" in result.stderr
    assert os.listdir(outside) == []


def test_a_nested_name_and_a_linked_experiments_folder_are_fine(tmp_path):
    from sfd_basicsr.training.output_folders import name_problem
    (tmp_path / 'big_disk').mkdir()
    os.symlink(tmp_path / 'big_disk', tmp_path / 'experiments')  # the whole folder elsewhere: the user's choice
    assert name_problem('group/run_1', str(tmp_path)) is None
    assert name_problem('run..v2', str(tmp_path)) is None  # dots inside a name climb nowhere


def test_an_experiment_another_run_holds_is_refused_by_name(tmp_path, basicsr_main):
    opt_file = _options(tmp_path, 'busy')
    held = take_lock(str(tmp_path / 'experiments' / '.busy.lock'), 'x')
    try:
        result = basicsr_main(['train', '-opt', opt_file], cwd=tmp_path)
    finally:
        held.close()
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert f"experiment 'busy' (experiments/busy) is being written by another run (pid {os.getpid()}, " \
           in result.stderr
    assert sorted(os.listdir(tmp_path / 'experiments')) == []  # nothing archived, nothing made


@pytest.mark.slow
def test_two_trainings_of_one_name_started_together_never_mix(tmp_path):
    opt = tiny_train_options(tmp_path, name='same', iters=40, with_val=False, warm_start=False)
    opt_file = write_options(tmp_path / 'same.yml', opt)
    env = dict(os.environ, HF_HUB_OFFLINE='1', PYTHONUNBUFFERED='1')
    first = subprocess.Popen([command_path('basicsr'), 'train', '-opt', opt_file], cwd=tmp_path, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lock = tmp_path / 'experiments' / '.same.lock'
        deadline = time.time() + 300
        while not lock.exists():
            assert first.poll() is None and time.time() < deadline, first.communicate()[1][-2000:]
            time.sleep(0.2)
        second = subprocess.run([command_path('basicsr'), 'train', '-opt', opt_file], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=300)
        assert first.poll() is None, 'the first run ended before the second was refused: make it longer'
        assert second.returncode == 2
        assert f"experiment 'same' (experiments/same) is being written by another run (pid {first.pid}, " \
               in second.stderr
        _, err = first.communicate(timeout=600)
        assert first.returncode == 0, err[-2000:]
    finally:
        first.kill()
    assert sorted(os.listdir(tmp_path / 'experiments')) == ['same']  # nothing archived
    assert (tmp_path / 'experiments' / 'same' / 'models' / 'net_g_latest.pth').is_file()


def test_a_link_planted_in_results_is_refused_for_a_test_run(tmp_path):
    from sfd_basicsr.training.output_folders import name_problem
    (tmp_path / 'results').mkdir()
    (tmp_path / 'outside').mkdir()
    os.symlink(tmp_path / 'outside', tmp_path / 'results' / 'evil')
    assert name_problem('evil', str(tmp_path), is_train=False) == (
        f"name: results/evil is a link to '{tmp_path / 'outside'}', outside results/; remove the link, or give a plain "
        "folder name such as 'train_SFD_x4'.")


def test_a_link_to_a_sibling_whose_name_starts_like_experiments_is_outside(tmp_path):
    from sfd_basicsr.training.output_folders import name_problem
    (tmp_path / 'experiments').mkdir()
    (tmp_path / 'experiments_old' / 'run').mkdir(parents=True)  # '/experiments_old' starts with '/experiments'
    os.symlink(tmp_path / 'experiments_old' / 'run', tmp_path / 'experiments' / 'evil')
    assert name_problem('evil', str(tmp_path)) == (
        f"name: experiments/evil is a link to '{tmp_path / 'experiments_old' / 'run'}', outside experiments/; remove "
        "the link, or give a plain folder name such as 'train_SFD_x4'.")


@pytest.mark.parametrize('name, is_train, lock', [('run', False, 'results/.run.lock'),
                                                  ('group/run', True, 'experiments/.group__run.lock')])
def test_the_lock_sits_beside_the_runs_folder_and_makes_nothing_else(tmp_path, name, is_train, lock):
    from sfd_basicsr.training.output_folders import lock_experiment
    held = lock_experiment(str(tmp_path), name, is_train)
    try:
        base = lock.split('/')[0]
        assert os.listdir(tmp_path) == [base] and os.listdir(tmp_path / base) == [lock.split('/')[1]]
    finally:
        held.close()
