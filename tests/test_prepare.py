"""``basicsr prepare`` (``data/prepare.py``): HR photos to sub-images, BasicSR-bicubic LR, meta-info, LMDB and a
validation split; checked against BasicSR's own imresize, by hand, and through ``basicsr check``."""
import os

import cv2
import numpy as np
import pytest
import skimage.data

from sfd_basicsr.data.prepare import crop_positions


def test_crop_positions_worked_out_by_hand():
    assert crop_positions(500, 192, 96, 0) == [0, 96, 192, 288, 308]  # 20 px left over > 0: one more, flush
    assert crop_positions(480, 192, 96, 0) == [0, 96, 192, 288]  # nothing left over
    assert crop_positions(500, 192, 96, 20) == [0, 96, 192, 288]  # 20 left over is not more than the threshold
    assert crop_positions(480, 192, 96, 100) == [0, 96, 192, 288]  # the last step lands flush: BasicSR's arange end
    assert crop_positions(100, 192, 96, 0) == []


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / 'hr'
    folder.mkdir()
    for name in ('astronaut', 'coffee', 'chelsea'):  # 512x512, 600x400, 451x300
        cv2.imwrite(str(folder / f'{name}.png'), cv2.cvtColor(getattr(skimage.data, name)(), cv2.COLOR_RGB2BGR))
    return folder


def _expected_count(path, crop=192, step=96):
    height, width = cv2.imread(str(path)).shape[:2]
    height, width = height - height % 4, width - width % 4
    return len(crop_positions(height, crop, step, 0)) * len(crop_positions(width, crop, step, 0))


def test_prepare_makes_sub_images_their_bicubic_lr_and_the_meta_info(photos, tmp_path, basicsr_main):
    from basicsr.utils.matlab_functions import imresize
    out = tmp_path / 'out'
    result = basicsr_main(['prepare', '-i', str(photos), '-o', str(out), '--crop-size', '192', '--step', '96',
                           '--val', '1', '-q'], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    hr_sub, lr_sub = out / 'train' / 'hr_sub', out / 'train' / 'lr_x4_sub'
    names = sorted(os.listdir(hr_sub))
    assert names == sorted(os.listdir(lr_sub))
    assert len(names) == _expected_count(photos / 'chelsea.png') + _expected_count(photos / 'coffee.png')
    assert (out / 'train' / 'meta_info.txt').read_text().split() == names
    # the first sub-image of coffee: BasicSR's imresize of the modcropped HR, at the same place
    full = cv2.imread(str(photos / 'coffee.png'))
    full = full[:full.shape[0] - full.shape[0] % 4, :full.shape[1] - full.shape[1] % 4]
    lr = (np.clip(imresize(full.astype(np.float32) / 255., 1 / 4), 0, 1) * 255).round().astype(np.uint8)
    second = 'coffee_s002.png'  # the crop at (0, 96)
    assert np.array_equal(cv2.imread(str(hr_sub / second)), full[0:192, 96:288])
    assert np.array_equal(cv2.imread(str(lr_sub / second)), lr[0:48, 24:72])
    assert sorted(os.listdir(out / 'val' / 'gt_mod')) == ['astronaut.png']  # the first image, whole
    assert cv2.imread(str(out / 'val' / 'lr_x4' / 'astronaut.png')).shape == (128, 128, 3)
    assert not (out / '.sfd_basicsr.lock').exists()


def test_the_printed_force_yml_points_the_shipped_options_at_the_data(photos, tmp_path, basicsr_main):
    out = tmp_path / 'out'
    result = basicsr_main(['prepare', '-i', str(photos), '-o', str(out), '--crop-size', '192', '--step', '96',
                           '--val', '1', '-q'], cwd=tmp_path)
    command = result.stdout.strip()
    shipped = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'options',
                           'train_sfd_esrgan_x4.yml')
    assert command.startswith('basicsr train -opt options/train_sfd_esrgan_x4.yml --force_yml ')
    words = command.split('--force_yml ')[1].split()
    check = basicsr_main(['check', '-opt', shipped, '--force_yml', *words], cwd=tmp_path)
    assert not [line for line in check.stderr.splitlines() if 'datasets.' in line], check.stderr


def test_a_rerun_keeps_what_is_written_and_a_bad_image_is_named_and_skipped(photos, tmp_path, basicsr_main):
    out = tmp_path / 'out'
    words = ['prepare', '-i', str(photos), '-o', str(out), '--crop-size', '192', '--step', '96', '-q']
    assert basicsr_main(words, cwd=tmp_path).returncode == 0
    kept = out / 'train' / 'hr_sub' / 'coffee_s001.png'
    kept.write_bytes(kept.read_bytes())  # an earlier run's file: whole, so kept as it is
    stamp = os.stat(kept).st_mtime_ns
    (photos / 'broken.png').write_bytes(b'\x89PNG\r\n\x1a\n garbage IEND')
    cv2.imwrite(str(photos / 'tiny.png'), np.zeros((40, 40, 3), np.uint8))
    result = basicsr_main(words, cwd=tmp_path)
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert 'broken.png' in result.stderr and "tiny.png: 40x40 is smaller than one 192 px sub-image" in result.stderr
    assert os.stat(kept).st_mtime_ns == stamp


