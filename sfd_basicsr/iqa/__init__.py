"""SFD-IQA: the metric network, its weight files, quality maps, correlation with MOS; pyiqa metrics built by name."""
from .sfd_iqa_arch import SFDIQA  # noqa: F401
from .weights import export_experiment, load_weights, weights_from_checkpoints  # noqa: F401
