"""Real-world SFD: the shipped options file, shrunk, trains on CPU with the degradation pipeline on."""
import os

import yaml

import pytest

from helpers.training import command_path, logged_losses, paired_dataset, psnr_checkpoint, run_basicsr, torchrun, \
    write_options
from sfd_basicsr.data.sample_images import write_bicubic_pairs

OPTIONS = os.path.join(os.path.dirname(__file__), os.pardir, 'options', 'train_sfd_realesrgan_x4plus.yml')


def tiny_realworld_options(root):
    with open(OPTIONS) as f:
        opt = yaml.safe_load(f)
    hr, _ = write_bicubic_pairs(os.path.join(root, 'train'), ['astronaut', 'rocket'], 128)
    with open(os.path.join(root, 'meta_info.txt'), 'w') as f:
        f.write('astronaut.png\nrocket.png\n')
    val_hr, val_lr = write_bicubic_pairs(os.path.join(root, 'val'), ['chelsea', 'coffee'], 384)
    opt.update(name='sfd_real_tiny', num_gpu=0, gt_size=64, queue_size=4)
    opt['datasets']['train'].update(dataroot_gt=hr, meta_info=os.path.join(root, 'meta_info.txt'), gt_size=64,
                                    num_worker_per_gpu=0, batch_size_per_gpu=2)
    opt['datasets']['val'] = paired_dataset('real_val', val_hr, val_lr, 'val')
    opt['network_g'].update(num_feat=8, num_block=1, num_grow_ch=4)
    for key in ('network_d', 'network_d_tg'):
        opt[key]['pretrained'] = None
    opt['network_d']['num_feat'] = 8
    opt['network_d_tg']['n_ctx'] = 4
    opt['path']['pretrain_network_g'] = psnr_checkpoint(str(root))
    opt['path']['param_key_g'] = 'params'
    opt['train'].pop('perceptual_opt')  # VGG19 weights need a download
    opt['train']['total_iter'] = 4
    opt['val'] = {'val_freq': 4, 'save_img': False, 'metrics': {'niqe': {'type': 'calculate_niqe', 'crop_border': 4}}}
    opt['logger'].update(print_freq=1, save_checkpoint_freq=4, use_tb_logger=False)
    return opt


@pytest.mark.slow
def test_realworld_sfd_trains_on_cpu_with_degradations_and_validates_with_niqe(tmp_path):
    opt_file = write_options(tmp_path / 'real.yml', tiny_realworld_options(tmp_path))
    result = run_basicsr(['train', '-opt', opt_file], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    experiment = tmp_path / 'experiments' / 'sfd_real_tiny'
    log = next(experiment.glob('train_*.log')).read_text()
    losses = logged_losses(log)
    assert sorted(losses) == [1, 2, 3, 4]
    assert {'l_g_pix', 'l_g_featd', 'l_g_tgd', 'l_d_featd_real', 'l_d_tgd_fake'} <= set(losses[4])
    assert '# niqe:' in log
    assert (experiment / 'models' / 'net_d_tg_4.pth').is_file()


def test_loss_targets_follow_the_usm_options(tmp_path):
    import torch
    from basicsr.models import build_model
    opt = tiny_realworld_options(tmp_path)
    opt.update(is_train=True, dist=False)
    for dataset in opt['datasets'].values():
        dataset['phase'] = 'train'
    model = build_model(opt)
    model.gt, model.gt_usm = torch.zeros(1), torch.ones(1)
    pixel, percep, real = model.loss_targets()
    assert pixel is model.gt_usm and percep is model.gt_usm and real is model.gt


@pytest.mark.slow
def test_realworld_sfd_trains_with_two_processes_under_torchrun(tmp_path):
    opt = tiny_realworld_options(tmp_path)
    opt['queue_size'] = 2  # a multiple of each process's batch of 1
    opt['datasets']['train']['batch_size_per_gpu'] = 1
    result = torchrun([command_path('basicsr'), 'train', '-opt', write_options(tmp_path / 'real.yml', opt),
                       '--launcher', 'pytorch'], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    log = next((tmp_path / 'experiments' / 'sfd_real_tiny').glob('train_*.log')).read_text()
    assert 'World size (gpu number): 2' in log and sorted(logged_losses(log)) == [1, 2, 3, 4]
    assert log.count('# niqe:') == 2


def test_diffaugment_gives_the_real_target_and_the_output_one_transform(tmp_path):
    import torch
    from basicsr.models import build_model

    from sfd_basicsr.models.diff_augment import augment
    opt = tiny_realworld_options(tmp_path)
    opt.update(is_train=True, dist=False, gan_gt_usm=True)
    opt['train']['diffaugment'] = {'policy': ['translation', 'cutout'], 'probability': 1.0}
    model = build_model(opt)
    draw, drawn = model.diffaugment.draw, []
    model.diffaugment.draw = lambda images: drawn.append(draw(images)) or drawn[-1]
    inputs = []
    model.encoder.register_forward_hook(lambda module, args, out: inputs.append(args[0].detach()))
    model.lq, model.gt, model.gt_usm = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    model.optimize_parameters(1)
    assert len(drawn) == 1 and model.get_current_log()['diffaugment_p'] == 1.0
    assert torch.equal(inputs[0], augment(model.output.detach(), drawn[0]))
    assert torch.equal(inputs[1], augment(model.gt_usm, drawn[0]))  # gan_gt_usm: the sharpened GT is the real one
