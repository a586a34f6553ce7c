"""BasicSR's stock train/test pipelines with the plugin loaded, rooted at the working directory.

Two module-level functions of ``basicsr.train`` / ``basicsr.test`` are swapped before the stock
pipeline runs, nothing else:
- ``parse_options``: the stock parser, then ``check_options`` so a bad options file stops with the
  key's name before any folder, dataset or network is made;
- ``load_resume_state`` (train): the stock one maps the state to ``cuda`` and looks for
  ``experiments/`` relative to the working directory; ours maps it to the training device, so a
  CPU-only machine resumes too, and looks under the experiment's own folder.
"""
import os
from os import path as osp

import torch

import sfd_basicsr  # noqa: F401  (compatibility shim and registrations before basicsr's pipelines)
from basicsr import test as basicsr_test
from basicsr import train as basicsr_train
from basicsr.utils import scandir
from basicsr.utils.misc import check_resume
from basicsr.utils.options import parse_options

from .options_check import OptionsError, check_options


def parse_and_check_options(root_path, is_train=True):
    opt, args = parse_options(root_path, is_train=is_train)
    check_options(opt)
    return opt, args


def load_resume_state(opt):
    if opt['auto_resume']:
        state_dir = osp.join(opt['path']['experiments_root'], 'training_states')
        iters = [int(name[:-len('.state')]) for name in scandir(state_dir, suffix='.state')
                 if name[:-len('.state')].isdigit()] if osp.isdir(state_dir) else []
        if iters:
            opt['path']['resume_state'] = osp.join(state_dir, f'{max(iters)}.state')
    state_path = opt['path'].get('resume_state')
    if not state_path:
        return None
    if not osp.isfile(state_path):
        raise OptionsError(f"path.resume_state: '{state_path}' does not exist.")
    on_gpu = opt['num_gpu'] != 0 and torch.cuda.is_available()
    device = torch.device('cuda', torch.cuda.current_device()) if on_gpu else torch.device('cpu')
    resume_state = torch.load(state_path, map_location=device)
    check_resume(opt, resume_state['iter'])
    return resume_state


def train(root_path=None):
    """``basicsr train -opt FILE [--launcher ...] [--auto_resume] [--debug] [--force_yml ...]``."""
    basicsr_train.parse_options = parse_and_check_options
    basicsr_train.load_resume_state = load_resume_state
    basicsr_train.train_pipeline(root_path or os.getcwd())


def test(root_path=None):
    """``basicsr test -opt FILE``: results under ``results/<name>`` of the working directory."""
    basicsr_test.parse_options = parse_and_check_options
    basicsr_test.test_pipeline(root_path or os.getcwd())
