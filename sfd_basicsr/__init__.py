"""sfd_basicsr: Semantic Feature Discrimination (SFD, CVPR 2025) as a BasicSR plugin.

Importing it first makes BasicSR 1.4.2 importable on current torchvision (see ``compat``), then fills
BasicSR's registries with the SFD archs, losses and model.
"""
from . import compat  # noqa: F401  (must precede every basicsr import)
from .archs import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .models import *  # noqa: F401,F403
from .version import __version__  # noqa: F401
