"""The package's layers, read from its folders (docs/architecture.md): nothing is imported, the source is read.

A module's layer is its folder; the order of the folders is the one rule kept here. The package root
(``__init__``, ``train``, ``test``, ``version``) sits on top with the commands.
"""
import ast
import os

import pytest

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'sfd_basicsr')
DOC = os.path.join(os.path.dirname(PACKAGE), 'docs', 'architecture.md')
LAYERS = [  # lowest first: a module imports its own folder and the folders of the layers below, nothing else
    {'utils'},
    {'compat', 'backbones'},
    {'archs', 'losses', 'data'},
    {'models', 'iqa'},
    {'metrics'},
    {'inference'},
    {'training'},
    {'commands'},
    {''},
]
TRAINING_SIDE, SERVING_SIDE = {'models', 'training'}, {'inference', 'iqa', 'metrics'}
NO_BASICSR = {'utils', 'backbones'}
DEPTH = {folder: depth for depth, folders in enumerate(LAYERS) for folder in folders}


def modules(package=PACKAGE):
    """``{dotted name relative to the package: path}`` of every module in it."""
    found = {}
    for folder, _, files in os.walk(package):
        for file in files:
            if file.endswith('.py'):
                relative = os.path.relpath(os.path.join(folder, file), package)[:-3].replace(os.sep, '.')
                found[relative.removesuffix('__init__').rstrip('.')] = os.path.join(folder, file)
    return found


def folder_of(name, path):
    """The layer folder of a module: its first folder under the package, '' for the package root's own files."""
    return name.split('.')[0] if os.sep in os.path.relpath(path, PACKAGE) else ''


def imports(name, path, known):
    """The package modules ``name`` imports (relative names), and the third-party top-level names."""
    package = name if path.endswith('__init__.py') else name.rpartition('.')[0]
    ours, others = set(), set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split('.') if package else []
            base = base[:len(base) - (node.level - 1)]
            target = '.'.join(base + ([node.module] if node.module else []))
            for alias in node.names:  # `from . import archs` names a module
                candidate = f'{target}.{alias.name}'.strip('.')
                ours.add(candidate if candidate in known else target)
            continue
        if isinstance(node, ast.ImportFrom):
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for full in names:
            if full == 'sfd_basicsr' or full.startswith('sfd_basicsr.'):
                ours.add(full.removeprefix('sfd_basicsr').lstrip('.'))
            else:
                others.add(full.split('.')[0])
    return ours, others


def layer_problems(package=PACKAGE):
    """Every import that breaks a layer rule, as lines; ``package`` is a folder laid out like ours."""
    found = modules(package)
    problems = []
    for name, path in sorted(found.items()):
        rel_path = os.path.relpath(path, package)
        folder = name.split('.')[0] if os.sep in rel_path else ''
        if folder not in DEPTH:
            problems.append(f'{rel_path}: folder {folder!r} is no layer of tests/test_architecture.py')
            continue
        ours, others = imports(name, path, found)
        for target in sorted(ours):
            target_folder = target.split('.')[0] if target in found and os.sep in os.path.relpath(
                found[target], package) else ''
            if target_folder == folder:
                continue
            if target_folder not in DEPTH or DEPTH[target_folder] >= DEPTH[folder]:
                problems.append(f'{rel_path} ({folder or "root"}) imports {target} ({target_folder or "root"}): '
                                'not a layer below')
            elif {folder, target_folder} & TRAINING_SIDE and {folder, target_folder} & SERVING_SIDE:
                problems.append(f'{rel_path} imports {target}: the training and serving sides meet')
        if folder in NO_BASICSR and 'basicsr' in others:
            problems.append(f'{rel_path} ({folder}) imports BasicSR')
    return problems


def test_every_folder_is_a_layer_and_every_import_points_down():
    assert layer_problems() == []


