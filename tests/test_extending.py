"""The "Extending" recipes of docs/architecture.md, each followed to the letter by adding a throwaway piece.

The training recipes (a discriminator, a loss, a model with its schema section, a validation metric) are followed in a
copy of the package, which then trains one iteration through ``python -m sfd_basicsr.train``: the files the guide
names are the only ones touched. The command and backbone recipes run in this process.
"""
import os
import shutil
import subprocess
import sys
import types

import pytest
import torch

from helpers.training import read_log, tiny_train_options, write_options

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'sfd_basicsr')
GUIDE = os.path.join(os.path.dirname(PACKAGE), 'docs', 'architecture.md')

TOY_ARCH = '''"""A toy discriminator (tests/test_extending.py)."""
from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn

from ..compat.registry import register


@register(ARCH_REGISTRY)
class ToyDiscriminator(nn.Module):

    def __init__(self, num_feat=4):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, num_feat, 3, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(num_feat, 1, 3, 1, 1))

    def forward(self, x):
        return self.body(x)
'''
TOY_LOSS = '''"""A toy GAN loss (tests/test_extending.py)."""
from basicsr.losses.gan_loss import GANLoss
from basicsr.utils.registry import LOSS_REGISTRY

from ..compat.registry import register


@register(LOSS_REGISTRY)
class ToyGANLoss(GANLoss):
    pass
'''
TOY_MODEL = '''"""A toy model (tests/test_extending.py)."""
from basicsr.models.srgan_model import SRGANModel
from basicsr.utils.registry import MODEL_REGISTRY

from ..compat.registry import register
from .exact_resume import ExactResume


@register(MODEL_REGISTRY)
class ToyModel(ExactResume, SRGANModel):
    trained_networks = {'network_d': 'gan_opt'}
'''
TOY_METRIC = '''"""A toy validation metric (tests/test_extending.py)."""
from basicsr.utils.registry import METRIC_REGISTRY

from ..compat.registry import register


@register(METRIC_REGISTRY)
def calculate_toy(img, img2=None, **kwargs):
    return 42.0
'''


def _follow(path, text, after=None, add=None):
    """Write ``text`` to ``path``, or insert ``add`` after the line ``after`` of it."""
    if after is None:
        path.write_text(text)
        return
    content = path.read_text()
    assert after in content, f'the guide names {after!r} in {path.name}, which no longer has it'
    path.write_text(content.replace(after, after + add, 1))


def test_the_guide_names_the_files_the_recipes_touch():
    text = open(GUIDE).read()
    for name in ('archs/<name>_arch.py', 'losses/<name>_loss.py', 'models/<name>_model.py', 'MODELS',
                 'metrics/<name>_metric.py', 'metrics/__init__.py', 'commands/<name>.py', 'basicsr_command.py',
                 'backbones/layout.py', 'PreparedMetric', 'trained_networks'):
        assert name in text, name


@pytest.mark.slow
def test_a_toy_discriminator_loss_model_and_metric_train_one_iteration(tmp_path):
    copy = tmp_path / 'src' / 'sfd_basicsr'
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns('__pycache__'))
    _follow(copy / 'archs' / 'toy_arch.py', TOY_ARCH)
    _follow(copy / 'losses' / 'toy_loss.py', TOY_LOSS)
    _follow(copy / 'models' / 'toy_model.py', TOY_MODEL)
    _follow(copy / 'training' / 'options_schema.py', None, after="MODELS = {  # model_type: (top-level schema, train "
            "schema)\n", add="    'ToyModel': (Top, SRGANModelTrain),\n")
    _follow(copy / 'metrics' / 'toy_metric.py', TOY_METRIC)
    _follow(copy / 'metrics' / '__init__.py', None, after='from .sfd_iqa_metric import calculate_sfd_iqa\n',
            add='from .toy_metric import calculate_toy  # noqa: F401\n')
    opt = tiny_train_options(tmp_path, name='toy', iters=1, warm_start=False)
    opt['model_type'] = 'ToyModel'
    opt['network_d'] = {'type': 'ToyDiscriminator', 'num_feat': 4}
    opt.pop('network_d_tg')
    for key in ('featd_opt', 'tgd_opt'):
        opt['train'].pop(key)
    opt['train']['gan_opt'] = {'type': 'ToyGANLoss', 'gan_type': 'vanilla', 'loss_weight': 0.1}
    opt['val']['metrics'] = {'toy': {'type': 'calculate_toy'}}
    opt_file = write_options(tmp_path / 'toy.yml', opt)
    env = dict(os.environ, PYTHONPATH=str(copy.parent), HF_HUB_OFFLINE='1')
    result = subprocess.run([sys.executable, '-m', 'sfd_basicsr.train', '-opt', opt_file], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'warning' not in result.stderr.lower(), result.stderr[-2000:]  # the schema knows ToyModel
    log = read_log(tmp_path / 'experiments' / 'toy', 'train')
    assert 'Model [ToyModel] is created.' in log and 'ToyDiscriminator' in log
    assert 'l_g_gan' in log and 'l_d_real' in log
    assert '# toy: 42.0000' in log
    assert (tmp_path / 'experiments' / 'toy' / 'models' / 'net_d_latest.pth').is_file()


def test_a_toy_command_is_dispatched_and_its_user_errors_are_one_line(basicsr_main, monkeypatch, tmp_path):
    from sfd_basicsr.commands import basicsr_command
    from sfd_basicsr.utils.errors import InputError

    def add_parser(commands):
        parser = commands.add_parser('toy', help='a toy command')
        parser.add_argument('--fail', action='store_true')
        parser.set_defaults(run=run)

    def run(args):
        if args.fail:
            raise InputError('--fail: the toy refuses')
        print('toy ran')
        return 0

    toy = types.SimpleNamespace(add_parser=add_parser, run=run)
    monkeypatch.setattr(basicsr_command, 'COMMANDS', basicsr_command.COMMANDS + (toy,))
    assert basicsr_main(['toy'], cwd=tmp_path).stdout == 'toy ran\n'
    failed = basicsr_main(['toy', '--fail'], cwd=tmp_path)
    assert (failed.returncode, failed.stderr) == (2, 'basicsr toy: --fail: the toy refuses\n')


def test_a_new_backbone_of_a_known_family_is_an_open_clip_config(tmp_path):
    """A ResNet of another depth and width: one open_clip config, and Feat-D sizes itself from it."""
    import json

    import open_clip

    from sfd_basicsr.archs.featd_arch import FeatD
    config = {'embed_dim': 64, 'quick_gelu': True,
              'vision_cfg': {'image_size': 64, 'layers': [1, 1, 1, 1], 'width': 8, 'patch_size': None},
              'text_cfg': {'context_length': 77, 'vocab_size': 49408, 'width': 64, 'heads': 2, 'layers': 1}}
    (tmp_path / 'RN-toy.json').write_text(json.dumps(config))
    open_clip.add_model_config(tmp_path)
    featd = FeatD('RN-toy', pretrained=None, num_feat=4, layers=['layer2', 'layer3'])
    assert featd.project['layer2'].in_channels == 8 * 4 * 2  # open_clip's bottleneck: 4x the stage width
    logits = featd(torch.rand(1, 3, 64, 64))
    assert logits.shape == (1, 1, 8, 8)  # layer2's stride 8
