"""pyiqa metrics built by name, once per process, device and options; a metric that cannot be built here is
``MetricUnavailable`` with the reason (``basicsr evaluate``, ``sfd-iqa correlate`` and ``calculate_pyiqa`` use it), a
name pyiqa does not know is ``UnknownMetric``: a typo, refused rather than reported as a metric that is missing."""
import contextlib
import io
import os
import re
import sys

from ..utils.distributed import default_device
from ..utils.errors import InputError, UserError
from ..utils.process_cache import ProcessCache

_METRICS = ProcessCache()


class MetricUnavailable(UserError, RuntimeError):
    """A pyiqa metric that cannot be built here (weights that cannot be downloaded, options it refuses, ...)."""


class UnknownMetric(InputError):
    """A name that is no pyiqa metric."""


def _pyiqa():
    import sfd_basicsr_pyiqa_hook  # pyiqa learns sfd_iqa
    sfd_basicsr_pyiqa_hook.install()
    import pyiqa
    return pyiqa


def unknown_metric(metric):
    """Why ``metric`` is no pyiqa metric name (with the nearest names, a typo's likely cure), or None."""
    import difflib
    known = _pyiqa().list_models()
    if metric in known:
        return None
    near = difflib.get_close_matches(metric, known, n=3)
    return (f"'{metric}' is not a pyiqa metric" + (f" (did you mean {', '.join(near)}?)" if near else '') +
            '; see pyiqa.list_models()')


def pyiqa_metric(metric, device=None, **options):
    """The pyiqa metric ``metric`` built with ``options``, once per process and device."""
    pyiqa = _pyiqa()
    device = default_device(device)
    key = (metric, str(device), tuple(sorted((k, repr(v)) for k, v in options.items())))
    return _METRICS.get(key, lambda: _build(pyiqa, metric, device, options))


def metric_options(metric, sfd_iqa_weights=None):
    """pyiqa options for ``metric``: the SFD-IQA weights file for ``sfd_iqa`` when one is given (``--weights``)."""
    return {'pretrained_model_path': sfd_iqa_weights} if metric == 'sfd_iqa' and sfd_iqa_weights else {}


def _build(pyiqa, metric, device, options):
    problem = unknown_metric(metric)
    if problem:
        raise UnknownMetric(problem)
    said = io.StringIO()
    try:
        with contextlib.redirect_stdout(said):  # pyiqa prints 'Downloading: "<url>" to <file>' before each download
            built = pyiqa.create_metric(metric, device=device, **options)
    except Exception as error:  # noqa: BLE001  (weights missing offline, bad options: say which and why)
        reason = str(error).splitlines()[0] if str(error) else ''
        downloads = re.findall(r'Downloading: "([^"]+)" to (\S+)', said.getvalue())
        where = ''
        if downloads:
            url, target = downloads[-1]
            where = (f'; it downloads {url} to {target}: fetch that file on a machine with network and put it in '
                     f'{os.path.dirname(target)}')
        raise MetricUnavailable(f"pyiqa metric '{metric}' cannot be built: {type(error).__name__}: {reason}"
                                f'{where}') from error
    sys.stdout.write(said.getvalue())
    return built
