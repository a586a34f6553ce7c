"""The comparison page (inference/compare_page.py and its template, CSS and JS): its numbers against BasicSR's and
pyiqa's own functions on the files, its files on disk, and the page itself in a real browser (Debian's Chromium
through selenium) from file://, with screenshots left in the test's folder."""
import csv
import json
import os
import re
import shutil
from html.parser import HTMLParser

import cv2
import numpy as np
import pytest
import torch
from basicsr.metrics import calculate_psnr, calculate_ssim

from helpers.compare import NAMES
from sfd_basicsr.inference.compare_page import build_compare_page


def rgb_tensor(path):
    return torch.from_numpy(cv2.imread(str(path))[..., ::-1].astype(np.float32) / 255).permute(2, 0, 1)[None]


def build(results, folder, **options):
    runs = [(name, folder_, None) for name, folder_ in results['runs'].items()]
    options.setdefault('weights', results['weights'])
    return build_compare_page(str(folder), runs, results['gt'], results['lr'], device='cpu', progress=False,
                              **options)


@pytest.fixture(scope='module')
def results(compare_results):
    return compare_results


@pytest.fixture(scope='module')
def page(results):
    folder = results['root'] / 'page'
    report = build(results, folder, metrics=['piqe', 'psnr'], crops=[('chelsea', (8, 8, 24, 24))])
    return {'report': report, 'folder': folder, 'html': (folder / 'index.html').read_text()}


class Tables(HTMLParser):
    """``{table id: [(row's pane, [(cell text, classes)])]}`` and every ``src``/``href`` of the page."""

    def __init__(self):
        super().__init__()
        self.tables, self.links, self._table, self._row, self._cell = {}, [], None, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.links += [attrs[key] for key in ('src', 'href') if key in attrs]
        if tag == 'table':
            self._table = self.tables.setdefault(attrs.get('id') or f'table{len(self.tables)}', [])
        elif tag == 'tr' and self._table is not None and 'data-pane' in attrs:
            self._row = (attrs['data-pane'], [])
            self._table.append(self._row)
        elif tag == 'td' and self._row is not None:
            self._cell = ['', attrs.get('class') or '']

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[0] += data

    def handle_endtag(self, tag):
        if tag == 'td' and self._cell is not None:
            self._row[1].append(tuple(self._cell))
            self._cell = None
        elif tag == 'table':
            self._table, self._row = None, None


def parsed(html):
    tables = Tables()
    tables.feed(html)
    return tables


def expected_means(results):
    """PSNR/SSIM-Y of every pane from the files, by BasicSR's functions (crop border 4, the LR-to-GT scale)."""
    panes = {'Bicubic': lambda name: cv2.resize(cv2.imread(os.path.join(results['lr'], f'{name}.png')), None, fx=4,
                                                fy=4, interpolation=cv2.INTER_CUBIC)}
    for run, folder in results['runs'].items():
        panes[run] = lambda name, folder=folder, run=run: cv2.imread(os.path.join(folder, f'{name}_{run}.png'))
    means = {}
    for label, read in panes.items():
        pairs = [(read(name), cv2.imread(os.path.join(results['gt'], f'{name}.png'))) for name in NAMES]
        means[label] = {'PSNR-Y': np.mean([calculate_psnr(sr, gt, 4, test_y_channel=True) for sr, gt in pairs]),
                        'SSIM-Y': np.mean([calculate_ssim(sr, gt, 4, test_y_channel=True) for sr, gt in pairs])}
    return means


def test_the_means_are_basicsrs_psnr_and_ssim_on_y_of_the_files(page, results):
    expected = expected_means(results)
    for label, values in expected.items():
        for key, value in values.items():
            mean, count = page['report'].means[label][key]
            assert count == len(NAMES) and mean == pytest.approx(value, rel=1e-6), (label, key)
    assert page['report'].means['GT']['PSNR-Y'] == (None, 0)  # the reference is not scored against itself


