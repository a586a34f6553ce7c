"""The option keys a BasicSR model or dataset class reads, found in its own source (nothing run).

A schema written by hand drifts from the code it describes; this reads what the code asks for. Every
``opt[...]``, ``opt.get(...)`` and ``opt.pop(...)`` with a literal key is followed through ``self.opt``, an ``opt``
parameter and the names and attributes assigned from them (``train_opt = self.opt['train']``,
``self.io_backend_opt = opt['io_backend']``), in the class and every class it derives from. The options check
uses it for models and datasets the schema does not declare (BasicSR's video models, a user's own): a key their
code reads is theirs, never "unknown". ``tests/test_basicsr_reads.py`` holds the declared schema against it.
"""
import ast
import functools
import inspect
import textwrap

READ_METHODS = ('get', 'pop', 'setdefault')


def _key(node):
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


class _ClassReads:
    """Key paths (tuples, relative to the options the class was given) read in one class body."""

    def __init__(self, tree):
        self.tree, self.attributes, self.found = tree, {}, set()

    def _resolve(self, node, local):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == 'self':
            return () if node.attr == 'opt' else self.attributes.get(node.attr)
        if isinstance(node, ast.Name):
            return local.get(node.id)
        if isinstance(node, ast.Subscript) and _key(node.slice) is not None:
            base = self._resolve(node.value, local)
            return None if base is None else base + (_key(node.slice),)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in READ_METHODS \
                and node.args and _key(node.args[0]) is not None:
            base = self._resolve(node.func.value, local)
            return None if base is None else base + (_key(node.args[0]),)
        return None

    def _function(self, function, record):
        arguments = [a.arg for a in function.args.args + function.args.kwonlyargs]
        local = {'opt': ()} if 'opt' in arguments else {}
        for _ in range(3):  # assignments may refer to one another in any order
            for node in ast.walk(function):
                if isinstance(node, ast.Assign):
                    path = self._resolve(node.value, local)
                    if path is None:
                        continue
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            local[target.id] = path
                        elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) \
                                and target.value.id == 'self':
                            self.attributes[target.attr] = path
        if not record:
            return
        for node in ast.walk(function):
            loads = isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load)
            calls = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in READ_METHODS
            if loads or calls:
                path = self._resolve(node, local)
                if path:
                    self.found.add(path)

    def reads(self):
        functions = [node for node in ast.walk(self.tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
        for record in (False, True):  # attributes first, from every method, then the reads
            for function in functions:
                self._function(function, record)
        return self.found


@functools.lru_cache(maxsize=None)
def _own_reads(cls):
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return frozenset()
    return frozenset(_ClassReads(ast.parse(source)).reads())


def keys_read(cls):
    """Every key path the class and its bases read from their options, e.g. ``('train', 'optim_g', 'lr')``."""
    paths = set()
    for klass in inspect.getmro(cls):
        module = getattr(klass, '__module__', '') or ''
        if module.split('.')[0] in ('builtins', 'torch', 'abc', 'typing'):
            continue
        paths |= _own_reads(klass)
    return paths


def reads_key(cls, location):
    """Whether ``cls`` (or a base) reads the key at ``location`` (a tuple of keys), or a key under it."""
    location = tuple(location)
    return any(path[:len(location)] == location for path in keys_read(cls))
