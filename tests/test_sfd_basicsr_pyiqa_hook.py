"""The pyiqa hook for ``sfd_iqa``: the ``pyiqa`` command's refusal of a folder without images; pyiqa's own behaviour
for every other metric. (The ``pyiqa`` command itself, run as a user runs it: tests/test_sfd_iqa_commands.py.)"""
import types

import cv2
import numpy as np
import pytest
from pyiqa.utils import scandir_images

from sfd_basicsr_pyiqa_hook import wrap_command


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
