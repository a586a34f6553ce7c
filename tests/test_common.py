"""``commands/common.py``: the options every command shares, refused by argparse (exit 2, one line naming the
option) before any work; tried through ``sfd-iqa score`` and ``basicsr upscale``, which both take them."""
import pytest
import torch

from sfd_basicsr.commands.common import positive_number, pyiqa_metric_name, usable_device


def _device_parses_in_torch(text):
    try:
        torch.device(text)
        return True
    except (RuntimeError, ValueError):
        return False


@pytest.mark.parametrize('text', ['gpu', 'cuda:x', 'meta', 'cpu:99', 'cuda:9', 'cuda', 'mps'])
def test_a_device_this_machine_cannot_compute_on_is_refused_through_both_commands(text, tmp_path, sfd_iqa_main,
                                                                                  basicsr_main):
    if text == 'cuda' and torch.cuda.is_available():
        pytest.skip('this machine has a CUDA GPU')
    if text == 'mps' and torch.backends.mps.is_available():
        pytest.skip('this machine has MPS')
    for main, command in ((sfd_iqa_main, ['score', '-t', str(tmp_path)]),
                          (basicsr_main, ['upscale', '-i', str(tmp_path), '-o', str(tmp_path / 'out'), '-m', 'x'])):
        refused = main(command + ['--device', text])
        assert refused.returncode == 2
        assert f"error: argument --device: '{text}'" in refused.stderr.splitlines()[-1]
        assert 'Traceback' not in refused.stderr


@pytest.mark.parametrize('text, reason', [
    ('gpu', "'gpu' is not a device: expected cpu, cuda, cuda:1, ..."),
    ('meta', "'meta' is no device to compute on: expected cpu, cuda, cuda:1, ..."),
    ('cpu:1', "'cpu:1': the CPU is one device; use cpu"),
])
def test_each_refused_device_says_why(text, reason):
    import argparse
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        usable_device(text)
    assert str(refused.value) == reason
    assert _device_parses_in_torch(text) == (text != 'gpu'), 'torch itself tells a device name from no name'


def test_cuda_devices_are_counted_as_torch_counts_them(monkeypatch):
    import argparse
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    assert usable_device('cuda') == 'cuda' and usable_device('cuda:1') == 'cuda:1'
    with pytest.raises(argparse.ArgumentTypeError, match=r"^'cuda:2': this machine has 2 cuda device\(s\), cuda:0 to "
                                                         r'cuda:1$'):
        usable_device('cuda:2')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(argparse.ArgumentTypeError, match="^'cuda': this machine has no CUDA device; use cpu$"):
        usable_device('cuda')


@pytest.mark.parametrize('text', ['cpu', 'cpu:0'])
def test_the_cpu_is_accepted(text):
    assert usable_device(text) == text


@pytest.mark.parametrize('text', ['inf', '-inf', 'nan', '0', '-1', 'x', ''])
def test_a_scale_must_be_a_finite_number_above_zero(text):
    import argparse
    with pytest.raises(argparse.ArgumentTypeError, match=f"^expected a finite number above 0, got '{text}'$"):
        positive_number(text)


@pytest.mark.parametrize('text, value', [('2', 2.0), ('0.5', 0.5), ('1e-1', 0.1)])
def test_a_scale_reads_as_python_reads_the_number(text, value):
    assert positive_number(text) == value == float(text)


def test_other_accelerators_are_counted_by_their_own_torch_module(monkeypatch):
    import argparse
    monkeypatch.setattr(torch.xpu, 'is_available', lambda: True)  # as an Intel GPU machine with two of them
    monkeypatch.setattr(torch.xpu, 'device_count', lambda: 2)
    assert usable_device('xpu') == 'xpu' and usable_device('xpu:1') == 'xpu:1'
    with pytest.raises(argparse.ArgumentTypeError, match=r"^'xpu:2': this machine has 2 xpu device\(s\), xpu:0 to "
                                                         r'xpu:1$'):
        usable_device('xpu:2')


def test_a_metric_name_pyiqa_does_not_know_is_refused_by_every_command_with_the_nearest_names(tmp_path, basicsr_main,
                                                                                               sfd_iqa_main):
    import pyiqa
    assert 'lpips' in pyiqa.list_models() and 'lpip' not in pyiqa.list_models()
    out = tmp_path / 'out'
    for main, command in ((basicsr_main, ['compare', '-o', str(out), f'a={tmp_path}', f'b={tmp_path}']),
                          (basicsr_main, ['evaluate', '-m', 'x', '--data', f'a={tmp_path}', '-o', str(out)]),
                          (sfd_iqa_main, ['correlate', '--images', str(tmp_path), '--mos', 'x.csv'])):
        refused = main(command + ['--metrics', 'niqe', 'lpip', '-q'])
        assert refused.returncode == 2, command[0]
        line = refused.stderr.splitlines()[-1]
        assert "error: argument --metrics: 'lpip' is not a pyiqa metric (did you mean lpips, " in line
        assert line.endswith('; see pyiqa.list_models()')
        assert not out.exists()


def test_every_name_pyiqa_lists_is_a_metric_name_and_sfd_iqa_is_one():
    import argparse

    import pyiqa
    names = pyiqa.list_models()
    assert [pyiqa_metric_name(name) for name in names] == names
    assert pyiqa_metric_name('sfd_iqa') == 'sfd_iqa'  # the hook registers it on first use
    with pytest.raises(argparse.ArgumentTypeError, match=r"^'qwertyuiop' is not a pyiqa metric; see"):
        pyiqa_metric_name('qwertyuiop')  # nothing near: no guess offered
