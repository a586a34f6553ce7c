"""Importing this package registers every ``*_arch.py`` network in BasicSR's ARCH_REGISTRY."""
from ..compat.registry import import_submodules

_arch_modules = import_submodules(__name__, __file__, '_arch')
