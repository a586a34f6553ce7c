"""Every file the package writes is replaced whole or not at all, durably, with the mode a plain write gives;
a write that fails says which file and why, in one line."""
import errno
import os
import stat

import numpy as np
import pytest
import torch
from basicsr.models import build_model

from helpers.iqa import random_sfd_iqa_weights
from sfd_basicsr.utils.atomic import OutputWriteError, atomic_torch_save, atomic_write, atomic_write_bytes, \
    atomic_write_csv, check_writable_folder, describe_write_error, remove_stale_temp_files
from sfd_basicsr.iqa import quality_map
from sfd_basicsr.utils.image_io import write_image
from sfd_basicsr.iqa.weights import load_weights, save_weights
from helpers.models import batch, sfd_options
from helpers.training import run_basicsr, tiny_train_options, write_options

ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


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


def assert_unchanged_and_whole(root, before, fragment):
    for sub, files in before.items():
        after = snapshot(root / sub)
        assert set(after) == set(files), 'no temporary file is left behind'
        if fragment in files:
            assert after[fragment] == files[fragment], f'{fragment} was damaged by the failed save'
        for name in after:  # every file on disk is a complete checkpoint
            torch.load(root / sub / name, weights_only=True)


@pytest.mark.parametrize('fragment', ['net_g_5.pth', 'net_d_5.pth', 'net_d_tg_5.pth', '5.state'])
def test_an_interrupted_checkpoint_save_keeps_the_previous_files(trained_model, fail_writes, fragment):
    model, root = trained_model
    before = {sub: snapshot(root / sub) for sub in ('models', 'training_states')}
    model.optimize_parameters(2)  # new weights, so a finished save would change the files
    fail_writes(fragment, 100, KeyboardInterrupt())  # a kill in the middle of the write
    with pytest.raises(KeyboardInterrupt):
        model.save(0, 5)
    assert_unchanged_and_whole(root, before, fragment)


@pytest.mark.parametrize('fragment', ['net_g_5.pth', '5.state'])
def test_a_checkpoint_save_on_a_full_disk_raises_naming_the_file_and_the_space(trained_model, fail_writes, fragment):
    model, root = trained_model
    before = {sub: snapshot(root / sub) for sub in ('models', 'training_states')}
    model.optimize_parameters(3)
    fail_writes(fragment, 4096, ENOSPC)
    with pytest.raises(OutputWriteError) as raised:
        model.save(0, 5)
    message = str(raised.value)
    assert fragment in message and 'no space left on device' in message
    assert 'MB needed' in message and 'MB free' in message
    assert_unchanged_and_whole(root, before, fragment)


@pytest.mark.parametrize('reached', [10, 2999])  # one byte short is short
def test_a_short_write_that_reports_success_is_refused(tmp_path, fail_writes, reached):
    target = tmp_path / 'out.png'
    target.write_bytes(b'previous')
    fail_writes('out.png', reached, None)  # the rest silently lost, as ndarray.tofile does on a full disk
    with pytest.raises(OutputWriteError, match=rf"'.*out.png': {reached} of 3000 bytes reached the disk"):
        atomic_write_bytes(target, bytes(3000))
    assert target.read_bytes() == b'previous' and os.listdir(tmp_path) == ['out.png']


def test_an_image_write_that_fails_leaves_no_file(tmp_path, fail_writes):
    fail_writes('sr.png', 100, ENOSPC)
    with pytest.raises(OutputWriteError, match='no space left on device'):
        write_image(str(tmp_path / 'sr.png'), np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))
    assert os.listdir(tmp_path) == []


def _write_tables(path):
    from sfd_basicsr.inference.evaluate import write_reports
    write_reports(str(path.parent), {'set': {'PSNR-Y': 30.0, 'SSIM-Y': 0.9, 'images': 1, 'skipped': []}}, {}, {}, [],
                  'model')


