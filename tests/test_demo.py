"""`basicsr demo` (``training/demo.py``, ``commands/demo.py``): the run end to end, its data, its refusals."""
import errno
import os

import cv2
import pytest

from helpers.training import read_log, run_basicsr


@pytest.mark.slow
def test_basicsr_demo_runs_end_to_end_and_says_the_encoder_is_random(tmp_path):
    result = run_basicsr(['demo', '--iters', '2', '--out', str(tmp_path / 'demo')], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'RANDOM CLIP' in result.stderr
    experiment = tmp_path / 'demo' / 'experiments' / 'sfd_demo'
    log = read_log(experiment, 'train_sfd_demo')
    for metric in ('psnr', 'ssim', 'niqe'):
        assert log.count(f'# {metric}:') == 1, 'validated once, at the end'
    assert (experiment / 'models' / 'net_g_latest.pth').is_file()
    summary = result.stdout[result.stdout.index('SFD demo finished.'):]
    assert str(experiment / 'models') in summary and 'RANDOM' in summary
    assert f'sfd-iqa export -m {experiment}' in summary


def test_the_demo_data_are_bicubic_pairs_read_back_by_opencv(tmp_path):
    from basicsr.utils.matlab_functions import imresize
    from sfd_basicsr.data.sample_images import write_bicubic_pairs
    hr_dir, lr_dir = write_bicubic_pairs(str(tmp_path), ['astronaut'], 66)
    hr = cv2.imread(os.path.join(hr_dir, 'astronaut.png'))
    lr = cv2.imread(os.path.join(lr_dir, 'astronaut.png'))
    assert hr.shape == (64, 64, 3) and lr.shape == (16, 16, 3)  # the HR cropped to a multiple of 4
    expected = (imresize(hr / 255.0, 1 / 4) * 255).round().clip(0, 255)  # BasicSR's MATLAB bicubic
    assert abs(lr.astype(float) - expected).max() <= 1


@pytest.mark.parametrize('iters', ['0', '-3', 'ten'])
def test_iterations_that_are_not_a_positive_whole_number_are_refused(tmp_path, basicsr_main, iters):
    result = basicsr_main(['demo', '--iters', iters, '--out', str(tmp_path / 'demo')], cwd=tmp_path)
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert f"argument --iters: expected a positive whole number, got '{iters}'" in result.stderr
    assert os.listdir(tmp_path) == []


def test_an_out_folder_on_a_read_only_disk_is_one_line_before_any_work(read_only_folder, tmp_path, basicsr_main):
    result = basicsr_main(['demo', '--iters', '1', '--out', str(read_only_folder / 'demo')], cwd=tmp_path)
    assert result.returncode == 1 and 'Traceback' not in result.stderr, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1].startswith(f"basicsr demo: --out '{read_only_folder / 'demo'}': ")
    assert 'read-only file system' in result.stderr


def test_a_full_disk_while_writing_the_demo_data_stops_in_one_line_and_leaves_no_short_image(tmp_path, fail_writes,
                                                                                             basicsr_main):
    fail_writes('rocket.png', 100, OSError(errno.ENOSPC, 'No space left on device'))
    result = basicsr_main(['demo', '--iters', '1', '--out', str(tmp_path / 'demo')], cwd=tmp_path)
    assert result.returncode == 1 and 'Traceback' not in result.stderr, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith('basicsr demo: stopped: ') and 'rocket.png' in last and 'no space left' in last.lower()
    written = [name for _, _, names in os.walk(tmp_path / 'demo') for name in names]
    assert 'rocket.png' not in written and not [name for name in written if name.endswith('.tmp')]
    assert not (tmp_path / 'demo' / 'experiments').exists()
