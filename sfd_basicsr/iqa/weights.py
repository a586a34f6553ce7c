"""SFD-IQA weight files: the exported format, reading BasicSR checkpoints, and where defaults live.

An exported file is one ``torch.save`` dict::

    {'format': 'sfd_iqa', 'version': 1, 'clip_model': 'RN50-quickgelu', 'clip_pretrained': 'openai',
     'fusion_weight': 0.5, 'trained_iter': 400000,  # None: the checkpoints did not record it
     'featd': {'config': {FeatD constructor options}, 'params': FeatD state_dict},
     'tgd': {'config': {TGDiscriminator constructor options}, 'params': TGDiscriminator state_dict}}

It holds no encoder weights: ``clip_pretrained`` says which ones the scorer loads (``clip_model`` names any backbone,
``timm:vit_small_patch14_dinov2`` too). A run on a backbone without a text tower trained no TG-D: its file has
``'tgd': None`` and ``fusion_weight`` 1 (Feat-D's realness alone).
"""
import os

import torch

from ..archs.encoder_client import decode_backbone_name
from ..backbones.names import DEFAULT_PRETRAINED
from ..backbones.weights import resolve_pretrained
from ..utils.atomic import atomic_torch_save, check_writable_folder
from ..utils.checkpoint_file import CheckpointReadError, read_checkpoint
from ..utils.errors import InputError, InputNotFound
from ..utils.experiment import iteration_in_name, latest_checkpoint, training_options

FORMAT = 'sfd_iqa'
FORMAT_VERSION = 1
DEFAULT_FUSION_WEIGHT = 0.5
FEATD_ONLY_FUSION_WEIGHT = 1.0  # no TG-D to fuse with
DEFAULT_CLIP_PRETRAINED = DEFAULT_PRETRAINED  # the library's default weights: OpenAI's for CLIP's RN50
FROM_TRAINING_RUN = object()  # "the CLIP weights the run's options name"; None already means a random encoder
WEIGHTS_ENV = 'SFD_IQA_WEIGHTS'
DEFAULT_FILE_NAME = 'sfd_iqa.pth'
FEATD_OPTIONS = ('layers', 'num_feat', 'num_down', 'skip_connection')
TGD_OPTIONS = ('n_ctx', 'prompt_pairs')


class WeightsError(InputError):
    """A weight file that is not what SFD-IQA needs; the message names the file."""


def default_weights_path():
    """Where pyiqa keeps metric weights: ``$TORCH_HOME/hub/pyiqa/sfd_iqa.pth``."""
    return os.path.join(torch.hub.get_dir(), 'pyiqa', DEFAULT_FILE_NAME)


def resolve_weights_path(path=None):
    """The explicit path, else ``$SFD_IQA_WEIGHTS``, else the default path; it must exist."""
    candidate = path or os.environ.get(WEIGHTS_ENV) or default_weights_path()
    candidate = os.path.expanduser(candidate)
    if os.path.isdir(candidate):
        raise InputError(f"SFD-IQA weights '{candidate}' is a folder; give the weights file in it (sfd_iqa.pth, as "
                         '`sfd-iqa export` writes it).')
    if not os.path.isfile(candidate):
        raise InputNotFound(
            f"SFD-IQA weights not found at '{candidate}'. No SFD-IQA weights are published: train SFD "
            '(basicsr train -opt options/train_sfd_esrgan_x4.yml, or basicsr demo), export its discriminators '
            'with `sfd-iqa export -m experiments/<name> -o sfd_iqa.pth`, then pass pretrained_model_path=..., '
            f'set {WEIGHTS_ENV}=/path/to/sfd_iqa.pth, or copy the file to {default_weights_path()}.')
    return candidate


def _load(path, what):
    if not os.path.isfile(path):
        raise InputNotFound(f"{what} '{path}' does not exist.")
    try:
        return read_checkpoint(path, what)
    except CheckpointReadError as error:
        raise WeightsError(str(error)) from None


