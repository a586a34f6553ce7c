"""Paper-style evaluation: pyiqa metrics inside BasicSR, `basicsr evaluate` tables, `sfd-iqa correlate`."""
import csv
import os
import shutil

import cv2
import numpy as np
import pytest
import skimage.data
import torch
from scipy import stats

from sfd_basicsr.iqa.pyiqa_metrics import pyiqa_metric
from sfd_basicsr.metrics import calculate_pyiqa
from sfd_basicsr.training.options_check import OptionsError, check_options
from helpers.training import command_path, tiny_train_options, torchrun

SHARED = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, 'shared', 'data')
needs_shared = pytest.mark.skipif(not os.path.isdir(SHARED), reason='../shared/data is not beside the repo')


def bgr(name, size):
    return cv2.resize(cv2.cvtColor(getattr(skimage.data, name)(), cv2.COLOR_RGB2BGR), size)


def test_pyiqa_metric_in_basicsr_is_full_or_no_reference_and_built_once():
    import pyiqa
    sr, gt = bgr('astronaut', (96, 96)), bgr('astronaut', (96, 96))
    sr = cv2.GaussianBlur(sr, (5, 5), 2)
    to_tensor = lambda a: torch.from_numpy(a[..., ::-1].astype(np.float32) / 255).permute(2, 0, 1)[None]  # noqa
    expected_psnr = pyiqa.create_metric('psnr', device='cpu')(to_tensor(sr), to_tensor(gt)).item()
    assert calculate_pyiqa(sr, gt, metric='psnr', device='cpu') == pytest.approx(expected_psnr, abs=1e-4)
    with pytest.raises(Exception) as raised:  # any exception, so that another one fails the assertion below
        calculate_pyiqa(sr, metric='psnr', device='cpu')
    assert isinstance(raised.value, ValueError) and 'needs the GT' in str(raised.value), repr(raised.value)
    piqe = calculate_pyiqa(sr, gt, metric='piqe', device='cpu')  # no-reference: the GT is not used
    assert piqe == pytest.approx(calculate_pyiqa(sr, None, metric='piqe', device='cpu'))
    assert pyiqa_metric('piqe', 'cpu') is pyiqa_metric('piqe', 'cpu')


def to_tensor(array):
    return torch.from_numpy(np.ascontiguousarray(array[..., ::-1]).astype(np.float32) / 255).permute(2, 0, 1)[None]


def test_pyiqa_metric_crop_border_and_options_are_pyiqas_own(tmp_path):
    import pyiqa
    gt = bgr('astronaut', (96, 96))
    sr = cv2.GaussianBlur(gt, (5, 5), 2)
    sr[:4] = 255  # a border that scores differently from the rest
    cropped = pyiqa.create_metric('psnr', device='cpu')(to_tensor(sr[4:-4, 4:-4]), to_tensor(gt[4:-4, 4:-4])).item()
    assert calculate_pyiqa(sr, gt, metric='psnr', crop_border=4, device='cpu') == pytest.approx(cropped, abs=1e-4)
    assert calculate_pyiqa(sr, gt, metric='psnr', device='cpu') != pytest.approx(cropped, abs=1e-2)
    on_y = pyiqa.create_metric('psnr', device='cpu', test_y_channel=True)(to_tensor(sr), to_tensor(gt)).item()
    assert calculate_pyiqa(sr, gt, metric='psnr', device='cpu', test_y_channel=True) == pytest.approx(on_y, abs=1e-4)
    assert pyiqa_metric('psnr', 'cpu', test_y_channel=True) is not pyiqa_metric('psnr', 'cpu'), \
        'a metric built with other options is another metric'


