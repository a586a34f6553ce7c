"""Importing this package registers every ``*_model.py`` model in BasicSR's MODEL_REGISTRY."""
from ..compat.registry import import_submodules

_model_modules = import_submodules(__name__, __file__, '_model')
