"""A bad options file stops with the key's name before anything is created or trained."""
import os

import pytest

from sfd_basicsr.training.options_check import OptionsError, check_options
from helpers.training import tiny_train_options, write_options


def break_arch(opt):
    opt['network_d']['type'] = 'FeatDiscriminatorTypo'


def break_data_path(opt):
    opt['datasets']['train']['dataroot_gt'] = '/nowhere/DF2K/HR'


def break_scale(opt):
    opt['network_g']['scale'] = 2


def break_arch_option(opt):
    opt['network_d_tg']['n_context'] = 4


def misspell_val_section(opt):
    opt['vall'] = opt.pop('val')


def batch_larger_than_the_training_set(opt):  # the demo's training set has 4 images
    opt['datasets']['train']['batch_size_per_gpu'] = 8


def list_one_image_in_a_meta_info_file(opt):  # BasicSR's datasets read only the pairs their meta-info file lists
    train = opt['datasets']['train']
    meta = os.path.join(os.path.dirname(train['dataroot_gt']), 'meta_info_one_pair.txt')
    with open(meta, 'w') as f:
        f.write('astronaut.png (64,64,3)\n')
    train.update({'meta_info_file': meta, 'batch_size_per_gpu': 2})


def drop_lq_folder(opt):
    del opt['datasets']['train']['dataroot_lq']


def negative_loss_weight(opt):
    opt['train']['featd_opt']['loss_weight'] = -0.1


def unknown_encoder_layer(opt):
    opt['network_d']['layers'] = ['layer2', 'layer5']


def unknown_gan_type(opt):
    opt['train']['tgd_opt']['gan_type'] = 'relativistic'


def different_encoders(opt):
    opt['network_d_tg']['clip_model'] = 'ViT-B-16'


def unknown_clip_model(opt):
    opt['network_d']['clip_model'] = 'RN51'


def timm_backbone_for_tgd(opt):
    for key in ('network_d', 'network_d_tg'):
        opt[key].pop('clip_model')
        opt[key]['backbone'] = 'timm:convnext_atto'


def backbone_and_clip_model_disagree(opt):
    opt['network_d']['backbone'] = 'timm:convnext_atto'


def unknown_timm_model(opt):
    opt['network_d'].pop('clip_model')
    opt['network_d']['backbone'] = 'timm:convnext_nonesuch'


def port_a_gan_opt(opt):  # what a Real-ESRGAN / SRGAN options file brings
    opt['train']['gan_opt'] = {'type': 'GANLoss', 'gan_type': 'vanilla', 'loss_weight': 0.1}


def drop_featd_loss(opt):
    del opt['train']['featd_opt']


def zero_iterations(opt):
    opt['train']['total_iter'] = 0


def text_for_a_network_number(opt):
    opt['network_g']['num_feat'] = 'big'


def text_for_a_loss_weight(opt):
    opt['train']['featd_opt']['loss_weight'] = '0.1'


def misspell_model_type(opt):
    opt['model_type'] = 'SFDModle'


def misspell_total_iter(opt):
    opt['train']['totl_iter'] = opt['train'].pop('total_iter')


def colour_for_color(opt):  # DiffAugment's policy names are the reference code's
    opt['train']['diffaugment'] = {'policy': ['colour', 'cutout']}


def repeat_a_transform(opt):
    opt['train']['diffaugment'] = {'policy': ['cutout', 'color', 'cutout']}


def augment_with_no_transform(opt):
    opt['train']['diffaugment'] = {'policy': []}


def augment_more_than_always(opt):
    opt['train']['diffaugment'] = {'probability': 1.5}


def adapt_to_a_target_never_reached(opt):  # r_t = E[sign(logits)] is 1 at most
    opt['train']['diffaugment'] = {'adaptive_target': 1.0}


def adapt_every_zero_iterations(opt):
    opt['train']['diffaugment'] = {'adaptive_target': 0.6, 'adaptive_interval': 0}


def adapt_without_a_target(opt):
    opt['train']['diffaugment'] = {'probability': 0.5, 'adaptive_images': 100000}


