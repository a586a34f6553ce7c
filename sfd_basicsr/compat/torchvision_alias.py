"""BasicSR 1.4.2 (the last PyPI release) imports ``torchvision.transforms.functional_tensor``, a module torchvision
removed in 0.17; the same functions live on as ``torchvision.transforms._functional_tensor``. Importing this module
aliases the old name to the new module, so ``import basicsr`` works afterwards. Nothing is patched when the old module
still exists.
"""
import importlib
import importlib.util
import sys

LEGACY_MODULE = 'torchvision.transforms.functional_tensor'
CURRENT_MODULE = 'torchvision.transforms._functional_tensor'


def alias_torchvision_functional_tensor():
    """Make ``LEGACY_MODULE`` importable; return the module now registered under that name."""
    if LEGACY_MODULE in sys.modules:
        return sys.modules[LEGACY_MODULE]
    if importlib.util.find_spec(LEGACY_MODULE) is not None:
        return importlib.import_module(LEGACY_MODULE)
    module = importlib.import_module(CURRENT_MODULE)
    sys.modules[LEGACY_MODULE] = module
    return module


alias_torchvision_functional_tensor()
