"""Result folders matched by image name, BasicSR's suffixes stripped, for ``basicsr compare`` (docs/inference.md).

BasicSR names its outputs after the input and adds a suffix: ``<img>_<experiment name>.png`` or
``<img>_<val.suffix>.png`` (``basicsr test``), ``visualization/<img>/<img>_<iter>.png`` (validation during
training), ``<img><--suffix>.png`` (``basicsr upscale``, Real-ESRGAN's ``_out``), ``<img>x4.png`` (DIV2K's LR
names). An image's name is the name of the GT file (else the LR file, else the first run's file with its
folder's common suffix removed); a file of another folder is that image when its own name is the image's name
followed by nothing, a separator (``_``, ``-``, ``.``) or ``x<scale>``. The longest such name wins, so ``img10_a``
is ``img10``, never ``img1``.
"""
import os
import re
from dataclasses import dataclass, field

from ..utils.errors import InputError
from ..utils.image_io import IMAGE_EXTENSIONS, scan_images

SEPARATORS = '_-.'
SCALE_SUFFIX = re.compile(r'x\d+(?=$|[_\-.])')
ITERATION_FILE = re.compile(r'^(?P<name>.+)_(?P<iter>\d+)$')
RESERVED = {'LR', 'GT', 'Bicubic'}  # the other panes' labels (the LR is shown as Bicubic)


class CompareInputError(InputError):
    """A run, GT or LR argument that cannot be compared (a missing folder, no images, a bad name)."""


@dataclass
class Pane:
    """One column of the comparison: the LR, a run or the GT, with its files by image name."""
    label: str
    kind: str  # 'lr', 'run' or 'gt'
    folder: str
    files: dict = field(default_factory=dict)
    iteration: int = None  # the training iteration read from an experiment's visualization/


@dataclass
class Matched:
    names: list  # images present in every run, sorted
    panes: list  # LR (if given), the runs, GT (if given)
    unmatched: list  # (path, why): files that are no compared image


def parse_run(text):
    """``NAME=DIR[@ITER]`` -> ``(name, folder, iteration or None)``."""
    name, equals, folder = text.partition('=')
    if not equals or not name or not folder:
        raise CompareInputError(f"run '{text}': expected NAME=FOLDER (or NAME=EXPERIMENT/visualization@ITER).")
    iteration = None
    if '@' in folder and not os.path.isdir(folder):
        folder, _, when = folder.rpartition('@')
        if not when.isdigit():
            raise CompareInputError(f"run '{text}': the iteration after @ must be a whole number; got '{when}'.")
        iteration = int(when)
    if not os.path.isdir(folder):
        raise CompareInputError(f"run {name}: folder '{folder}' does not exist.")
    return name, folder, iteration


def _cut_positions(stem):
    """Where a suffix may start: before a separator, or before ``x<scale>``."""
    return {i for i, char in enumerate(stem) if char in SEPARATORS and i > 0} | {
        m.start() for m in SCALE_SUFFIX.finditer(stem) if m.start() > 0}


def common_suffix_removed(stems):
    """``{stem: name}``: the suffix every stem of one folder shares (``_SFD``, ``_5000``, ``x4``) removed.

    A folder of one file keeps its names: nothing tells its suffix from its name.
    """
    if len(stems) < 2:
        return {stem: stem for stem in stems}
    shortest = min(stems, key=len)
    for start in sorted(_cut_positions(shortest)):
        suffix = shortest[start:]
        if all(s.endswith(suffix) and (len(s) - len(suffix)) in _cut_positions(s) for s in stems):
            return {stem: stem[:-len(suffix)] for stem in stems}
    return {stem: stem for stem in stems}


def image_name(stem, names):
    """The longest of ``names`` that ``stem`` is, plus a suffix BasicSR adds; None when there is none."""
    if stem in names:
        return stem
    found = [n for n in names if stem.startswith(n) and len(n) in _cut_positions(stem)]
    return max(found, key=len) if found else None


def _visualization_iterations(folder):
    """An experiment's ``visualization/``: ``{image: {iteration: path}}``, or None for a folder of images."""
    subfolders = sorted(entry for entry in os.listdir(folder) if os.path.isdir(os.path.join(folder, entry)))
    found = {}
    for sub in subfolders:
        for file in os.listdir(os.path.join(folder, sub)):
            stem, extension = os.path.splitext(file)
            match = ITERATION_FILE.match(stem)
            if match and match['name'] == sub and extension.lower() in IMAGE_EXTENSIONS:
                found.setdefault(sub, {})[int(match['iter'])] = os.path.join(folder, sub, file)
    return found or None