def misspell_a_diffaugment_key(opt):
    opt['train']['diffaugment'] = {'probabilty': 0.5}


BREAKERS = [
    (break_arch, 'network_d.type'),
    (break_data_path, 'datasets.train.dataroot_gt'),
    (break_scale, 'network_g.scale'),
    (break_arch_option, 'network_d_tg'),
    (misspell_val_section, "vall: unknown option; SFDModel and BasicSR never read it, so it would be ignored. Did "
                           "you mean 'val'?"),
    (batch_larger_than_the_training_set, 'datasets.train.batch_size_per_gpu: 8 per GPU, but the training set has 4'),
    (list_one_image_in_a_meta_info_file, 'datasets.train.batch_size_per_gpu: 2 per GPU, but the training set has 1 '
                                         'images'),
    (drop_lq_folder, 'datasets.train.dataroot_lq: missing'),
    (negative_loss_weight, 'train.featd_opt.loss_weight: -0.1 is negative'),
    (unknown_encoder_layer, "network_d.layers: ['layer5'] are not layers of RN50-quickgelu"),
    (unknown_gan_type, "train.tgd_opt.gan_type: 'relativistic'"),
    (different_encoders, 'network_d_tg.clip_model/pretrained'),
    (unknown_clip_model, "network_d.clip_model: unknown CLIP model 'RN51'"),
    (timm_backbone_for_tgd, 'network_d_tg.backbone: TGDiscriminator compares image and text features, and '
                            'timm:convnext_atto has no text tower'),
    (backbone_and_clip_model_disagree, "network_d.backbone 'timm:convnext_atto' and clip_model 'RN50-quickgelu' name "
                                       'different encoders'),
    (unknown_timm_model, "network_d.backbone: unknown timm model 'convnext_nonesuch'"),
    (port_a_gan_opt, 'train.gan_opt: SFDModel never reads it; SFDModel reads train.featd_opt and train.tgd_opt'),
    (drop_featd_loss, 'network_d: set, but train.featd_opt is absent, so SFDModel would build it and never train'),
    (zero_iterations, 'train.total_iter: must be a positive whole number; got 0.'),
    (misspell_model_type, "model_type: model 'SFDModle' is not registered. Registered: "),
    (text_for_a_network_number, "network_g.num_feat: RRDBNet expects a whole number (its default is 64); got 'big'."),
    (text_for_a_loss_weight, 'train.featd_opt.loss_weight: SFDGANLoss expects a number (its default is 0.1); got '
                             "'0.1'."),
    (misspell_total_iter, 'train.total_iter: missing; BasicSR trains for that many iterations.\n'
                          'train.totl_iter: unknown option; SFDModel and BasicSR never read it, so it would be '
                          "ignored. Did you mean 'total_iter'?"),
    (colour_for_color, "train.diffaugment.policy.0: input should be 'color', 'translation' or 'cutout'; got 'colour'."),
    (repeat_a_transform, 'train.diffaugment.policy: names cutout more than once; each transform is applied once at '
                         "most; got ['cutout', 'color', 'cutout']."),
    (augment_with_no_transform, 'train.diffaugment.policy: list should have at least 1 item'),
    (augment_more_than_always, 'train.diffaugment.probability: input should be less than or equal to 1; got 1.5.'),
    (adapt_to_a_target_never_reached, 'train.diffaugment.adaptive_target: input should be less than 1; got 1.0.'),
    (adapt_every_zero_iterations, 'train.diffaugment.adaptive_interval: input should be greater than 0; got 0.'),
    (adapt_without_a_target, 'train.diffaugment.adaptive_images: has no effect without adaptive_target (a fixed '
                             'probability never moves); got 100000.'),
    (misspell_a_diffaugment_key, 'train.diffaugment.probabilty: unknown option; SFDModel and BasicSR never read it, '
                                 "so it would be ignored. Did you mean 'probability'?"),
]


