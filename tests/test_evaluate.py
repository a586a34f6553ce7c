"""``inference/evaluate.py``'s readers and matching: what a test set on disk becomes before it is scored."""
import cv2
import numpy as np
import pytest

from sfd_basicsr.inference.evaluate import _pairs, parse_test_set, read_bgr8


def test_a_folder_whose_path_holds_an_equals_sign_is_read_whole(tmp_path):
    gt, lq = tmp_path / 'runs=2' / 'GT', tmp_path / 'runs=2' / 'LR'
    gt.mkdir(parents=True)
    lq.mkdir()
    assert parse_test_set(f'Set5={gt}') == ('Set5', str(gt), None)
    assert parse_test_set(f'Set5={gt}:{lq}') == ('Set5', str(gt), str(lq))


def test_an_lr_image_of_the_gts_own_name_wins_over_others_that_start_with_it(tmp_path):
    gt, lq = tmp_path / 'GT', tmp_path / 'LR'
    gt.mkdir()
    lq.mkdir()
    image = np.zeros((8, 8, 3), np.uint8)
    cv2.imwrite(str(gt / 'a.png'), image)
    for name in ('a-1.png', 'a.png'):  # 'a-1.png' sorts first
        cv2.imwrite(str(lq / name), image)
    cv2.imwrite(str(gt / 'b.png'), image)
    cv2.imwrite(str(lq / 'bx4.png'), image)  # DIV2K's LR name: the GT's stem and a suffix
    assert list(_pairs(str(gt), str(lq), report=False)) == [(str(gt / 'a.png'), str(lq / 'a.png')),
                                                            (str(gt / 'b.png'), str(lq / 'bx4.png'))]


def test_16_bit_pixels_are_rounded_to_8_bits_and_an_alpha_channel_dropped(tmp_path):
    deep = np.full((4, 4, 3), 2750, np.uint16)  # 2750 * 255 / 65535 = 10.70: 11, not 10
    cv2.imwrite(str(tmp_path / 'deep.png'), deep)
    assert (read_bgr8(str(tmp_path / 'deep.png')) == 11).all()
    bgra = np.dstack([np.full((4, 4), value, np.uint8) for value in (10, 20, 30, 40)])
    cv2.imwrite(str(tmp_path / 'alpha.png'), bgra)
    assert read_bgr8(str(tmp_path / 'alpha.png'))[0, 0].tolist() == [10, 20, 30]


def test_sfd_iqa_weights_given_and_unreadable_are_refused_before_any_work_as_compare_refuses_them(models, tmp_path,
                                                                                                   basicsr_main):
    gt = tmp_path / 'gt'
    gt.mkdir()
    cv2.imwrite(str(gt / 'a.png'), np.full((64, 64, 3), 90, np.uint8))
    (tmp_path / 'text.pth').write_text('not weights')
    command = ['-m', str(models['experiment']), '--weights', str(tmp_path / 'text.pth'), '--metrics', 'sfd_iqa', '-q']
    evaluated = basicsr_main(['evaluate', '--data', f'mini={gt}', '-o', str(tmp_path / 'out')] + command)
    compared = basicsr_main(['compare', '-o', str(tmp_path / 'page'), f'a={gt}', f'b={gt}', '--weights',
                             str(tmp_path / 'text.pth'), '--metrics', 'sfd_iqa', '-q'])
    assert evaluated.returncode == compared.returncode == 2
    assert not (tmp_path / 'out' / 'results.md').exists()
    line = evaluated.stderr.strip().splitlines()[-1]
    assert line.startswith('basicsr evaluate: ') and str(tmp_path / 'text.pth') in line
    assert line.split(': ', 1)[1] == compared.stderr.strip().splitlines()[-1].split(': ', 1)[1]


@pytest.mark.parametrize('data, line', [
    (['={gt}'], "--data '={gt}': the test set needs a name before '=' (NAME=GT_FOLDER[:LQ_FOLDER])."),
    (['S={gt}', 'S={gt}'], '--data: the name S is given more than once; give each test set its own name.'),
], ids=['no name', 'a name twice'])
def test_every_test_set_needs_a_name_of_its_own(models, tmp_path, basicsr_main, data, line):
    gt = tmp_path / 'GT'
    gt.mkdir()
    cv2.imwrite(str(gt / 'a.png'), np.full((64, 64, 3), 90, np.uint8))
    command = ['evaluate', '-m', str(models['experiment']), '-o', str(tmp_path / 'out'), '--metrics', '-q']
    for text in data:
        command += ['--data', text.format(gt=gt)]
    refused = basicsr_main(command)
    assert refused.returncode == 2 and not (tmp_path / 'out' / 'results.md').exists()
    assert refused.stderr.strip().splitlines()[-1] == 'basicsr evaluate: ' + line.format(gt=gt)