def test_the_per_image_metrics_are_pyiqas_own_on_the_files(page, results):
    import pyiqa
    rows = list(csv.DictReader(open(page['folder'] / 'metrics.csv')))
    value = {(r['image'], r['pane'], r['metric']): float(r['value']) for r in rows}
    sfd_iqa = pyiqa.create_metric('sfd_iqa', pretrained_model_path=results['weights'], device='cpu')
    piqe = pyiqa.create_metric('piqe', device='cpu')
    psnr = pyiqa.create_metric('psnr', device='cpu')
    for name in NAMES:
        sr_path = os.path.join(results['runs']['Lanczos'], f'{name}_Lanczos.png')
        gt_path = os.path.join(results['gt'], f'{name}.png')
        assert value[name, 'Lanczos', 'sfd_iqa'] == pytest.approx(sfd_iqa(sr_path).item(), abs=1e-5)
        assert value[name, 'GT', 'sfd_iqa'] == pytest.approx(sfd_iqa(gt_path).item(), abs=1e-5)
        assert value[name, 'Lanczos', 'piqe'] == pytest.approx(piqe(sr_path).item(), abs=1e-3)
        cropped = psnr(rgb_tensor(sr_path)[..., 4:-4, 4:-4], rgb_tensor(gt_path)[..., 4:-4, 4:-4]).item()
        assert value[name, 'Lanczos', 'psnr'] == pytest.approx(cropped, abs=1e-4)  # full-reference: the crop border
    assert ('astronaut', 'GT', 'psnr') not in value


def test_the_best_of_each_column_is_marked_and_the_gt_never_is(page, results):
    contenders = expected_means(results)
    expected = {key: max(contenders, key=lambda label: contenders[label][key]) for key in ('PSNR-Y', 'SSIM-Y')}
    means = page['report'].means
    for column in ('sfd_iqa', 'piqe', 'psnr'):
        contenders = {label: means[label][column][0] for label in ('Bicubic', 'Lanczos', 'Nearest')}
        expected[column] = (min if column == 'piqe' else max)(contenders, key=contenders.get)  # piqe: lower is better
    rows = parsed(page['html']).tables['summary-table']
    assert re.findall(r'<th data-higher="(\d)" title="[^"]*">([^<]+?) [↑↓]</th>', page['html']) == [
        ('1', 'PSNR-Y'), ('1', 'SSIM-Y'), ('1', 'SFD-IQA'), ('0', 'piqe'), ('1', 'psnr')]
    columns = ['PSNR-Y', 'SSIM-Y', 'sfd_iqa', 'piqe', 'psnr']
    marked = {columns[i]: pane for pane, cells in rows for i, (_, classes) in enumerate(cells) if 'best' in classes}
    assert marked == expected
    assert [pane for pane, _ in rows] == ['Bicubic', 'Lanczos', 'Nearest', 'GT']
    # each image's own table: its best from metrics.csv (read back by the csv module)
    values = {(r['image'], r['pane'], r['metric']): float(r['value'])
              for r in csv.DictReader(open(page['folder'] / 'metrics.csv'))}
    for name in NAMES:
        table = parsed(page['html'].split(f'data-name="{name}"')[1].split('</article>')[0]).tables['table0']
        marked = {columns[i]: pane for pane, cells in table for i, (_, classes) in enumerate(cells)
                  if 'best' in classes}
        scores = {column: {pane: values[name, pane, column] for pane in ('Bicubic', 'Lanczos', 'Nearest')}
                  for column in columns}
        assert marked == {column: (min if column == 'piqe' else max)(by_pane, key=by_pane.get)
                          for column, by_pane in scores.items()}, name


def test_the_page_links_every_file_it_shows_and_needs_no_network(page):
    html, folder = page['html'], page['folder']
    links = parsed(html).links
    assert not re.search(r'https?:|//', ' '.join(links)), 'no link leaves the folder'
    assert 'data:image' not in html and '<script src' not in html and 'stylesheet' not in html
    files = [link for link in links if not link.startswith(('#', 'data:'))]
    assert files and all((folder / link).is_file() for link in files), [f for f in files if not (folder / f).is_file()]
    assert len(html) < 60_000, 'images are linked, not inlined'


def test_full_size_images_are_the_run_files_themselves(page, results):
    for run, folder in results['runs'].items():
        slug = next(name for name in os.listdir(page['folder'] / 'images') if name.endswith(f'_{run}'))
        for name in NAMES:
            copied = (page['folder'] / 'images' / slug / f'{name}.png').read_bytes()
            assert copied == open(os.path.join(folder, f'{name}_{run}.png'), 'rb').read()
    lr = cv2.imread(str(page['folder'] / 'images' / 'LR' / 'coffee.png'))
    assert np.array_equal(lr, cv2.imread(os.path.join(results['lr'], 'coffee.png')))


