"""SFD-IQA: the metric network, its weight files, its BasicSR metric and its pyiqa registration."""
from .basicsr_metric import calculate_sfd_iqa  # noqa: F401  (registers the BasicSR metric)
from .sfd_iqa_arch import SFDIQA  # noqa: F401
from .weights import export_experiment, load_weights, weights_from_checkpoints  # noqa: F401
