"""Training states that record the data stream's position, and resuming from it (``data_stream``)."""
import torch.distributed as dist
from basicsr.utils import get_root_logger

from .data_stream import STREAM, random_states, unchanged_random_states
from .durable_saving import DurableSaving


def _every_process(value):
    """``[value of rank 0, rank 1, ...]``; every process of the group must call it."""
    if not (dist.is_available() and dist.is_initialized()):
        return [value]
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, value)
    return gathered


class ExactResume(DurableSaving):
    """Mixin for BasicSR models: a resumed run logs the same losses, iteration for iteration, as an uninterrupted one.

    The state gains ``data_position``: ``{'epoch', 'batches'`` (taken in that epoch), ``'random_states'`` (one per
    process)}. Validation leaves the random generators as it found them, so validating (or not, as a resumed run
    does not at its first iteration) never changes what training draws.
    """

    def training_state(self, epoch, current_iter):
        state = super().training_state(epoch, current_iter)
        states = _every_process(random_states())  # before rank 0 alone goes on to write
        state['data_position'] = {'epoch': epoch, 'batches': STREAM.batches, 'random_states': states}
        return state

    def resume_training(self, resume_state):
        super().resume_training(resume_state)
        position = resume_state.get('data_position')
        if position is None:
            get_root_logger().warning(
                f"Training state of iter {resume_state['iter']} records no data position (saved by BasicSR or an "
                'older sfd_basicsr): the epoch restarts from its first batch, as BasicSR resumes.')
            return
        states = position['random_states']
        world_size = self.opt.get('world_size', 1)
        if len(states) != world_size:
            get_root_logger().warning(f'Training state saved by {len(states)} process(es), resumed by {world_size}: '
                                      'the data continues where it was, with freshly seeded random generators.')
        STREAM.resume_at(position['batches'], states[self.opt.get('rank', 0)] if len(states) == world_size else None)

    def validation(self, dataloader, current_iter, tb_logger, save_img=False):
        with unchanged_random_states():
            super().validation(dataloader, current_iter, tb_logger, save_img)