WRITERS = {  # every kind of output, through the function that writes it
    'image.png': lambda path: write_image(str(path), np.full((32, 32, 3), 7, np.uint8)),
    'map_sfd_map.png': lambda path: quality_map.write_png(str(path), np.full((32, 32, 3), 7, np.uint8)),
    'scores.csv': lambda path: atomic_write_csv(path, [['a'] * 50]),
    'results.md': _write_tables,
    'sfd_iqa.pth': lambda path: save_weights({'x': torch.zeros(1000)}, str(path)),
    'net_g_5.pth': lambda path: atomic_torch_save({'params': {'w': torch.zeros(1000)}}, path),
}


@pytest.mark.parametrize('name', sorted(WRITERS))
def test_every_kind_of_output_on_a_full_disk_keeps_the_previous_version(tmp_path, fail_writes, name):
    target = tmp_path / name
    target.write_bytes(b'previous version')
    fail_writes(name, 10, ENOSPC)
    with pytest.raises(OutputWriteError, match=rf"cannot write '.*{name}': no space left on device"):
        WRITERS[name](target)
    assert target.read_bytes() == b'previous version'
    assert not [n for n in os.listdir(tmp_path) if n.endswith('.tmp')]


def test_an_interrupted_export_keeps_the_previous_file(tmp_path, fail_writes):
    exported = random_sfd_iqa_weights(tmp_path)[2]
    previous = exported.read_bytes()
    fail_writes(exported.name, 100, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        save_weights(load_weights(str(exported)), str(exported))
    assert exported.read_bytes() == previous and os.listdir(tmp_path).count(exported.name) == 1
    assert not [name for name in os.listdir(tmp_path) if name.endswith('.tmp')]


def test_an_interrupted_quality_map_keeps_the_previous_picture(tmp_path, fail_writes):
    path = tmp_path / 'astronaut_sfd_map.png'
    picture = np.zeros((64, 64, 3), np.uint8)
    quality_map.write_png(str(path), picture)
    previous = path.read_bytes()
    fail_writes(path.name, 20, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        quality_map.write_png(str(path), picture + 1)
    assert path.read_bytes() == previous and os.listdir(tmp_path) == [path.name]


def test_files_get_the_mode_a_plain_write_gives(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_write(tmp_path / 'a.pth', lambda tmp: torch.save({}, tmp))
        atomic_write_bytes(tmp_path / 'c.bin', b'123')
        torch.save({}, tmp_path / 'b.pth')
    finally:
        os.umask(old)
    modes = {name: stat.S_IMODE(os.stat(tmp_path / name).st_mode) for name in ('a.pth', 'b.pth', 'c.bin')}
    assert modes == {'a.pth': 0o640, 'b.pth': 0o640, 'c.bin': 0o640}


def test_stale_temporary_files_are_removed(tmp_path):
    (tmp_path / '.12.state.k2j4_x9a.tmp').write_bytes(b'left by a kill')
    (tmp_path / '12.state').write_bytes(b'a real state')
    (tmp_path / 'notes.tmp').write_bytes(b'not ours')
    assert remove_stale_temp_files(tmp_path) == ['.12.state.k2j4_x9a.tmp']
    assert sorted(os.listdir(tmp_path)) == ['12.state', 'notes.tmp']


@pytest.mark.parametrize('code, expected', [
    (errno.ENOSPC, "cannot write '/data/out/x.png': no space left on device (2.0 MB needed, "),
    (errno.EDQUOT, "cannot write '/data/out/x.png': no space left on device (2.0 MB needed, "),  # a full quota
    (errno.EROFS, "cannot write '/data/out/x.png': /data/out is on a read-only file system."),
    (errno.EACCES, "cannot write '/data/out/x.png': no permission to write in /data/out."),
    (errno.ENOENT, "cannot write '/data/out/x.png': the folder /data/out does not exist."),
])
def test_write_errors_are_one_line_naming_the_file_and_the_cause(code, expected):
    message = describe_write_error(OSError(code, os.strerror(code)), '/data/out/x.png', size=2 * 2**20)
    assert message.startswith(expected) and '\n' not in message


def test_a_real_full_disk_is_reported_and_leaves_nothing(small_disk):
    data = bytes(200 * 1024)  # more than the 64 KiB disk holds
    with pytest.raises(OutputWriteError, match=r'no space left on device \(0\.2 MB needed, 0\.\d MB free'):
        atomic_write_bytes(small_disk / 'big.bin', data)
    assert os.listdir(small_disk) == []


def test_a_read_only_output_folder_is_refused_before_any_work(read_only_folder):
    with pytest.raises(OutputWriteError, match=r"-o '.*read_only/out': .*read-only file system"):
        check_writable_folder(str(read_only_folder / 'out'), '-o')
    with pytest.raises(OutputWriteError, match=r"-o '.*read_only': .*read-only file system"):
        check_writable_folder(str(read_only_folder), '-o')  # it exists: only creating a file in it can tell
    with pytest.raises(OutputWriteError, match='read-only file system'):
        atomic_write_bytes(read_only_folder / 'x.bin', b'1')


@pytest.mark.slow
def test_training_on_a_full_disk_stops_with_one_line_and_a_non_zero_exit(tmp_path, small_disk):
    opt = tiny_train_options(tmp_path, iters=2, with_val=False)
    result = run_basicsr(['train', '-opt', write_options(tmp_path / 'o.yml', opt)], cwd=small_disk)
    assert result.returncode == 1, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith('basicsr train: stopped: cannot write ') and 'no space left on device' in last
    assert 'net_g_2.pth' in last and 'Traceback' not in result.stderr
    assert not list(small_disk.rglob('*.tmp')) and not list(small_disk.rglob('*.pth'))


def test_the_temporary_file_is_fsynced_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    from sfd_basicsr.utils.atomic import atomic_write_bytes
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(('fsync', os.readlink(f'/proc/self/fd/{fd}')))
        real_fsync(fd)

    def replace(source, target):
        events.append(('replace', str(source), str(target)))
        real_replace(source, target)

    monkeypatch.setattr(os, 'fsync', fsync)
    monkeypatch.setattr(os, 'replace', replace)
    target = tmp_path / 'x.bin'
    atomic_write_bytes(str(target), b'abc')
    temporary = events[0][1]
    assert os.path.dirname(temporary) == str(tmp_path) and temporary != str(target)
    assert events == [('fsync', temporary), ('replace', temporary, str(target)), ('fsync', str(tmp_path))]
    assert target.read_bytes() == b'abc'


@pytest.mark.parametrize('failing', ['fsync', 'replace'])
def test_a_failure_at_each_durability_step_leaves_the_previous_file(tmp_path, monkeypatch, failing):
    import errno

    from sfd_basicsr.utils.atomic import OutputWriteError, atomic_write_bytes
    target = tmp_path / 'x.bin'
    target.write_bytes(b'old')

    def fail(*args):
        raise OSError(errno.EIO, 'Input/output error')

    monkeypatch.setattr(os, failing, fail)
    with pytest.raises(OutputWriteError, match='x.bin'):
        atomic_write_bytes(str(target), b'new')
    monkeypatch.undo()
    assert target.read_bytes() == b'old' and os.listdir(tmp_path) == ['x.bin']


def test_a_text_holding_a_file_name_that_is_not_utf8_writes_the_names_own_bytes(tmp_path):
    from sfd_basicsr.utils.atomic import atomic_write_text
    raw = b'bad\xff\xfe.png'
    (tmp_path / os.fsdecode(raw)).write_bytes(b'')
    name = os.listdir(tmp_path)[0]  # as Python gives it: the undecodable bytes as surrogates
    atomic_write_text(str(tmp_path / 'names.csv'), f'image\r\n{name}\r\n')
    written = (tmp_path / 'names.csv').read_bytes()
    assert written == b'image\r\n' + os.fsencode(name) + b'\r\n' == b'image\r\n' + raw + b'\r\n'
