"""``basicsr compare``: result folders side by side in one page that works from disk (docs/inference.md).

    basicsr compare -o page/ --gt Set5/GTmod12 --lr Set5/LRbicx4 ESRGAN=results/ESRGAN/visualization/Set5 \\
        SFD=results/SFD/visualization/Set5 --weights sfd_iqa.pth

The folder gets ``index.html`` (its CSS and JS inside it, no network), ``images/<pane>/`` (every image at full
size, linked from the page), ``thumbs/``, ``maps/<pane>/`` (SFD-IQA realness maps) and ``metrics.csv``. Images are
matched by name (``compare_match``), scored (``compare_metrics``) and cropped where the runs differ most
(``compare_crops``); an image that cannot be read is named on the page and in the result, and the page still
builds.
"""
import datetime
import os
import re
import sys
from dataclasses import dataclass, field
from urllib.parse import quote

import cv2

from ..utils.atomic import atomic_write_bytes, atomic_write_csv, atomic_write_text
from ..utils.image_io import ImageReadError, write_image
from .compare_crops import auto_crops, clipped
from .compare_match import CompareInputError, match_folders
from .compare_metrics import FULL_REFERENCE, SFD_IQA, Scorers, best_label, means, realness_picture
from .evaluate import read_bgr8

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'templates')
THUMB_SIDE = 128
BROWSER_FORMATS = ('.png', '.jpg', '.jpeg', '.webp', '.bmp')  # linked as they are; others become PNG
BICUBIC = 'Bicubic'  # the LR pane, upscaled


@dataclass
class PageReport:
    index: str
    images: int
    failures: list = field(default_factory=list)  # (path, why): files that could not be read
    notes: list = field(default_factory=list)
    figure: list = field(default_factory=list)  # the figure's files, when one was asked for
    means: dict = field(default_factory=dict)  # {pane: {metric: (mean, images)}}


def _slug(index, label):
    return f"{index}_{re.sub(r'[^A-Za-z0-9._-]+', '_', label)}"


def _url(*parts):
    return '/'.join(quote(part) for part in parts)


def _one_line(error):
    return ' '.join(str(error).split())


def _inferred_scale(matched):
    """The LR-to-output scale of the first image, or None without an LR folder or a whole scale."""
    lr = next((p for p in matched.panes if p.kind == 'lr'), None)
    other = next((p for p in matched.panes if p.kind == 'gt'), None) or next(
        p for p in matched.panes if p.kind == 'run')
    name = next((n for n in matched.names if lr and n in lr.files and n in other.files), None)
    if name is None:
        return None
    try:
        small, large = read_bgr8(lr.files[name]).shape, read_bgr8(other.files[name]).shape
    except (ImageReadError, cv2.error):
        return None
    scale = round(large[1] / small[1])
    # an output may be the LR times the scale or, from a GT not cut to a multiple of it, up to scale - 1 px more
    return scale if scale >= 1 and 0 <= large[1] - scale * small[1] < scale else None


def _display(pane):
    return BICUBIC if pane.kind == 'lr' else pane.label


