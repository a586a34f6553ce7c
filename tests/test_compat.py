"""``compat/``: every patch of another library is scoped: inside its block BasicSR sees ours, after it (on an
exception too) every patched name is BasicSR's own object again, checked by identity."""
import importlib
import sys

import pytest

from sfd_basicsr.compat import argv, basicsr_patches


def _patched_names():
    from basicsr.models import realesrgan_model, sr_model
    from basicsr.models.base_model import BaseModel
    from basicsr.utils import options
    return {'options.init_dist': (options, 'init_dist'), 'BaseModel.model_to_device': (BaseModel, 'model_to_device'),
            'sr_model.calculate_metric': (sr_model, 'calculate_metric'),
            'realesrgan_model.filter2D': (realesrgan_model, 'filter2D')}


BLOCKS = {
    'basicsr_distributed_on_any_device': (lambda: basicsr_patches.basicsr_distributed_on_any_device({'timeout': 5}),
                                          ['options.init_dist', 'BaseModel.model_to_device']),
    'validation_metrics_that_cannot_end_training': (basicsr_patches.validation_metrics_that_cannot_end_training,
                                                    ['sr_model.calculate_metric']),
    'basicsr_filter2d_on_contiguous_inputs': (basicsr_patches.basicsr_filter2d_on_contiguous_inputs,
                                              ['realesrgan_model.filter2D']),
}


@pytest.mark.parametrize('name', sorted(BLOCKS))
@pytest.mark.parametrize('ends_with_an_error', [False, True])
def test_every_swapped_function_is_basicsrs_own_again_after_the_block(name, ends_with_an_error):
    block, swapped = BLOCKS[name]
    targets = _patched_names()
    originals = {key: getattr(*targets[key]) for key in targets}
    try:
        with block():
            for key in swapped:
                assert getattr(*targets[key]) is not originals[key], f'{key} is not swapped inside {name}'
            if ends_with_an_error:
                raise KeyError('inside')
    except KeyError:
        assert ends_with_an_error
    for key, original in originals.items():
        assert getattr(*targets[key]) is original, key


@pytest.mark.parametrize('ends_with_an_error', [False, True])
def test_module_names_swapped_restores_each_name_by_identity(ends_with_an_error):
    import types
    module = types.SimpleNamespace(a=object(), b=object())
    a, b = module.a, module.b
    try:
        with basicsr_patches.module_names_swapped(module, {'a': 1, 'b': 2}):
            assert (module.a, module.b) == (1, 2)
            if ends_with_an_error:
                raise KeyError('inside')
    except KeyError:
        assert ends_with_an_error
    assert module.a is a and module.b is b


@pytest.mark.parametrize('ends_with_an_error', [False, True])
def test_sys_argv_is_the_callers_again_after_basicsr_reads_it(ends_with_an_error):
    before = sys.argv
    try:
        with argv.basicsr_command_line(['basicsr train', '-opt', 'x.yml']):
            assert sys.argv == ['basicsr train', '-opt', 'x.yml']
            if ends_with_an_error:
                raise KeyError('inside')
    except KeyError:
        assert ends_with_an_error
    assert sys.argv is before


def test_basicsrs_own_command_line_reading():
    assert argv.command_line_options(['-opt', 'a.yml', '--force_yml', 'x=1', 'y=2', '--debug']) == ('a.yml',
                                                                                                  ['x=1', 'y=2'])
    assert argv.command_line_options(['--launcher', 'pytorch']) == (None, [])


def test_torchvision_alias_is_the_current_module():
    import torchvision.transforms._functional_tensor as current

    from sfd_basicsr.compat.torchvision_alias import LEGACY_MODULE, alias_torchvision_functional_tensor
    assert alias_torchvision_functional_tensor() is sys.modules[LEGACY_MODULE]
    legacy = importlib.import_module(LEGACY_MODULE)
    assert legacy.rgb_to_grayscale is current.rgb_to_grayscale
    from basicsr.data import degradations  # the basicsr module that imports the legacy name
    assert degradations.rgb_to_grayscale is current.rgb_to_grayscale


def test_reimporting_arch_modules_does_not_raise_already_registered():
    from basicsr.utils.registry import ARCH_REGISTRY

    import sfd_basicsr.archs.featd_arch as featd_arch
    reloaded = importlib.reload(featd_arch)
    assert ARCH_REGISTRY.get('FeatD') is reloaded.FeatD
    importlib.reload(importlib.import_module('sfd_basicsr.losses.sfd_gan_loss'))


def test_a_foreign_object_under_our_name_is_still_refused():
    from basicsr.utils.registry import Registry

    from sfd_basicsr.compat.registry import register
    registry = Registry('test')

    @register(registry)
    class FeatD:  # noqa: F811
        pass

    other = type('FeatD', (), {'__module__': 'someone_else.module'})
    other.__qualname__ = 'Other'
    with pytest.raises(KeyError, match='already registered'):
        register(registry)(other)
