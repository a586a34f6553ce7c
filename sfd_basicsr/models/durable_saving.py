"""BasicSR's checkpoint files, written durably, and a failed save that stops the run instead of being ignored."""
import os

from basicsr.utils.dist_util import master_only

from ..utils.atomic import atomic_torch_save


class DurableSaving:
    """Mixin for BasicSR models: ``save_network`` / ``save_training_state`` with BasicSR's file names and keys.

    BasicSR's own savers retry and then log "Still cannot save ... Just ignore it.", so a full disk ended a run
    with exit 0 and no checkpoints. Here every file is written whole or not at all (``atomic_torch_save``) and a
    failure raises ``OutputWriteError``. Network files also record ``iter``, ``self.trained_iter`` (the last
    trained iteration, which BasicSR's ``*_latest.pth`` names do not tell).
    """
    trained_iter = 0

    @master_only
    def save_network(self, net, net_label, current_iter, param_key='params'):
        nets, keys = (net, param_key) if isinstance(net, list) else ([net], [param_key])
        checkpoint = {key: {name.removeprefix('module.'): value.cpu()
                            for name, value in self.get_bare_model(n).state_dict().items()}
                      for n, key in zip(nets, keys)}
        checkpoint['iter'] = self.trained_iter
        label = 'latest' if current_iter == -1 else current_iter
        atomic_torch_save(checkpoint, os.path.join(self.opt['path']['models'], f'{net_label}_{label}.pth'))

    def training_state(self, epoch, current_iter):
        """What BasicSR's training state holds; every process calls it (subclasses may gather across them)."""
        return {'epoch': epoch, 'iter': current_iter, 'optimizers': [o.state_dict() for o in self.optimizers],
                'schedulers': [s.state_dict() for s in self.schedulers]}

    def save_training_state(self, epoch, current_iter):
        if current_iter == -1:
            return
        state = self.training_state(epoch, current_iter)
        if self.opt.get('rank', 0) == 0:
            atomic_torch_save(state, os.path.join(self.opt['path']['training_states'], f'{current_iter}.state'))

    def resume_training(self, resume_state):
        super().resume_training(resume_state)
        self.trained_iter = resume_state['iter']