@pytest.mark.parametrize('breaker, message', BREAKERS, ids=[b.__name__ for b, _ in BREAKERS])
def test_bad_options_are_refused_naming_the_key(tiny_options, breaker, message):
    import copy
    opt = copy.deepcopy(tiny_options[1])
    check_options(copy.deepcopy(opt))  # unbroken, the options pass
    breaker(opt)
    with pytest.raises(OptionsError) as error:
        check_options(opt)
    assert str(error.value).startswith(message), str(error.value)
    assert str(error.value).count('\n') == message.count('\n')  # that problem only, one line each


@pytest.mark.parametrize('breaker, key', [(break_arch, 'network_d.type'), (misspell_val_section, 'vall'),
                                          (batch_larger_than_the_training_set, 'datasets.train.batch_size_per_gpu'),
                                          (port_a_gan_opt, 'train.gan_opt'), (zero_iterations, 'train.total_iter'),
                                          (misspell_model_type, 'model_type')])
def test_the_basicsr_command_stops_before_creating_anything(tmp_path, breaker, key, basicsr_main):
    opt = tiny_train_options(tmp_path, iters=2, warm_start=False)
    breaker(opt)
    result = basicsr_main(['train', '-opt', write_options(tmp_path / 'bad.yml', opt)], cwd=tmp_path)
    assert result.returncode == 2
    assert key in result.stderr and 'Traceback' not in result.stderr, result.stderr[-2000:]
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / 'experiments').exists()


def test_missing_options_file_is_named(tmp_path, basicsr_main):
    result = basicsr_main(['train', '-opt', 'options/nope.yml'], cwd=tmp_path)
    assert result.returncode == 2 and 'options/nope.yml' in result.stderr


def test_clip_weights_that_cannot_be_downloaded_name_the_options_holding_them(tiny_options, monkeypatch):
    from sfd_basicsr.backbones.weights import EncoderWeightsError, create_backbone
    from sfd_basicsr.training.pipeline import explain_setup_error
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    with pytest.raises(EncoderWeightsError) as error:
        create_backbone('RN50-quickgelu', 'openai')
    explained = str(explain_setup_error(error.value, tiny_options[1]))
    assert explained.startswith('network_d.pretrained / network_d_tg.pretrained: ')
    assert 'local file path' in explained


def test_vgg_weights_that_cannot_be_downloaded_give_one_line_with_the_local_path(tmp_path, monkeypatch, basicsr_main):
    opt = tiny_train_options(tmp_path, iters=2, warm_start=False, with_val=False)
    opt['train']['perceptual_opt'] = {'type': 'PerceptualLoss', 'layer_weights': {'conv5_4': 1}, 'vgg_type': 'vgg19',
                                      'perceptual_weight': 1.0, 'style_weight': 0}
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))  # no VGG file cached there
    result = basicsr_main(['train', '-opt', write_options(tmp_path / 'vgg.yml', opt)], cwd=tmp_path)
    last_line = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr[-3000:]
    assert last_line.startswith('basicsr train: invalid options: train.perceptual_opt: ')
    assert str(tmp_path / 'experiments' / 'pretrained_models' / 'vgg19-dcbb9e9d.pth') in last_line


@pytest.mark.parametrize('key', ['pretrain_network_g', 'pretrain_network_d', 'resume_state'])
@pytest.mark.parametrize('kind, why', [('missing', 'does not exist'), ('truncated', 'is truncated or damaged'),
                                       ('malicious', 'this file contains code objects')])
def test_a_bad_checkpoint_in_the_options_stops_before_anything_is_made(tmp_path, key, kind, why, basicsr_main):
    import torch
    opt = tiny_train_options(tmp_path, iters=2, warm_start=False, with_val=False)
    path, marker = tmp_path / f'{key}.pth', tmp_path / 'payload_ran'
    if kind == 'truncated':
        torch.save({'params': {'w': torch.zeros(100)}}, path)
        path.write_bytes(path.read_bytes()[:300])
    elif kind == 'malicious':
        class Payload:
            def __reduce__(self):
                return (open, (str(marker), 'w'))
        torch.save({'params': Payload()}, path)
    opt['path'][key] = str(path)
    result = basicsr_main(['train', '-opt', write_options(tmp_path / 'bad.yml', opt)], cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1].startswith(f"basicsr train: invalid options: path.{key}")
    assert why in result.stderr and 'Traceback' not in result.stderr and 'weights_only' not in result.stderr
    assert not (tmp_path / 'experiments').exists() and not marker.exists()


