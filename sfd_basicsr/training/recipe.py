"""The one builder of options dicts for SFD, SeD and stock BasicSR GAN training (the demo, the tests and the
benchmarks take theirs from here): BasicSR's keys, the ESRGAN recipe's optimisers and losses, sizes as given.

    opt = gan_options('SFDModel', rrdbnet(num_feat=16, num_block=1), encoder={'clip_model': 'RN50-quickgelu'})
"""
import copy
import os

from ..data.sample_images import write_bicubic_pairs
from ..utils.image_io import read_image

ADAM = {'type': 'Adam', 'lr': 1e-4, 'weight_decay': 0, 'betas': [0.9, 0.99], 'fused': True}
DEFAULT_ENCODER = {'clip_model': 'RN50-quickgelu', 'pretrained': None}


def rrdbnet(num_feat=64, num_block=23, num_grow_ch=32, scale=4):
    """BasicSR's ``RRDBNet`` options (ESRGAN's generator); the defaults are ESRGAN's."""
    return {'type': 'RRDBNet', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': num_feat, 'num_block': num_block,
            'num_grow_ch': num_grow_ch, 'scale': scale}


def paired_dataset(name, hr, lr, phase, gt_size=None, batch_size=1):
    """A ``PairedImageDataset`` section: training (patches, flips, rotations) or validation (whole images)."""
    dataset = {'name': name, 'type': 'PairedImageDataset', 'dataroot_gt': hr, 'dataroot_lq': lr,
               'filename_tmpl': '{}', 'io_backend': {'type': 'disk'}}
    if phase == 'train':
        dataset.update({'gt_size': gt_size, 'use_hflip': True, 'use_rot': True, 'num_worker_per_gpu': 0,
                        'batch_size_per_gpu': batch_size, 'dataset_enlarge_ratio': 1, 'prefetch_mode': None})
    return dataset


def discriminators(model_type, encoder=None, featd=None, tgd=None, network_d=None, featd_weight=0.1,
                   tgd_weight=0.1, gan_weight=0.1):
    """``network_d`` (and ``network_d_tg``) of ``model_type`` with their GAN losses, as ``(networks, losses)``.

    SFD models get Feat-D and TG-D on ``encoder`` (``featd`` / ``tgd``: more constructor options; a weight of None
    leaves that network and its loss out, as for a backbone without a text tower); any other model gets
    ``network_d`` (default: BasicSR's ``UNetDiscriminatorSN``) with ``gan_opt``.
    """
    encoder = dict(DEFAULT_ENCODER if encoder is None else encoder)
    if model_type in ('SFDModel', 'SFDRealModel'):
        parts = (('network_d', 'FeatD', featd, 'featd', 'FeatDGANLoss', featd_weight),
                 ('network_d_tg', 'TGDiscriminator', tgd, 'tgd', 'TGDGANLoss', tgd_weight))
        networks = {key: {'type': arch, **encoder, **(extra or {})}
                    for key, arch, extra, _, _, weight in parts if weight is not None}
        losses = {f'{loss_key}_opt': {'type': loss, 'gan_type': 'vanilla', 'loss_weight': weight}
                  for _, _, _, loss_key, loss, weight in parts if weight is not None}
        return networks, losses
    network_d = network_d or {'type': 'UNetDiscriminatorSN', 'num_in_ch': 3, 'num_feat': 64, 'skip_connection': True}
    return {'network_d': network_d}, {'gan_opt': {'type': 'GANLoss', 'gan_type': 'vanilla', 'loss_weight': gan_weight}}


def gan_options(model_type, network_g, iters=400000, name='experiment', datasets=None, pretrain_network_g=None,
                **discriminator_options):
    """A whole options dict for BasicSR's ``train_pipeline`` (``datasets`` given) or for ``build_model``.

    The generator trains with L1 and the adversarial losses (weight 0.1), Adam 1e-4 for every network, the learning
    rate halved at ``iters`` x 2 (i.e. constant in the run), every checkpoint at the end.
    """
    networks, losses = discriminators(model_type, **discriminator_options)
    opt = {
        'name': name, 'model_type': model_type, 'scale': network_g.get('scale', 4), 'num_gpu': 0, 'manual_seed': 0,
        'is_train': True, 'dist': False,
        'network_g': copy.deepcopy(network_g), **networks,
        'path': {'pretrain_network_g': pretrain_network_g, 'strict_load_g': True, 'resume_state': None},
        'train': {
            'ema_decay': 0.999,
            'optim_g': dict(ADAM), 'optim_d': dict(ADAM),
            'scheduler': {'type': 'MultiStepLR', 'milestones': [iters * 2], 'gamma': 0.5},
            'total_iter': iters, 'warmup_iter': -1,
            'pixel_opt': {'type': 'L1Loss', 'loss_weight': 1.0, 'reduction': 'mean'},
            **losses,
            'net_d_iters': 1, 'net_d_init_iters': 0,
        },
        'logger': {'print_freq': max(1, iters // 10), 'save_checkpoint_freq': iters, 'use_tb_logger': False,
                   'wandb': {'project': None, 'resume_id': None}},
        'dist_params': {'backend': 'nccl', 'port': 29500},
    }
    if datasets is not None:
        opt['datasets'] = datasets
    return opt


def psnr_warm_start(folder, network_g, steps=100, name='astronaut', progress=False):
    """A generator briefly fitted (L1) to one bicubic pair, saved as BasicSR saves ``net_g``; its path.

    SFD starts from a PSNR-oriented generator. A random one outputs a near-constant image, which teaches
    nothing and on which BasicSR's NIQE fails (SVD of a degenerate covariance).
    """
    import torch
    from basicsr.utils.registry import ARCH_REGISTRY

    path = os.path.join(folder, f'psnr_warm_start_{steps}.pth')
    if os.path.isfile(path):
        return path
    hr_dir, lr_dir = write_bicubic_pairs(os.path.join(folder, 'psnr_data'), [name], 128)
    hr, lr = (read_image(os.path.join(folder, f'{name}.png')) for folder in (hr_dir, lr_dir))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        # not basicsr's build_network: its logging would start BasicSR's logger before the pipeline gives it a file
        options = dict(network_g)
        net = ARCH_REGISTRY.get(options.pop('type'))(**options)
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
    from tqdm import tqdm
    for _ in tqdm(range(steps), desc='L1 warm start of the generator', unit='step', disable=not progress):
        optimizer.zero_grad()
        torch.nn.functional.l1_loss(net(lr), hr).backward()
        optimizer.step()
    torch.save({'params': net.state_dict()}, path)
    return path
