"""Shared fixtures: CPU only, no network, random-initialised CLIP (tests build CLIP with pretrained=None)."""
import os

os.environ.setdefault('HF_HUB_OFFLINE', '1')

import pytest  # noqa: E402
import torch  # noqa: E402

import sfd_basicsr  # noqa: E402,F401  (registers the plugin and makes basicsr importable)
from helpers.models import CLIP, CLIPS  # noqa: E402
from helpers.processes import command_in_process, mount_tmpfs  # noqa: E402


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _environment_restored():
    """Each test ends with the environment it started with: code under test sets variables (``LOCAL_RANK`` from
    ``--local_rank``, torchrun's) that would otherwise reach every later test in this process."""
    saved = dict(os.environ)
    yield
    if dict(os.environ) != saved:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope='session')
def encoder():
    from sfd_basicsr.backbones.encoder import get_encoder
    return get_encoder(CLIP, None, 'cpu')


@pytest.fixture(params=CLIPS)
def clip_model(request):
    return request.param


@pytest.fixture
def basicsr_main(capsys, monkeypatch):
    """The ``basicsr`` command in this process: ``basicsr_main(['upscale', ...], cwd=tmp_path)``."""
    return command_in_process('basicsr', capsys, monkeypatch)


@pytest.fixture
def sfd_iqa_main(capsys, monkeypatch):
    """The ``sfd-iqa`` command in this process: ``sfd_iqa_main(['score', ...], cwd=tmp_path)``."""
    return command_in_process('sfd-iqa', capsys, monkeypatch)


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB tmpfs: a real disk that fills up after a few small files. Unmounted afterwards."""
    import subprocess
    folder = mount_tmpfs(tmp_path / 'small_disk', '64k')
    yield folder
    subprocess.run(['umount', '-l', str(folder)], check=False)


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder on a read-only tmpfs (root can write anywhere else, whatever the permissions)."""
    import subprocess
    folder = mount_tmpfs(tmp_path / 'read_only', '64k', read_only=True)
    yield folder
    subprocess.run(['umount', '-l', str(folder)], check=False)


class FailingFile:
    """A real file whose writes stop at byte ``at``: then ``error`` is raised (an OSError such as ENOSPC, or a
    kill), or with ``error=None`` the rest is dropped while the write reports success (numpy's ``tofile``)."""

    def __init__(self, f, at, error):
        self._f, self._left, self._error = f, at, error

    def write(self, data):
        data = memoryview(data).cast('B')
        if len(data) > self._left:
            self._f.write(data[:self._left])
            self._f.flush()
            self._left = 0
            if self._error is not None:
                raise self._error
            return len(data)
        self._left -= len(data)
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


@pytest.fixture
def fail_writes(monkeypatch):
    """``fail_writes(name_fragment, at_byte, error)``: the package's durable writes of files whose name holds the
    fragment write ``at_byte`` bytes and then raise ``error`` (the low-level write failing as on a full disk)."""
    import builtins

    from sfd_basicsr.utils import atomic

    def install(fragment, at_byte, error):
        def fake_open(file, mode='r', *args, **kwargs):
            f = builtins.open(file, mode, *args, **kwargs)
            if 'w' in mode and fragment in os.path.basename(os.fspath(file)):
                return FailingFile(f, at_byte, error)
            return f
        monkeypatch.setattr(atomic, 'open', fake_open, raising=False)

    return install


@pytest.fixture(scope='module')
def tiny_options(tmp_path_factory):
    """``(folder, options)``: the tiny SFD options, unbroken, on data in the folder; copy before changing them."""
    from helpers.training import tiny_train_options
    root = tmp_path_factory.mktemp('options')
    return root, tiny_train_options(root, iters=2, warm_start=False)


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    """A tiny RRDBNet as an experiment folder, a BasicSR checkpoint and an ESRGAN-named release."""
    import shutil

    import yaml

    from helpers.models import TINY_RRDB, esrgan_key_names, tiny_rrdbnet
    root = tmp_path_factory.mktemp('models')
    ema, plain = tiny_rrdbnet(0), tiny_rrdbnet(1)
    experiment = root / 'experiments' / 'sfd_x4'
    (experiment / 'models').mkdir(parents=True)
    options = {'scale': 4, 'network_g': {'type': 'RRDBNet', **TINY_RRDB}}
    (experiment / 'train_sfd_x4.yml').write_text(yaml.safe_dump(options))
    torch.save({'params': plain.state_dict(), 'params_ema': ema.state_dict(), 'iter': 5},
               experiment / 'models' / 'net_g_5.pth')
    shutil.copy(experiment / 'models' / 'net_g_5.pth', root / 'net_g_5.pth')
    torch.save(esrgan_key_names(ema.state_dict()), root / 'RRDB_SFD_x4.pth')
    return {'reference': ema, 'experiment': experiment, 'basicsr_checkpoint': root / 'net_g_5.pth',
            'checkpoint_in_experiment': experiment / 'models' / 'net_g_5.pth',
            'esrgan_release': root / 'RRDB_SFD_x4.pth', 'root': root}


@pytest.fixture(scope='module')
def compare_results(tmp_path_factory):
    """For ``basicsr compare``: GT/LR pairs, two runs named as BasicSR names outputs, random SFD-IQA weights."""
    from helpers.compare import write_results
    from helpers.iqa import random_sfd_iqa_weights
    root = tmp_path_factory.mktemp('compare')
    gt, lr, runs = write_results(str(root))
    (root / 'weights').mkdir()
    *_, weights = random_sfd_iqa_weights(root / 'weights')
    return {'root': root, 'gt': gt, 'lr': lr, 'runs': runs, 'weights': str(weights)}


@pytest.fixture
def own_data_stream(monkeypatch):
    """A resume's data position (``exact_resume.STREAM``) kept to this test, not left pending for the next one."""
    from sfd_basicsr.models import exact_resume
    from sfd_basicsr.models.data_stream import DataStream
    monkeypatch.setattr(exact_resume, 'STREAM', DataStream())
