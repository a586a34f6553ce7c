"""What the plugin registers: its archs, losses, models and metrics in BasicSR's registries, ``sfd_iqa`` in pyiqa.

``import sfd_basicsr`` runs it; so does every entry point that needs the registries filled (``pipeline``).
"""
from . import compat  # noqa: F401  (must precede every basicsr import)
from . import archs, iqa, losses, metrics, models  # noqa: F401,E402

import sfd_basicsr_pyiqa_hook  # noqa: E402

sfd_basicsr_pyiqa_hook.install()