class _Builder:
    def __init__(self, output, matched, scorers, scale, crops, crop_count, figure_names):
        self.output, self.matched, self.scorers, self.scale = output, matched, scorers, scale
        self.user_crops, self.crop_count, self.figure_names = crops, crop_count, set(figure_names)
        self.slugs = {p.label: _slug(i, _display(p)) for i, p in enumerate(matched.panes)}
        self.values, self.failures, self.figure_rows = {}, [], []
        folders = ['thumbs'] + [os.path.join(kind, slug) for slug in self.slugs.values() for kind in ('images', 'maps')]
        for folder in folders + ([os.path.join('images', 'LR')] if any(p.kind == 'lr' for p in matched.panes) else []):
            os.makedirs(os.path.join(output, folder), exist_ok=True)

    def _write_full_size(self, pane, name, array):
        """The image linked from the page: the file itself where browsers show it, else a PNG of its pixels."""
        path = pane.files[name]
        extension = os.path.splitext(path)[1].lower()
        if pane.kind == 'lr' or extension not in BROWSER_FORMATS:
            extension = '.png'
            write_image(os.path.join(self.output, 'images', self.slugs[pane.label], name + extension), array)
        else:
            with open(path, 'rb') as f:
                atomic_write_bytes(os.path.join(self.output, 'images', self.slugs[pane.label], name + extension),
                                   f.read())
        return _url('images', self.slugs[pane.label], name + extension)

    def _read(self, name):
        arrays, missing = {}, {}
        for pane in self.matched.panes:
            path = pane.files.get(name)
            if path is None:
                missing[pane.label] = f'no {_display(pane)} image'
                continue
            try:
                arrays[pane.label] = read_bgr8(path)
            except (ImageReadError, FileNotFoundError, cv2.error) as error:
                self.failures.append((path, _one_line(error)))
                missing[pane.label] = f'could not be read: {_one_line(error)}'
        return arrays, missing

    def image(self, index, name):
        """The template's entry for one image; None when none of its files can be read."""
        arrays, missing = self._read(name)
        panes = self.matched.panes
        reference = next((arrays[p.label] for p in panes if p.kind == 'gt' and p.label in arrays), None)
        if reference is None:
            reference = next((arrays[p.label] for p in panes if p.kind == 'run' and p.label in arrays), None)
        if reference is None:
            return None
        height, width = reference.shape[:2]
        lr_original = None
        for pane in panes:
            if pane.kind == 'lr' and pane.label in arrays:
                lr_original = arrays[pane.label]
                arrays[pane.label] = cv2.resize(lr_original, (width, height), interpolation=cv2.INTER_CUBIC)
        notes, scored = [], {}
        tolerance = max(self.scale or 1, 1)
        for label, array in arrays.items():
            if abs(array.shape[0] - height) >= tolerance or abs(array.shape[1] - width) >= tolerance:
                notes.append(f'{label}: {array.shape[1]}x{array.shape[0]}, not the {width}x{height} of the others: '
                             'shown, not scored')
            else:
                scored[label] = array
        common = (min(a.shape[0] for a in scored.values()), min(a.shape[1] for a in scored.values()))
        scored = {label: a[:common[0], :common[1]] for label, a in scored.items()}
        values, maps = self._metrics(name, scored, notes)
        crops = self._crops(name, scored, notes)
        entry = {'id': f'img-{index}', 'name': name, 'width': width, 'height': height, 'notes': notes,
                 'thumb': self._thumbnail(name, reference), 'crops': crops,
                 'thumb_size': self._thumb_size(width, height)}
        entry['panes'] = [self._pane(pane, name, arrays, missing, maps, lr_original) for pane in panes]
        entry['metrics'] = self._rows(values, panes)
        runs = [p.label for p in panes if p.kind == 'run']
        entry['slider'] = (runs[0], 'GT' if any(p.kind == 'gt' for p in panes) else runs[1 % len(runs)])
        if name in self.figure_names and crops:
            self.figure_rows.append(self._figure_row(name, arrays, lr_original, crops[0], values))
        self.values[name] = {_display(p): values.get(p.label, {}) for p in panes}
        return entry

    def _metrics(self, name, scored, notes):
        gt = next((scored[p.label] for p in self.matched.panes if p.kind == 'gt' and p.label in scored), None)
        values, maps = {}, {}
        for pane in self.matched.panes:
            if pane.label not in scored:
                continue
            values[pane.label], realness, problems = self.scorers.score(
                scored[pane.label], gt if pane.kind != 'gt' else None)
            notes += [f'{_display(pane)}: {problem}' for problem in problems]
            if realness is not None:
                write_image(os.path.join(self.output, 'maps', self.slugs[pane.label], f'{name}.jpg'),
                            realness_picture(realness))
                maps[pane.label] = _url('maps', self.slugs[pane.label], f'{name}.jpg')
        return values, maps

    def _crops(self, name, scored, notes):
        runs = [scored[p.label] for p in self.matched.panes if p.kind == 'run' and p.label in scored]
        if len(runs) < 2:  # one run left: where it differs from the GT
            runs += [scored[p.label] for p in self.matched.panes if p.kind == 'gt' and p.label in scored]
        height, width = next(iter(scored.values())).shape[:2]
        boxes = [(box, 'auto') for box in (auto_crops(runs, self.crop_count) if len(runs) >= 2 else [])]
        for box in self.user_crops.get(name, []):
            inside = clipped(box, height, width)
            if inside is None:
                notes.append(f'--crop {name}={",".join(map(str, box))} lies outside the {width}x{height} image')
            else:
                boxes.insert(0, (inside, '--crop'))
        crops = []
        for (x, y, w, h), source in boxes:
            crops.append({'x': x, 'y': y, 'w': w, 'h': h, 'source': source,
                          'box_style': f'left:{100 * x / width:.3f}%;top:{100 * y / height:.3f}%;'
                                       f'width:{100 * w / width:.3f}%;height:{100 * h / height:.3f}%',
                          'image_style': f'width:{100 * width / w:.3f}%;left:{-100 * x / w:.3f}%;'
                                         f'top:{-100 * y / h:.3f}%'})
        return crops

    def _thumb_size(self, width, height):
        factor = min(1, THUMB_SIDE / max(width, height))
        return max(1, round(width * factor)), max(1, round(height * factor))

    def _thumbnail(self, name, reference):
        size = self._thumb_size(reference.shape[1], reference.shape[0])
        write_image(os.path.join(self.output, 'thumbs', f'{name}.jpg'),
                    cv2.resize(reference, size, interpolation=cv2.INTER_AREA))
        return _url('thumbs', f'{name}.jpg')

    def _pane(self, pane, name, arrays, missing, maps, lr_original):
        entry = {'label': _display(pane), 'kind': pane.kind, 'map': maps.get(pane.label),
                 'missing': missing.get(pane.label), 'src': None, 'full': None, 'original': None}
        if pane.label in arrays:
            entry['src'] = entry['full'] = self._write_full_size(pane, name, arrays[pane.label])
            if pane.kind == 'lr':  # the bicubic picture is shown; the LR file itself is linked too
                write_image(os.path.join(self.output, 'images', 'LR', f'{name}.png'), lr_original)
                entry['original'] = _url('images', 'LR', f'{name}.png')
        return entry

    def _rows(self, values, panes):
        rows = []
        columns = self.scorers.columns
        best = {c.key: best_label({p.label: values.get(p.label, {}).get(c.key) for p in panes if p.kind != 'gt'},
                                  c.higher_better) for c in columns}
        for pane in panes:
            cells = [{'text': _text(c.key, values.get(pane.label, {}).get(c.key)),
                      'best': best[c.key] == pane.label} for c in columns]
            rows.append({'label': _display(pane), 'cells': cells})
        return rows

    def _figure_row(self, name, arrays, lr_original, crop, values):
        return {'name': name, 'arrays': {_display(p): arrays[p.label] for p in self.matched.panes
                                         if p.label in arrays},
                'lr': lr_original, 'box': (crop['x'], crop['y'], crop['w'], crop['h']),
                'values': {_display(p): values.get(p.label, {}) for p in self.matched.panes}}


