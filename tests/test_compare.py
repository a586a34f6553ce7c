"""``basicsr compare`` through the command (commands/compare.py): every option, and every refusal in one line with
its exit code before any page is written."""
import csv
import os

import cv2
import pytest

from helpers.compare import NAMES


@pytest.fixture(scope='module')
def folders(compare_results):
    """The fixture's folders as the command's words: runs as NAME=DIR."""
    return dict(compare_results, runs=[f'{name}={folder}' for name, folder in compare_results['runs'].items()])


@pytest.fixture(autouse=True)
def _no_default_weights(tmp_path, monkeypatch):
    """SFD-IQA only where a test gives --weights: none in $SFD_IQA_WEIGHTS or pyiqa's folder."""
    monkeypatch.delenv('SFD_IQA_WEIGHTS', raising=False)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))


def metrics_csv(folder):
    rows = csv.DictReader(open(folder / 'metrics.csv'))
    return {(r['image'], r['pane'], r['metric']): float(r['value']) for r in rows}


def test_a_page_with_figure_crops_and_chosen_metrics(folders, tmp_path, basicsr_main):
    out = tmp_path / 'page'
    result = basicsr_main(['compare', '-o', out, '--gt', folders['gt'], '--lr', folders['lr'], *folders['runs'],
                           '--metrics', 'piqe', '--weights', folders['weights'], '--crop', 'coffee=4,4,20,20',
                           '--crops', '1',
                           '--figure', 'coffee', 'chelsea', '--figure-metric', 'SSIM-Y', '--device', 'cpu', '-q'])
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.strip().endswith(f"wrote {out / 'index.html'} and {out / 'figure.png'} and "
                                          f"{out / 'figure.pdf'}")
    assert 'compare:' not in result.stderr.replace('basicsr compare:', ''), 'no progress bar with -q'
    values = metrics_csv(out)
    assert {key for _, _, key in values} == {'PSNR-Y', 'SSIM-Y', 'sfd_iqa', 'piqe'}
    assert (out / 'index.html').is_file()
    html = (out / 'index.html').read_text()
    article = html.split('data-name="coffee"')[1].split('</article>')[0]
    assert article.count('<br>auto</small>') == 1 and '4,4 20x20<br>--crop' in article
    figure = cv2.imread(str(out / 'figure.png'))
    assert figure is not None and figure.shape[1] > figure.shape[0]
    assert (out / 'figure.pdf').read_bytes().startswith(b'%PDF')


def test_scale_sets_the_crop_border_of_psnr(folders, tmp_path, basicsr_main):
    from basicsr.metrics import calculate_psnr
    command = ['compare', '--gt', folders['gt'], *folders['runs'], '--metrics', '-q']  # no --lr: the scale is unknown
    unknown = basicsr_main(command + ['-o', tmp_path / 'unknown'])
    assert unknown.returncode == 0, unknown.stderr[-2000:]
    assert 'PSNR/SSIM without a crop border: the scale is unknown (give --lr or --scale).' in unknown.stderr
    given = basicsr_main(command + ['-o', tmp_path / 'given', '--scale', '8'])
    assert given.returncode == 0 and 'the scale is unknown' not in given.stderr
    run = folders['runs'][0].split('=')[1]
    name = NAMES[0]
    sr = cv2.imread(os.path.join(run, f'{name}_{os.path.basename(run)}.png'))
    gt = cv2.imread(os.path.join(folders['gt'], f'{name}.png'))
    label = os.path.basename(run)
    for folder, border in (('unknown', 0), ('given', 8)):
        assert metrics_csv(tmp_path / folder)[name, label, 'PSNR-Y'] == pytest.approx(
            calculate_psnr(sr, gt, border, test_y_channel=True))


def test_a_metric_that_cannot_be_built_is_named_and_the_page_still_builds(folders, tmp_path, basicsr_main):
    # lpips is a pyiqa metric whose weights are a download, which this offline suite cannot make
    result = basicsr_main(['compare', '-o', tmp_path / 'page', *folders['runs'], '--gt', folders['gt'], '--metrics',
                           'lpips', '--figure', 'coffee', '--figure-metric', 'lpips', '-q'])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "lpips: unavailable (pyiqa metric 'lpips' cannot be built" in result.stderr
    assert 'figure: lpips is unavailable, so the figure shows PSNR-Y under its crops.' in result.stderr
    assert "lpips: unavailable" in (tmp_path / 'page' / 'index.html').read_text()


