"""The paper figure of ``basicsr compare --figure``: per image, the whole image with its region boxed, then that
region zoomed in every pane (LR / Bicubic / the runs / GT), labelled, with a metric under each crop (the best in
bold). Written as PNG and PDF through matplotlib (docs/inference.md)."""
import io
import math

import cv2

from ..utils.atomic import atomic_write_bytes

CROP_INCHES = 1.45
DPI = 200


def figure_metric_of(columns, wanted=None):
    """The column shown under the crops: ``wanted`` if it is available, else PSNR-Y, else the first; or None."""
    keys = [c.key for c in columns]
    for key in (wanted, 'PSNR-Y', keys[0] if keys else None):
        if key in keys:
            return columns[keys.index(key)]
    return None


def lr_patch(lr, box, size):
    """The LR pixels under ``box`` (output pixels), enlarged without smoothing to ``size``: what the network saw."""
    x, y, w, h = box
    factor = size[0] / lr.shape[1]
    x0, y0 = int(x / factor), int(y / factor)
    x1, y1 = max(x0 + 1, math.ceil((x + w) / factor)), max(y0 + 1, math.ceil((y + h) / factor))
    return cv2.resize(lr[y0:y1, x0:x1], (w, h), interpolation=cv2.INTER_NEAREST)


def _rgb(array):
    return cv2.cvtColor(array, cv2.COLOR_BGR2RGB)


def figure_panels(row):
    """``[(label, RGB crop, value)]`` of one figure row, LR first when there is one."""
    x, y, w, h = row['box']
    panels = []
    if row['lr'] is not None:
        reference = next(iter(row['arrays'].values()))
        size = (reference.shape[1], reference.shape[0])
        panels.append(('LR', _rgb(lr_patch(row['lr'], row['box'], size)), None))
    for label, array in row['arrays'].items():
        panels.append((label, _rgb(array[y:y + h, x:x + w]), row['values'].get(label)))
    return panels


def write_figure(stem, rows, columns, wanted_metric=None):
    """``stem.png`` and ``stem.pdf`` from ``rows`` (``compare_page``'s figure rows); the two paths."""
    import matplotlib
    matplotlib.use('Agg', force=False)
    from matplotlib import pyplot as plt
    from matplotlib.patches import Rectangle

    from .compare_metrics import best_label
    column = figure_metric_of(columns, wanted_metric)
    panels = [figure_panels(row) for row in rows]
    count = max(len(p) for p in panels) + 1
    figure, axes = plt.subplots(len(rows), count, figsize=(CROP_INCHES * (count + 0.6), CROP_INCHES * 1.35 * len(rows)),
                                squeeze=False, gridspec_kw={'width_ratios': [1.6] + [1] * (count - 1)})
    for axis_row, row, row_panels in zip(axes, rows, panels):
        overview = next(iter(row['arrays'].values()))
        axis_row[0].imshow(_rgb(overview))
        x, y, w, h = row['box']
        axis_row[0].add_patch(Rectangle((x - 0.5, y - 0.5), w, h, fill=False, edgecolor='red', linewidth=1.5))
        axis_row[0].set_title(row['name'], fontsize=9)
        values = {label: (v or {}).get(column.key) for label, _, v in row_panels} if column else {}
        best = best_label({k: v for k, v in values.items() if k != 'GT'}, column.higher_better) if column else None
        for axis, (label, crop, _) in zip(axis_row[1:], row_panels):
            axis.imshow(crop, interpolation='nearest')
            axis.set_title(label, fontsize=9)
            value = values.get(label)
            if value is not None:
                text = f'{column.label} ' + (f'{value:.2f}' if column.key == 'PSNR-Y' else f'{value:.4f}')
                axis.text(0.5, -0.06, text, transform=axis.transAxes, ha='center', va='top', fontsize=8,
                          fontweight='bold' if label == best else 'normal')
        for axis in axis_row:
            axis.set_xticks([])
            axis.set_yticks([])
        for axis in axis_row[len(row_panels) + 1:]:
            axis.set_visible(False)
    figure.tight_layout()
    paths = []
    for extension in ('png', 'pdf'):
        buffer = io.BytesIO()
        figure.savefig(buffer, format=extension, dpi=DPI)
        paths.append(f'{stem}.{extension}')
        atomic_write_bytes(paths[-1], buffer.getvalue())
    plt.close(figure)
    return paths