needs_no_cuda = pytest.mark.skipif(__import__('torch').cuda.is_available(), reason='checks a machine without CUDA')


@needs_no_cuda
@pytest.mark.parametrize('change, message', [
    ({'num_gpu': 1}, 'num_gpu: 1, but this machine has no CUDA GPU; set num_gpu: 0 (the CPU) or auto.'),
    ({'model_type': 'RealESRGANModel'}, "model_type: BasicSR's RealESRGANModel puts its degradation tensors on CUDA, "
                                        'which this machine lacks; use SFDRealModel'),
])
def test_what_needs_cuda_is_refused_on_a_machine_without_it(tmp_path, change, message, basicsr_main):
    opt = tiny_train_options(tmp_path, iters=2, warm_start=False, with_val=False)
    opt.update(change)
    result = basicsr_main(['train', '-opt', write_options(tmp_path / 'cuda.yml', opt)], cwd=tmp_path)
    assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr[-2000:]
    lines = [line.strip().removeprefix('basicsr train: invalid options: ') for line in result.stderr.splitlines()]
    assert any(line.startswith(message) for line in lines), result.stderr
    assert not (tmp_path / 'experiments').exists()


def test_bf16_on_a_gpu_without_bfloat16_arithmetic_is_refused_naming_the_gpu(tmp_path, monkeypatch):
    import torch

    from sfd_basicsr.training.options_check import options_problems
    opt = tiny_train_options(tmp_path, iters=2, warm_start=False, with_val=False)
    opt.update(num_gpu=1, use_amp=True, amp_bf16=True)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'get_device_name', lambda *args: 'Tesla V100-SXM2-16GB')
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda including_emulation=True: including_emulation)
    errors, _ = options_problems(opt)
    assert errors == ['amp_bf16: Tesla V100-SXM2-16GB has no bfloat16 arithmetic; set amp_bf16: false (float16 with '
                      'a gradient scaler per optimiser).']
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda including_emulation=True: True)
    assert options_problems(opt)[0] == []


def test_basicsr_check_reports_without_training(tmp_path, basicsr_main):
    opt = tiny_train_options(tmp_path, iters=2, warm_start=False)
    good = write_options(tmp_path / 'good.yml', opt)
    result = basicsr_main(['check', '-opt', good], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f'basicsr check: {good}: no problem found.' in result.stdout
    misspell_val_section(opt)
    result = basicsr_main(['check', '-opt', write_options(tmp_path / 'bad.yml', opt)], cwd=tmp_path)
    assert result.returncode == 2 and "invalid options: vall: unknown option" in result.stderr
    result = basicsr_main(['check', '-opt', good, '--force_yml', 'network_d:type=FeatDTypo'], cwd=tmp_path)
    assert result.returncode == 2 and "network_d.type: arch 'FeatDTypo' is not registered" in result.stderr
    assert not (tmp_path / 'experiments').exists() and not (tmp_path / 'tb_logger').exists()


def test_every_problem_is_printed_at_once_before_any_folder_is_made(tmp_path, basicsr_main):
    opt = tiny_train_options(tmp_path, iters=2, warm_start=False)
    opt['train']['total_iter'] = 'ten'
    opt['train']['optim_g']['lr'] = 'fast'
    opt['datasets']['train']['gt_size'] = 'big'
    opt['train']['optim_d']['lr'] = -1e-4
    opt['val'] = 'every 100 iterations'
    opt['network_d']['type'] = 'FeatDTypo'
    result = basicsr_main(['train', '-opt', write_options(tmp_path / 'bad.yml', opt)], cwd=tmp_path)
    assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert lines[0] == 'basicsr train: invalid options (6 problems):'
    assert sorted(line.strip().split(':')[0] for line in lines[1:]) == [
        'datasets.train.gt_size', 'network_d.type', 'train.optim_d.lr', 'train.optim_g.lr', 'train.total_iter', 'val']
    assert not (tmp_path / 'experiments').exists() and not (tmp_path / 'tb_logger').exists()


def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path, basicsr_main):
    path = tmp_path / 'broken.yml'
    path.write_text('name: x\nmodel_type: SFDModel\ntrain:\n  optim_g: {type: Adam, lr: 1\n')
    for command in ('train', 'check', 'test'):
        result = basicsr_main([command, '-opt', str(path)], cwd=tmp_path)
        assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr[-2000:]
        assert result.stderr.startswith(f'basicsr {command}: invalid options: {path}: not valid YAML (')
        assert 'line 4' in result.stderr