def test_a_figure_metric_the_page_does_not_compute_is_refused_before_any_work(folders, tmp_path, basicsr_main):
    out = tmp_path / 'page'
    refused = basicsr_main(['compare', '-o', out, *folders['runs'], '--metrics', 'piqe', '--figure',
                            '--figure-metric', 'niqe', '-q'])
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[-1].endswith(
        "--figure-metric 'niqe': not a metric of this page (it has PSNR-Y, SSIM-Y, sfd_iqa, piqe; add it to "
        '--metrics).')
    assert not out.exists()


def test_an_unreadable_image_gives_exit_1_with_the_page_built(folders, tmp_path, basicsr_main):
    import shutil
    run = tmp_path / 'run'
    shutil.copytree(folders['runs'][1].split('=')[1], run)
    victim = sorted(run.iterdir())[0]
    victim.write_bytes(b'not an image')
    result = basicsr_main(['compare', '-o', tmp_path / 'page', folders['runs'][0], f'Broken={run}', '-q'])
    assert result.returncode == 1
    assert f'could not be read: {victim}: ' in result.stderr and (tmp_path / 'page' / 'index.html').is_file()


@pytest.mark.parametrize('words, message', [
    (['A={gt}'], 'basicsr compare: give two or more result folders (NAME=DIR NAME=DIR ...).'),
    (['A', 'B={gt}'], "basicsr compare: run 'A': expected NAME=FOLDER"),
    (['A={gt}', 'B={tmp}/absent'], "basicsr compare: run B: folder '{tmp}/absent' does not exist."),
    (['A={gt}', 'B={gt}', '--gt', '{tmp}/absent'], "basicsr compare: --gt '{tmp}/absent': no such folder."),
    (['A={gt}', 'B={gt}', '--crop', 'astronaut=1,2'],
     "basicsr compare: --crop 'astronaut=1,2': expected IMAGE=X,Y,W,H"),
    (['A={gt}', 'B={gt}', '--crop', 'nobody=1,2,8,8'], "basicsr compare: --crop nobody=...: no compared image is "
                                                       "named 'nobody'"),
    (['A={gt}', 'B={gt}', '--figure', 'nobody'], 'basicsr compare: --figure: no compared image is named nobody.'),
    (['A={gt}', 'B={gt}', '--weights', '{tmp}/absent.pth'], "basicsr compare: SFD-IQA weights not found at "
                                                            "'{tmp}/absent.pth'"),
])
def test_bad_input_is_refused_in_one_line_before_any_page(words, message, folders, tmp_path, basicsr_main):
    words = [word.format(gt=folders['gt'], tmp=tmp_path) for word in words]
    result = basicsr_main(['compare', '-o', tmp_path / 'page', *words, '-q'])
    assert result.returncode == 2
    assert result.stderr.startswith(message.format(tmp=tmp_path)) and len(result.stderr.splitlines()) == 1, \
        result.stderr
    assert not (tmp_path / 'page' / 'index.html').exists()


@pytest.mark.parametrize('option, value, message', [
    ('--scale', '0', "argument --scale: expected a positive whole number, got '0'"),
    ('--crops', '-1', "argument --crops: expected a whole number (0: none), got '-1'"),
])
def test_a_bad_number_is_refused_by_the_parser(option, value, message, folders, tmp_path, basicsr_main):
    result = basicsr_main(['compare', '-o', tmp_path / 'page', *folders['runs'], option, value])
    assert result.returncode == 2 and message in result.stderr


def test_crops_0_chooses_none(folders, tmp_path, basicsr_main):
    result = basicsr_main(['compare', '-o', tmp_path / 'page', *folders['runs'], '--crops', '0', '--metrics', '-q'])
    assert result.returncode == 0 and '<table class="crops">' not in (tmp_path / 'page' / 'index.html').read_text()


def test_a_read_only_output_folder_stops_before_any_work(folders, read_only_folder, basicsr_main):
    result = basicsr_main(['compare', '-o', read_only_folder / 'page', *folders['runs'], '-q'])
    assert result.returncode == 1
    assert result.stderr.strip() == (f"basicsr compare: stopped: -o '{read_only_folder / 'page'}': "
                                     f"{read_only_folder / 'page'} is on a read-only file system.")


def test_a_full_disk_stops_the_page_in_one_line_and_leaves_no_index(folders, tmp_path, fail_writes, basicsr_main):
    import errno
    fail_writes('figure.pdf', 100, OSError(errno.ENOSPC, 'No space left on device'))
    out = tmp_path / 'page'
    result = basicsr_main(['compare', '-o', out, *folders['runs'], '--figure', '-q', '--metrics'])
    assert result.returncode == 1
    assert result.stderr.startswith(f"basicsr compare: stopped: cannot write '{out / 'figure.pdf'}': no space left "
                                    'on device') and len(result.stderr.splitlines()) == 1, result.stderr
    assert not (out / 'index.html').exists() and not (out / 'figure.pdf').exists()