def check_fusion_weight(fusion_weight):
    """``w`` as a float in [0, 1], or a ``WeightsError``."""
    if not 0 <= fusion_weight <= 1:
        raise WeightsError(f'fusion_weight must be in [0, 1]; got {fusion_weight}.')
    return float(fusion_weight)


def featd_config_from_params(params):
    """FeatD constructor options recovered from its state_dict (skip_connection cannot be seen)."""
    layers = sorted({key.split('.')[1] for key in params if key.startswith('project.')})
    return {
        'layers': layers,
        'num_feat': int(params[f'project.{layers[0]}.weight_orig'].shape[0]),
        'num_down': len({key.split('.')[1] for key in params if key.startswith('down.')}),
        'skip_connection': True,
    }


def tgd_config_from_params(params):
    pairs, _, n_ctx, _ = params['prompts.ctx'].shape
    return {'n_ctx': int(n_ctx), 'prompt_pairs': [['good.', 'bad.']] * int(pairs)}


def _network_params(path, required_key, kind):
    """The state dict of a BasicSR network checkpoint and the iteration it records (None: not recorded)."""
    checkpoint = _load(path, f'{kind} checkpoint')
    params = checkpoint.get('params', checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(params, dict) or required_key not in params or 'backbone' not in params:
        raise WeightsError(f"'{path}' is not a {kind} checkpoint saved by SFD training "
                           f"(expected a 'params' state dict with '{required_key}').")
    trained_iter = checkpoint.get('iter') if params is not checkpoint else None
    if trained_iter is None:  # checkpoints of other trainers: BasicSR's file name net_d_<iter>.pth
        trained_iter = iteration_in_name(os.path.basename(path).rsplit('_', 1)[-1])
    return params, trained_iter


def fusion_weight_for(fusion_weight, has_tgd, where):
    """``w`` checked: the default (None) is 0.5 with TG-D, 1 without; without TG-D nothing else is possible."""
    if fusion_weight is None:
        return DEFAULT_FUSION_WEIGHT if has_tgd else FEATD_ONLY_FUSION_WEIGHT
    fusion_weight = check_fusion_weight(fusion_weight)
    if not has_tgd and fusion_weight != FEATD_ONLY_FUSION_WEIGHT:
        raise WeightsError(f'No TG-D in {where} (its backbone has no text tower, or the run trained Feat-D alone): '
                           f"the score is Feat-D's alone, so fusion_weight must be 1; got {fusion_weight}.")
    return fusion_weight


def weights_from_checkpoints(featd_path, tgd_path=None, fusion_weight=None,
                             clip_pretrained=FROM_TRAINING_RUN, featd_options=None, tgd_options=None):
    """The exported-format dict built from BasicSR's ``net_d_*.pth`` and ``net_d_tg_*.pth`` files (no TG-D file:
    Feat-D alone, ``fusion_weight`` 1).

    ``clip_pretrained`` defaults to the CLIP weights of the training options found beside the checkpoints
    (``<experiment>/models/../*.yml``, read only when the checkpoint is in a ``models`` folder), else the library's
    default weights (OpenAI's for CLIP's RN50); None is a random encoder (tests). The dict's
    ``trained_iter`` is the iteration the discriminators were saved at (None when the checkpoint does not say).
    """
    models_dir = os.path.dirname(os.path.abspath(featd_path))
    # only an experiment's models/ folder has the run's options beside it; elsewhere the *.yml above are not ours
    experiment_opt = training_options(os.path.dirname(models_dir), 'network_d') \
        if os.path.basename(models_dir) == 'models' else {}
    if clip_pretrained is FROM_TRAINING_RUN:
        clip_pretrained = (experiment_opt.get('network_d') or {}).get('pretrained', DEFAULT_CLIP_PRETRAINED)
    featd_options = featd_options if featd_options is not None else experiment_opt.get('network_d')
    tgd_options = tgd_options if tgd_options is not None else experiment_opt.get('network_d_tg')
    featd, trained_iter = _network_params(featd_path, 'backbone', 'Feat-D')
    if not any(key.startswith('project.') for key in featd):
        raise WeightsError(f"'{featd_path}' is not a Feat-D checkpoint (no 'project.*' weights).")
    clip_model = decode_backbone_name(featd['backbone'])
    clip_pretrained = resolve_pretrained(clip_model, clip_pretrained)
    featd_config = {**featd_config_from_params(featd), **_architecture_options(featd_options, FEATD_OPTIONS)}
    fusion_weight = fusion_weight_for(fusion_weight, tgd_path is not None, f"'{os.path.dirname(featd_path)}'")
    tgd_part = None
    if tgd_path is not None:
        tgd, _ = _network_params(tgd_path, 'prompts.ctx', 'TG-D')
        if decode_backbone_name(tgd['backbone']) != clip_model:
            raise WeightsError(f"'{featd_path}' was trained on CLIP {clip_model} but '{tgd_path}' on "
                               f"{decode_backbone_name(tgd['backbone'])}.")
        tgd_part = {'config': {**tgd_config_from_params(tgd), **_architecture_options(tgd_options, TGD_OPTIONS)},
                    'params': tgd}
    return {'format': FORMAT, 'version': FORMAT_VERSION, 'clip_model': clip_model, 'clip_pretrained': clip_pretrained,
            'fusion_weight': float(fusion_weight), 'trained_iter': trained_iter,
            'featd': {'config': featd_config, 'params': featd}, 'tgd': tgd_part}


def _architecture_options(network_opt, keys):
    return {key: network_opt[key] for key in keys if network_opt and key in network_opt}


def export_experiment(experiment, output, fusion_weight=None, clip_pretrained=FROM_TRAINING_RUN):
    """Export the latest Feat-D and TG-D (where the run trained one) of an SFD experiment folder into one SFD-IQA
    file."""
    models_dir = os.path.join(experiment, 'models')
    if not os.path.isdir(models_dir):
        raise InputNotFound(f"'{experiment}' is not an SFD experiment folder (no models/ inside).")
    featd = latest_checkpoint(models_dir, 'net_d')
    try:
        tgd = latest_checkpoint(models_dir, 'net_d_tg')
    except InputNotFound:  # a run that trained Feat-D alone (a backbone without a text tower)
        tgd = None
    weights = weights_from_checkpoints(featd, tgd, fusion_weight, clip_pretrained)
    if weights['trained_iter'] == 0:
        raise WeightsError(f"'{experiment}' holds untrained discriminators (saved at iteration 0): its training ran "
                           'no iteration. Check the training log, train, then export.')
    save_weights(weights, output)
    return weights


def save_weights(weights, output):
    check_writable_folder(os.path.dirname(os.path.abspath(output)), 'output')
    atomic_torch_save(weights, output)


def load_weights(path):
    """Read and validate an exported SFD-IQA file."""
    weights = _load(path, 'SFD-IQA weights file')
    if not isinstance(weights, dict) or weights.get('format') != FORMAT:
        hint = (' It looks like a BasicSR network checkpoint: export the SFD discriminators with '
                '`sfd-iqa export`.' if isinstance(weights, dict) and 'params' in weights else '')
        raise WeightsError(f"'{path}' is not an SFD-IQA weights file.{hint}")
    version = weights.get('version')
    if version != FORMAT_VERSION:
        raise WeightsError(f"'{path}' has SFD-IQA format version {version}; this sfd_basicsr reads version "
                           f'{FORMAT_VERSION}. Re-export it with this version, or install the matching sfd_basicsr.')
    featd_only = weights.get('tgd', {}) is None and weights.get('fusion_weight') == FEATD_ONLY_FUSION_WEIGHT
    for part in ('featd', ) if featd_only else ('featd', 'tgd'):
        if not isinstance(weights.get(part), dict) or not {'config', 'params'} <= set(weights[part]):
            raise WeightsError(f"'{path}' lacks the '{part}' network of SFD-IQA.")
    return weights
