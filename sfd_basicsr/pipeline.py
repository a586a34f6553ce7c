"""BasicSR's stock train/test pipelines with the plugin loaded, rooted at the working directory.

Module-level functions of ``basicsr.train`` / ``basicsr.test`` are swapped before the stock pipeline runs,
nothing else:
- ``parse_options``: the stock parser, then ``check_options`` so a bad options file stops with the
  key's name before any folder, dataset or network is made;
- ``load_resume_state`` (train): the stock one maps the state to ``cuda`` and looks for
  ``experiments/`` relative to the working directory; ours maps it to the training device, so a
  CPU-only machine resumes too, and looks under the experiment's own folder. It also removes the
  temporary files a killed checkpoint save left behind;
- ``copy_opt_file`` (train): the stock copy, then ``effective_options.yml``, the options as the run uses them
  (``--force_yml`` applied), which every reader of the experiment takes first (``experiment``).

The pipelines run inside ``compat.basicsr_distributed_on_any_device``, so ``--launcher pytorch`` (torchrun)
trains on CPU-only machines with gloo and ``dist_params`` (backend, timeout) applies to every launcher, and
inside ``compat.validation_metrics_that_cannot_end_training``, so a metric failing on one image is logged as nan.

Weights that cannot be downloaded while the networks are built (CLIP, BasicSR's VGG) stop the run with
one line naming the option and the local file to give instead.
"""
import argparse
import os
import sys
import traceback
from os import path as osp
from urllib.error import URLError

import torch
import yaml

import sfd_basicsr  # noqa: F401  (compatibility shim and registrations before basicsr's pipelines)
from basicsr import test as basicsr_test
from basicsr import train as basicsr_train
from basicsr.utils import scandir
from basicsr.utils.misc import check_resume
from basicsr.utils.options import copy_opt_file as basicsr_copy_opt_file
from basicsr.utils.options import parse_options

from .archs.clip_encoder import EncoderWeightsError
from .atomic import remove_stale_temp_files
from .checkpoint_file import CheckpointReadError, read_checkpoint
from .compat import basicsr_distributed_on_any_device, validation_metrics_that_cannot_end_training
from .distributed import DistributedSetupError
from .experiment import record_effective_options
from .options_check import OptionsError, check_options

VGG_FILE = 'vgg19-dcbb9e9d.pth'
_checked = {}  # the options of the run in progress, for naming keys in errors raised while it is built


def parse_and_check_options(root_path, is_train=True):
    opt, args = parse_options(root_path, is_train=is_train)
    _checked['opt'] = check_options(opt)
    return opt, args


def distributed_options(argv=None):
    """The options file's ``dist_params``, read before BasicSR's ``parse_options`` joins the process group."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('-opt')
    opt_file = parser.parse_known_args(argv)[0].opt
    if not opt_file or not osp.isfile(opt_file):
        return {}
    try:
        with open(opt_file) as f:
            opt = yaml.safe_load(f)
    except yaml.YAMLError as error:
        raise OptionsError(f"{opt_file}: not valid YAML ({' '.join(str(error).split())}).") from None
    params = opt.get('dist_params') if isinstance(opt, dict) else None
    if params is not None and not isinstance(params, dict):
        raise OptionsError(f'dist_params: expected a mapping such as {{backend: gloo, timeout: 600}}, got {params!r}.')
    return params or {}


def copy_and_record_options(opt_file, experiments_root):
    """BasicSR's copy of the options file, then the options as this run uses them (``experiment``)."""
    basicsr_copy_opt_file(opt_file, experiments_root)
    opt = _checked.get('opt')
    if opt is not None and opt.get('rank', 0) == 0:
        record_effective_options(experiments_root, opt)


def _remove_interrupted_saves(opt):
    if opt['rank'] != 0:  # rank 0 writes the checkpoints, and is the one to clean up after them
        return
    for folder in ('models', 'training_states'):
        path = osp.join(opt['path']['experiments_root'], folder)
        removed = remove_stale_temp_files(path)
        if removed:
            print(f'basicsr train: removed {len(removed)} temporary file(s) left by an interrupted save in {path}',
                  file=sys.stderr)


