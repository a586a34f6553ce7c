"""Every patch sfd_basicsr makes to another library, each in one file with its reason.

- ``torchvision_alias``: BasicSR 1.4.2 importable on current torchvision (run when this package is imported, so
  ``import sfd_basicsr`` does it before any BasicSR import);
- ``basicsr_patches``: BasicSR's pipelines on CPU-only machines, validation metrics that cannot end training,
  ``filter2D`` on channels-last tensors, the pipeline functions ``training.pipeline`` replaces; all scoped;
- ``registry``: registration into BasicSR's registries (the one write into a ``Registry`` besides its own);
- ``argv``: ``sys.argv`` as BasicSR's argument parser reads it.

The patch of pyiqa that teaches it ``sfd_iqa`` lives outside the package, in ``sfd_basicsr_pyiqa_hook.py``: a
``.pth`` file starts it in every Python process, so it must not import this package (docs/iqa.md).
"""
from .torchvision_alias import alias_torchvision_functional_tensor

alias_torchvision_functional_tensor()
