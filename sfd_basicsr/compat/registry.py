"""Registration into BasicSR's registries that tolerates a second import of the same module.

BasicSR's ``Registry.register`` raises when a name is taken. A module of ours can legitimately be
executed twice (``importlib.reload``, or once as ``sfd_basicsr.archs.x`` and once through a path entry
that makes it ``archs.x``); the second run must replace our own earlier class, while a *different*
object under the same name (another plugin's) is still an error. The write into BasicSR's registry is
``basicsr_registry_put``, the one write besides BasicSR's own ``register``.
"""


def basicsr_registry_put(registry, name, obj):
    """Put ``obj`` under ``name`` in a BasicSR ``Registry``, replacing what is there (``registry.register`` decides).

    BasicSR's ``Registry.register`` registers an object under its own ``__name__`` only and refuses a taken name,
    our own class re-executed by a reload too; its private ``_obj_map`` is the only way to register one class under
    two names (``FeatDGANLoss``, ``TGDGANLoss``) and to replace our own earlier definition.
    """
    registry._obj_map[name] = obj


def _same_definition(a, b):
    return (getattr(a, '__qualname__', None) == getattr(b, '__qualname__', None)
            and getattr(a, '__module__', '').rsplit('.', 1)[-1] == getattr(b, '__module__', '').rsplit('.', 1)[-1])


def register(registry, *names):
    """Decorator: ``@register(ARCH_REGISTRY)`` registers the class or function under its ``__name__``, or under each
    of ``names`` (one class that options files know by several names)."""

    def deco(obj):
        for name in names or (obj.__name__,):
            existing = registry.get(name) if name in registry else None
            if existing is not None and existing is not obj and not _same_definition(existing, obj):
                raise KeyError(f"An object named '{name}' is already registered in BasicSR's '{registry._name}' "
                               f'registry by {existing.__module__}; sfd_basicsr cannot register its own.')
            basicsr_registry_put(registry, name, obj)
        return obj

    return deco


def import_submodules(package_name, package_file, suffix):
    """Import every ``*<suffix>.py`` module beside ``package_file``: how our subpackages fill the registries."""
    import importlib
    from os import path as osp

    from basicsr.utils import scandir

    folder = osp.dirname(osp.abspath(package_file))
    names = sorted(osp.splitext(name)[0] for name in scandir(folder) if name.endswith(f'{suffix}.py'))
    return [importlib.import_module(f'{package_name}.{name}') for name in names]


class PreparedMetric:
    """A BasicSR metric that can fail before training starts (weights to download, an unknown name): the options
    check calls ``prepare(opt)`` on every registered metric of this kind, which builds it now and may fill defaults
    in ``opt`` (``better``); BasicSR calls it like any metric function."""

    def __init__(self, calculate, prepare):
        self.calculate, self.prepare = calculate, prepare
        self.__name__, self.__doc__ = calculate.__name__.lstrip('_'), calculate.__doc__
        self.__qualname__, self.__module__ = self.__name__, calculate.__module__

    def __call__(self, *args, **kwargs):
        return self.calculate(*args, **kwargs)
