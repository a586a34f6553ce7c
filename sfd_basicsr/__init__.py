"""sfd_basicsr: Semantic Feature Discrimination (SFD, CVPR 2025) as a BasicSR plugin.

Importing it first makes BasicSR 1.4.2 importable on current torchvision (see ``compat``), then fills
BasicSR's registries with the SFD archs, losses, model and the ``calculate_sfd_iqa`` and ``calculate_pyiqa``
metrics, and makes
pyiqa know the ``sfd_iqa`` metric.
"""
from . import compat  # noqa: F401  (must precede every basicsr import)
from .archs import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .models import *  # noqa: F401,F403
from . import iqa  # noqa: F401,E402
from . import metrics  # noqa: F401,E402
from .version import __version__  # noqa: F401

import sfd_basicsr_pyiqa_hook  # noqa: E402

sfd_basicsr_pyiqa_hook.install()
