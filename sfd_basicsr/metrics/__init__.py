"""BasicSR validation metrics beyond BasicSR's own (``val.metrics``): ``calculate_pyiqa`` (any pyiqa metric) and
``calculate_sfd_iqa``; one file each, registered into BasicSR's ``METRIC_REGISTRY`` on import."""
from .pyiqa_metric import calculate_pyiqa
from .sfd_iqa_metric import calculate_sfd_iqa

__all__ = ['calculate_pyiqa', 'calculate_sfd_iqa']
