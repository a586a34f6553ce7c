"""``basicsr demo``: a short SFD training run on CPU on images that install with scikit-image.

It writes bicubic x4 pairs of ``skimage.data`` photos, warm-starts a small RRDBNet with a few L1 steps
(SFD starts from a PSNR-oriented generator), writes an options file, and runs BasicSR's stock training
pipeline with ``SFDModel`` (Feat-D + TG-D), ending with validation (PSNR, SSIM, NIQE) and a saved model.
OpenAI's RN50 weights are used when they are already on disk; otherwise the encoder is
random-initialised and the log says so loudly, so the numbers only show that the machinery runs.
"""
import os
import sys

import yaml

from ..data.sample_images import write_bicubic_pairs
from .recipe import gan_options, paired_dataset, psnr_warm_start, rrdbnet

# a multiple of the batch size: BasicSR drops the last partial batch
TRAIN_IMAGES = ('astronaut', 'rocket', 'immunohistochemistry', 'hubble_deep_field')
VAL_IMAGES = ('chelsea', 'coffee')  # skimage's `cat` is `chelsea` again
WARM_START_STEPS = 100  # L1 steps before the GAN; --iters below it shortens them too


def demo_options(data_dir, iters, pretrained, name='sfd_demo', warm_start=True):
    """The demo's options dict; ``warm_start=False`` leaves ``path.pretrain_network_g`` empty (no L1 fitting)."""
    train_hr, train_lr = write_bicubic_pairs(os.path.join(data_dir, 'train'), TRAIN_IMAGES, 256)
    # NIQE needs several 96 px blocks
    val_hr, val_lr = write_bicubic_pairs(os.path.join(data_dir, 'val'), VAL_IMAGES, 384)
    # ESRGAN's 32 growth channels, so that `basicsr export` (spandrel, chaiNNer) takes the demo's generator too
    network_g = rrdbnet(num_feat=16, num_block=1, num_grow_ch=32)
    datasets = {'train': paired_dataset('skimage_train', train_hr, train_lr, 'train', gt_size=64, batch_size=2),
                'val': paired_dataset('skimage_val', val_hr, val_lr, 'val')}
    opt = gan_options('SFDModel', network_g, iters=iters, name=name, datasets=datasets,
                      pretrain_network_g=psnr_warm_start(data_dir, network_g, steps=min(WARM_START_STEPS, iters),
                                                         progress=True) if warm_start else None,
                      encoder={'clip_model': 'RN50-quickgelu', 'pretrained': pretrained}, featd={'num_feat': 32},
                      tgd={'n_ctx': 4})
    opt['train']['ema_decay'] = 0.9  # real runs: 0.999; a short demo's EMA would still be the random init
    opt['train']['optim_g']['lr'] = 2e-4
    # BasicSR validates after the last iteration anyway: a val_freq past the end avoids doing it twice
    opt['val'] = {'val_freq': iters + 1, 'save_img': True, 'metrics': {
        'psnr': {'type': 'calculate_psnr', 'crop_border': 4, 'test_y_channel': False},
        'ssim': {'type': 'calculate_ssim', 'crop_border': 4, 'test_y_channel': False},
        'niqe': {'type': 'calculate_niqe', 'crop_border': 4, 'better': 'lower'},
    }}
    return opt


def run_demo(out, iters):
    """Write the demo's data and options under ``out``, train, and return the summary to print."""
    from ..backbones.names import DEFAULT_CLIP_MODEL
    from ..backbones.weights import cached_pretrained_file
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
