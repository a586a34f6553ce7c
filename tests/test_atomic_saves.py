"""Every file the package writes is replaced whole or not at all, with the mode a plain write gives."""
import os
import stat

import numpy as np
import pytest
import torch
from basicsr.models import build_model

from iqa_helpers import random_sfd_iqa_weights
from sfd_basicsr.atomic import atomic_write, remove_stale_temp_files
from sfd_basicsr.iqa import quality_map
from sfd_basicsr.iqa.weights import load_weights, save_weights
from test_sfd_model import batch, sfd_options


def crash_while_writing(monkeypatch, name_fragment):
    """``torch.save`` to a file whose name holds ``name_fragment`` writes half a file, then the process dies."""
    real_save = torch.save

    def save(obj, f, *args, **kwargs):
        if isinstance(f, (str, os.PathLike)) and name_fragment in os.path.basename(os.fspath(f)):
            with open(f, 'wb') as out:
                out.write(b'half a file')
            raise KeyboardInterrupt  # a kill: not an Exception, so no retry loop catches it
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, 'save', save)


def snapshot(folder):
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))}


@pytest.fixture(scope='module')
def trained_model(tmp_path_factory):
    root = tmp_path_factory.mktemp('experiment')
    options = sfd_options()
    options['path'] = {'models': str(root / 'models'), 'training_states': str(root / 'training_states')}
    os.makedirs(options['path']['models'])
    os.makedirs(options['path']['training_states'])
    model = build_model(options)
    model.feed_data(batch())
    model.optimize_parameters(1)
    model.save(0, 5)  # the previous, complete checkpoint
    return model, root


@pytest.mark.parametrize('fragment', ['net_g_5.pth', 'net_d_5.pth', 'net_d_tg_5.pth', '5.state'])
def test_an_interrupted_checkpoint_save_keeps_the_previous_files(trained_model, monkeypatch, fragment):
    model, root = trained_model
    before = {sub: snapshot(root / sub) for sub in ('models', 'training_states')}
    model.optimize_parameters(2)  # new weights, so a finished save would change the files
    crash_while_writing(monkeypatch, fragment)
    with pytest.raises(KeyboardInterrupt):
        model.save(0, 5)
    monkeypatch.undo()
    for sub, files in before.items():
        after = snapshot(root / sub)
        assert set(after) == set(files), 'no temporary file is left behind'
        if fragment in files:
            assert after[fragment] == files[fragment], f'{fragment} was damaged by the interrupted save'
        for name in after:  # the files saved before the crash are complete new versions
            torch.load(root / sub / name, weights_only=False)


def test_an_interrupted_export_keeps_the_previous_file(tmp_path, monkeypatch):
    exported = random_sfd_iqa_weights(tmp_path)[2]
    previous = exported.read_bytes()
    crash_while_writing(monkeypatch, exported.name)
    with pytest.raises(KeyboardInterrupt):
        save_weights(load_weights(str(exported)), str(exported))
    monkeypatch.undo()
    assert exported.read_bytes() == previous and os.listdir(tmp_path).count(exported.name) == 1


def test_an_interrupted_quality_map_keeps_the_previous_picture(tmp_path, monkeypatch):
    path = tmp_path / 'astronaut_sfd_map.png'
    picture = np.zeros((64, 64, 3), np.uint8)
    quality_map.write_png(str(path), picture)
    previous = path.read_bytes()

    class HalfWritten:
        def tofile(self, target):
            with open(target, 'wb') as out:
                out.write(b'half a png')
            raise KeyboardInterrupt

    monkeypatch.setattr(quality_map.cv2, 'imencode', lambda ext, image: (True, HalfWritten()))
    monkeypatch.setattr(quality_map.cv2, 'imwrite', lambda *args: HalfWritten().tofile(args[0]))
    with pytest.raises(KeyboardInterrupt):
        quality_map.write_png(str(path), picture + 1)
    assert path.read_bytes() == previous and os.listdir(tmp_path) == [path.name]


def test_files_get_the_mode_a_plain_write_gives(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_write(tmp_path / 'a.pth', lambda tmp: torch.save({}, tmp))
        torch.save({}, tmp_path / 'b.pth')
    finally:
        os.umask(old)
    modes = {name: stat.S_IMODE(os.stat(tmp_path / name).st_mode) for name in ('a.pth', 'b.pth')}
    assert modes['a.pth'] == modes['b.pth'] == 0o640


def test_stale_temporary_files_are_removed(tmp_path):
    (tmp_path / '.12.state.k2j4_x9a.tmp').write_bytes(b'left by a kill')
    (tmp_path / '12.state').write_bytes(b'a real state')
    (tmp_path / 'notes.tmp').write_bytes(b'not ours')
    assert remove_stale_temp_files(tmp_path) == ['.12.state.k2j4_x9a.tmp']
    assert sorted(os.listdir(tmp_path)) == ['12.state', 'notes.tmp']