def test_evaluate_scores_pyiqa_metrics_on_border_cropped_images(models, tmp_path, basicsr_main):
    import pyiqa

    from sfd_basicsr.inference import Upscaler, load_generator
    from sfd_basicsr.data.bicubic import bicubic_lr
    gt_dir = tmp_path / 'gt'
    gt_dir.mkdir()
    for name in ('chelsea', 'coffee'):
        cv2.imwrite(str(gt_dir / f'{name}.png'), bgr(name, (48, 40)))
    result = basicsr_main(['evaluate', '-m', str(models['experiment']), '--data', f'mini={gt_dir}', '--metrics', 'piqe',
                          '-o', str(tmp_path / 'eval'), '-q'], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    got = {r['metric']: r['value'] for r in csv.DictReader(open(tmp_path / 'eval' / 'results.csv'))}
    upscaler, piqe = Upscaler(load_generator(models['experiment']), 'cpu'), pyiqa.create_metric('piqe', device='cpu')
    expected = []
    for name in ('chelsea', 'coffee'):
        _, lr = bicubic_lr(cv2.imread(str(gt_dir / f'{name}.png')), 4)
        expected.append(piqe(to_tensor(upscaler.upscale_array(lr)[4:-4, 4:-4])).item())
    assert float(got['piqe']) == pytest.approx(np.mean(expected), rel=1e-4)


def test_options_check_builds_pyiqa_metrics_early_and_fills_better(tmp_path):
    opt = tiny_train_options(tmp_path, iters=2, warm_start=False)
    opt['val']['metrics'] = {'piqe': {'type': 'calculate_pyiqa', 'metric': 'piqe', 'crop_border': 4}}
    check_options(opt)
    assert opt['val']['metrics']['piqe']['better'] == 'lower'  # pyiqa's lower_better, for BasicSR's best-model log
    opt['val']['metrics'] = {'niqe': {'type': 'calculate_pyiqa', 'metric': 'niqe'}}  # its weights need a download
    with pytest.raises(OptionsError, match=r"^val\.metrics\.niqe: pyiqa metric 'niqe' cannot be built"):
        check_options(opt)


@needs_shared
def test_bicubic_lr_made_from_gt_equals_the_official_set5_lr():
    from sfd_basicsr.data.bicubic import bicubic_lr
    gt = cv2.imread(os.path.join(SHARED, 'set5_x4', 'GTmod12', 'bird.png'))
    official = cv2.imread(os.path.join(SHARED, 'set5_x4', 'LRbicx4', 'bird.png'))
    assert np.array_equal(bicubic_lr(gt, 4)[1], official)


def test_evaluate_command_writes_the_table_with_unavailable_metrics_noted(models, tmp_path, basicsr_main):
    gt_dir = tmp_path / 'gt'
    gt_dir.mkdir()
    for name in ('chelsea', 'coffee'):
        cv2.imwrite(str(gt_dir / f'{name}.png'), bgr(name, (66, 50)))  # not a multiple of 4: cropped
    out = tmp_path / 'eval'
    result = basicsr_main(['evaluate', '-m', str(models['experiment']), '--data', f'mini={gt_dir}', '--metrics',
                          'psnr', 'piqe', 'lpips', '-o', str(out), '-q'], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    table = (out / 'results.md').read_text()
    assert '| mini | 2 |' in table and "lpips: unavailable (pyiqa metric 'lpips' cannot be built" in table
    rows = {(r['test_set'], r['metric']): r for r in csv.DictReader(open(out / 'results.csv'))}
    assert rows[('mini', 'lpips')]['value'] == '' and rows[('mini', 'piqe')]['value']
    # PSNR-Y recomputed independently: BasicSR's function on the model's output for the bicubic LR
    from basicsr.metrics import calculate_psnr

    from sfd_basicsr.inference import Upscaler, load_generator
    from sfd_basicsr.data.bicubic import bicubic_lr
    upscaler = Upscaler(load_generator(models['experiment']), 'cpu')
    psnrs = []
    for name in ('chelsea', 'coffee'):
        gt, lr = bicubic_lr(cv2.imread(str(gt_dir / f'{name}.png')), 4)
        psnrs.append(calculate_psnr(upscaler.upscale_array(lr), gt, 4, test_y_channel=True))
    assert float(rows[('mini', 'PSNR-Y')]['value']) == pytest.approx(np.mean(psnrs), abs=1e-5)


@pytest.mark.slow
def test_evaluate_under_torchrun_gives_the_single_process_table(models, tmp_path, basicsr_main):
    gt_dir = tmp_path / 'gt'
    gt_dir.mkdir()
    for name in ('chelsea', 'coffee', 'astronaut'):
        cv2.imwrite(str(gt_dir / f'{name}.png'), bgr(name, (48, 40)))
    args = ['evaluate', '-m', str(models['experiment']), '--data', f'mini={gt_dir}', '--metrics', 'piqe', '-q',
            '--device', 'cpu']
    single = basicsr_main(args + ['-o', str(tmp_path / 'one')], cwd=tmp_path)
    assert single.returncode == 0, single.stderr[-3000:]
    split = torchrun([command_path('basicsr')] + args + ['-o', str(tmp_path / 'two')], cwd=tmp_path)
    assert split.returncode == 0, split.stderr[-3000:]
    assert 'mini: 3 image(s) on 2 processes (2, 1)' in split.stderr
    assert split.still_joined == [], 'every process leaves its process group before it exits (gloo can abort it)'
    rows = {run: {(r['test_set'], r['metric']): r['value']
                  for r in csv.DictReader(open(tmp_path / run / 'results.csv'))} for run in ('one', 'two')}
    columns = ('PSNR-Y', 'SSIM-Y', 'piqe', 'images', 'skipped')
    assert set(rows['one']) == set(rows['two']) == {('mini', column) for column in columns}
    assert rows['two'][('mini', 'images')] == '3' and rows['two'][('mini', 'skipped')] == '0'
    for key, value in rows['one'].items():
        assert float(rows['two'][key]) == pytest.approx(float(value), rel=1e-5), key
    assert '| mini | 3 |' in (tmp_path / 'two' / 'results.md').read_text()


def test_evaluate_skips_unreadable_and_too_small_images_scores_the_rest_and_exits_1(models, tmp_path, basicsr_main):
    gt_dir = tmp_path / 'gt'
    gt_dir.mkdir()
    for name in ('chelsea', 'coffee'):
        cv2.imwrite(str(gt_dir / f'{name}.png'), bgr(name, (48, 40)))
    cv2.imwrite(str(gt_dir / 'cut.jpg'), bgr('astronaut', (48, 40)))
    data = (gt_dir / 'cut.jpg').read_bytes()
    (gt_dir / 'cut.jpg').write_bytes(data[:len(data) // 2])
    cv2.imwrite(str(gt_dir / 'dot.png'), np.zeros((1, 1, 3), np.uint8))
    cv2.imwrite(str(gt_dir / 'tiny.png'), np.zeros((3, 3, 3), np.uint8))
    cv2.imwrite(str(gt_dir / 'odd.png'), bgr('astronaut', (19, 19)))  # 16x16 once cropped to a multiple of 4
    float_gt = bgr('rocket', (48, 40)).astype(np.float32) / 255
    cv2.imwrite(str(gt_dir / 'float.tif'), float_gt)
    (gt_dir / 'unreadable.png').write_bytes(b'\x89PNG\r\n\x1a\n garbage IEND')
    out = tmp_path / 'eval'
    result = basicsr_main(['evaluate', '-m', str(models['experiment']), '--data', f'mini={gt_dir}', '--metrics', '-o',
                          str(out), '-q'], cwd=tmp_path)
    assert result.returncode == 1, result.stderr[-3000:]
    assert 'Traceback' not in result.stderr
    table = (out / 'results.md').read_text()
    assert '| mini | 3 |' in table, table  # chelsea, coffee and the float TIFF, as 8-bit
    for name, why in (('cut.jpg', 'truncated JPEG'), ('dot.png', '1x1 is too small'), ('tiny.png', '3x3 is too small'),
                      ('unreadable.png', 'not a readable image'), ('odd.png', '16x16 (the GT cropped to the')):
        assert f'{name} (' in table and why in table, name
        assert any(name in line and why in line for line in result.stderr.splitlines()), name
    rows = {r['metric']: r for r in csv.DictReader(open(out / 'results.csv'))}
    assert rows['images']['value'] == '3' and rows['skipped']['value'] == '5'
    # the float TIFF is scored as the 8-bit image it rounds to: BasicSR's PSNR on that, independently
    from basicsr.metrics import calculate_psnr

    from sfd_basicsr.inference import Upscaler, load_generator
    from sfd_basicsr.data.bicubic import bicubic_lr
    upscaler = Upscaler(load_generator(models['experiment']), 'cpu')
    psnrs = []
    for gt in (cv2.imread(str(gt_dir / 'chelsea.png')), cv2.imread(str(gt_dir / 'coffee.png')),
               (float_gt * 255).round().astype(np.uint8)):
        gt, lr = bicubic_lr(gt, 4)
        psnrs.append(calculate_psnr(upscaler.upscale_array(lr), gt, 4, test_y_channel=True))
    assert float(rows['PSNR-Y']['value']) == pytest.approx(np.mean(psnrs), abs=1e-5)


def test_evaluate_into_a_read_only_folder_stops_before_any_work(models, read_only_folder, tmp_path, basicsr_main):
    gt_dir = tmp_path / 'gt'
    gt_dir.mkdir()
    cv2.imwrite(str(gt_dir / 'chelsea.png'), bgr('chelsea', (48, 40)))
    result = basicsr_main(['evaluate', '-m', str(models['experiment']), '--data', f'mini={gt_dir}', '--metrics', '-o',
                          str(read_only_folder / 'eval'), '-q'], cwd=tmp_path)
    assert result.returncode == 1 and 'read-only file system' in result.stderr and 'Traceback' not in result.stderr


def distortion_set(folder):
    """Photos blurred at five levels; MOS = 5 - level (what a viewer would say, roughly)."""
    folder.mkdir()
    rows = []
    for name in ('astronaut', 'coffee', 'chelsea'):
        image = bgr(name, (160, 128))
        for level in range(5):
            blurred = cv2.GaussianBlur(image, (0, 0), 0.1 + 1.2 * level) if level else image
            cv2.imwrite(str(folder / f'{name}_{level}.png'), blurred)
            rows.append((f'{name}_{level}.png', 5 - level))
    with open(folder / 'mos.csv', 'w', newline='') as f:
        csv.writer(f).writerows([('image_name', 'mos')] + rows)
    return folder / 'mos.csv'


def test_correlations_are_pyiqas_on_oriented_scores(tmp_path):
    from sfd_basicsr.iqa.correlate import correlate, read_mos_csv
    mos_file = distortion_set(tmp_path / 'blur')
    pairs, missing = read_mos_csv(mos_file, tmp_path / 'blur')
    assert len(pairs) == 15 and not missing
    results, unavailable, scores = correlate(pairs, ['piqe', 'niqe'], 'cpu', progress=False)
    assert 'niqe' in unavailable and 'cannot be built' in unavailable['niqe']
    mos = [m for _, m in pairs]
    oriented = -np.array(scores['piqe'])  # lower is better for PIQE
    assert results['piqe']['srocc'] == pytest.approx(stats.spearmanr(oriented, mos)[0], abs=1e-9)
    assert results['piqe']['krcc'] == pytest.approx(stats.kendalltau(oriented, mos)[0], abs=1e-9)
    assert results['piqe']['plcc'] == pytest.approx(stats.pearsonr(oriented, mos)[0], abs=1e-9)
    assert results['piqe']['seconds_per_image'] > 0


@needs_shared
def test_correlate_command_on_the_tid2013_subset_and_as_a_pyiqa_dataset(tmp_path, sfd_iqa_main):
    subset = os.path.join(SHARED, 'tid2013_subset')
    command = ['correlate', '--metrics', 'piqe', 'niqe', '-q']
    by_csv = sfd_iqa_main(command + ['--images', os.path.join(subset, 'dist'), '--mos',
                                     os.path.join(subset, 'mos_present.csv')])
    assert by_csv.returncode == 0, by_csv.stderr[-2000:]
    assert '3 images' in by_csv.stdout and '| piqe |' in by_csv.stdout and '| niqe | unavailable' in by_csv.stdout
    # the same three images laid out as pyiqa's TID2013 dataset under a local data_root
    root = tmp_path / 'datasets'
    (root / 'meta_info').mkdir(parents=True)
    shutil.copytree(os.path.join(subset, 'dist'), root / 'tid2013' / 'distorted_images')
    shutil.copytree(os.path.join(subset, 'ref'), root / 'tid2013' / 'reference_images')
    rows = list(csv.DictReader(open(os.path.join(subset, 'mos_present.csv'))))
    with open(root / 'meta_info' / 'meta_info_TID2013Dataset.csv', 'w', newline='') as f:
        csv.writer(f).writerows([('ref_name', 'dist_name', 'mos')] +
                                [(r['ref_image'], r['image_name'], r['mos']) for r in rows])
    by_dataset = sfd_iqa_main(command + ['--dataset', 'tid2013', '--data-root', str(root)])
    assert by_dataset.returncode == 0, by_dataset.stderr[-2000:]
    correlations = [line for line in by_csv.stdout.splitlines() if line.startswith('| piqe |')][0].rsplit('|', 2)[0]
    assert correlations in by_dataset.stdout  # the same SROCC, PLCC, KRCC (seconds per image differ)


def test_correlate_lists_absent_images_needs_three_and_takes_the_sfd_iqa_weights_given(tmp_path, monkeypatch):
    from helpers.iqa import random_sfd_iqa_weights
    from sfd_basicsr.iqa.correlate import correlate, read_mos_csv
    mos_file = distortion_set(tmp_path / 'blur')
    with open(mos_file, 'a', newline='') as f:
        csv.writer(f).writerows([('gone_1.png', 2.0), ('gone_2.png', 3.0)])
    pairs, missing = read_mos_csv(mos_file, tmp_path / 'blur')
    assert len(pairs) == 15 and [os.path.basename(path) for path, _ in missing] == ['gone_1.png', 'gone_2.png']
    with pytest.raises(ValueError, match='at least 3 images with MOS; found 2'):
        correlate(pairs[:2], ['piqe'], 'cpu', progress=False)
    monkeypatch.delenv('SFD_IQA_WEIGHTS', raising=False)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))  # no default SFD-IQA weights there
    weights = random_sfd_iqa_weights(tmp_path)[2]
    results, unavailable, _ = correlate(pairs[:4], ['sfd_iqa'], 'cpu', weights=str(weights), progress=False)
    assert 'sfd_iqa' in results and not unavailable


def test_correlate_command_name_and_score_columns(tmp_path, sfd_iqa_main):
    distortion_set(tmp_path / 'blur')
    with open(tmp_path / 'blur' / 'mos.csv') as f:
        rows = list(csv.reader(f))[1:]
    with open(tmp_path / 'odd.csv', 'w', newline='') as f:  # column names no detector knows
        csv.writer(f).writerows([('picture', 'quality')] + rows)
    command = ['correlate', '--images', str(tmp_path / 'blur'), '--mos', str(tmp_path / 'odd.csv'), '--metrics', 'piqe',
               '-q']
    refused = sfd_iqa_main(command)
    assert refused.returncode == 2 and 'cannot tell the image-name and score columns apart' in refused.stderr
    given = sfd_iqa_main(command + ['--name-column', 'picture', '--score-column', 'quality'])
    assert given.returncode == 0, given.stderr[-2000:]
    assert '15 images' in given.stdout and '| piqe |' in given.stdout


def test_evaluate_command_scores_given_lr_folders_whole_or_in_tiles(models, tmp_path, basicsr_main):
    from basicsr.metrics import calculate_psnr, calculate_ssim

    from sfd_basicsr.inference import Upscaler, load_generator
    gt_dir, lq_dir = tmp_path / 'gt', tmp_path / 'lq'
    gt_dir.mkdir(), lq_dir.mkdir()
    rng = np.random.default_rng(9)
    gt = bgr('coffee', (320, 256))
    lq = rng.integers(0, 256, (64, 80, 3), np.uint8)  # an LR that is no bicubic of the GT: taken as it is
    cv2.imwrite(str(gt_dir / 'coffee.png'), gt)
    cv2.imwrite(str(lq_dir / 'coffee.png'), lq)
    generator = load_generator(models['experiment'])
    psnr = {}
    for tile, pad in ((0, 16), (8, 16), (8, 2)):
        out = tmp_path / f'tile_{tile}_{pad}'
        result = basicsr_main(['evaluate', '-m', str(models['experiment']), '--data', f'given={gt_dir}:{lq_dir}',
                              '--metrics', 'psnr', '--tile', str(tile), '--tile-pad', str(pad), '-o', str(out), '-q'],
                              cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
        rows = {r['metric']: r['value'] for r in csv.DictReader(open(out / 'results.csv'))}
        sr = Upscaler(generator, 'cpu', tile=tile, tile_pad=pad).upscale_array(lq)
        psnr[tile, pad] = float(rows['PSNR-Y'])
        assert psnr[tile, pad] == pytest.approx(calculate_psnr(sr, gt, 4, test_y_channel=True), abs=1e-5)
        assert float(rows['SSIM-Y']) == pytest.approx(calculate_ssim(sr, gt, 4, test_y_channel=True), abs=1e-6)
        how = f'in tiles of 8 px with {pad} px of context' if tile else 'whole'  # the report says how it upscaled
        assert f'Upscaled {how}.' in (out / 'results.md').read_text()
    assert psnr[8, 2] != pytest.approx(psnr[8, 16], abs=1e-4), 'too little context shows at the seams'


def test_evaluate_with_bf16_scores_the_bfloat16_generator_and_says_so(models, tmp_path, basicsr_main):
    from basicsr.metrics import calculate_psnr

    from sfd_basicsr.inference import Upscaler, load_generator
    gt_dir, lq_dir = tmp_path / 'gt', tmp_path / 'lq'
    gt_dir.mkdir(), lq_dir.mkdir()
    gt = bgr('coffee', (96, 128))
    lq = np.random.default_rng(9).integers(0, 256, (32, 24, 3), np.uint8)
    cv2.imwrite(str(gt_dir / 'coffee.png'), gt)
    cv2.imwrite(str(lq_dir / 'coffee.png'), lq)
    result = basicsr_main(['evaluate', '-m', models['experiment'], '--data', f'given={gt_dir}:{lq_dir}', '--metrics',
                           'psnr', '--bf16', '-o', tmp_path / 'out', '-q'], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    psnr = float({r['metric']: r['value'] for r in csv.DictReader(open(tmp_path / 'out' / 'results.csv'))}['PSNR-Y'])
    in_bf16, in_float32 = (Upscaler(load_generator(models['experiment']), 'cpu', bf16=bf16).upscale_array(lq)
                           for bf16 in (True, False))  # a fresh load each: the Upscaler casts the network it gets
    assert psnr == pytest.approx(calculate_psnr(in_bf16, gt, 4, test_y_channel=True), abs=1e-5)
    assert psnr != pytest.approx(calculate_psnr(in_float32, gt, 4, test_y_channel=True), abs=1e-5)
    assert 'Upscaled whole, in bfloat16.' in (tmp_path / 'out' / 'results.md').read_text()


def test_evaluate_scores_sfd_iqa_with_the_weights_given(models, tmp_path, monkeypatch, basicsr_main):
    import pyiqa
    from helpers.iqa import random_sfd_iqa_weights

    from sfd_basicsr.inference import Upscaler, load_generator
    from sfd_basicsr.data.bicubic import bicubic_lr
    (tmp_path / 'weights').mkdir()
    *_, weights = random_sfd_iqa_weights(tmp_path / 'weights')
    monkeypatch.delenv('SFD_IQA_WEIGHTS', raising=False)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))  # no weights in pyiqa's default folder either
    gt_dir = tmp_path / 'gt'
    gt_dir.mkdir()
    for name in ('chelsea', 'coffee'):
        cv2.imwrite(str(gt_dir / f'{name}.png'), bgr(name, (96, 80)))
    command = ['evaluate', '-m', str(models['experiment']), '--data', f'mini={gt_dir}', '--metrics', 'sfd_iqa', '-q',
               '--device', 'cpu']
    given = basicsr_main(command + ['--weights', str(weights), '-o', str(tmp_path / 'given')], cwd=tmp_path)
    assert given.returncode == 0, given.stderr[-2000:]
    got = {r['metric']: r['value'] for r in csv.DictReader(open(tmp_path / 'given' / 'results.csv'))}
    assert got['sfd_iqa'] != '', (tmp_path / 'given' / 'results.md').read_text()  # scored, not unavailable
    metric = pyiqa.create_metric('sfd_iqa', pretrained_model_path=str(weights), device='cpu')
    upscaler = Upscaler(load_generator(models['experiment']), 'cpu')
    expected = [metric(to_tensor(upscaler.upscale_array(bicubic_lr(cv2.imread(str(gt_dir / f'{n}.png')), 4)[1])
                                 [4:-4, 4:-4])).item() for n in ('chelsea', 'coffee')]
    assert float(got['sfd_iqa']) == pytest.approx(np.mean(expected), rel=1e-4)
    absent = basicsr_main(command + ['-o', str(tmp_path / 'absent')], cwd=tmp_path)
    assert absent.returncode == 0, absent.stderr[-2000:]
    table = (tmp_path / 'absent' / 'results.md').read_text()
    assert "sfd_iqa: unavailable (pyiqa metric 'sfd_iqa' cannot be built" in table, table


@pytest.mark.slow
def test_under_torchrun_a_read_only_output_folder_stops_every_process_in_one_line(models, read_only_folder, tmp_path):
    gt_dir = tmp_path / 'gt'
    gt_dir.mkdir()
    for name in ('chelsea', 'coffee'):
        cv2.imwrite(str(gt_dir / f'{name}.png'), bgr(name, (48, 40)))
    result = torchrun([command_path('basicsr'), 'evaluate', '-m', str(models['experiment']), '--data',
                       f'mini={gt_dir}', '--metrics', '-o', str(read_only_folder / 'eval'), '-q', '--device', 'cpu'],
                      cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.count('read-only file system') == 1, 'said once, by rank 0'
    assert 'sfd_basicsr' not in result.stderr and 'all_gather' not in result.stderr, 'no process ends in a traceback'
    assert result.still_joined == [], 'every process leaves its process group before it exits (gloo can abort it)'
    assert not (tmp_path / 'eval').exists()


def test_the_smallest_gt_side_is_accepted_and_one_pixel_less_is_refused(models, tmp_path, basicsr_main):
    side = 2 * 4 + 11  # SSIM's 11x11 window inside a crop border of 4 (x4), worked out by hand
    gt_dir = tmp_path / 'gt'
    gt_dir.mkdir()
    cv2.imwrite(str(gt_dir / 'a18.png'), bgr('chelsea', (18, 18)))  # under the bound as read
    cv2.imwrite(str(gt_dir / 'b19.png'), bgr('coffee', (19, 19)))  # at it as read, 16 once cropped to x4
    cv2.imwrite(str(gt_dir / 'c20.png'), bgr('rocket', (20, 20)))  # the smallest multiple of 4 at or over it
    out = tmp_path / 'eval'
    result = basicsr_main(['evaluate', '-m', str(models['experiment']), '--data', f'mini={gt_dir}', '--metrics', '-o',
                           str(out), '-q'], cwd=tmp_path)
    assert result.returncode == 1
    assert f'a18.png: 18x18 is too small: PSNR/SSIM with crop border 4 need at least {side} pixels a side.' \
        in result.stderr
    assert f'b19.png: the scored area, 16x16 (the GT cropped to the 16x16 output), is too small: at least {side} ' \
           'pixels a side.' in result.stderr
    assert 'c20.png' not in result.stderr and '| mini | 1 |' in (out / 'results.md').read_text()


def test_the_table_arrows_are_pyiqas_own_directions(models, tmp_path, basicsr_main):
    import pyiqa
    gt_dir = tmp_path / 'gt'
    gt_dir.mkdir()
    cv2.imwrite(str(gt_dir / 'a.png'), bgr('chelsea', (64, 64)))
    metrics = ['psnr', 'piqe', 'ssim']
    out = tmp_path / 'eval'
    result = basicsr_main(['evaluate', '-m', str(models['experiment']), '--data', f'mini={gt_dir}', '--metrics',
                           *metrics, '-o', str(out), '-q'], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    header = (out / 'results.md').read_text().splitlines()
    header = next(line for line in header if line.startswith('| test set'))
    for metric in metrics:
        expected = '↓' if pyiqa.create_metric(metric, device='cpu').lower_better else '↑'
        assert f'| {metric} {expected} |' in header, (metric, header)
    assert '| PSNR-Y ↑ |' in header and '| SSIM-Y ↑ |' in header


def test_a_table_that_cannot_be_written_exits_non_zero_and_keeps_nothing_half_written(models, tmp_path,
                                                                                     basicsr_main, fail_writes):
    gt_dir = tmp_path / 'gt'
    gt_dir.mkdir()
    cv2.imwrite(str(gt_dir / 'a.png'), bgr('chelsea', (64, 64)))
    fail_writes('results.md', 10, OSError(28, 'No space left on device'))
    out = tmp_path / 'eval'
    result = basicsr_main(['evaluate', '-m', str(models['experiment']), '--data', f'mini={gt_dir}', '--metrics', '-o',
                           str(out), '-q'], cwd=tmp_path)
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith('basicsr evaluate: stopped: cannot write ')
    assert 'results.md' not in os.listdir(out)


@pytest.mark.parametrize('count, warned', [(9, True), (10, False)])
def test_correlate_warns_below_ten_images(count, warned, tmp_path, capsys):
    from sfd_basicsr.iqa.correlate import correlate, read_mos_csv
    mos_file = distortion_set(tmp_path / 'blur')
    pairs, _ = read_mos_csv(mos_file, tmp_path / 'blur')
    correlate(pairs[:count], ['piqe'], 'cpu', progress=False)
    said = capsys.readouterr().err
    assert (f'sfd-iqa correlate: warning: only {count} images with MOS; correlations of so few points mean little'
            in said) is warned


def test_evaluate_skips_a_gt_whose_given_lr_is_not_its_own(models, tmp_path, basicsr_main):
    """A GT may exceed the x4 output of its LR by 0-3 pixels a side (modcrop); a larger or smaller one is another
    image's LR: skipped by name, never scored against a corner of the GT."""
    gt_dir, lq_dir = tmp_path / 'gt', tmp_path / 'lq'
    gt_dir.mkdir(), lq_dir.mkdir()
    rng = np.random.default_rng(3)
    for name, gt_size, lq_size in (('modcrop', 131, 32), ('smaller_lr', 130, 30), ('larger_lr', 130, 40),
                                   ('one_scale_over', 132, 32)):
        cv2.imwrite(str(gt_dir / f'{name}.png'), rng.integers(0, 256, (gt_size, gt_size, 3), np.uint8))
        cv2.imwrite(str(lq_dir / f'{name}.png'), rng.integers(0, 256, (lq_size, lq_size, 3), np.uint8))
    out = tmp_path / 'eval'
    result = basicsr_main(['evaluate', '-m', str(models['experiment']), '--data', f'given={gt_dir}:{lq_dir}',
                          '--metrics', '-o', str(out), '-q'], cwd=tmp_path)
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert '| given | 1 |' in (out / 'results.md').read_text()
    for name, expected in (('smaller_lr', 'the GT (130x130) does not match the x4 output of its LR (30x30 -> 120x120): '
                                          'a GT of 120-123 x 120-123 pixels was expected'),
                           ('larger_lr', 'the GT (130x130) does not match the x4 output of its LR (40x40 -> 160x160)'),
                           ('one_scale_over', 'the GT (132x132) does not match the x4 output of its LR (32x32 -> ')):
        assert any(f'{name}.png' in line and expected in line for line in result.stderr.splitlines()), name
