"""sfd_basicsr: Semantic Feature Discrimination (SFD, CVPR 2025) as a BasicSR plugin.

Importing it first makes BasicSR 1.4.2 importable on current torchvision (``compat``), then fills BasicSR's
registries with the SFD archs, losses, models and the ``calculate_sfd_iqa`` and ``calculate_pyiqa`` metrics, and
makes pyiqa know the ``sfd_iqa`` metric. Every submodule import runs this first (Python imports a package before its
modules), so ``training.pipeline`` and the commands find the registries filled. The layers of the package and the
rule between them: docs/architecture.md.
"""
from . import compat  # noqa: F401  (must precede every basicsr import)
from . import archs, iqa, losses, metrics, models  # noqa: F401,E402
from .archs import *  # noqa: F401,F403,E402
from .losses import *  # noqa: F401,F403,E402
from .models import *  # noqa: F401,F403,E402
from .version import __version__  # noqa: F401,E402

import sfd_basicsr_pyiqa_hook  # noqa: E402

sfd_basicsr_pyiqa_hook.install()
