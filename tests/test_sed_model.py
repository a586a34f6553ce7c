"""SeDModel: real and fake judged under the HR image's semantics; the encoder sees the GT once, never the SR."""
import os

import pytest
import torch
import yaml
from basicsr.models import build_model

from helpers.models import CLIP
from helpers.training import logged_losses, paired_dataset, psnr_checkpoint, run_basicsr, write_options
from sfd_basicsr.data.sample_images import write_bicubic_pairs

ARCHS = ['SeDPatchDiscriminator', 'SeDUNetDiscriminator']
OPTIONS = os.path.join(os.path.dirname(__file__), os.pardir, 'options')


def sed_options(arch, pixel_weight=1.0):
    return {
        'model_type': 'SeDModel', 'scale': 4, 'num_gpu': 0, 'is_train': True, 'dist': False,
        'network_g': {'type': 'RRDBNet', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 8, 'num_block': 1,
                      'num_grow_ch': 4},
        'network_d': {'type': arch, 'num_feat': 8, 'fused_channels': 8, 'clip_model': CLIP, 'pretrained': None},
        'path': {},
        'train': {
            'optim_g': {'type': 'Adam', 'lr': 1e-4, 'betas': [0.9, 0.99]},
            'optim_d': {'type': 'Adam', 'lr': 1e-4, 'betas': [0.9, 0.99]},
            'scheduler': {'type': 'MultiStepLR', 'milestones': [100], 'gamma': 0.5},
            'pixel_opt': {'type': 'L1Loss', 'loss_weight': pixel_weight, 'reduction': 'mean'},
            'gan_opt': {'type': 'GANLoss', 'gan_type': 'vanilla', 'loss_weight': 0.01},
            'net_d_iters': 1, 'net_d_init_iters': 0,
        },
    }


def open_semantics(model):
    """SeD's zero-initialised fusion projections would hide the semantics: give them weights."""
    for fusion in model.net_d.fusions:
        torch.nn.init.normal_(fusion.proj_out.weight, std=1.0)


def layer3_outside_sfd_basicsr(encoder, image):
    """RN50 ``layer3`` from open_clip's own modules and constants, not through the encoder's forward."""
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
    visual = encoder.clip.visual
    x = (image - torch.tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1)) / torch.tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        return visual.layer3(visual.layer2(visual.layer1(visual.stem(x))))


def record(model):
    """Every encoder input, and the ``(image, semantic)`` of every discriminator call."""
    encoder = model.net_d.encoder('cpu')
    seen, judged = [], []
    hooks = [encoder.register_forward_hook(lambda m, args, out: seen.append(args[0].detach().clone())),
             model.net_d.register_forward_pre_hook(
                 lambda m, args, kwargs: judged.append((args[0].detach().clone(), m._check(args[0], None))),
                 with_kwargs=True)]
    return encoder, seen, judged, hooks


@pytest.mark.parametrize('arch', ARCHS)
def test_hr_and_sr_are_judged_under_the_gts_semantics_and_the_encoder_never_sees_sr(arch):
    torch.manual_seed(0)
    model = build_model(sed_options(arch))
    open_semantics(model)
    gt = torch.rand(2, 3, 64, 64)
    model.feed_data({'lq': torch.rand(2, 3, 16, 16), 'gt': gt})
    encoder, seen, judged, hooks = record(model)
    model.optimize_parameters(1)
    for hook in hooks:
        hook.remove()
    assert len(seen) == 1 and torch.equal(seen[0], gt), 'one encoder pass per iteration, on the GT only'
    expected = layer3_outside_sfd_basicsr(encoder, gt)
    assert len(judged) == 3, 'generator step (SR), discriminator step (HR, then SR)'
    images = [image for image, _ in judged]
    assert torch.equal(images[1], gt) and not torch.equal(images[0], gt) and torch.equal(images[0], images[2])
    for _, semantic in judged:
        torch.testing.assert_close(semantic, expected, rtol=1e-4, atol=1e-5)
        assert semantic.grad_fn is None and not semantic.requires_grad


@pytest.mark.parametrize('arch', ARCHS)
def test_a_different_sr_output_leaves_the_condition_unchanged(arch):
    torch.manual_seed(0)
    model = build_model(sed_options(arch))
    open_semantics(model)
    data = {'lq': torch.rand(2, 3, 16, 16), 'gt': torch.rand(2, 3, 64, 64)}
    conditions = []
    for scale in (1.0, 3.0):  # a generator with other weights outputs another SR image
        with torch.no_grad():
            for p in model.net_g.parameters():
                p.mul_(scale)
        model.feed_data(data)
        _, _, judged, hooks = record(model)
        model.optimize_parameters(1)
        for hook in hooks:
            hook.remove()
        conditions.append(judged[0][1])
    torch.testing.assert_close(conditions[0], conditions[1])


@pytest.mark.parametrize('arch', ARCHS)
def test_the_generators_adversarial_gradient_comes_through_the_image_path(arch):
    torch.manual_seed(0)
    model = build_model(sed_options(arch, pixel_weight=0))  # the GAN loss alone trains the generator
    open_semantics(model)
    model.feed_data({'lq': torch.rand(2, 3, 16, 16), 'gt': torch.rand(2, 3, 64, 64)})
    model.optimize_parameters(1)
    grads = [p.grad for p in model.net_g.parameters() if p.grad is not None]
    assert grads and sum(g.abs().sum() for g in grads) > 0, 'no adversarial gradient reached the generator'
    assert all(p.grad is None for p in model.net_d.encoder('cpu').parameters()), 'the encoder got gradients'


