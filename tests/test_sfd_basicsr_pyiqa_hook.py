"""The pyiqa hook for ``sfd_iqa``: files read as ``sfd-iqa score`` reads them, and the ``pyiqa`` command's refusal
of a folder without images; pyiqa's own behaviour for every other metric. (The ``pyiqa`` command itself, run as a
user runs it: tests/test_sfd_iqa_commands.py.)"""
import types

import cv2
import numpy as np
import pyiqa
import pytest
import torch
from pyiqa.utils import scandir_images
from pyiqa.utils.img_util import imread2tensor

from helpers.iqa import as_tensor, png_files_of_known_pixels, random_sfd_iqa_weights
from sfd_basicsr_pyiqa_hook import wrap_command


@pytest.fixture(scope='module')
def metric(tmp_path_factory):
    weights = random_sfd_iqa_weights(tmp_path_factory.mktemp('hook'))[2]
    return pyiqa.create_metric('sfd_iqa', device='cpu', pretrained_model_path=str(weights))


def net_inputs(metric, *inputs):
    """The tensors ``metric`` hands its network when called with ``inputs`` (file paths, as a user gives them)."""
    seen = []
    handle = metric.net.register_forward_pre_hook(lambda module, args: seen.append(args))
    try:
        metric(*inputs)
    finally:
        handle.remove()
    return seen[0]


def test_an_sfd_iqa_metric_reads_each_kind_of_png_as_the_pixels_written(metric, tmp_path):
    for name, pixels in png_files_of_known_pixels(tmp_path).items():
        for path in (str(tmp_path / name), tmp_path / name):  # a str, as pyiqa takes it, and a Path
            (image, ) = net_inputs(metric, path)
            torch.testing.assert_close(image, as_tensor(pixels), msg=lambda m: f'{name}: {m}')


def test_other_metrics_read_files_as_pyiqa_does(tmp_path):
    png_files_of_known_pixels(tmp_path)
    path = str(tmp_path / 'grey16.png')
    target, ref = net_inputs(pyiqa.create_metric('psnr', device='cpu'), path, path)
    torch.testing.assert_close(target, imread2tensor(path, rgb=True)[None])  # PIL's: 16-bit grey clipped to white
    assert (target == 1).float().mean() > 0.9


def a_command():
    """pyiqa's command module as the hook sees it: the two names its ``main`` calls."""
    return types.SimpleNamespace(create_metric=lambda name, **options: f'built {name}', scandir_images=scandir_images)


def folders_without_images(root):
    (root / 'emptydir.png').mkdir()  # a folder whose name looks like an image file
    (root / 'empty').mkdir()
    (root / 'notes').mkdir()
    (root / 'notes' / 'notes.txt').write_text('no image here')
    return [root / 'emptydir.png', root / 'empty', root / 'notes']


def test_with_sfd_iqa_the_command_refuses_a_folder_without_images_in_one_line(tmp_path, capsys):
    command = a_command()
    wrap_command(command)
    command.create_metric('sfd_iqa', device='cpu')  # the command builds its metrics, then lists the folder
    for folder in folders_without_images(tmp_path):
        with pytest.raises(SystemExit) as exited:
            command.scandir_images(str(folder))
        assert exited.value.code == 2
        said = capsys.readouterr().err
        assert said.startswith(f"pyiqa sfd_iqa: no images in the folder '{folder}': expected image files (.png, .jpg, ")
        assert said.count('\n') == 1
    (tmp_path / 'images').mkdir()
    cv2.imwrite(str(tmp_path / 'images' / 'a.png'), np.zeros((8, 8), np.uint8))
    assert command.scandir_images(str(tmp_path / 'images')) == [str(tmp_path / 'images' / 'a.png')]


def test_without_sfd_iqa_the_command_lists_folders_as_pyiqa_does(tmp_path):
    command = a_command()
    wrap_command(command)
    assert command.create_metric('psnr', device='cpu') == 'built psnr'
    for folder in folders_without_images(tmp_path):
        try:
            listed = command.scandir_images(str(folder))
        except SystemExit:
            listed = 'refused'
        assert listed == []


def test_with_sfd_iqa_the_command_refuses_a_target_that_does_not_exist_as_sfd_iqa_score_does(tmp_path, capsys):
    command = a_command()
    wrap_command(command)
    scorer = command.create_metric('sfd_iqa', device='cpu')
    for target in (str(tmp_path / 'nowhere.png'), tmp_path / 'nowhere'):
        with pytest.raises(SystemExit) as exited:
            scorer(target)
        assert exited.value.code == 2
        assert capsys.readouterr().err == f"pyiqa sfd_iqa: '{target}' is neither an image file nor a folder.\n"