@pytest.mark.parametrize('entry, message', [
    ('train:optim_g:lr=-1e-4', "train.optim_g.lr: input should be a valid number; got '-1e-4'. -1e-4 is read as "
                               'text: write !!float -1e-4 (in the file or in --force_yml).'),
    ('train:optim_g:lr=1.0e-4', "train.optim_g.lr: input should be a valid number; got '1.0e-4'. 1.0e-4 is read as "
                                'text: write !!float 1.0e-4 (in the file or in --force_yml).'),
    ('train:optim_g:lr=!!float -1e-4', 'train.optim_g.lr: input should be greater than or equal to 0; got -0.0001.'),
    ('trainn:total_iter=5', "--force_yml trainn:total_iter=5: the options have no section trainn (BasicSR's "
                            '--force_yml changes keys of existing sections only).'),
    ('train:total_iter=5=6', "--force_yml train:total_iter=5=6: expected KEY:SUBKEY=VALUE with one '='"),
    ('train:total_iter=!!float five', '--force_yml train:total_iter=!!float five: BasicSR cannot read the value'),
])
def test_force_yml_values_are_checked_as_basicsr_will_read_them(tmp_path, entry, message, basicsr_main):
    opt = tiny_train_options(tmp_path, iters=2, warm_start=False)
    good = write_options(tmp_path / 'good.yml', opt)
    result = basicsr_main(['train', '-opt', good, '--force_yml', entry], cwd=tmp_path)
    assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr[-2000:]
    assert result.stderr.startswith(f'basicsr train: invalid options: {message}'), result.stderr
    assert not (tmp_path / 'experiments').exists()


