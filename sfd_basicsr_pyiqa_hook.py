"""Teaches pyiqa the ``sfd_iqa`` metric, without importing pyiqa, torch or sfd_basicsr before pyiqa is used.

``sfd_basicsr_pyiqa.pth`` calls ``install()`` when the interpreter starts, so the ``pyiqa`` command and a
plain ``pyiqa.create_metric('sfd_iqa')`` find the metric; ``import sfd_basicsr`` calls it too. Until
``pyiqa.default_model_configs`` is imported, the only cost is one string comparison per import. Then its
``DEFAULT_CONFIGS`` gets the ``sfd_iqa`` entry and pyiqa's ARCH_REGISTRY a lazy ``SFDIQA`` whose module
is imported only when the metric is built. The same ``register_arch`` is the ``pyiqa.archs`` entry point.
"""
import sys

METRIC_NAME = 'sfd_iqa'
ARCH_NAME = 'SFDIQA'
ARCH_IMPORT_PATH = 'sfd_basicsr.iqa.sfd_iqa_arch:SFDIQA'
METRIC_CONFIG = {
    'metric_opts': {'type': ARCH_NAME},
    'metric_mode': 'NR',
    'lower_better': False,
    'score_range': '0, 1',
}
CONFIGS_MODULE = 'pyiqa.default_model_configs'


def register_arch():
    from pyiqa.utils.registry import ARCH_REGISTRY
    if ARCH_NAME not in ARCH_REGISTRY._obj_map and ARCH_NAME not in ARCH_REGISTRY._lazy_map:
        ARCH_REGISTRY.register_lazy(ARCH_NAME, ARCH_IMPORT_PATH)


def register(configs_module):
    configs_module.DEFAULT_CONFIGS.setdefault(METRIC_NAME, {**METRIC_CONFIG, 'metric_opts': {'type': ARCH_NAME}})
    register_arch()


class _RegisterAfterExec:
    """Loader wrapper: runs pyiqa's config module, then adds our entry."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        register(module)


class _ConfigsFinder:

    def find_spec(self, fullname, path=None, target=None):
        if fullname != CONFIGS_MODULE:
            return None
        from importlib.machinery import PathFinder
        spec = PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _RegisterAfterExec(spec.loader)
        return spec


def install():
    if CONFIGS_MODULE in sys.modules:
        register(sys.modules[CONFIGS_MODULE])
    elif not any(isinstance(finder, _ConfigsFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _ConfigsFinder())
