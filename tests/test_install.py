"""The package imports next to current torch/torchvision and fills BasicSR's registries."""
import importlib
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_import_sfd_basicsr_then_basicsr_in_a_fresh_interpreter():
    code = ('import sfd_basicsr, basicsr; from basicsr.utils.registry import ARCH_REGISTRY, LOSS_REGISTRY, '
            'MODEL_REGISTRY; names = {"FeatD", "TGDiscriminator"} <= set(ARCH_REGISTRY.keys()) and '
            '{"FeatDGANLoss", "TGDGANLoss"} <= set(LOSS_REGISTRY.keys()); print(names)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith('True')


def test_torchvision_alias_is_the_current_module():
    import torchvision.transforms._functional_tensor as current

    from sfd_basicsr.compat.torchvision_alias import LEGACY_MODULE, alias_torchvision_functional_tensor
    assert alias_torchvision_functional_tensor() is sys.modules[LEGACY_MODULE]
    legacy = importlib.import_module(LEGACY_MODULE)
    assert legacy.rgb_to_grayscale is current.rgb_to_grayscale
    from basicsr.data import degradations  # the basicsr module that imports the legacy name
    assert degradations.rgb_to_grayscale is current.rgb_to_grayscale


def test_reimporting_arch_modules_does_not_raise_already_registered():
    from basicsr.utils.registry import ARCH_REGISTRY

    import sfd_basicsr.archs.featd_arch as featd_arch
    reloaded = importlib.reload(featd_arch)
    assert ARCH_REGISTRY.get('FeatD') is reloaded.FeatD
    importlib.reload(importlib.import_module('sfd_basicsr.losses.sfd_gan_loss'))


def test_a_foreign_object_under_our_name_is_still_refused():
    from basicsr.utils.registry import Registry

    from sfd_basicsr.compat.registry import register
    registry = Registry('test')

    @register(registry)
    class FeatD:  # noqa: F811
        pass

    other = type('FeatD', (), {'__module__': 'someone_else.module'})
    other.__qualname__ = 'Other'
    with pytest.raises(KeyError, match='already registered'):
        register(registry)(other)


@pytest.mark.slow
def test_the_wheel_carries_the_comparison_pages_template(tmp_path):
    import os
    import zipfile
    import shutil
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    source = tmp_path / 'source'  # a copy: a build/ folder left in the checkout would hold files of older builds
    shutil.copytree(root, source, ignore=shutil.ignore_patterns('.git', 'build', 'dist', '*.egg-info', '__pycache__',
                                                                '.venv', '.pytest_cache', 'experiments', 'results'))
    built = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w',
                            str(tmp_path / 'wheel'), str(source)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next((tmp_path / 'wheel').glob('sfd_basicsr-*.whl'))
    names = zipfile.ZipFile(wheel).namelist()
    assert {f'sfd_basicsr/inference/templates/compare.{ext}' for ext in ('html', 'css', 'js')} <= set(names)