def test_a_model_that_declares_no_options_is_warned_about_not_refused(tmp_path, basicsr_main):
    opt = tiny_train_options(tmp_path, iters=2, warm_start=False)
    opt['model_type'] = 'SwinIRModel'  # BasicSR's, and not declared: its own keys cannot be known
    for key in ('network_d', 'network_d_tg'):
        del opt[key]
    for key in ('featd_opt', 'tgd_opt', 'optim_d'):
        del opt['train'][key]
    opt['train']['my_loss_opt'] = {'type': 'L1Loss'}
    result = basicsr_main(['check', '-opt', write_options(tmp_path / 'swinir.yml', opt)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.splitlines() == [
        "basicsr: warning: train.my_loss_opt: SwinIRModel's source does not read it, nor does any model this check "
        'declares; make sure it is one of its own.']


def test_under_torchrun_the_training_set_must_fill_a_batch_on_every_process(tiny_options, monkeypatch):
    """The check runs before BasicSR joins the process group, so the world size comes from torchrun's WORLD_SIZE."""
    import copy
    opt = copy.deepcopy(tiny_options[1])
    opt['datasets']['train']['batch_size_per_gpu'] = 3  # 4 images: 4 per process alone, 2 per process of 2
    check_options(copy.deepcopy(opt))
    monkeypatch.setenv('WORLD_SIZE', '2')
    with pytest.raises(OptionsError) as error:
        check_options(opt)
    assert error.value.problems == [
        'datasets.train.batch_size_per_gpu: 3 per GPU, but the training set has 4 images (x1 dataset_enlarge_ratio, '
        'over 2 GPU(s): 2 per GPU), so not one full batch exists and training would run 0 iterations. Lower '
        'batch_size_per_gpu to 2 or less, or raise dataset_enlarge_ratio.']


@pytest.mark.parametrize('timeout, accepted', [(0, False), (-1, False), (0.5, True), (1, True)])
def test_dist_params_timeout_must_be_positive_at_its_boundary(tiny_options, timeout, accepted):
    import copy
    opt = copy.deepcopy(tiny_options[1])
    opt['dist_params']['timeout'] = timeout
    if accepted:
        check_options(opt)
        return
    with pytest.raises(OptionsError) as error:
        check_options(opt)
    assert str(error.value).startswith('dist_params.timeout: '), str(error.value)


def test_paths_written_with_a_tilde_are_expanded_as_basicsr_expands_them(tiny_options, tmp_path, monkeypatch):
    import copy
    import shutil
    opt = copy.deepcopy(tiny_options[1])
    home = tmp_path / 'home'
    home.mkdir()
    shutil.copytree(opt['datasets']['train']['dataroot_gt'], home / 'hr')
    monkeypatch.setenv('HOME', str(home))  # os.path.expanduser, which BasicSR's parse_options applies, reads it
    opt['datasets']['train']['dataroot_gt'] = '~/hr'
    check_options(copy.deepcopy(opt))
    opt['datasets']['train']['dataroot_gt'] = '~/absent'
    with pytest.raises(OptionsError, match=r"datasets.train.dataroot_gt: '~/absent' does not exist\.$"):
        check_options(copy.deepcopy(opt))
    opt['datasets']['train']['dataroot_gt'] = '~/hr'
    (home / 'meta.txt').write_text(''.join(f'{name}\n' for name in os.listdir(home / 'hr')))
    opt['datasets']['train']['meta_info_file'] = '~/meta.txt'  # BasicSR opens it as written
    with pytest.raises(OptionsError, match=r"datasets.train.meta_info_file: '~/meta.txt' does not exist \(BasicSR "
                                           r'expands ~ only in dataroot_gt, dataroot_lq and path.\*'):
        check_options(opt)


@pytest.mark.parametrize('diffaugment', [{}, {'policy': ['translation'], 'probability': 0.3},
                                         {'adaptive_target': 0.6, 'adaptive_interval': 8, 'adaptive_images': 200000}])
def test_diffaugment_options_of_every_kind_pass_the_check(tiny_options, diffaugment):
    import copy
    opt = copy.deepcopy(tiny_options[1])
    opt['train']['diffaugment'] = diffaugment
    check_options(opt)


@pytest.mark.parametrize('model, options', [('SeDModel', 'train_sed_p_esrgan_x4.yml'),
                                            ('SRGANModel', 'train_sed_u_selfcond_esrgan_x4.yml')])
def test_diffaugment_in_a_model_that_never_reads_it_is_refused_naming_the_ones_that_do(model, options):
    from sfd_basicsr.utils.yaml_file import read_yaml
    opt = read_yaml(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'options', options))
    opt['train']['diffaugment'] = {'probability': 0.5}
    assert opt['model_type'] == model
    assert f'train.diffaugment: {model} never reads it; it is an option of SFDModel, SFDRealModel.' in _problems(opt)


def test_basicsr_check_names_every_bad_diffaugment_key(tmp_path, basicsr_main):
    opt = tiny_train_options(tmp_path, iters=2, warm_start=False)
    opt['train']['diffaugment'] = {'policy': ['color', 'zoom'], 'probability': -0.1, 'adaptive_interval': 2}
    result = basicsr_main(['check', '-opt', write_options(tmp_path / 'bad.yml', opt)], cwd=tmp_path)
    assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert lines[0] == 'basicsr check: invalid options (3 problems):'
    assert sorted(line.strip().split(':')[0] for line in lines[1:]) == [
        'train.diffaugment.adaptive_interval', 'train.diffaugment.policy.1', 'train.diffaugment.probability']


def _shipped_real_world():
    from sfd_basicsr.utils.yaml_file import read_yaml
    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'options')
    return read_yaml(os.path.join(root, 'train_sfd_realesrgan_x4plus.yml'))


def _problems(opt):
    with pytest.raises(OptionsError) as error:
        check_options(opt)
    return error.value.problems


