"""The package's layers import only downwards (docs/architecture.md): read from the source, nothing imported."""
import ast
import os

import pytest

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'sfd_basicsr')
DOC = os.path.join(os.path.dirname(PACKAGE), 'docs', 'architecture.md')
LAYERS = [  # lowest first; a module may import its own layer and those below
    ('utils', ['compat', 'registry', 'atomic', 'checkpoint_file', 'experiment', 'distributed', 'data_stream',
               'image_io', 'process_cache', 'version']),
    ('clip', ['clip', 'clip.weights', 'clip.encoder', 'clip.options']),
    ('networks', ['archs', 'archs.encoder_client', 'archs.featd_arch', 'archs.tgd_arch', 'archs.sed_arch', 'losses',
                  'losses.sfd_gan_loss']),
    ('tasks', ['models', 'models.durable_saving', 'models.exact_resume', 'models.sfd_model', 'models.sfd_real_model',
               'models.sed_model', 'metrics', 'metrics.pyiqa_metric', 'iqa', 'iqa.weights', 'iqa.sfd_iqa_arch',
               'iqa.basicsr_metric', 'iqa.quality_map', 'iqa.correlate', 'inference', 'inference.generator',
               'inference.upscaler', 'inference.files', 'inference.export', 'inference.evaluate']),
    ('training', ['options_schema', 'options_check', 'options_data', 'options_file', 'weight_downloads', 'plugin',
                  'pipeline', 'demo']),
    ('commands', ['', 'train', 'test', 'commands', 'commands.common', 'commands.basicsr_command', 'commands.train',
                  'commands.test', 'commands.check', 'commands.demo', 'commands.upscale', 'commands.export',
                  'commands.evaluate', 'commands.sfd_iqa_command', 'commands.score', 'commands.sfd_iqa_export',
                  'commands.correlate']),
]
LAYER_OF = {name: depth for depth, (_, names) in enumerate(LAYERS) for name in names}


def modules():
    """``{dotted name relative to the package: path}`` of every module in it."""
    found = {}
    for folder, _, files in os.walk(PACKAGE):
        for file in files:
            if file.endswith('.py'):
                relative = os.path.relpath(os.path.join(folder, file), PACKAGE)[:-3].replace(os.sep, '.')
                found[relative.removesuffix('__init__').rstrip('.')] = os.path.join(folder, file)
    return found


def imports(name, path):
    """The package modules ``name`` imports (relative names), and the third-party top-level names."""
    package = name if path.endswith('__init__.py') else name.rpartition('.')[0]
    ours, others = set(), set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split('.') if package else []
            base = base[:len(base) - (node.level - 1)]
            target = '.'.join(base + ([node.module] if node.module else []))
            for alias in node.names:  # `from . import archs` names a module
                ours.add(f'{target}.{alias.name}'.strip('.') if f'{target}.{alias.name}'.strip('.') in LAYER_OF
                         else target)
        elif isinstance(node, ast.ImportFrom):
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        if not (isinstance(node, ast.ImportFrom) and node.level):
            for full in names:
                if full == 'sfd_basicsr' or full.startswith('sfd_basicsr.'):
                    ours.add(full.removeprefix('sfd_basicsr').lstrip('.'))
                else:
                    others.add(full.split('.')[0])
    return ours, others


def test_every_module_has_a_layer():
    assert sorted(set(modules()) - set(LAYER_OF)) == []
    assert sorted(set(LAYER_OF) - set(modules())) == []


@pytest.mark.parametrize('name', sorted(LAYER_OF), ids=lambda name: name or 'sfd_basicsr')
def test_imports_point_only_downwards(name):
    ours, _ = imports(name, modules()[name])
    upward = sorted(target for target in ours if LAYER_OF[target] > LAYER_OF[name])
    assert upward == [], f'{name or "sfd_basicsr"} ({LAYERS[LAYER_OF[name]][0]}) imports {upward} from above'


@pytest.mark.parametrize('name', [name for name in LAYER_OF if LAYERS[LAYER_OF[name]][0] == 'clip'])
def test_the_clip_layer_knows_nothing_of_basicsr(name):
    _, others = imports(name, modules()[name])
    assert 'basicsr' not in others


def test_the_architecture_document_lists_every_module():
    text = open(DOC).read()
    for name in LAYER_OF:
        path = 'sfd_basicsr/' + (name.replace('.', '/') or '__init__') + ('' if name else '')
        module_file = path + ('/__init__.py' if os.path.basename(modules()[name]) == '__init__.py' and name else
                              '.py')
        assert f'`{module_file}`' in text, module_file


SUBPACKAGES = ('clip', 'archs', 'losses', 'models', 'metrics', 'iqa', 'inference', 'commands')


def test_no_two_subpackages_import_each_other():
    """Within a layer imports may go sideways, never both ways (metrics <-> iqa was a knot)."""
    def subpackage(name):
        top = name.split('.')[0]
        return top if top in SUBPACKAGES else None

    edges = {(subpackage(name), subpackage(target)) for name, path in modules().items()
             for target in imports(name, path)[0]}
    edges = {(a, b) for a, b in edges if a and b and a != b}
    assert sorted((a, b) for a, b in edges if (b, a) in edges) == []