def _caused_by(error, kinds):
    while error is not None:
        if isinstance(error, kinds):
            return error
        error = error.__cause__ or error.__context__
    return None


def explain_setup_error(error, opt):
    """An ``OptionsError`` naming the option behind a weight download that failed, or None."""
    clip_error = _caused_by(error, EncoderWeightsError)
    if clip_error is not None:
        keys = [f'{key}.pretrained' for key, value in opt.items()
                if key.startswith('network_') and isinstance(value, dict) and 'clip_model' in value]
        return OptionsError(f"{' / '.join(keys) or 'pretrained'}: {clip_error}")
    download_error = _caused_by(error, (URLError, ConnectionError, TimeoutError))
    in_vgg = any('vgg_arch' in frame.filename for frame in traceback.extract_tb(error.__traceback__))
    if download_error is not None and in_vgg:
        keys = [f'train.{k}' for k, v in (opt.get('train') or {}).items()
                if isinstance(v, dict) and 'Perceptual' in str(v.get('type'))]
        basicsr_file = osp.abspath(osp.join('experiments', 'pretrained_models', VGG_FILE))
        hub_file = osp.join(torch.hub.get_dir(), 'checkpoints', VGG_FILE)
        return OptionsError(
            f"{' / '.join(keys) or 'train.perceptual_opt'}: BasicSR's perceptual loss could not download its VGG19 "
            f'weights ({download_error}); put {VGG_FILE} at {basicsr_file} or {hub_file}, or remove the loss.')
    return None


def load_resume_state(opt):
    _remove_interrupted_saves(opt)
    if opt['auto_resume']:
        state_dir = osp.join(opt['path']['experiments_root'], 'training_states')
        iters = [int(name[:-len('.state')]) for name in scandir(state_dir, suffix='.state')
                 if name[:-len('.state')].isdigit()] if osp.isdir(state_dir) else []
        if iters:
            opt['path']['resume_state'] = osp.join(state_dir, f'{max(iters)}.state')
    state_path = opt['path'].get('resume_state')
    if not state_path:
        return None
    on_gpu = opt['num_gpu'] != 0 and torch.cuda.is_available()
    device = torch.device('cuda', torch.cuda.current_device()) if on_gpu else torch.device('cpu')
    try:
        resume_state = read_checkpoint(state_path, 'path.resume_state', map_location=device)
    except CheckpointReadError as error:
        raise OptionsError(str(error)) from None
    check_resume(opt, resume_state['iter'])
    return resume_state


def train(root_path=None):
    """``basicsr train -opt FILE [--launcher ...] [--auto_resume] [--debug] [--force_yml ...]``."""
    basicsr_train.parse_options = parse_and_check_options
    basicsr_train.load_resume_state = load_resume_state
    basicsr_train.copy_opt_file = copy_and_record_options
    _checked.clear()
    try:
        with basicsr_distributed_on_any_device(distributed_options()), validation_metrics_that_cannot_end_training():
            basicsr_train.train_pipeline(root_path or os.getcwd())
    except DistributedSetupError as error:
        raise OptionsError(str(error)) from None
    except Exception as error:
        explained = explain_setup_error(error, _checked.get('opt') or {})
        if explained is None:
            raise
        raise explained from error


def check(root_path=None):
    """``basicsr check -opt FILE [--force_yml ...]``: parse and check the options as ``train`` would, build nothing."""
    with basicsr_distributed_on_any_device(distributed_options()):
        opt, _ = parse_and_check_options(root_path or os.getcwd(), is_train=True)
    return opt


def test(root_path=None):
    """``basicsr test -opt FILE``: results under ``results/<name>`` of the working directory."""
    basicsr_test.parse_options = parse_and_check_options
    try:
        with basicsr_distributed_on_any_device(distributed_options()), validation_metrics_that_cannot_end_training():
            basicsr_test.test_pipeline(root_path or os.getcwd())
    except DistributedSetupError as error:
        raise OptionsError(str(error)) from None
