"""The data stream's position and random generators, as a resumed training run restores them."""
import random

import numpy as np
import torch
from basicsr.data.prefetch_dataloader import CPUPrefetcher

from sfd_basicsr.models.data_stream import STREAM, counting_prefetcher, random_states, restore_random_states


def draws():  # NumPy's randn first: it takes the cached Gaussian, if the state has one
    return random.random(), float(np.random.randn()), float(np.random.rand()), float(torch.rand(1))


def test_random_states_survive_a_weights_only_checkpoint_and_restore_every_generator(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    np.random.randn()  # NumPy's cached Gaussian is part of its state
    torch.save({'random_states': random_states()}, tmp_path / 'state.pth')
    expected = draws()
    restore_random_states(torch.load(tmp_path / 'state.pth', weights_only=True)['random_states'])
    assert draws() == expected


class Numbers(torch.utils.data.Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, index):  # an augmentation drawing from Python's generator, as BasicSR's do
        return {'index': index, 'flip': random.random()}


def test_the_prefetcher_counts_batches_per_epoch_and_a_resume_drops_those_taken_then_restores_the_generators():
    loader = torch.utils.data.DataLoader(Numbers(), batch_size=1, shuffle=False)
    prefetcher = counting_prefetcher(CPUPrefetcher)(loader)
    assert type(prefetcher).__name__ == 'CPUPrefetcher'
    random.seed(0)
    prefetcher.reset()
    taken = [prefetcher.next() for _ in range(2)]
    assert STREAM.batches == 2
    saved = random_states()
    straight = [prefetcher.next() for _ in range(4)]
    assert prefetcher.next() is None and STREAM.batches == 6

    random.seed(123)  # a fresh process: other generator states
    STREAM.resume_at(2, saved)
    prefetcher.reset()
    assert STREAM.batches == 2
    resumed = [prefetcher.next() for _ in range(4)]
    assert [int(b['index']) for b in resumed] == [2, 3, 4, 5]
    assert [float(b['flip']) for b in resumed] == [float(b['flip']) for b in straight]
    assert [int(b['index']) for b in taken] == [0, 1]
    prefetcher.reset()  # the next epoch starts from its first batch
    assert STREAM.batches == 0 and int(prefetcher.next()['index']) == 0


def test_a_resume_past_the_end_of_a_shorter_epoch_stops_at_its_last_batch():
    """A dataset that lost images since the state was saved: the position cannot be past the epoch's end."""
    loader = torch.utils.data.DataLoader(Numbers(), batch_size=1, shuffle=False)
    prefetcher = counting_prefetcher(CPUPrefetcher)(loader)
    STREAM.resume_at(8, None)  # saved 8 batches into an epoch of (now) 6
    prefetcher.reset()
    assert STREAM.batches == 6 and prefetcher.next() is None
