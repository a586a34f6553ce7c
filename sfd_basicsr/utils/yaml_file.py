"""YAML files read safely and within bounds: no tag builds an object, an alias bomb (a few hundred bytes that expand
to billions of values) is refused before it is expanded, and every failure is one line naming the file."""
import os

import yaml

from .errors import InputError

MAX_BYTES = 4 * 2**20  # an options file is a few kB
MAX_VALUES = 200_000  # values once every alias is expanded; BasicSR's largest options have a few hundred


def _expanded_values(root, path, what):
    """How many values ``root`` holds with every alias expanded, counted without expanding (a shared node is counted
    once per use); a recursive alias is refused."""
    sizes, in_progress = {}, set()

    def size(node):
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in in_progress:
            raise InputError(f"{what} '{path}': a YAML alias refers to a node that holds it (recursive); expand it by "
                             'hand.')
        in_progress.add(key)
        if isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(item) for item in node.value)
        else:
            total = 1
        in_progress.discard(key)
        sizes[key] = min(total, MAX_VALUES + 1)  # saturated: the sum stays small however deep the aliases go
        return sizes[key]

    return size(root)


def _repeated_key(root, loader):
    """``(key, first line, second line)`` of the first key written twice in one mapping of the document, or None
    (merge keys ``<<`` aside: YAML defines what they override). Keys are compared as the dict PyYAML builds compares
    them: ``null`` and ``~``, ``yes`` and ``true``, ``1`` and ``0x1`` are one key; ``1`` and ``"1"`` are two."""
    seen_nodes, stack = set(), [root]
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            lines = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != 'tag:yaml.org,2002:merge':
                    constructed = loader.construct_object(key)  # a scalar: hashable, and cached for construct_document
                    if constructed in lines:
                        return key.value, lines[constructed], key.start_mark.line + 1
                    lines[constructed] = key.start_mark.line + 1
                stack += [key, value]
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value
    return None


def read_yaml(path, what='file', unique_keys=False):
    """The value in the YAML file ``path``, read with ``yaml.SafeLoader``; ``InputError`` naming ``what`` and the
    file for a missing, unreadable, oversized, malformed, tagged or alias-bombed file, and with ``unique_keys`` for a
    key written twice in one mapping (PyYAML keeps the last silently: a second ``val:`` block would replace the
    first)."""
    try:
        size = os.path.getsize(path)
        if size > MAX_BYTES:
            raise InputError(f"{what} '{path}' is {size / 2**20:.1f} MB; an options file is a few kB (at most "
                             f'{MAX_BYTES // 2**20} MB read).')
        with open(path, 'rb') as f:
            loader = yaml.SafeLoader(f.read())  # its reader decodes the bytes here (UTF-8 or UTF-16, as YAML allows)
    except OSError as error:
        raise InputError(f"{what} '{path}' cannot be read ({error.strerror or error}).") from None
    except yaml.YAMLError as error:
        raise InputError(f"{what} '{path}' is not YAML text ({' '.join(str(error).split())[:300]}).") from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_values(node, path, what) > MAX_VALUES:
            raise InputError(f"{what} '{path}': its YAML aliases expand to more than {MAX_VALUES} values (an alias "
                             'bomb?); not read.')
        repeated = _repeated_key(node, loader) if unique_keys else None
        if repeated:
            key, first, second = repeated
            raise InputError(f"{what} '{path}': the key '{key}' is written twice in one block (lines {first} and "
                             f'{second}); YAML would keep the second alone. Merge them or remove one.')
        return loader.construct_document(node)
    except yaml.constructor.ConstructorError as error:
        tag = getattr(error.problem_mark, 'line', None)
        line = f' (line {tag + 1})' if tag is not None else ''
        raise InputError(f"{what} '{path}'{line}: {' '.join(str(error.problem).split())}; only plain YAML values are "
                         'read (no tags that build Python objects).') from None
    except yaml.YAMLError as error:
        raise InputError(f"{path}: not valid YAML ({' '.join(str(error).split())[:500]}).") from None
    finally:
        loader.dispose()
