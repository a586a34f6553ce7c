"""The suite's own rules, read from its source: every test that starts a process is marked ``slow`` (so
``pytest -m "not slow"`` is the fast, in-process subset), no test module imports another, and a fixture that
several modules use lives in ``conftest.py``."""
import ast
import glob
import os

HERE = os.path.dirname(os.path.abspath(__file__))
STARTS_A_PROCESS = {'run_basicsr', 'torchrun', 'Popen', 'check_output', 'check_call'}
QUICK = {'mount_tmpfs', 'small_disk', 'read_only_folder'}  # a tmpfs mount: a process, but a quick one
TREES = {os.path.relpath(path, HERE): ast.parse(open(path).read())
         for path in glob.glob(os.path.join(HERE, '*.py')) + glob.glob(os.path.join(HERE, 'helpers', '*.py'))}


def _functions(tree):
    return [node for node in tree.body if isinstance(node, ast.FunctionDef)]


def _called(function):
    names = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            names.add(node.func.id)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            is_subprocess = isinstance(node.func.value, ast.Name) and node.func.value.id == 'subprocess'
            starts = is_subprocess and node.func.attr in {'run', 'call', 'Popen', 'check_output', 'check_call'}
            names.add('Popen' if starts else node.func.attr)
    return names


def _decorated(function, word):
    return any(word in ast.unparse(decorator) for decorator in function.decorator_list)


def _closure(grows):
    found, changed = set(), True
    while changed:
        changed = False
        for tree in TREES.values():
            for function in _functions(tree):
                if function.name not in found and grows(function, found):
                    found.add(function.name)
                    changed = True
    return found


def test_every_test_that_starts_a_process_is_marked_slow():
    spawning = _closure(lambda f, found: f.name not in QUICK and bool(_called(f) & (STARTS_A_PROCESS | found)))
    spawning |= STARTS_A_PROCESS
    fixtures = _closure(lambda f, found: _decorated(f, 'fixture') and (
        f.name in spawning or bool({a.arg for a in f.args.args} & found)))
    unmarked = [f'{name}::{function.name}' for name, tree in sorted(TREES.items()) for function in _functions(tree)
                if function.name.startswith('test_') and not _decorated(function, 'mark.slow')
                and (function.name in spawning or {a.arg for a in function.args.args} & fixtures)]
    assert unmarked == []


def test_no_test_module_imports_another():
    modules = {name[:-3] for name in TREES if name.startswith('test_')}
    imported = [(name, alias) for name, tree in TREES.items() for node in ast.walk(tree)
                if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in ([node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names])
                if alias in modules]
    assert imported == []


def test_a_fixture_that_several_modules_use_lives_in_conftest():
    fixtures = {function.name: name for name, tree in TREES.items() if name != 'conftest.py'
                for function in _functions(tree) if _decorated(function, 'fixture')}
    users = {}
    for name, tree in TREES.items():
        for function in _functions(tree):
            if not (function.name.startswith('test_') or _decorated(function, 'fixture')):
                continue  # a helper's parameter is no fixture request
            for argument in function.args.args:
                if argument.arg in fixtures:
                    users.setdefault(argument.arg, set()).add(name)
    assert {fixture: sorted(modules) for fixture, modules in users.items() if modules - {fixtures[fixture]}} == {}


def test_conftest_holds_fixtures_only():
    tree = TREES['conftest.py']
    assert [f.name for f in _functions(tree) if not _decorated(f, 'fixture')] == []


def test_no_helper_or_fixture_builds_on_the_demo():
    """The demo is a product; tests build their options with ``training.recipe`` and data with ``data``."""
    importers = sorted(name for name, tree in TREES.items() if name == 'conftest.py' or name.startswith('helpers')
                       for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                       and (node.module or '').endswith('training.demo'))
    assert importers == []
