"""SFDIQA's construction and input checks (iqa/sfd_iqa_arch.py): CLIP weights it is given or cannot load, damaged
weight files, training checkpoints, and inputs that are not images."""
import pytest
import torch

from helpers.iqa import random_sfd_iqa_weights
from helpers.models import astronaut
from sfd_basicsr.backbones.weights import EncoderWeightsError
from sfd_basicsr.iqa.sfd_iqa_arch import SFDIQA, clip_weights_advice
from sfd_basicsr.iqa.weights import WeightsError
from sfd_basicsr.utils.errors import InputError

WAYS_TO_GIVE_THEM = (
    "Give a local copy: clip_pretrained='/path/to/RN50.pt' (pyiqa.create_metric('sfd_iqa', ...) or SFDIQA), "
    '--clip-pretrained /path/to/RN50.pt (sfd-iqa score), or record it in the weights file for the pyiqa command: '
    'sfd-iqa export -m EXPERIMENT -o sfd_iqa.pth --clip-pretrained /path/to/RN50.pt.')


@pytest.fixture(scope='module')
def weight_files(tmp_path_factory):
    """Random SFD-IQA weights: (Feat-D checkpoint, TG-D checkpoint, exported file)."""
    return random_sfd_iqa_weights(tmp_path_factory.mktemp('sfd_iqa_arch'))


def test_clip_weights_given_to_sfdiqa_override_the_files_and_unloadable_ones_are_named_with_the_ways_to_give_them(
        weight_files):
    # the file records random CLIP weights, which load anywhere: the error can only come from the ones given
    with pytest.raises(Exception) as refused:
        SFDIQA(str(weight_files[2]), clip_pretrained='/nowhere/RN50.pt')
    assert isinstance(refused.value, WeightsError), refused.value
    message = str(refused.value)
    assert message.startswith("SFD-IQA needs the CLIP RN50-quickgelu weights '/nowhere/RN50.pt', which cannot be "
                              "loaded here (") and '/nowhere/RN50.pt' in message.split('(', 1)[1]
    assert message.endswith(WAYS_TO_GIVE_THEM)


@pytest.mark.parametrize('spelling', ['None', 'NULL', '~'])
def test_every_spelling_of_none_means_random_clip_weights(weight_files, spelling):
    # the training checkpoints alone record no CLIP weights: without the spelling read as none, 'openai' would load
    image = astronaut((64, 64))
    try:
        net = SFDIQA(featd_checkpoint=str(weight_files[0]), tgd_checkpoint=str(weight_files[1]),
                     clip_pretrained=spelling)
    except InputError as error:  # WeightsError too
        pytest.fail(f'{spelling!r} was taken for CLIP weights to load: {error}')
    torch.testing.assert_close(net(image), SFDIQA(str(weight_files[2]))(image), rtol=0, atol=1e-6)


def test_a_featd_alone_with_unloadable_weights_is_refused_when_built_not_when_it_first_scores(tmp_path):
    *_, exported = random_sfd_iqa_weights(tmp_path, clip_model='timm:convnext_atto', with_tgd=False)
    with pytest.raises(WeightsError, match="^SFD-IQA needs the timm:convnext_atto weights '/nowhere/convnext.pth', "
                                           "which cannot be loaded here") as refused:
        SFDIQA(str(exported), clip_pretrained='/nowhere/convnext.pth')
    assert 'CLIP' not in str(refused.value) and 'RN50' not in str(refused.value)  # no CLIP advice for a timm model
    assert str(refused.value).endswith('--clip-pretrained /path/to/weights.pth.')


def test_the_advice_is_one_line_with_the_reason_but_not_the_training_options_advice():
    error = EncoderWeightsError("Could not get the 'openai' weights of RN50: no network.\n    Without network access, "
                                "download https://example.org/RN50.pt on another machine and set 'pretrained' to the "
                                'local file path.')
    assert clip_weights_advice('RN50', 'openai', error) == (
        "SFD-IQA needs the CLIP RN50 weights 'openai', which cannot be loaded here (Could not get the 'openai' weights "
        'of RN50: no network). ' + WAYS_TO_GIVE_THEM)


@pytest.mark.parametrize('part, key', [('featd', 'project.'), ('tgd', 'prompts.ctx')])
def test_weights_whose_parameters_do_not_fit_are_refused_as_damaged_naming_the_part(weight_files, tmp_path, part, key):
    exported = torch.load(weight_files[2], weights_only=True)
    name = next(k for k in exported[part]['params'] if k.startswith(key))
    exported[part]['params'][name] = exported[part]['params'][name][:1]
    torch.save(exported, tmp_path / 'cut.pth')
    with pytest.raises(Exception) as refused:
        SFDIQA(str(tmp_path / 'cut.pth'))
    assert isinstance(refused.value, WeightsError), refused.value
    assert f"the SFD-IQA weights' {part} parameters do not fit the " in str(refused.value)
    assert str(refused.value).endswith('the file is damaged or was edited: export it again with sfd-iqa export.')


def test_a_tgd_checkpoint_without_its_featd_checkpoint_is_refused(weight_files):
    with pytest.raises(Exception) as refused:
        SFDIQA(tgd_checkpoint=str(weight_files[1]))
    assert isinstance(refused.value, InputError), refused.value
    assert str(refused.value) == ('SFD-IQA from training checkpoints needs featd_checkpoint (and tgd_checkpoint where '
                                  'the run trained TG-D).')


@pytest.mark.parametrize('shape', [(3, 64, 64), (1, 2, 64, 64), (1, 4, 64, 64), (1, 1, 3, 64, 64)])
def test_tensors_not_shaped_as_grey_or_rgb_batches_are_refused_by_sfd_iqa(weight_files, shape):
    net = SFDIQA(str(weight_files[2]))
    with pytest.raises(ValueError) as refused:
        net(torch.rand(shape))
    assert str(refused.value) == f'SFD-IQA expects images shaped (B, 3, H, W) or (B, 1, H, W); got {shape}.'


def test_a_reason_cut_to_its_length_keeps_its_ellipsis_in_the_advice():
    from sfd_basicsr.utils.errors import one_line
    reason = one_line(OSError('Could not reach the server. ' + 'Please check your connection and try again. ' * 9))
    assert reason.endswith('...') and len(reason) < 330  # one_line's cut
    advice = clip_weights_advice('RN50-quickgelu', 'openai', EncoderWeightsError(reason))
    assert f'({reason}). Give a local copy' in advice


@pytest.mark.parametrize('clip_model, local', [('RN50-quickgelu', '/path/to/RN50.pt'),
                                               ('ViT-B-32', '/path/to/ViT-B-32.pt')])
def test_the_advice_names_a_local_file_after_the_clip_model(clip_model, local):
    advice = clip_weights_advice(clip_model, 'openai', EncoderWeightsError('no network'))
    assert advice.endswith(f'--clip-pretrained {local}.') and f"clip_pretrained='{local}'" in advice
