"""One reader for every user-given checkpoint: plain weights only, one line naming the file on any failure."""
import os

import pytest
import torch

from sfd_basicsr.utils.checkpoint_file import CheckpointReadError, read_checkpoint


class Payload:
    """Pickles as a call that would create a file: proof of whether a loader ran the file's code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def bad_checkpoints(folder):
    """A good checkpoint and one of each bad kind a user meets; the marker file the malicious one would create."""
    good = folder / 'good.pth'
    torch.save({'params': {'w': torch.arange(6.).reshape(2, 3)}}, good)
    data = good.read_bytes()
    (folder / 'truncated.pth').write_bytes(data[:len(data) // 2])
    (folder / 'empty.pth').write_bytes(b'')
    (folder / 'text.pth').write_text('not a checkpoint at all\n')
    marker = folder / 'payload_ran'
    torch.save({'params': Payload(str(marker))}, folder / 'malicious.pth')
    return good, marker


@pytest.mark.parametrize('name, expected', [
    # torch's first sentence only: the rest is its advice
    ('truncated.pth', "checkpoint '{}' is truncated or damaged (PytorchStreamReader failed reading zip archive: "
                      'failed finding central directory).'),
    ('empty.pth', "checkpoint '{}' is empty (0 bytes)"),
    ('text.pth', "checkpoint '{}' is not a PyTorch checkpoint"),
    ('malicious.pth', "checkpoint '{}': this file contains code objects (io.open); only plain weights are "
                      'read, so it was not loaded.'),
    ('missing.pth', "checkpoint '{}' does not exist."),
    ('.', "checkpoint '{}' is a folder"),
])
def test_every_bad_file_gives_one_line_and_never_torchs_advice(tmp_path, name, expected):
    _, marker = bad_checkpoints(tmp_path)
    path = str(tmp_path / name) if name != '.' else str(tmp_path)
    with pytest.raises(CheckpointReadError) as raised:
        read_checkpoint(path)
    message = str(raised.value)
    assert message.startswith(expected.format(path)) and message.count('. ') == 0, message
    assert '\n' not in message and 'weights_only' not in message
    assert not marker.exists(), 'the payload ran'


def test_a_plain_checkpoint_reads_as_torch_load_gives_it(tmp_path):
    good, _ = bad_checkpoints(tmp_path)
    got = read_checkpoint(good, 'path.pretrain_network_g')
    assert torch.equal(got['params']['w'], torch.load(good, weights_only=True)['params']['w'])


def test_the_role_of_the_file_leads_the_message(tmp_path):
    with pytest.raises(CheckpointReadError, match=r"^path.resume_state '.*nothing.state' does not exist"):
        read_checkpoint(os.path.join(tmp_path, 'nothing.state'), 'path.resume_state')


def test_a_safetensors_file_reads_as_safetensors_gives_it_and_a_damaged_one_is_named(tmp_path):
    import safetensors.torch
    good = tmp_path / 'w.safetensors'
    safetensors.torch.save_file({'w': torch.arange(6.).reshape(2, 3)}, good)
    assert torch.equal(read_checkpoint(good)['w'], safetensors.torch.load_file(good)['w'])
    cut = tmp_path / 'cut.safetensors'
    cut.write_bytes(good.read_bytes()[:20])
    with pytest.raises(CheckpointReadError) as raised:
        read_checkpoint(cut, 'pretrained')
    assert str(raised.value).startswith(f"pretrained '{cut}' is not a readable safetensors file (")
    assert '\n' not in str(raised.value)