def test_a_discriminator_that_is_no_sed_arch_is_refused_at_the_options_check(tmp_path):
    from sfd_basicsr.training.options_check import OptionsError, check_options
    opt = sed_options('UNetDiscriminatorSN')
    opt['network_d'] = {'type': 'UNetDiscriminatorSN', 'num_in_ch': 3}
    with pytest.raises(OptionsError) as error:
        check_options(opt)
    assert ("network_d.type: SeDModel needs one of ['SeDPatchDiscriminator', 'SeDUNetDiscriminator']; got "
            "'UNetDiscriminatorSN'.") in error.value.problems


def shrunk(name, root):
    """A shipped SeD options file on tiny data, generator and discriminator, offline."""
    with open(os.path.join(OPTIONS, name)) as f:
        opt = yaml.safe_load(f)
    hr, lr = write_bicubic_pairs(os.path.join(root, 'data'), ['astronaut', 'coffee'], 64)
    opt['datasets']['train'] = {**paired_dataset('tiny', hr, lr, 'train', gt_size=64, batch_size=2)}
    opt['datasets']['val'] = paired_dataset('tiny_val', hr, lr, 'val')
    opt['network_g'].update(num_feat=8, num_block=1, num_grow_ch=4)
    opt['network_d'].update(num_feat=8, fused_channels=8, pretrained=None)
    opt['path'].update(pretrain_network_g=psnr_checkpoint(str(root)), param_key_g='params')
    opt['train'].pop('perceptual_opt')  # VGG19 weights need a download
    opt['train']['total_iter'] = 4
    opt['num_gpu'] = 0
    opt['val'] = {'val_freq': 4, 'save_img': False,
                  'metrics': {'psnr': {'type': 'calculate_psnr', 'crop_border': 4, 'test_y_channel': True}}}
    opt['logger'].update(print_freq=1, save_checkpoint_freq=2, use_tb_logger=False)
    return opt


@pytest.mark.slow
@pytest.mark.parametrize('name', ['train_sed_p_esrgan_x4.yml', 'train_sed_u_esrgan_x4.yml'])
def test_the_shipped_sed_options_train_offline_and_resume(tmp_path, name):
    opt = shrunk(name, tmp_path)
    assert opt['model_type'] == 'SeDModel' and opt['train']['gan_opt']['loss_weight'] == 0.01
    opt_file = write_options(tmp_path / 'sed.yml', opt)
    result = run_basicsr(['train', '-opt', opt_file, '--force_yml', 'train:total_iter=2'], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    result = run_basicsr(['train', '-opt', opt_file, '--auto_resume'], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    experiment = tmp_path / 'experiments' / opt['name']
    logs = ''.join(p.read_text() for p in sorted(experiment.glob('train_*.log')))
    assert sorted(logged_losses(logs)) == [1, 2, 3, 4] and 'Resuming training from epoch' in logs
    assert {'l_g_gan', 'l_d_real', 'l_d_fake'} <= set(logged_losses(logs)[4])
    assert torch.load(experiment / 'models' / 'net_d_4.pth', weights_only=True)['iter'] == 4


def test_every_checkpoint_records_the_iteration_it_was_saved_at(tmp_path):
    opt = sed_options('SeDUNetDiscriminator')
    opt['path'] = {'models': str(tmp_path / 'models'), 'training_states': str(tmp_path / 'states')}
    (tmp_path / 'models').mkdir()
    (tmp_path / 'states').mkdir()
    model = build_model(opt)
    data = {'lq': torch.rand(1, 3, 16, 16), 'gt': torch.rand(1, 3, 64, 64)}
    for it in (1, 2, 3):
        model.feed_data(data)
        model.optimize_parameters(it)
        if it in (2, 3):
            model.save(0, it)
    for it in (2, 3):
        for label in ('net_g', 'net_d'):  # read back with torch, not with our reader
            assert torch.load(tmp_path / 'models' / f'{label}_{it}.pth', weights_only=True)['iter'] == it


def test_a_sed_arch_is_self_conditioned_again_after_a_conditioned_block_even_on_an_error():
    from sfd_basicsr.archs.sed_arch import SeDUNetDiscriminator
    net = SeDUNetDiscriminator(clip_model=CLIP, pretrained=None, num_feat=8, fused_channels=8).eval()
    for fusion in net.fusions:  # zero-initialised projections would hide which semantics were used
        torch.nn.init.normal_(fusion.proj_out.weight, std=1.0)
    image, other = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        own = net(image)
        semantic = net.semantic(other)
        with net.conditioned_on(semantic):
            conditioned = net(image)
        with pytest.raises(RuntimeError, match='inside'):
            with net.conditioned_on(semantic):
                raise RuntimeError('inside')
        again = net(image)
    assert not torch.allclose(conditioned, own)
    torch.testing.assert_close(again, own)  # its own semantics again, not the block's
    assert net.condition is None