def test_thumbnails_are_small_and_a_map_is_written_for_every_pane(page):
    folder = page['folder']
    for name in NAMES:
        assert max(cv2.imread(str(folder / 'thumbs' / f'{name}.jpg')).shape[:2]) <= 128
    maps = sorted(os.listdir(folder / 'maps'))
    assert [len(os.listdir(folder / 'maps' / slug)) for slug in maps] == [len(NAMES)] * 4
    assert 'id="show-map" >' in page['html'] or 'id="show-map" ' in page['html']


def test_a_named_crop_comes_first_then_the_chosen_ones(page):
    article = page['html'].split('data-name="chelsea"')[1].split('</article>')[0]
    sources = re.findall(r'<small>(\d+),(\d+) (\d+)x(\d+)<br>([^<]+)</small>', article)
    assert sources[0] == ('8', '8', '24', '24', '--crop') and [s[4] for s in sources[1:]] == ['auto'] * 3


def test_without_weights_there_is_no_sfd_iqa_and_the_page_says_why(results, tmp_path, monkeypatch):
    monkeypatch.delenv('SFD_IQA_WEIGHTS', raising=False)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))  # nor in pyiqa's weight folder
    report = build(results, tmp_path / 'page', metrics=[], weights=None)
    html = (tmp_path / 'page' / 'index.html').read_text()
    assert 'No SFD-IQA and no realness map: no realness map either: SFD-IQA weights not found at' in html
    assert '<input type="checkbox" id="show-map" disabled>' in html
    assert 'class="map"' not in html and os.listdir(tmp_path / 'page' / 'maps' / '1_Lanczos') == []
    assert 'sfd_iqa' not in report.means['Lanczos']


