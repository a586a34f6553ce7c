"""BasicSR's stock train/test pipelines with the plugin loaded, rooted at the working directory.

Module-level names of ``basicsr.train`` / ``basicsr.test`` are swapped while the stock pipeline runs
(``compat.module_names_swapped``, restored on exit), nothing else:
- ``parse_options``: ``check_options`` on the file as BasicSR will read it (``--force_yml`` applied), every
  problem at once, before any folder, dataset or network is made; then the stock parser;
- ``load_resume_state`` (train): the stock one maps the state to ``cuda`` and looks for
  ``experiments/`` relative to the working directory; ours maps it to the training device, so a
  CPU-only machine resumes too, and looks under the experiment's own folder. It also removes the
  temporary files a killed checkpoint save left behind;
- ``copy_opt_file`` (train): the stock copy, then ``effective_options.yml``, the options as the run uses them
  (``--force_yml`` applied), which every reader of the experiment takes first (``experiment``);
- ``CPUPrefetcher`` / ``CUDAPrefetcher`` (train): the stock ones, counting the batches the loop takes, so a
  training state records where the data stream was and a resumed run continues it exactly (``data_stream``).

The pipelines run inside ``compat.basicsr_distributed_on_any_device``, so ``--launcher pytorch`` (torchrun)
trains on CPU-only machines with gloo and ``dist_params`` (backend, timeout) applies to every launcher, and
inside ``compat.validation_metrics_that_cannot_end_training``, so a metric failing on one image is logged as nan.
Every process leaves its process group on the way out (``distributed.process_group_left_on_exit``).

``basicsr train`` downloads the weights the networks need (CLIP, BasicSR's VGG) before any folder exists
(``weight_downloads``); one that cannot be had stops the run with a line naming the option and the local file
to give instead.
"""
import functools
import os
import sys
from os import path as osp

import torch

from basicsr import test as basicsr_test
from basicsr import train as basicsr_train
from basicsr.data.prefetch_dataloader import CPUPrefetcher, CUDAPrefetcher
from basicsr.utils import scandir
from basicsr.utils.misc import check_resume
from basicsr.utils.options import copy_opt_file as basicsr_copy_opt_file
from basicsr.utils.options import parse_options

from ..backbones.weights import EncoderWeightsError
from ..compat.basicsr_patches import (basicsr_distributed_on_any_device, module_names_swapped,
                                      validation_metrics_that_cannot_end_training)
from ..models.data_stream import counting_prefetcher
from ..utils.atomic import remove_stale_temp_files
from ..utils.checkpoint_file import CheckpointReadError, read_checkpoint
from ..utils.distributed import DistributedSetupError, local_rank, process_group_left_on_exit
from ..utils.experiment import iteration_in_name, record_effective_options
from .options_check import OptionsError, check_options
from .options_file import command_line_options, load_options, read_options_file
from .output_folders import lock_experiment
from .weight_downloads import fetch_weights, offline_problems, weights_report

_checked = {}  # the options of the run in progress, for naming keys in errors raised while it is built


def _warn(line):
    print(f'basicsr: warning: {line}', file=sys.stderr)


def parse_and_check_options(root_path, is_train=True, fetch=False, lock=False):
    """The options file checked as BasicSR will read it (``--force_yml`` applied), then BasicSR's ``parse_options``;
    ``fetch``: download the weights the networks need first, too (``weight_downloads``); ``lock``: rank 0 holds the
    experiment's lock (``output_folders``) before any folder of it is made, until ``release_lock``."""
    raw = load_options(sys.argv[1:])
    if raw is not None:
        check_options(raw, is_train=is_train, on_warning=_warn, more_problems=offline_problems(raw))
        if fetch and local_rank() == 0:  # one download per machine, before any process group exists
            fetch_weights(raw)
    opt, args = parse_options(root_path, is_train=is_train)
    _checked['opt'] = opt
    if lock and opt['rank'] == 0:  # the name as BasicSR uses it (--debug prefixes it)
        _checked['lock'] = lock_experiment(root_path, opt['name'], is_train)
    return opt, args


def release_lock():
    lock = _checked.pop('lock', None)
    if lock is not None:
        lock.close()


def distributed_options(argv=None):
    """The options file's ``dist_params``, read before BasicSR's ``parse_options`` joins the process group."""
    opt_file, _ = command_line_options(sys.argv[1:] if argv is None else argv)
    if not opt_file or not osp.isfile(opt_file):
        return {}
    params = read_options_file(opt_file).get('dist_params')
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
    return None


def load_resume_state(opt):
    _remove_interrupted_saves(opt)
    if opt['auto_resume']:
        state_dir = osp.join(opt['path']['experiments_root'], 'training_states')
        iters = [iteration_in_name(name, suffix='.state') for name in scandir(state_dir, suffix='.state')] \
            if osp.isdir(state_dir) else []
        iters = [it for it in iters if it is not None]
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
    hooks = {'parse_options': functools.partial(parse_and_check_options, fetch=True, lock=True),
             'load_resume_state': load_resume_state, 'copy_opt_file': copy_and_record_options,
             'CPUPrefetcher': counting_prefetcher(CPUPrefetcher), 'CUDAPrefetcher': counting_prefetcher(CUDAPrefetcher)}
    _checked.clear()
    try:
        with process_group_left_on_exit(), module_names_swapped(basicsr_train, hooks), \
                basicsr_distributed_on_any_device(distributed_options()), validation_metrics_that_cannot_end_training():
            basicsr_train.train_pipeline(root_path or os.getcwd())
    except DistributedSetupError as error:
        raise OptionsError(str(error)) from None
    except Exception as error:
        explained = explain_setup_error(error, _checked.get('opt') or {})
        if explained is None:
            raise
        raise explained from error
    finally:
        release_lock()


def check(root_path=None):
    """``basicsr check -opt FILE [--force_yml ...]``: parse and check the options as ``train`` would, build nothing;
    list the weight files the run needs and where they are."""
    raw = load_options(sys.argv[1:])
    for line in weights_report(raw) if isinstance(raw, dict) else ():
        print(f'basicsr check: weights: {line}')
    with process_group_left_on_exit(), basicsr_distributed_on_any_device(distributed_options()):
        opt, _ = parse_and_check_options(root_path or os.getcwd(), is_train=True)
    return opt


def test(root_path=None):
    """``basicsr test -opt FILE``: results under ``results/<name>`` of the working directory."""
    try:
        with process_group_left_on_exit(), \
                module_names_swapped(basicsr_test, {'parse_options': functools.partial(parse_and_check_options,
                                                                                       is_train=False, lock=True)}), \
                basicsr_distributed_on_any_device(distributed_options()), validation_metrics_that_cannot_end_training():
            basicsr_test.test_pipeline(root_path or os.getcwd())
    except DistributedSetupError as error:
        raise OptionsError(str(error)) from None
    finally:
        release_lock()
