"""Teaches pyiqa the ``sfd_iqa`` metric, without importing pyiqa, torch or sfd_basicsr before pyiqa is used.

``sfd_basicsr_pyiqa.pth`` calls ``install()`` when the interpreter starts, so the ``pyiqa`` command and a
plain ``pyiqa.create_metric('sfd_iqa')`` find the metric; ``import sfd_basicsr`` calls it too. Until
``pyiqa.default_model_configs`` is imported, the only cost is one string comparison per import. Then its
``DEFAULT_CONFIGS`` gets the ``sfd_iqa`` entry and pyiqa's ARCH_REGISTRY a lazy ``SFDIQA`` whose module
is imported only when the metric is built. The same ``register_arch`` is the ``pyiqa.archs`` entry point.

The ``pyiqa`` command (``pyiqa.pyiqa_cmd``) scores a folder in a loop of its own that stops at the first
error with a traceback; for ``sfd_iqa`` the hook turns that into one line naming the file and pointing to
``sfd-iqa score``, which skips such files and scores the rest; weights that are missing or cannot be read
end it in the one line that says how to give them; a folder in which it finds no image (where it would print a
mean of nan and exit 0), or a target that does not exist, ends it in the line ``sfd-iqa score`` says for it.

pyiqa reads a file it is given with PIL (``convert('RGB')``), which clips 16-bit grey to white and cuts 16-bit
colour to 8 bits; an ``sfd_iqa`` metric reads a file path as ``sfd-iqa score`` does
(``sfd_basicsr.utils.image_io.read_image``), so one file gets one score whichever way it is scored.

Every patch here takes effect for ``sfd_iqa`` only: other metrics and their command runs are pyiqa's own.
"""
import os
import sys

METRIC_NAME = 'sfd_iqa'
ARCH_NAME = 'SFDIQA'
ARCH_IMPORT_PATH = 'sfd_basicsr.iqa.sfd_iqa_arch:SFDIQA'
METRIC_CONFIG = {
    'metric_opts': {'type': ARCH_NAME},
    'metric_mode': 'NR',
    'lower_better': False,
    'score_range': '0, 1',
}
CONFIGS_MODULE = 'pyiqa.default_model_configs'
COMMAND_MODULE = 'pyiqa.pyiqa_cmd'
INFERENCE_MODULE = 'pyiqa.models.inference_model'


def register_arch():
    from pyiqa.utils.registry import ARCH_REGISTRY
    if ARCH_NAME not in ARCH_REGISTRY._obj_map and ARCH_NAME not in ARCH_REGISTRY._lazy_map:
        ARCH_REGISTRY.register_lazy(ARCH_NAME, ARCH_IMPORT_PATH)


def register(configs_module):
    configs_module.DEFAULT_CONFIGS.setdefault(METRIC_NAME, {**METRIC_CONFIG, 'metric_opts': {'type': ARCH_NAME}})
    register_arch()


def read_files_as_sfd_iqa_score(inference_module):
    """An ``sfd_iqa`` metric given a file path reads it with sfd_basicsr's reader, not with PIL."""
    model = inference_module.InferenceModel
    to_batched_tensor = model._to_batched_tensor
    if getattr(to_batched_tensor, 'reads_as_sfd_iqa_score', False):
        return

    def read(self, img):
        if getattr(self, 'metric_name', None) == METRIC_NAME and isinstance(img, (str, os.PathLike)):
            from sfd_basicsr.utils.image_io import read_image
            return read_image(os.fspath(img))
        return to_batched_tensor(self, img)

    read.reads_as_sfd_iqa_score = True
    model._to_batched_tensor = read


def _say(text):
    """Writes to stderr on lines of its own: tqdm's ``write`` clears the command's progress bar first."""
    from tqdm import tqdm  # pyiqa's own dependency, imported only once a message is due
    tqdm.write(text, file=sys.stderr)


def _refuse(message, exit_code):
    """The ``pyiqa`` command ended in one line for ``sfd_iqa``, without a traceback."""
    _say(f'pyiqa {METRIC_NAME}: {message}')
    raise SystemExit(exit_code) from None


def refuse_folders_without_images(command_module):
    """The command's folder listing refuses a folder without images (pyiqa's own loop would average no scores)."""
    scandir_images = command_module.scandir_images
    if getattr(scandir_images, 'refuses_no_images', False):
        return

    def scan(folder, *args, **kwargs):
        images = scandir_images(folder, *args, **kwargs)
        if not images:
            from sfd_basicsr.utils.image_io import NoImages
            error = NoImages(folder)
            _refuse(error.describe(), error.exit_code)
        return images

    scan.refuses_no_images = True
    command_module.scandir_images = scan


class _FileNamingMetric:
    """The ``sfd_iqa`` metric as the ``pyiqa`` command calls it: a file it cannot score ends the run in one line."""

    def __init__(self, metric):
        self._metric = metric

    def __getattr__(self, name):
        return getattr(self._metric, name)

    def __call__(self, target, *args, **kwargs):
        if isinstance(target, (str, os.PathLike)) and not os.path.exists(target):  # as `sfd-iqa score` refuses it
            from sfd_basicsr.utils.image_io import no_such_target
            error = no_such_target(target)
            _refuse(error.describe(), error.exit_code)
        try:
            return self._metric(target, *args, **kwargs)
        except Exception as error:  # noqa: BLE001  (any failure on one file: name the file, not a traceback)
            _say(f"pyiqa {METRIC_NAME}: cannot score '{target}': {type(error).__name__}: {error}\n"
                 "pyiqa's command stops at the first such file; `sfd-iqa score -t FOLDER` skips it and scores the "
                 'rest.')
            raise SystemExit(1) from None


def wrap_command(command_module):
    create_metric = command_module.create_metric
    if getattr(create_metric, 'names_files', False):
        return

    def create(metric_name, *args, **kwargs):
        if metric_name != METRIC_NAME:
            return create_metric(metric_name, *args, **kwargs)
        try:
            metric = _FileNamingMetric(create_metric(metric_name, *args, **kwargs))
        except (OSError, ValueError) as error:  # missing or unreadable weights: their one-line advice, no traceback
            _refuse(error, 2)
        refuse_folders_without_images(command_module)  # the command lists the folder after building its metrics
        return metric

    create.names_files = True
    command_module.create_metric = create


AFTER_EXEC = {CONFIGS_MODULE: register, COMMAND_MODULE: wrap_command, INFERENCE_MODULE: read_files_as_sfd_iqa_score}


class _PatchAfterExec:
    """Loader wrapper: runs the pyiqa module, then the patch AFTER_EXEC names for it."""

    def __init__(self, loader, patch):
        self.loader, self.patch = loader, patch

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        self.patch(module)


class _PyiqaFinder:

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in AFTER_EXEC:
            return None
        from importlib.machinery import PathFinder
        spec = PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _PatchAfterExec(spec.loader, AFTER_EXEC[fullname])
        return spec


def install():
    for name, patch in AFTER_EXEC.items():
        if name in sys.modules:
            patch(sys.modules[name])
    if not any(isinstance(finder, _PyiqaFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PyiqaFinder())
