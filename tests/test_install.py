"""The package imports next to current torch/torchvision and fills BasicSR's registries."""
import glob
import importlib
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_import_sfd_basicsr_then_basicsr_in_a_fresh_interpreter():
    code = ('import sfd_basicsr, basicsr; from basicsr.utils.registry import ARCH_REGISTRY, LOSS_REGISTRY, '
            'MODEL_REGISTRY; names = {"FeatD", "TGDiscriminator"} <= set(ARCH_REGISTRY.keys()) and '
            '{"FeatDGANLoss", "TGDGANLoss"} <= set(LOSS_REGISTRY.keys()); print(names)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith('True')


FILE_EXTENSIONS = {'csv', 'md', 'html', 'png', 'pdf', 'yml', 'pth', 'txt', 'json', 'js', 'css'}
DOCS = [os.path.join(ROOT, 'README.md')] + sorted(glob.glob(os.path.join(ROOT, 'docs', '*.md')))


def _doc_texts():
    return {os.path.relpath(path, ROOT): open(path).read() for path in DOCS}


def test_every_module_path_the_docs_name_exists():
    named = {(doc, path) for doc, text in _doc_texts().items()
             for path in re.findall(r'sfd_basicsr/[\w/]+\.py', text)}
    assert sorted(f'{doc}: {path}' for doc, path in named if not os.path.isfile(os.path.join(ROOT, path))) == []


def test_every_import_and_dotted_name_the_docs_show_works():
    shown = set()
    for doc, text in _doc_texts().items():
        for module, names in re.findall(r'from (sfd_basicsr[\w.]*) import ([\w, ]+)', text):
            shown |= {(doc, module, name.strip()) for name in names.split(',') if name.strip()}
        layers = r'compat|utils|backbones|data|iqa|inference|training|metrics|models|archs|commands'
        for dotted in re.findall(r'`(sfd_basicsr(?:\.\w+)+)`', text) + re.findall(rf'`((?:{layers})(?:\.\w+)+)`', text):
            if dotted.rsplit('.', 1)[-1] in FILE_EXTENSIONS:
                continue  # a file name (`metrics.csv`), not a module
            full = dotted if dotted.startswith('sfd_basicsr') else f'sfd_basicsr.{dotted}'
            module, _, name = full.rpartition('.')
            shown.add((doc, module, name))
    missing = []
    for doc, module, name in sorted(shown):
        try:
            found = importlib.import_module(f'{module}.{name}')
        except ImportError:
            try:
                found = getattr(importlib.import_module(module), name, None)
            except ImportError:
                found = None
        if found is None:
            missing.append(f'{doc}: {module}.{name}')
    assert missing == []
    assert len(shown) > 5


def test_the_registered_names_the_readme_lists():
    import sfd_basicsr
    from basicsr.utils.registry import ARCH_REGISTRY, LOSS_REGISTRY, METRIC_REGISTRY, MODEL_REGISTRY
    readme = open(os.path.join(ROOT, 'README.md')).read()
    for registry, names in ((ARCH_REGISTRY, ['FeatD', 'TGDiscriminator', 'SeDPatchDiscriminator',
                                             'SeDUNetDiscriminator']),
                            (LOSS_REGISTRY, ['FeatDGANLoss', 'TGDGANLoss']),
                            (MODEL_REGISTRY, ['SFDModel', 'SFDRealModel', 'SeDModel']),
                            (METRIC_REGISTRY, ['calculate_sfd_iqa', 'calculate_pyiqa'])):
        for name in names:
            assert f'`{name}`' in readme and name in registry, name
    assert isinstance(sfd_basicsr.__version__, str)


@pytest.mark.slow
def test_the_wheel_carries_the_comparison_pages_template(tmp_path):
    import shutil
    import zipfile
    root = ROOT
    source = tmp_path / 'source'  # a copy: a build/ folder left in the checkout would hold files of older builds
    shutil.copytree(root, source, ignore=shutil.ignore_patterns('.git', 'build', 'dist', '*.egg-info', '__pycache__',
                                                                '.venv', '.pytest_cache', 'experiments', 'results'))
    built = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w',
                            str(tmp_path / 'wheel'), str(source)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next((tmp_path / 'wheel').glob('sfd_basicsr-*.whl'))
    names = zipfile.ZipFile(wheel).namelist()
    assert {f'sfd_basicsr/inference/templates/compare.{ext}' for ext in ('html', 'css', 'js')} <= set(names)
