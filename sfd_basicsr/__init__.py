"""sfd_basicsr: Semantic Feature Discrimination (SFD, CVPR 2025) as a BasicSR plugin.

Importing it first makes BasicSR 1.4.2 importable on current torchvision (see ``compat``), then fills
BasicSR's registries with the SFD archs, losses, models and the ``calculate_sfd_iqa`` and ``calculate_pyiqa``
metrics, and makes pyiqa know the ``sfd_iqa`` metric (``plugin``). The layers of the package and the rule
between them: docs/architecture.md.
"""
from . import plugin  # noqa: F401  (compatibility, then every registration)
from .archs import *  # noqa: F401,F403,E402
from .losses import *  # noqa: F401,F403,E402
from .models import *  # noqa: F401,F403,E402
from .version import __version__  # noqa: F401,E402