def test_an_upward_import_planted_in_a_copy_of_the_package_is_found(tmp_path):
    import shutil
    copy = tmp_path / 'sfd_basicsr'
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns('__pycache__'))
    atomic = copy / 'utils' / 'atomic.py'
    atomic.write_text(atomic.read_text() + '\nfrom ..training import pipeline  # planted\n')
    sideways = copy / 'training' / 'demo.py'
    sideways.write_text(sideways.read_text() + '\nfrom ..inference import upscaler  # planted\n')
    clip = copy / 'backbones' / 'options.py'
    clip.write_text(clip.read_text() + '\nimport basicsr  # planted\n')
    (copy / 'stray').mkdir()
    (copy / 'stray' / 'thing.py').write_text('')
    problems = '\n'.join(layer_problems(str(copy)))
    assert 'utils/atomic.py (utils) imports training.pipeline (training): not a layer below' in problems
    assert 'training/demo.py imports inference.upscaler: the training and serving sides meet' in problems
    assert 'backbones/options.py (backbones) imports BasicSR' in problems
    assert "folder 'stray' is no layer" in problems


def test_the_package_root_holds_only_its_face_and_the_python_m_shims():
    assert sorted(name for name in os.listdir(PACKAGE) if name.endswith('.py')) == [
        '__init__.py', 'test.py', 'train.py', 'version.py']


def _imported_modules(tree):
    """Names bound to modules in a file: ``import a.b as c``, ``import sys``, ``from x import module``."""
    import importlib.util
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            bound |= {alias.asname or alias.name.split('.')[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                try:
                    is_module = importlib.util.find_spec(f'{node.module}.{alias.name}') is not None
                except (ImportError, ValueError):
                    is_module = False
                if is_module:
                    bound.add(alias.asname or alias.name)
    return bound


def patches_of_other_libraries(path):
    """Lines of ``path`` that assign to an attribute of an imported module (``sys.argv = ...``, ``mod.f = ...``),
    to an item of one (``sys.modules[...] = ...``), or call ``setattr`` on one."""
    tree = ast.parse(open(path).read())
    modules_bound = _imported_modules(tree)

    def of_module(node):
        while isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        return isinstance(node, ast.Name) and node.id in modules_bound

    lines = []
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, (ast.AugAssign, ast.AnnAssign)) else []
        for target in targets:
            for part in (target.elts if isinstance(target, ast.Tuple) else [target]):
                if isinstance(part, (ast.Attribute, ast.Subscript)) and of_module(part):
                    lines.append(node.lineno)
        if isinstance(node, ast.Call) and getattr(node.func, 'id', None) == 'setattr' and node.args \
                and of_module(node.args[0]):
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize('name', sorted(n for n, p in modules().items() if folder_of(n, p) != 'compat'),
                         ids=lambda name: name or 'sfd_basicsr')
def test_only_compat_patches_other_libraries(name):
    assert patches_of_other_libraries(modules()[name]) == [], f'{name} patches another library outside compat/'


def test_the_patch_finder_sees_the_patches_compat_makes(tmp_path):
    planted = tmp_path / 'planted.py'
    planted.write_text('import sys\nfrom basicsr.models import sr_model\nsys.argv = []\n'
                       "sr_model.calculate_metric = None\nsys.modules['x'] = sys\nsetattr(sr_model, 'y', 1)\n"
                       'local = {}\nlocal["k"] = 1\n')
    assert patches_of_other_libraries(str(planted)) == [3, 4, 5, 6]
    assert patches_of_other_libraries(os.path.join(PACKAGE, 'compat', 'argv.py')) != []


@pytest.mark.parametrize('name', sorted(modules()), ids=lambda name: name or 'sfd_basicsr')
def test_argument_parsers_live_in_commands(name):
    path = modules()[name]
    _, others = imports(name, path, modules())
    # compat/argv.py reads sys.argv as BasicSR's own parse_options will (BasicSR takes no argument list)
    allowed = folder_of(name, path) == 'commands' or name == 'compat.argv'
    assert allowed or 'argparse' not in others, f'{name} builds an argument parser outside commands/'


def test_the_architecture_document_lists_every_module():
    text = open(DOC).read()
    for name, path in modules().items():
        assert f'`{os.path.relpath(path, os.path.dirname(PACKAGE))}`' in text, path
    for folders in LAYERS:
        for folder in folders - {''}:
            assert f'`{folder}/`' in text, folder


def test_no_two_folders_import_each_other():
    found = modules()
    edges = set()
    for name, path in found.items():
        for target in imports(name, path, found)[0]:
            a, b = folder_of(name, path), folder_of(target, found[target]) if target in found else ''
            if a != b:
                edges.add((a, b))
    assert sorted((a, b) for a, b in edges if (b, a) in edges) == []
