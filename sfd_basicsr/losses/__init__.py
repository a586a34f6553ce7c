"""Importing this package registers every ``*_loss.py`` loss in BasicSR's LOSS_REGISTRY."""
from ..compat.registry import import_submodules

_loss_modules = import_submodules(__name__, __file__, '_loss')
