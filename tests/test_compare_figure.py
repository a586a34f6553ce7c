"""The paper figure of ``basicsr compare --figure`` (inference/compare_figure.py): the crops it draws are the
images' own pixels, the LR crop is the LR pixels enlarged without smoothing, and the files come out whole."""
import cv2
import numpy as np

from sfd_basicsr.inference.compare_figure import figure_metric_of, figure_panels, lr_patch, write_figure
from sfd_basicsr.inference.compare_metrics import Column


def test_the_lr_crop_is_the_lr_pixels_under_the_box_each_repeated_scale_times():
    lr = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
    patch = lr_patch(lr, (4, 8, 8, 8), (16, 16))  # output 16x16, x4: the box covers LR rows 2-3, columns 1-2
    assert np.array_equal(patch, np.repeat(np.repeat(lr[2:4, 1:3], 4, axis=0), 4, axis=1))


def row(seed=0):
    rng = np.random.default_rng(seed)
    arrays = {label: rng.integers(0, 256, (32, 48, 3), dtype=np.uint8) for label in ('Bicubic', 'A', 'B', 'GT')}
    values = {'Bicubic': {'PSNR-Y': 20.0}, 'A': {'PSNR-Y': 25.0}, 'B': {'PSNR-Y': 22.0}, 'GT': {}}
    return {'name': 'img', 'arrays': arrays, 'lr': arrays['GT'][::4, ::4], 'box': (8, 4, 16, 12), 'values': values}


def test_every_panel_is_that_panes_pixels_under_the_box_lr_first():
    data = row()
    panels = figure_panels(data)
    assert [label for label, _, _ in panels] == ['LR', 'Bicubic', 'A', 'B', 'GT']
    for label, crop, _ in panels[1:]:
        assert np.array_equal(crop, cv2.cvtColor(data['arrays'][label][4:16, 8:24], cv2.COLOR_BGR2RGB))
    assert panels[0][1].shape == (12, 16, 3)


def test_the_metric_under_the_crops_is_the_one_asked_for_else_psnr_else_the_first():
    columns = [Column('PSNR-Y', 'PSNR-Y', True, True), Column('piqe', 'piqe', False, False)]
    assert figure_metric_of(columns, 'piqe').key == 'piqe'
    assert figure_metric_of(columns, 'lpips').key == 'PSNR-Y'
    assert figure_metric_of(columns[1:], None).key == 'piqe'
    assert figure_metric_of([], None) is None


def test_the_figure_is_written_as_png_and_pdf(tmp_path):
    columns = [Column('PSNR-Y', 'PSNR-Y', True, True)]
    paths = write_figure(str(tmp_path / 'figure'), [row(0), row(1)], columns)
    assert paths == [str(tmp_path / 'figure.png'), str(tmp_path / 'figure.pdf')]
    picture = cv2.imread(paths[0])
    assert picture is not None and picture.shape[1] > 2 * picture.shape[0]  # one strip per image, side by side
    pdf = open(paths[1], 'rb').read()
    assert pdf.startswith(b'%PDF') and pdf.rstrip().endswith(b'%%EOF')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['figure.pdf', 'figure.png']  # no temporary file left
