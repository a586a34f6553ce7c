"""``iqa/pyiqa_metrics.py``: pyiqa metrics by name, once per process; a name pyiqa does not know is refused as a typo
(with pyiqa's nearest names), a known one that cannot be built here is ``MetricUnavailable`` with the reason."""
import pyiqa
import pytest

from sfd_basicsr.iqa.pyiqa_metrics import MetricUnavailable, UnknownMetric, pyiqa_metric
from sfd_basicsr.utils.errors import InputError


def test_a_name_pyiqa_does_not_know_is_a_refused_typo_not_an_unavailable_metric():
    assert 'lpips' in pyiqa.list_models() and 'lpip' not in pyiqa.list_models()
    with pytest.raises(UnknownMetric, match=r"^'lpip' is not a pyiqa metric \(did you mean lpips[,?]") as refused:
        pyiqa_metric('lpip')
    # library callers (evaluate, compare, correlate) go on past MetricUnavailable; a typo must stop them
    assert isinstance(refused.value, InputError) and not isinstance(refused.value, MetricUnavailable)
    with pytest.raises(UnknownMetric, match=r"^'qwertyuiop' is not a pyiqa metric; see pyiqa.list_models\(\)"):
        pyiqa_metric('qwertyuiop')