def test_lmdb_through_basicsrs_own_writer_read_back_by_lmdb(photos, tmp_path, basicsr_main):
    import lmdb
    out = tmp_path / 'out'
    result = basicsr_main(['prepare', '-i', str(photos), '-o', str(out), '--crop-size', '192', '--step', '96',
                           '--lmdb', '-q'], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'datasets:train:io_backend:type=lmdb' in result.stdout
    names = sorted(os.listdir(out / 'train' / 'hr_sub'))
    with lmdb.open(str(out / 'train' / 'hr_sub.lmdb'), readonly=True, lock=False) as env, env.begin() as txn:
        data = txn.get(os.path.splitext(names[0])[0].encode())
        assert np.array_equal(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED),
                              cv2.imread(str(out / 'train' / 'hr_sub' / names[0])))
        assert txn.stat()['entries'] == len(names)


@pytest.mark.parametrize('words, message', [
    (['--crop-size', '190'], '--crop-size, --step and --thresh-size must be multiples of the scale 4'),
    (['--thresh-size', '2'], '--crop-size, --step and --thresh-size must be multiples of the scale 4'),
    (['--val', '3'], 'holds 3 image(s); --val 3 would leave none to train on.'),
    (['--val', '-1'], '--val and --thresh-size must be 0 or more.'),
    (['--scale', '0'], "argument --scale: expected a positive whole number, got '0'"),
])
def test_prepare_refuses_settings_that_cannot_work(words, message, photos, tmp_path, basicsr_main):
    result = basicsr_main(['prepare', '-i', str(photos), '-o', str(tmp_path / 'out'), *words], cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr and 'Traceback' not in result.stderr


def test_thresh_size_and_opt_reach_the_result(photos, tmp_path, basicsr_main):
    out = tmp_path / 'out'
    result = basicsr_main(['prepare', '-i', str(photos / 'coffee.png').rsplit('/', 1)[0], '-o', str(out),
                           '--crop-size', '192', '--step', '96', '--thresh-size', '100', '--opt', 'mine.yml', '-q'],
                          cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith('basicsr train -opt mine.yml --force_yml ')
    # coffee is 400x600: rows [0, 96, 192] and 16 left over (not over 100); cols [0, 96, ..., 384] and 24 left
    per_image = {name.rsplit('_s', 1)[0] for name in os.listdir(out / 'train' / 'hr_sub')}
    assert per_image == {'astronaut', 'chelsea', 'coffee'}
    coffee = [n for n in os.listdir(out / 'train' / 'hr_sub') if n.startswith('coffee_')]
    assert len(coffee) == len(crop_positions(400, 192, 96, 100)) * len(crop_positions(600, 192, 96, 100)) == 15


def test_images_that_give_no_sub_image_are_refused_and_leave_no_folders(tmp_path, basicsr_main):
    photos = tmp_path / 'small_photos'
    photos.mkdir()
    for name in ('a', 'b'):
        cv2.imwrite(str(photos / f'{name}.png'), np.zeros((40, 40, 3), np.uint8))
    out = tmp_path / 'deep' / 'out'
    result = basicsr_main(['prepare', '-i', str(photos), '-o', str(out), '--crop-size', '192', '-q'], cwd=tmp_path)
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert result.stderr.splitlines()[-1].endswith(
        f"-i '{photos}': none of its 2 training image(s) gave a sub-image (each was skipped, said above); nothing to "
        'train on.')
    assert 'wrote' not in result.stderr and result.stdout == ''
    assert [name for name in os.listdir(out) if not name.startswith('.')] == []  # the command's lock may stay


def test_with_no_sub_image_the_validation_pairs_and_folders_there_before_stay(tmp_path, basicsr_main):
    photos = tmp_path / 'small_photos'
    photos.mkdir()
    cv2.imwrite(str(photos / 'a.png'), skimage.data.chelsea()[:, :, ::-1])  # the validation image, whole
    cv2.imwrite(str(photos / 'b.png'), np.zeros((40, 40, 3), np.uint8))
    out = tmp_path / 'out'
    out.mkdir()
    result = basicsr_main(['prepare', '-i', str(photos), '-o', str(out), '--crop-size', '192', '--val', '1', '-q'],
                          cwd=tmp_path)
    assert result.returncode == 2 and 'none of its 1 training image(s) gave a sub-image' in result.stderr
    assert [name for name in sorted(os.listdir(out)) if not name.startswith('.')] == ['val']
    assert sorted(os.listdir(out / 'val' / 'gt_mod')) == ['a.png']
