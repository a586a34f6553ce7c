"""``basicsr demo``: a short SFD training run on CPU on images that install with scikit-image.

It writes bicubic x4 pairs of ``skimage.data`` photos, warm-starts a small RRDBNet with a few L1 steps
(SFD starts from a PSNR-oriented generator), writes an options file, and runs BasicSR's stock training
pipeline with ``SFDModel`` (Feat-D + TG-D), ending with validation (PSNR, SSIM, NIQE) and a saved model.
OpenAI's RN50 weights are used when they are already on disk; otherwise the encoder is
random-initialised and the log says so loudly, so the numbers only show that the machinery runs.
"""
import os
import sys

import cv2
import numpy as np
import yaml

# a multiple of the batch size: BasicSR drops the last partial batch
TRAIN_IMAGES = ('astronaut', 'rocket', 'immunohistochemistry', 'hubble_deep_field')
VAL_IMAGES = ('chelsea', 'coffee')  # skimage's `cat` is `chelsea` again


def write_bicubic_pairs(folder, names, hr_size, scale=4):
    """Centre crops of ``skimage.data`` images as ``folder/hr/<name>.png`` and MATLAB-bicubic ``folder/lr``."""
    import skimage.data

    from ..utils.image_io import write_image
    from ..data.bicubic import bicubic_lr
    for sub in ('hr', 'lr'):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
    for name in names:
        image = getattr(skimage.data, name)()
        h, w = image.shape[:2]
        side = min(h, w)
        crop = image[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
        hr = cv2.resize(crop, (hr_size, hr_size), interpolation=cv2.INTER_AREA)
        hr, lr = bicubic_lr(hr, scale)  # HR cropped to a multiple of the scale
        write_image(os.path.join(folder, 'hr', f'{name}.png'), cv2.cvtColor(hr, cv2.COLOR_RGB2BGR))
        write_image(os.path.join(folder, 'lr', f'{name}.png'), cv2.cvtColor(lr, cv2.COLOR_RGB2BGR))
    return os.path.join(folder, 'hr'), os.path.join(folder, 'lr')


def psnr_warm_start(folder, network_g, steps=100, name='astronaut'):
    """A generator briefly fitted (L1) to one bicubic pair, saved as BasicSR saves ``net_g``; its path.

    SFD starts from a PSNR-oriented generator. A random one outputs a near-constant image, which teaches
    nothing and on which BasicSR's NIQE fails (SVD of a degenerate covariance).
    """
    import torch
    from basicsr.utils.registry import ARCH_REGISTRY
    path = os.path.join(folder, 'psnr_warm_start.pth')
    if os.path.isfile(path):
        return path
    hr_dir, lr_dir = write_bicubic_pairs(os.path.join(folder, 'psnr_data'), [name], 128)
    hr, lr = (torch.from_numpy(cv2.imread(os.path.join(d, f'{name}.png'))[..., ::-1].astype(np.float32) / 255)
              .permute(2, 0, 1)[None] for d in (hr_dir, lr_dir))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        # not basicsr's build_network: its logging would start BasicSR's logger before the pipeline gives it a file
        options = dict(network_g)
        net = ARCH_REGISTRY.get(options.pop('type'))(**options)
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
    for _ in range(steps):  # a few seconds on a CPU
        optimizer.zero_grad()
        torch.nn.functional.l1_loss(net(lr), hr).backward()
        optimizer.step()
    torch.save({'params': net.state_dict()}, path)
    return path


def paired_dataset(name, hr, lr, phase, gt_size=None, batch_size=1):
    dataset = {'name': name, 'type': 'PairedImageDataset', 'dataroot_gt': hr, 'dataroot_lq': lr,
               'filename_tmpl': '{}', 'io_backend': {'type': 'disk'}}
    if phase == 'train':
        dataset.update({'gt_size': gt_size, 'use_hflip': True, 'use_rot': True, 'num_worker_per_gpu': 0,
                        'batch_size_per_gpu': batch_size, 'dataset_enlarge_ratio': 1, 'prefetch_mode': None})
    return dataset


def demo_options(data_dir, iters, pretrained, name='sfd_demo', warm_start=True):
    """The demo's options dict; ``warm_start=False`` leaves ``path.pretrain_network_g`` empty (no L1 fitting)."""
    train_hr, train_lr = write_bicubic_pairs(os.path.join(data_dir, 'train'), TRAIN_IMAGES, 256)
    # NIQE needs several 96 px blocks
    val_hr, val_lr = write_bicubic_pairs(os.path.join(data_dir, 'val'), VAL_IMAGES, 384)
    encoder = {'clip_model': 'RN50-quickgelu', 'pretrained': pretrained}
    # ESRGAN's 32 growth channels, so that `basicsr export` (spandrel, chaiNNer) takes the demo's generator too
    network_g = {'type': 'RRDBNet', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 16, 'num_block': 1,
                 'num_grow_ch': 32, 'scale': 4}
    return {
        'name': name, 'model_type': 'SFDModel', 'scale': 4, 'num_gpu': 0, 'manual_seed': 0,
        'datasets': {
            'train': paired_dataset('skimage_train', train_hr, train_lr, 'train', gt_size=64, batch_size=2),
            'val': paired_dataset('skimage_val', val_hr, val_lr, 'val'),
        },
        'network_g': network_g,
        'network_d': {'type': 'FeatD', **encoder, 'num_feat': 32},
        'network_d_tg': {'type': 'TGDiscriminator', **encoder, 'n_ctx': 4},
        'path': {'pretrain_network_g': psnr_warm_start(data_dir, network_g) if warm_start else None,
                 'strict_load_g': True,
                 'resume_state': None},
        'train': {
            'ema_decay': 0.9,  # real runs: 0.999; a short demo's EMA would still be the random init
            'optim_g': {'type': 'Adam', 'lr': 2e-4, 'weight_decay': 0, 'betas': [0.9, 0.99]},
            'optim_d': {'type': 'Adam', 'lr': 1e-4, 'weight_decay': 0, 'betas': [0.9, 0.99]},
            'scheduler': {'type': 'MultiStepLR', 'milestones': [iters * 2], 'gamma': 0.5},
            'total_iter': iters, 'warmup_iter': -1,
            'pixel_opt': {'type': 'L1Loss', 'loss_weight': 1.0, 'reduction': 'mean'},
            'featd_opt': {'type': 'FeatDGANLoss', 'gan_type': 'vanilla', 'loss_weight': 0.1},
            'tgd_opt': {'type': 'TGDGANLoss', 'gan_type': 'vanilla', 'loss_weight': 0.1},
            'net_d_iters': 1, 'net_d_init_iters': 0,
        },
        # BasicSR validates after the last iteration anyway: a val_freq past the end avoids doing it twice
        'val': {'val_freq': iters + 1, 'save_img': True, 'metrics': {
            'psnr': {'type': 'calculate_psnr', 'crop_border': 4, 'test_y_channel': False},
            'ssim': {'type': 'calculate_ssim', 'crop_border': 4, 'test_y_channel': False},
            'niqe': {'type': 'calculate_niqe', 'crop_border': 4, 'better': 'lower'},
        }},
        'logger': {'print_freq': max(1, iters // 10), 'save_checkpoint_freq': iters, 'use_tb_logger': False,
                   'wandb': {'project': None, 'resume_id': None}},
        'dist_params': {'backend': 'nccl', 'port': 29500},
    }


def run_demo(out, iters):
    """Write the demo's data and options under ``out``, train, and return the summary to print."""
    from ..clip.weights import DEFAULT_CLIP_MODEL, cached_pretrained_file
    from ..compat.argv import basicsr_command_line
    from ..utils.atomic import atomic_write_text
    from .pipeline import train
    pretrained = cached_pretrained_file(DEFAULT_CLIP_MODEL, 'openai')
    if pretrained is None:
        print('\n' + '!' * 100 + '\n!! OpenAI RN50 weights are not on this machine: the demo runs with a RANDOM CLIP '
              'encoder.\n!! It shows that SFD training runs end to end; its numbers mean nothing.\n' + '!' * 100,
              file=sys.stderr)
    out = os.path.abspath(out)
    options = demo_options(os.path.join(out, 'data'), iters, pretrained)
    opt_file = os.path.join(out, 'train_sfd_demo.yml')
    atomic_write_text(opt_file, yaml.safe_dump(options, sort_keys=False))
    with basicsr_command_line(['basicsr train', '-opt', opt_file]):
        train(out)
    return demo_summary(os.path.join(out, 'experiments', options['name']), opt_file, random_clip=pretrained is None)


def demo_summary(experiment, opt_file, random_clip):
    """What the demo made, where it is, and what to do next."""
    export = os.path.join(os.path.dirname(os.path.dirname(experiment)), 'sfd_iqa.pth')
    lines = [
        '', 'SFD demo finished.',
        f'  options:           {opt_file}',
        f'  models:            {os.path.join(experiment, "models")}  (net_g = generator, net_d = Feat-D, '
        'net_d_tg = TG-D)',
        f'  log:               {experiment}/train_*.log  (losses; validation PSNR/SSIM/NIQE at the end)',
        f'  validation images: {os.path.join(experiment, "visualization")}',
    ]
    if random_clip:
        lines.append('  caveat:            the CLIP encoder was RANDOM (no OpenAI RN50 weights on this machine): '
                     'the run shows the machinery works, its numbers mean nothing.')
    lines += ['Next:',
              f'  sfd-iqa export -m {experiment} -o {export}   # the trained discriminators as an SFD-IQA metric',
              f'  sfd-iqa score -t <images> --weights {export} --maps maps/']
    return '\n'.join(lines)
