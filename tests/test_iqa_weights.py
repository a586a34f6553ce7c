"""SFD-IQA weight files (``iqa/weights.py``): what an export records and what it refuses."""
import pytest
import torch

from helpers.iqa import random_sfd_iqa_weights
from sfd_basicsr.iqa.weights import WeightsError, load_weights, weights_from_checkpoints


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    return random_sfd_iqa_weights(tmp_path_factory.mktemp('weights'))


@pytest.mark.parametrize('fusion_weight', [-0.1, 1.5])
def test_a_fusion_weight_outside_0_1_is_refused(checkpoints, fusion_weight):
    with pytest.raises(WeightsError, match=f'fusion_weight must be in \\[0, 1\\]; got {fusion_weight}'):
        weights_from_checkpoints(*checkpoints[:2], fusion_weight, clip_pretrained=None)
    for edge in (0, 1):
        assert weights_from_checkpoints(*checkpoints[:2], edge, clip_pretrained=None)['fusion_weight'] == edge


def test_the_iteration_comes_from_basicsrs_file_name_when_the_checkpoint_records_none(checkpoints):
    assert 'iter' not in torch.load(checkpoints[0])  # saved as BasicSR's own save_network does
    assert weights_from_checkpoints(*checkpoints[:2], clip_pretrained=None)['trained_iter'] == 7  # net_d_7.pth


def test_discriminators_of_two_clip_models_are_refused(checkpoints, tmp_path):
    tgd = torch.load(checkpoints[1])
    name = b'ViT-B-16'  # the backbone buffer holds the model name's bytes, zero-padded
    tgd['params']['backbone'] = torch.tensor(list(name) + [0] * (len(tgd['params']['backbone']) - len(name)),
                                             dtype=torch.uint8)
    other = tmp_path / 'net_d_tg_7.pth'
    torch.save(tgd, other)
    with pytest.raises(WeightsError, match="was trained on CLIP RN50-quickgelu but .*net_d_tg_7.pth' on ViT-B-16"):
        weights_from_checkpoints(checkpoints[0], other, clip_pretrained=None)


def test_a_tgd_checkpoint_given_as_featd_is_refused(checkpoints):
    with pytest.raises(Exception) as raised:  # any exception, so that another one fails the assertion below
        weights_from_checkpoints(checkpoints[1], checkpoints[1], clip_pretrained=None)
    assert isinstance(raised.value, WeightsError) and 'is not a Feat-D checkpoint' in str(raised.value), \
        repr(raised.value)


def test_an_exported_file_without_one_of_its_networks_is_refused(checkpoints, tmp_path):
    weights = torch.load(checkpoints[2])
    del weights['tgd']
    torch.save(weights, tmp_path / 'half.pth')
    with pytest.raises(WeightsError, match="lacks the 'tgd' network of SFD-IQA"):
        load_weights(str(tmp_path / 'half.pth'))


def test_an_explicit_path_wins_over_the_environment_and_the_environment_over_the_default(tmp_path, monkeypatch):
    from sfd_basicsr.iqa import weights
    explicit, from_env, default = tmp_path / 'explicit.pth', tmp_path / 'env.pth', tmp_path / 'default.pth'
    for path in (explicit, from_env, default):
        path.write_bytes(b'x')
    monkeypatch.setenv(weights.WEIGHTS_ENV, str(from_env))
    monkeypatch.setattr(weights, 'default_weights_path', lambda: str(default))
    assert weights.resolve_weights_path(str(explicit)) == str(explicit)
    assert weights.resolve_weights_path() == str(from_env)
    monkeypatch.delenv(weights.WEIGHTS_ENV)
    assert weights.resolve_weights_path() == str(default)


def test_a_file_of_another_format_version_is_refused_naming_both_versions(checkpoints, tmp_path):
    from sfd_basicsr.iqa.weights import FORMAT_VERSION
    exported = torch.load(checkpoints[2], weights_only=True)
    exported['version'] = FORMAT_VERSION - 1
    torch.save(exported, tmp_path / 'old.pth')
    with pytest.raises(WeightsError, match=f"has SFD-IQA format version {FORMAT_VERSION - 1}; this sfd_basicsr reads "
                                           f'version {FORMAT_VERSION}'):
        load_weights(str(tmp_path / 'old.pth'))


def test_weights_that_do_not_fit_their_own_config_are_named_damaged(checkpoints, tmp_path):
    from sfd_basicsr.iqa.sfd_iqa_arch import SFDIQA
    exported = torch.load(checkpoints[2], weights_only=True)
    key = next(k for k in exported['featd']['params'] if k.startswith('project.'))
    exported['featd']['params'][key] = exported['featd']['params'][key][:1]
    torch.save(exported, tmp_path / 'cut.pth')
    with pytest.raises(WeightsError, match="the SFD-IQA weights' featd parameters do not fit the FeatD their own "
                                           'config builds'):
        SFDIQA(str(tmp_path / 'cut.pth'))
    exported = torch.load(checkpoints[2], weights_only=True)
    exported['featd']['params']['backbone'] = torch.zeros(3, dtype=torch.uint8)
    torch.save(exported, tmp_path / 'name.pth')
    with pytest.raises(WeightsError, match='FeatD checkpoint has a damaged backbone name'):
        SFDIQA(str(tmp_path / 'name.pth'))


