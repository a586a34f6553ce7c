"""Where the training data stream stands, so a resumed run continues it exactly where the saved one was.

BasicSR 1.4.2 saves the epoch and iteration only and, on resume, starts that epoch's data again from its first
batch with the random generators in another state: the resumed run trains on other images, crops and flips than
the interrupted one would have. Here a training state also records the batches the loop took in the epoch and
every process's random generators (Python's, NumPy's, torch's, CUDA's); on resume the first epoch loads and drops
that many batches (the same images and crops as before: BasicSR seeds its data workers per epoch, and the
generators are restored after the drop), so every iteration after the resume sees what it would have seen.

``STREAM`` is the one stream of this process's training loop: BasicSR's prefetchers count through it
(``counting_prefetcher``) and the models read and restore it with their training states (``models.exact_resume``).
"""
import random
from contextlib import contextmanager

import numpy as np
import torch


def random_states():
    """This process's random generators, in types a safe (weights-only) checkpoint reader takes."""
    _, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    numpy_state = {'keys': torch.from_numpy(keys.astype(np.int64)), 'pos': int(pos), 'has_gauss': int(has_gauss),
                   'cached_gaussian': float(cached_gaussian)}
    states = {'python': random.getstate(), 'numpy': numpy_state, 'torch': torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states['cuda'] = torch.cuda.get_rng_state_all()
    return states


def restore_random_states(states):
    random.setstate(states['python'])
    numpy_state = states['numpy']
    np.random.set_state(('MT19937', numpy_state['keys'].numpy().astype(np.uint32), numpy_state['pos'],
                         numpy_state['has_gauss'], numpy_state['cached_gaussian']))
    torch.set_rng_state(states['torch'])
    if 'cuda' in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states['cuda'])


@contextmanager
def unchanged_random_states():
    """The block (validation) leaves the training's random generators as it found them."""
    states = random_states()
    try:
        yield
    finally:
        restore_random_states(states)


class DataStream:
    """The batches the training loop took since its epoch began, and a saved position to continue from."""

    def __init__(self):
        self.batches = 0
        self._resume = None

    def resume_at(self, batches, states):
        """At the next epoch start, drop ``batches`` batches, then restore ``states`` (None: leave them)."""
        self._resume = (batches, states)

    def epoch_started(self, next_batch):
        self.batches = 0
        if self._resume is None:
            return
        (batches, states), self._resume = self._resume, None
        for _ in range(batches):
            if next_batch() is None:
                break
            self.batches += 1
        if states is not None:
            restore_random_states(states)

    def took_batch(self):
        self.batches += 1


STREAM = DataStream()


def counting_prefetcher(prefetcher_cls):
    """BasicSR's ``prefetcher_cls`` whose ``reset`` / ``next`` keep ``STREAM`` up to date."""

    class Counting(prefetcher_cls):
        def reset(self):
            super().reset()
            STREAM.epoch_started(super().next)

        def next(self):
            batch = super().next()
            if batch is not None:
                STREAM.took_batch()
            return batch

    Counting.__name__ = Counting.__qualname__ = prefetcher_cls.__name__
    return Counting