def _files_at_iteration(label, folder, iteration):
    """``({image: path}, iteration, missing)``: an experiment's validation images at ``iteration`` (default: the
    latest that every image has)."""
    iterations = _visualization_iterations(folder)
    if iteration is None:
        shared = set.intersection(*(set(found) for found in iterations.values()))
        if not shared:
            raise CompareInputError(f"run {label}: no iteration of '{folder}' holds every image; choose one with "
                                    f'{label}={folder}@ITER.')
        iteration = max(shared)
    files = {image: found[iteration] for image, found in iterations.items() if iteration in found}
    if not files:
        every = sorted({i for found in iterations.values() for i in found})
        raise CompareInputError(f"run {label}: '{folder}' has no images of iteration {iteration} (it has "
                                f"{', '.join(map(str, every))}).")
    missing = [(os.path.join(folder, image), f'no image of iteration {iteration}')
               for image in sorted(iterations) if iteration not in iterations[image]]
    return files, iteration, missing


def _folder_files(label, folder, iteration=None):
    """``({stem: path}, passed over, iteration)`` of one folder."""
    if _visualization_iterations(folder) is not None:
        files, iteration, missing = _files_at_iteration(label, folder, iteration)
        return files, missing, iteration
    if iteration is not None:
        raise CompareInputError(f"run {label}: @{iteration} needs an experiment's visualization/ folder "
                                f"(<image>/<image>_<iter>.png); '{folder}' holds the images themselves.")
    paths, passed_over = scan_images(folder)
    if not paths:
        raise CompareInputError(f"{label}: no image files in '{folder}'.")
    return {os.path.splitext(os.path.basename(p))[0]: p for p in paths}, passed_over, None


def _named(pane, files, names, namer, unmatched):
    """``pane.files``: each file under its image's name; the others into ``unmatched`` with the reason."""
    stripped = common_suffix_removed(list(files))
    for stem in sorted(files):
        name = stripped[stem] if stripped[stem] in names else image_name(stem, names)
        if name is None:
            unmatched.append((files[stem], f'its name is no image of {namer} (nor one with a suffix)'))
        elif name in pane.files:
            unmatched.append((files[stem], f"{pane.label} has another file for '{name}' "
                                           f'({os.path.basename(pane.files[name])}), which is shown'))
        else:
            pane.files[name] = files[stem]


def match_folders(runs, gt=None, lr=None):
    """``Matched`` panes of ``runs`` (``[(label, folder, iteration)]``) and the optional GT and LR folders."""
    labels = [label for label, _, _ in runs]
    duplicated = sorted({label for label in labels if labels.count(label) > 1})
    if duplicated or RESERVED & set(labels):
        raise CompareInputError(f"run names must differ from each other and from {', '.join(sorted(RESERVED))}; got "
                                f"{', '.join(labels)}.")
    unmatched, panes = [], []
    sources = [('GT', 'gt', gt, None)] if gt else []
    sources += [('LR', 'lr', lr, None)] if lr else []
    sources += [(label, 'run', folder, iteration) for label, folder, iteration in runs]
    names, namer = None, None
    for label, kind, folder, iteration in sources:
        if not os.path.isdir(folder):
            raise CompareInputError(f"--{kind} '{folder}': no such folder.")
        files, passed_over, iteration = _folder_files(label, folder, iteration)
        unmatched += [(path, why) for path, why in passed_over]
        pane = Pane(label, kind, folder, iteration=iteration)
        if names is None:  # the first source names the images: the GT's names as they are, else without suffix
            pane.files = {(stem if kind == 'gt' else name): files[stem]
                          for stem, name in common_suffix_removed(list(files)).items()}
            names, namer = set(pane.files), label
        else:
            _named(pane, files, names, namer, unmatched)
        panes.append(pane)
    order = {'lr': 0, 'run': 1, 'gt': 2}
    panes.sort(key=lambda p: order[p.kind])
    shown = sorted(set.intersection(*(set(p.files) for p in panes if p.kind == 'run')))
    for pane in panes:
        for name in sorted(set(pane.files) - set(shown)):
            absent = [p.label for p in panes if p.kind == 'run' and name not in p.files]
            unmatched.append((pane.files.pop(name), f"'{name}' is not in every run (missing from "
                                                    f"{', '.join(absent)})"))
        unmatched += [(pane.folder, f"no {pane.label} image for '{name}'") for name in shown if name not in pane.files]
    if not shown:
        raise CompareInputError('no image is in every run: ' + '; '.join(
            f'{p.label}: {", ".join(sorted(p.files)[:3]) or "none"}' for p in panes if p.kind == 'run'))
    return Matched(shown, panes, unmatched)