def test_a_featd_alone_exports_without_tgd_at_fusion_weight_1_and_the_librarys_default_weights(tmp_path):
    featd_path, _, exported = random_sfd_iqa_weights(tmp_path, clip_model='timm:convnext_atto', with_tgd=False)
    weights = load_weights(exported)
    assert (weights['tgd'], weights['fusion_weight'], weights['clip_model']) == (None, 1.0, 'timm:convnext_atto')
    import timm
    default_tag = timm.list_pretrained('convnext_atto.*')[0].split('.', 1)[1]  # timm lists its default first
    assert weights_from_checkpoints(featd_path)['clip_pretrained'] == default_tag
    with pytest.raises(WeightsError, match=r"No TG-D in .* \(its backbone has no text tower, or the run trained "
                                           r"Feat-D alone\): the score is Feat-D's alone, so fusion_weight must be 1; "
                                           r'got 0.5'):
        weights_from_checkpoints(featd_path, None, 0.5)
    tampered = tmp_path / 'tampered.pth'
    torch.save({**torch.load(exported), 'fusion_weight': 0.5}, tampered)
    with pytest.raises(WeightsError, match="lacks the 'tgd' network of SFD-IQA"):
        load_weights(tampered)


def test_the_runs_options_are_read_only_beside_an_experiments_models_folder(tmp_path):
    """A checkpoint saved anywhere else has no run around it: the *.yml two folders up belong to someone else."""
    import yaml
    for folder_name, expected in (('models', 'RN50.pt'), ('downloads', 'openai')):
        folder = tmp_path / folder_name / folder_name
        folder.mkdir(parents=True)
        featd_path, tgd_path, _ = random_sfd_iqa_weights(folder)
        (folder.parent / 'train.yml').write_text(yaml.safe_dump({'network_d': {'pretrained': 'RN50.pt'}}))
        assert weights_from_checkpoints(featd_path, tgd_path)['clip_pretrained'] == expected


@pytest.mark.parametrize('options', [{'layers': ['layer3'], 'num_feat': 8, 'num_down': 1},
                                     {'layers': ['layer2', 'layer3'], 'num_feat': 16, 'num_down': 3}])
def test_featd_options_are_read_back_from_its_weights(options):
    from basicsr.archs import build_network

    from sfd_basicsr.iqa.weights import featd_config_from_params
    featd = build_network({'type': 'FeatD', 'clip_model': 'RN50-quickgelu', 'pretrained': None, **options})
    assert featd_config_from_params(featd.state_dict()) == {**options, 'skip_connection': True}


def experiment_of(checkpoints, folder, iteration, options=None):
    """An experiment folder holding ``checkpoints``' Feat-D and TG-D as saved at ``iteration`` (and a run's options)."""
    import shutil

    import yaml
    (folder / 'models').mkdir(parents=True)
    shutil.copy(checkpoints[0], folder / 'models' / f'net_d_{iteration}.pth')
    shutil.copy(checkpoints[1], folder / 'models' / f'net_d_tg_{iteration}.pth')
    if options is not None:
        (folder / 'train.yml').write_text(yaml.safe_dump(options))
    return folder


def test_an_experiment_saved_before_its_first_iteration_is_refused(checkpoints, tmp_path):
    from sfd_basicsr.iqa.weights import export_experiment
    untrained = experiment_of(checkpoints, tmp_path / 'untrained', 0)
    with pytest.raises(WeightsError, match='holds untrained discriminators \\(saved at iteration 0\\)'):
        export_experiment(str(untrained), str(tmp_path / 'untrained.pth'), clip_pretrained=None)
    assert not (tmp_path / 'untrained.pth').exists()
    trained = experiment_of(checkpoints, tmp_path / 'trained', 3)
    assert export_experiment(str(trained), str(tmp_path / 'trained.pth'), clip_pretrained=None)['trained_iter'] == 3


def test_what_the_weights_cannot_show_is_taken_from_the_runs_options(checkpoints, tmp_path):
    from sfd_basicsr.iqa.weights import export_experiment
    network_d = {'type': 'FeatD', 'clip_model': 'RN50-quickgelu', 'pretrained': None, 'skip_connection': False}
    experiment = experiment_of(checkpoints, tmp_path / 'run', 5, {'network_d': network_d})
    exported = export_experiment(str(experiment), str(tmp_path / 'run.pth'), clip_pretrained=None)
    assert exported['featd']['config']['skip_connection'] is False  # no weight tells a U-Net without skips apart
    assert load_weights(str(tmp_path / 'run.pth'))['featd']['config']['skip_connection'] is False


def test_a_weights_folder_is_refused_naming_the_file_it_should_hold(tmp_path):
    from sfd_basicsr.iqa.weights import resolve_weights_path
    from sfd_basicsr.utils.errors import InputError
    with pytest.raises(InputError, match=rf"^SFD-IQA weights '{tmp_path}' is a folder; give the weights file in it "
                                         r'\(sfd_iqa\.pth, as `sfd-iqa export` writes it\)\.$'):
        resolve_weights_path(str(tmp_path))
