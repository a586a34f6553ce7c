"""How long `basicsr compare` takes to build a 100-image, 3-run page on the CPU, how heavy the page is, and how fast
it opens in Chromium.

    python benchmarks/bench_compare.py                  # 100 images of 256x256, 3 runs, GT and LR (a few minutes)
    python benchmarks/bench_compare.py --images 20 --no-sfd-iqa

Images are generated: crops of `skimage.data` photos at seeded positions and scales (GT), their MATLAB-bicubic x4
LR, and three runs (OpenCV's bicubic, Lanczos and nearest upscaling of the LR), named as BasicSR names outputs.
Two builds: PSNR/SSIM-Y only, and with SFD-IQA and its realness maps (random-weight Feat-D/TG-D on a random CLIP:
the cost of the network, not its judgement). The page's weight is index.html alone (what opens first) and the whole
folder (the full-size copies, thumbnails and maps it links). Opening: Chromium headless from file://, the time to
the load event and the bytes of the images it fetched by then (lazy loading: one image's panes and the thumbnails).
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_sfd import make_weights  # noqa: E402
from report import machine, median, write_section  # noqa: E402

PHOTOS = ('astronaut', 'chelsea', 'coffee', 'rocket', 'immunohistochemistry', 'hubble_deep_field', 'coins', 'camera')


def write_data(folder, images, size):
    """``(gt, lr, [(run, folder)])`` of ``images`` generated crops."""
    import cv2
    import numpy as np
    import skimage.data

    from sfd_basicsr.data.bicubic import bicubic_lr
    rng = np.random.default_rng(0)
    photos = []
    for name in PHOTOS:
        photo = getattr(skimage.data, name)()
        photos.append(cv2.cvtColor(photo, cv2.COLOR_GRAY2BGR if photo.ndim == 2 else cv2.COLOR_RGB2BGR))
    folders = {kind: os.path.join(folder, kind) for kind in ('gt', 'lr', 'Cubic', 'Lanczos', 'Nearest')}
    for path in folders.values():
        os.makedirs(path, exist_ok=True)
    runs = {'Cubic': cv2.INTER_CUBIC, 'Lanczos': cv2.INTER_LANCZOS4, 'Nearest': cv2.INTER_NEAREST}
    for index in range(images):
        photo = photos[index % len(photos)]
        side = int(rng.integers(size, min(photo.shape[:2]) + 1))
        y, x = (int(rng.integers(0, photo.shape[i] - side + 1)) for i in (0, 1))
        gt, lr = bicubic_lr(cv2.resize(photo[y:y + side, x:x + side], (size, size), interpolation=cv2.INTER_AREA), 4)
        name = f'img{index:03d}'
        cv2.imwrite(os.path.join(folders['gt'], f'{name}.png'), gt)
        cv2.imwrite(os.path.join(folders['lr'], f'{name}x4.png'), lr)
        for run, interpolation in runs.items():
            cv2.imwrite(os.path.join(folders[run], f'{name}_{run}.png'),
                        cv2.resize(lr, None, fx=4, fy=4, interpolation=interpolation))
    return folders['gt'], folders['lr'], [(run, folders[run], None) for run in runs]


def folder_size(folder):
    total = count = 0
    for root, _, files in os.walk(folder):
        for file in files:
            total += os.path.getsize(os.path.join(root, file))
            count += 1
    return total, count


def open_in_chromium(index):
    """``(seconds to the load event, bytes of the files fetched by then, their count)``, or None without Chromium or
    selenium."""
    import json
    from urllib.parse import unquote, urlparse
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None
    binary, driver_path = shutil.which('chromium'), shutil.which('chromedriver')
    if not (binary and driver_path):
        return None
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--window-size=1300,1800'):
        options.add_argument(argument)
    options.set_capability('goog:loggingPrefs', {'performance': 'ALL'})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        times = []
        for _ in range(3):
            driver.get('about:blank')
            driver.get_log('performance')
            driver.get(f'file://{os.path.abspath(index)}')
            times.append(driver.execute_script('var t = performance.timing; return t.loadEventEnd - t.navigationStart')
                         / 1000)
            urls = {json.loads(e['message'])['message']['params']['request']['url']
                    for e in driver.get_log('performance')
                    if json.loads(e['message'])['message']['method'] == 'Network.requestWillBeSent'}
    finally:
        driver.quit()
    paths = [unquote(urlparse(url).path) for url in urls if url.startswith('file://')]
    return median(times), sum(os.path.getsize(p) for p in paths if os.path.isfile(p)), len(paths)


def build(data, out, sfd_iqa, weights):
    from sfd_basicsr.inference.compare_page import build_compare_page
    gt, lr, runs = data
    started = time.perf_counter()
    report = build_compare_page(out, runs, gt, lr, metrics=[], weights=weights if sfd_iqa else None, device='cpu',
                                progress=False)
    return time.perf_counter() - started, report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--images', type=int, default=100)
    parser.add_argument('--size', type=int, default=256, help='GT side in pixels')
    parser.add_argument('--no-sfd-iqa', action='store_true', help='skip the build with SFD-IQA and its maps')
    parser.add_argument('--no-write', action='store_true', help='print only; leave docs/benchmarks.md as it is')
    args = parser.parse_args()
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    import sfd_basicsr  # noqa: F401  (before basicsr)
    root = tempfile.mkdtemp(prefix='bench_compare_')
    try:
        data = write_data(os.path.join(root, 'data'), args.images, args.size)
        weights = os.path.join(root, 'weights', 'models', 'sfd_iqa.pth')  # no options file two folders up
        os.makedirs(os.path.dirname(weights))
        make_weights(weights)
        rows = []
        os.environ.pop('SFD_IQA_WEIGHTS', None)
        os.environ['TORCH_HOME'] = os.path.join(root, 'torch')  # the first build: no SFD-IQA weights anywhere
        for label, sfd_iqa in (('PSNR/SSIM-Y', False), ('PSNR/SSIM-Y + SFD-IQA and maps', True)):
            if sfd_iqa and args.no_sfd_iqa:
                continue
            out = os.path.join(root, f'page_{int(sfd_iqa)}')
            seconds, report = build(data, out, sfd_iqa, weights)
            index_size = os.path.getsize(report.index)
            total, files = folder_size(out)
            opened = open_in_chromium(report.index)
            row = {'label': label, 'seconds': seconds, 'index_kb': index_size / 1024, 'total_mb': total / 2**20,
                   'files': files, 'opened': opened}
            print(f'RESULT {row}', flush=True)
            rows.append(row)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    lines = [f'## `basicsr compare` ({args.images} images of {args.size}x{args.size}, 3 runs, GT and LR, cpu)', '',
             f'{machine()}. `benchmarks/bench_compare.py`: generated images (crops of `skimage.data` photos, their '
             'bicubic x4 LR, three runs upscaled by OpenCV).', '',
             '| metrics | build | per image | index.html | whole folder | opens in Chromium (load event) | '
             'files read at opening (index.html included) |', '|---|---:|---:|---:|---:|---:|---:|']
    for row in rows:
        opened = row['opened']
        lines.append(f"| {row['label']} | {row['seconds']:.1f} s | {row['seconds'] / args.images * 1000:.0f} ms | "
                     f"{row['index_kb']:.0f} KB | {row['total_mb']:.1f} MB in {row['files']} files | "
                     + (f"{opened[0]:.2f} s | {opened[2]} files, {opened[1] / 2**20:.2f} MB |" if opened
                        else 'no Chromium here | - |'))
    markdown = '\n'.join(lines)
    print(markdown)
    if not args.no_write:
        write_section('compare', markdown)


if __name__ == '__main__':
    main()
