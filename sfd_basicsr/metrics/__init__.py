"""BasicSR metrics beyond BasicSR's own: any pyiqa metric as ``calculate_pyiqa``."""
from .pyiqa_metric import MetricUnavailable, calculate_pyiqa, metric_options, pyiqa_metric

__all__ = ['MetricUnavailable', 'calculate_pyiqa', 'metric_options', 'pyiqa_metric']
