"""The options check knows exactly what BasicSR reads: ``training/basicsr_reads.py`` finds the keys in BasicSR's
installed source, the declared schema is held against them, and BasicSR's own options files (its repository's
``options/train``, tests/data/basicsr_options) get no false "unknown" or "nobody reads it"."""
import glob
import os

import pytest
from basicsr.utils.registry import DATASET_REGISTRY, MODEL_REGISTRY

from sfd_basicsr.training import options_schema
from sfd_basicsr.training.basicsr_reads import keys_read, reads_key
from sfd_basicsr.utils.yaml_file import read_yaml

OPTIONS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), 'data', 'basicsr_options', 'train', '**',
                                        '*.yml'), recursive=True))


def registered(registry, name):
    return registry._obj_map.get(name) or registry._obj_map[f'{name}_basicsr']


def test_the_reader_finds_what_basicsrs_source_reads_worked_out_by_hand():
    # basicsr/models/realesrnet_model.py: `if self.opt['gt_usm'] is True:`
    assert ('gt_usm',) in keys_read(registered(MODEL_REGISTRY, 'RealESRNetModel'))
    # basicsr/models/edvr_model.py: `opt['train'].get('tsa_iter')`, `train_opt = self.opt['train']` then
    # `train_opt.get('dcn_lr_mul', 1)` and `train_opt['optim_g']['lr']`
    edvr = keys_read(registered(MODEL_REGISTRY, 'EDVRModel'))
    assert {('train', 'tsa_iter'), ('train', 'dcn_lr_mul'), ('train', 'optim_g', 'lr')} <= edvr
    # inherited from SRModel: `self.opt['val'].get('suffix')`
    assert ('val', 'suffix') in edvr
    # basicsr/data/reds_dataset.py: `self.flow_root = Path(opt['dataroot_flow'])`
    reds = keys_read(registered(DATASET_REGISTRY, 'REDSDataset'))
    assert ('dataroot_flow',) in reds and reads_key(registered(DATASET_REGISTRY, 'REDSDataset'), ['io_backend'])
    # basicsr/data/realesrgan_dataset.py writes `self.io_backend_opt['db_paths'] = ...`: a write is no read
    assert ('io_backend', 'db_paths') not in keys_read(registered(DATASET_REGISTRY, 'RealESRGANDataset'))


def _declared(schema, path):
    section = options_schema._section_at(schema, path[:-1]) if len(path) > 1 else schema
    if section is None or issubclass(section, options_schema.OpenSection):
        return True  # a mapping of anything (network options, a loss's own arguments): nothing to declare
    return path[-1] in section.model_fields


def undeclared_reads(model_name):
    top, train = options_schema.MODELS[model_name]
    missing = []
    for path in sorted(keys_read(registered(MODEL_REGISTRY, model_name))):
        if path[0].startswith('network_') or path[0] in ('datasets', 'path'):
            continue  # constructor arguments; datasets by type below; path keys by pattern (PATH_NAMES)
        known = _declared(train, path[1:]) if path[0] == 'train' and len(path) > 1 else _declared(top, path)
        if not known:
            missing.append('.'.join(path))
    return missing


@pytest.mark.parametrize('model_name', sorted(options_schema.MODELS))
def test_every_key_a_declared_model_reads_is_in_its_schema(model_name):
    assert undeclared_reads(model_name) == []


@pytest.mark.parametrize('dataset', sorted(options_schema.DATASETS))
def test_every_key_a_declared_dataset_reads_is_in_its_schema(dataset):
    schema = options_schema.DATASETS[dataset][0]
    missing = [path for path in sorted(keys_read(registered(DATASET_REGISTRY, dataset))) if not _declared(schema, path)]
    assert missing == []


@pytest.mark.parametrize('path', OPTIONS, ids=lambda p: os.path.relpath(p, os.path.dirname(OPTIONS[0]) + '/..'))
def test_basicsrs_own_options_files_get_no_false_unknown_or_unread(path):
    opt = read_yaml(path)
    errors, warnings = options_schema.schema_problems(opt, is_train=True)
    false = [line for line in errors + warnings if 'unknown option' in line or 'never reads it' in line
             or 'reads it' in line]
    assert false == []


def test_basicsrs_own_options_files_are_all_here():
    assert len(OPTIONS) == 38


class _ReadsWorkedOutByHand:
    """Reads the reader must follow, each worked out by hand from this source."""

    def feed_data(self):
        self.scale = self.io_opt['scale_key']  # an attribute assigned in a method further down
        self.opt.pop('popped')
        self.opt.setdefault('defaulted', 1)

    def init_training_settings(self):
        self.io_opt = self.opt['io']

    def chain(self):
        deep = mid["deep"]  # noqa: F821, F841  (assignments listed before the ones they follow from)
        mid = top["mid"]  # noqa: F821, F841
        top = self.opt['top']  # noqa: F841
        return deep

    @staticmethod
    def _static(opt):
        return opt['static']

    def _keyword_only(self, *, opt):
        return opt['keyword']


def test_the_reader_follows_attributes_chains_and_every_read_method_in_any_order():
    assert keys_read(_ReadsWorkedOutByHand) == {('io',), ('io', 'scale_key'), ('popped',), ('defaulted',), ('top',),
                                                ('top', 'mid'), ('top', 'mid', 'deep'), ('static',),
                                                ('keyword',)}