def _text(key, value):
    if value is None:
        return '-'
    return f'{value:.2f}' if key == 'PSNR-Y' else f'{value:.4f}'


def _summary(builder, columns):
    labels = [_display(p) for p in builder.matched.panes]
    table = means(builder.values, labels, columns)
    contenders = [_display(p) for p in builder.matched.panes if p.kind != 'gt']
    best = {c.key: best_label({label: table[label][c.key][0] for label in contenders}, c.higher_better)
            for c in columns}
    rows = []
    for label in labels:
        cells = []
        for column in columns:
            mean, count = table[label][column.key]
            cells.append({'text': _text(column.key, mean), 'sort': '' if mean is None else repr(mean),
                          'best': best[column.key] == label, 'title': f'mean of {count} image(s)'})
        rows.append({'label': label, 'cells': cells})
    return rows, table


def _render(context):
    import jinja2
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                     undefined=jinja2.StrictUndefined)
    return environment.get_template('compare.html').render(**context)


def build_compare_page(output, runs, gt=None, lr=None, metrics=(), weights=None, device=None, scale=None,
                       crops=(), crop_count=3, figure=None, figure_metric=None, progress=True):
    """Write the page for ``runs`` (``[(label, folder, iteration)]``) into ``output``; a ``PageReport``.

    ``crops``: ``[(image, (x, y, w, h))]`` named regions; ``figure``: image names for ``figure.png`` and
    ``figure.pdf`` (an empty list: the first image). ``weights``: the SFD-IQA weights (None: the default lookup,
    and without weights no SFD-IQA and no map, said on the page).
    """
    from tqdm import tqdm

    from ..utils.atomic import check_writable_folder
    from .compare_figure import figure_metric_of, write_figure
    matched = match_folders(runs, gt, lr)
    named = {}
    for image, box in crops:
        if image not in matched.names:
            raise CompareInputError(f"--crop {image}=...: no compared image is named '{image}' (they are "
                                    f"{', '.join(matched.names[:8])}{', ...' if len(matched.names) > 8 else ''}).")
        named.setdefault(image, []).append(box)
    figure_names = list(figure or []) or (matched.names[:1] if figure is not None else [])
    unknown = [name for name in figure_names if name not in matched.names]
    if unknown:
        raise CompareInputError(f"--figure: no compared image is named {', '.join(unknown)}.")
    page_metrics = list(dict.fromkeys((*FULL_REFERENCE, SFD_IQA, *metrics)))
    if figure_metric is not None and figure_metric not in page_metrics:
        raise CompareInputError(f"--figure-metric '{figure_metric}': not a metric of this page (it has "
                                f"{', '.join(page_metrics)}; add it to --metrics).")
    check_writable_folder(output, '-o')
    scale = scale or _inferred_scale(matched)
    scorers = Scorers(metrics, any(p.kind == 'gt' for p in matched.panes), scale or 0, device, weights,
                      weights_required=weights is not None)
    builder = _Builder(output, matched, scorers, scale, named, crop_count, figure_names)
    images = []
    for index, name in enumerate(tqdm(matched.names, unit='image', desc='compare', disable=not progress)):
        entry = builder.image(index, name)
        if entry is None:
            tqdm.write(f'compare: {name}: none of its files could be read', file=sys.stderr)
            continue
        images.append(entry)
    for path, why in builder.failures:
        tqdm.write(f'compare: could not read {path}: {why}', file=sys.stderr)
    columns = scorers.columns
    summary, table = _summary(builder, columns)
    notes = [f'not compared: {path}: {why}' for path, why in matched.unmatched]
    notes += [f'could not be read: {path}: {why}' for path, why in builder.failures]
    notes += [f'{metric}: unavailable ({why})' for metric, why in scorers.unavailable.items()]
    if scale is None and any(p.kind == 'gt' for p in matched.panes):
        notes.append('PSNR/SSIM without a crop border: the scale is unknown (give --lr or --scale).')
    report = PageReport(os.path.join(output, 'index.html'), len(images), builder.failures, notes)
    if builder.figure_rows:
        shown = figure_metric_of(columns, figure_metric)
        if figure_metric is not None and (shown is None or shown.key != figure_metric):
            notes.append(f'figure: {figure_metric} is unavailable, so the figure shows '
                         f"{shown.label if shown else 'no metric'} under its crops.")
        report.figure = write_figure(os.path.join(output, 'figure'), builder.figure_rows, columns, figure_metric)
    atomic_write_csv(os.path.join(output, 'metrics.csv'), [['image', 'pane', 'metric', 'value']] + [
        [name, label, column.key, repr(float(row[label][column.key]))] for name, row in builder.values.items()
        for label in row for column in columns if column.key in row[label]])
    context = {
        'title': f"Comparison: {', '.join(_display(p) for p in matched.panes)}",
        'panes': [{'label': _display(p), 'source': p.folder + (f' @ {p.iteration}' if p.iteration else '')}
                  for p in matched.panes],
        'columns': [{'label': c.label, 'arrow': '↑' if c.higher_better else '↓',
                     'higher_better': c.higher_better,
                     'title': 'higher is better' if c.higher_better else 'lower is better'} for c in columns],
        'summary': summary, 'images': images, 'notes': notes, 'has_map': scorers.realness_net is not None,
        'realness_note': None if scorers.realness_net is not None else
        f"No SFD-IQA and no realness map: {scorers.unavailable.get(SFD_IQA, '')}",
        'crop_note': f'Crops: up to {crop_count} per image where the runs differ most (the largest spread of '
                     'their luma), and any given with --crop.',
        'made': datetime.date.today().isoformat(),
    }
    atomic_write_text(report.index, _render(context))
    report.means = table
    return report