def test_an_unreadable_image_is_named_and_the_page_still_builds(results, tmp_path):
    broken = dict(results, runs=dict(results['runs']))
    broken['runs']['Nearest'] = str(tmp_path / 'nearest')
    shutil.copytree(results['runs']['Nearest'], broken['runs']['Nearest'])
    bad = os.path.join(broken['runs']['Nearest'], 'chelsea_Nearest.png')
    data = open(bad, 'rb').read()
    open(bad, 'wb').write(data[:len(data) // 2])
    report = build(broken, tmp_path / 'page', metrics=[], weights=None)
    assert [path for path, _ in report.failures] == [bad]
    html = (tmp_path / 'page' / 'index.html').read_text()
    assert report.images == len(NAMES) and 'could not be read: ' in html and 'truncated PNG' in html
    assert report.means['Nearest']['PSNR-Y'][1] == len(NAMES) - 1


# ------------------------------------------------------------------ in a real browser

@pytest.fixture(scope='module')
def browser():
    """Debian's Chromium and its driver, headless; skips with the reason where they are absent."""
    webdriver = pytest.importorskip('selenium.webdriver', reason='selenium is not installed (pip install .[test])')
    from selenium.webdriver.chrome.service import Service
    binary = shutil.which('chromium') or shutil.which('chromium-browser') or shutil.which('google-chrome')
    driver_path = shutil.which('chromedriver')
    if not (binary and driver_path):
        pytest.skip('no Chromium and chromedriver here (Debian: apt-get install chromium chromium-driver)')
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu',
                     '--window-size=1300,1800', '--allow-file-access-from-files'):
        options.add_argument(argument)
    options.set_capability('goog:loggingPrefs', {'browser': 'ALL', 'performance': 'ALL'})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


@pytest.fixture
def opened(browser, page):
    browser.get((page['folder'] / 'index.html').as_uri())
    browser.execute_script('return document.readyState')
    browser.get_log('performance')  # from here on, what this test does
    return browser


def requested(driver):
    urls = []
    for entry in driver.get_log('performance'):
        message = json.loads(entry['message'])['message']
        if message['method'] == 'Network.requestWillBeSent':
            urls.append(message['params']['request']['url'])
    return urls


def article(driver):
    return driver.find_element('css selector', 'main article:not([hidden])')


def transforms(driver):
    return driver.execute_script("return Array.from(document.querySelectorAll('main article:not([hidden]) .layer'))"
                                 '.map(function (l) { return l.style.transform; })')


@pytest.mark.slow
def test_the_page_opens_from_disk_without_errors_or_network_and_loads_one_image_at_a_time(browser, page, tmp_path):
    browser.get_log('browser')
    browser.get((page['folder'] / 'index.html').as_uri())
    assert [entry for entry in browser.get_log('browser') if entry['level'] == 'SEVERE'] == []
    urls = requested(browser)
    assert urls and all(url.startswith('file://') for url in urls), [u for u in urls if not u.startswith('file://')]
    shown = [url for url in urls if '/images/' in url]
    assert shown and all(url.endswith('/astronaut.png') for url in shown), 'lazy: only the image shown is loaded'
    assert article(browser).get_attribute('data-name') == 'astronaut'
    browser.find_element('tag name', 'body').send_keys('\ue014')  # arrow right
    assert article(browser).get_attribute('data-name') == 'chelsea'
    browser.save_screenshot(str(tmp_path / 'page_chelsea.png'))
    browser.find_element('tag name', 'body').send_keys('\ue012')  # arrow left
    assert article(browser).get_attribute('data-name') == 'astronaut'
    assert [entry for entry in browser.get_log('browser') if entry['level'] == 'SEVERE'] == []
    assert all(url.startswith('file://') for url in requested(browser))
    assert os.path.getsize(tmp_path / 'page_chelsea.png') > 10_000


@pytest.mark.slow
def test_the_slider_follows_the_handle_when_dragged(opened, tmp_path):
    from selenium.webdriver import ActionChains
    view = article(opened).find_element('css selector', '.slider .view')
    handle = view.find_element('css selector', '.handle')
    width = view.rect['width']
    ActionChains(opened).click_and_hold(handle).move_by_offset(-width / 4, 0).release().perform()
    left = float(handle.value_of_css_property('left').removesuffix('px'))
    assert left == pytest.approx(width / 4, abs=3)
    clip = view.find_element('css selector', '.clip').get_attribute('style')
    assert float(re.search(r'inset\(0px ([\d.]+)%', clip).group(1)) == pytest.approx(75, abs=0.5)
    opened.save_screenshot(str(tmp_path / 'slider.png'))


@pytest.mark.slow
def test_a_zoom_on_one_pane_moves_every_pane(opened, tmp_path):
    from selenium.webdriver import ActionChains
    from selenium.webdriver.common.actions.wheel_input import ScrollOrigin
    assert set(transforms(opened)) == {'translate(0%, 0%) scale(1)'}
    panes = article(opened).find_elements('css selector', '.panes .view')
    opened.execute_script('arguments[0].scrollIntoView({block: "center"})', panes[1])
    ActionChains(opened).scroll_from_origin(ScrollOrigin.from_element(panes[1]), 0, -300).perform()
    zoomed = transforms(opened)
    assert len(set(zoomed)) == 1 and zoomed[0] != 'translate(0%, 0%) scale(1)', zoomed
    picture = panes[2].find_element('css selector', 'img.picture')
    shown = opened.execute_script('return arguments[0].getBoundingClientRect().width', picture)
    assert shown > panes[2].rect['width'] * 1.5, ('another pane shows its image enlarged', shown, zoomed)
    ActionChains(opened).click_and_hold(panes[0]).move_by_offset(30, 20).release().perform()
    panned = transforms(opened)
    assert len(set(panned)) == 1 and panned != zoomed
    opened.save_screenshot(str(tmp_path / 'zoomed.png'))


@pytest.mark.slow
def test_the_best_cell_is_marked_and_sorting_puts_it_first(opened, page):
    rows = opened.find_elements('css selector', '#summary-table tbody tr')
    best = [row.get_attribute('data-pane') for row in rows
            if 'best' in row.find_elements('css selector', 'td')[0].get_attribute('class')]
    means = page['report'].means
    assert best == [max(('Bicubic', 'Lanczos', 'Nearest'), key=lambda label: means[label]['PSNR-Y'][0])]
    header = opened.find_elements('css selector', '#summary-table thead th')[4]  # piqe: lower is better
    assert header.text.startswith('piqe')
    header.click()
    first = opened.find_element('css selector', '#summary-table tbody tr')
    assert first.get_attribute('data-pane') == min(('Bicubic', 'Lanczos', 'Nearest', 'GT'),
                                                   key=lambda label: means[label]['piqe'][0])


@pytest.mark.slow
def test_toggling_the_map_shows_it_over_every_pane(opened, tmp_path):
    maps = article(opened).find_elements('css selector', '.panes img.map')
    assert len(maps) == 4 and {m.value_of_css_property('display') for m in maps} == {'none'}
    opened.find_element('id', 'show-map').click()
    assert {m.value_of_css_property('display') for m in maps} == {'block'}
    assert all(opened.execute_script('return arguments[0].complete && arguments[0].naturalWidth', m) for m in maps)
    opened.save_screenshot(str(tmp_path / 'map.png'))
    opened.find_element('tag name', 'body').send_keys('m')
    assert {m.value_of_css_property('display') for m in maps} == {'none'}