def test_a_real_esrgan_discriminator_under_sfd_real_model_is_named_for_that_model():
    opt = _shipped_real_world()
    opt['network_d'] = {'type': 'UNetDiscriminatorSN', 'num_in_ch': 3, 'num_feat': 64, 'skip_connection': True}
    assert "network_d.type: SFDRealModel needs one of ['FeatD']; got 'UNetDiscriminatorSN'." in _problems(opt)


def test_a_feat_d_subclass_of_the_users_own_is_a_feat_d():
    from basicsr.utils.registry import ARCH_REGISTRY

    from sfd_basicsr.archs.featd_arch import FeatD
    from sfd_basicsr.compat.registry import register
    register(ARCH_REGISTRY)(type('MyFeatD', (FeatD, ), {'__module__': __name__}))
    opt = _shipped_real_world()
    opt['network_d']['type'] = 'MyFeatD'
    assert not [line for line in _problems(opt) if line.startswith('network_d.type')]


def test_a_real_esrgan_dataset_without_meta_info_is_refused_before_basicsr_opens_none():
    opt = _shipped_real_world()
    opt['datasets']['train']['meta_info'] = None  # RealESRGANDataset opens it whatever it holds
    assert 'datasets.train.meta_info: missing; RealESRGANDataset needs it.' in _problems(opt)


def _real_world_tiny(tmp_path, change):
    """The tiny SFD options turned into SFDRealModel on a RealESRGANDataset, then ``change``d."""
    opt = tiny_train_options(tmp_path, iters=2, warm_start=False, with_val=False)
    real = _shipped_real_world()
    opt['model_type'] = 'SFDRealModel'
    opt.update({key: value for key, value in real.items() if key not in opt and not isinstance(value, dict)})
    train = dict(real['datasets']['train'], dataroot_gt=opt['datasets']['train']['dataroot_gt'], meta_info=None,
                 batch_size_per_gpu=2, num_worker_per_gpu=0, gt_size=64)
    meta = tmp_path / 'meta.txt'
    meta.write_text(''.join(f'{name}\n' for name in sorted(os.listdir(train['dataroot_gt']))))
    train['meta_info'] = str(meta)
    opt['datasets'] = {'train': train}
    change(opt)
    return write_options(tmp_path / 'real.yml', opt)


@pytest.mark.parametrize('change, key', [
    (lambda opt: opt.update(network_d={'type': 'UNetDiscriminatorSN', 'num_in_ch': 3}), 'network_d.type'),
    (lambda opt: opt['datasets']['train'].update(meta_info=None), 'datasets.train.meta_info'),
    (lambda opt: opt['datasets']['train'].update(meta_info='absent.txt'), 'datasets.train.meta_info'),
], ids=['unet_under_sfd_real_model', 'no_meta_info', 'absent_meta_info'])
def test_train_finds_no_problem_that_check_missed(change, key, tmp_path, basicsr_main):
    opt_file = _real_world_tiny(tmp_path, change)
    check = basicsr_main(['check', '-opt', opt_file], cwd=tmp_path)
    train = basicsr_main(['train', '-opt', opt_file], cwd=tmp_path)
    assert check.returncode == train.returncode == 2 and 'Traceback' not in check.stderr + train.stderr
    problems = [line for line in check.stderr.splitlines() if not line.startswith('basicsr check: weights')]
    assert key in check.stderr
    assert [line.replace('basicsr train', 'basicsr check') for line in train.stderr.splitlines()] == problems
    assert not (tmp_path / 'experiments').exists()


def test_the_unbroken_real_world_options_pass_the_check(tmp_path, basicsr_main):
    result = basicsr_main(['check', '-opt', _real_world_tiny(tmp_path, lambda opt: None)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]


def test_one_encoder_spelled_two_ways_is_one_encoder(tiny_options, monkeypatch):
    import copy
    monkeypatch.setenv('HF_HUB_OFFLINE', '0')  # tags checked, not downloaded
    opt = copy.deepcopy(tiny_options[1])
    opt['network_d'].pop('clip_model')
    opt['network_d']['backbone'] = 'open_clip:RN50-quickgelu'
    opt['network_d']['pretrained'] = opt['network_d_tg']['pretrained'] = 'default'
    opt['network_d_tg']['pretrained'] = 'openai'
    check_options(opt)
