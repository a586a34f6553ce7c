"""Speed and memory of SFD training steps and SFD-IQA, against baselines and against their floors.

    python benchmarks/bench_sfd.py                       # small preset, CPU, < 10 min on 2 cores
    python benchmarks/bench_sfd.py --device cuda --preset full [--bf16]
    python benchmarks/bench_sfd.py --device cuda --preset full --precisions   # float32, bf16, fp16, bf16 + compile
    python benchmarks/bench_sfd.py --backbones           # Feat-D on each backbone against its own floor
    python benchmarks/bench_sfd.py --backbones --preset recipe_g  # the same with the recipe's generator (CPU)
    python benchmarks/bench_sfd.py --device cuda --preset full --diffaugment  # SFD step with DiffAugment / without

``--precisions``: the U-Net baseline and full SFD, each in float32, bf16, fp16 and bf16 + compile (with
channels-last), all with the options files' fused Adam, through the models' own options (``use_amp``,
``amp_bf16``, ``use_compile``, ...; the U-Net baseline is BasicSR's ``SRGANModel`` step with the same
``FastTraining`` machinery), each against float32 and against SFD's floor in the same precision.

``--diffaugment``: full SFD steps with DiffAugment (p = 1, colour, translation and cutout on every sample: the most
it costs) and without, alternating in one process so that both meet the same machine load, and the augmentation
alone (one draw, applied to the SR batch with its backward and to the GT batch); the goal is a step at most 1.05x
the step without.

Training: seconds per ``optimize_parameters`` for one generator and patch size with (a) BasicSR's
``UNetDiscriminatorSN`` (SRGANModel, vanilla GAN), (b) Feat-D only, (c) TG-D only, (d) full SFD, and
(e) SeD-U self-conditioned in SRGANModel, (f) SeD-P and (g) SeD-U as SeD trains them (``SeDModel``: real and
fake under the GT's semantics), and the floors: SFD's, the generator's forward/backward plus exactly one encoder
forward+backward on SR and one forward on GT; SeD's, the generator's forward/backward plus one encoder forward
on GT (SeD never encodes SR). SFD-IQA: images per second against the encoder's forward alone on the same input, with
BasicSR's NIQE as a reference point (pyiqa's ``niqe`` downloads its parameters; BasicSR ships them).
``--backbones``: Feat-D alone on each backbone family (CLIP RN50 and CLIP-ConvNeXt, DINOv2 ViT-S/14, timm ConvNeXt and
EfficientNet), each against its own floor: the generator's forward/backward plus one backbone forward+backward on SR
and one forward on GT, the layers Feat-D reads and nothing more; the two alternate step by step on one model in one
process, so a shared machine's drift falls on both alike.
Each configuration runs in its own process, so peak memory is its own. CLIP is random-initialised
(same cost as OpenAI's weights); the perceptual loss is left out everywhere (VGG weights need a download).
"""
import argparse
import contextlib
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import machine, median, run_for_result, write_section  # noqa: E402

PRESETS = {
    'small': {'g': {'num_feat': 32, 'num_block': 4, 'num_grow_ch': 16}, 'gt_size': 64, 'batch': 2, 'runs': 5,
              'iqa_sizes': [(384, 512), (768, 1024), (3000, 4000)], 'iqa_runs': 3},
    # the recipe's generator on the small preset's patches: the discriminator head's share of a real step, on a CPU
    'recipe_g': {'g': {'num_feat': 64, 'num_block': 23, 'num_grow_ch': 32}, 'gt_size': 64, 'batch': 2, 'runs': 10,
                 'iqa_sizes': [(384, 512)], 'iqa_runs': 3},
    'full': {'g': {'num_feat': 64, 'num_block': 23, 'num_grow_ch': 32}, 'gt_size': 256, 'batch': 8, 'runs': 20,
             'iqa_sizes': [(384, 512), (768, 1024), (3000, 4000)], 'iqa_runs': 10},
}
TRAIN_CASES = ['unet', 'featd', 'tgd', 'sfd', 'sedu', 'sedp_hr', 'sedu_hr', 'floor', 'sed_floor']
PRECISIONS = {  # name: the models' speed options (docs/training.md, "Mixed precision, channels-last and compile")
    'float32': {},
    'bf16': {'use_amp': True, 'amp_bf16': True},
    'fp16': {'use_amp': True},
    'bf16 + compile': {'use_amp': True, 'amp_bf16': True, 'use_compile': True, 'use_channels_last': True},
}
PRECISION_CASES = ['unet', 'sfd', 'floor']
ENCODER = {'clip_model': 'RN50-quickgelu', 'pretrained': None}
BACKBONES = ['RN50-quickgelu', 'open_clip:convnext_base_w', 'timm:vit_small_patch14_dinov2', 'timm:convnext_tiny',
             'timm:efficientnet_b0']


def train_options(case, preset, backbone=None):
    from sfd_basicsr.training.recipe import gan_options, rrdbnet
    g = rrdbnet(**preset['g'])
    if backbone:  # Feat-D alone: most backbones have no text tower for TG-D
        opt = gan_options('SFDModel', g, encoder={'backbone': backbone, 'pretrained': None}, tgd_weight=None)
        opt['train'].pop('ema_decay')
        opt['train']['scheduler']['milestones'] = [10**6]
        return opt
    if case in ('unet', 'sedu', 'sedp_hr', 'sedu_hr'):
        network_d = ({'type': 'UNetDiscriminatorSN', 'num_in_ch': 3} if case == 'unet' else
                     {'type': 'SeDPatchDiscriminator' if case == 'sedp_hr' else 'SeDUNetDiscriminator', **ENCODER})
        opt = gan_options('SeDModel' if case.endswith('_hr') else 'SRGANModel', g, network_d=network_d)
    else:
        opt = gan_options('SFDModel', g, encoder=ENCODER, featd_weight=0.1 if case in ('featd', 'sfd') else None,
                          tgd_weight=0.1 if case in ('tgd', 'sfd') else None)
    opt['train'].pop('ema_decay')
    opt['train']['scheduler']['milestones'] = [10**6]
    return opt


class Timer:

    def __init__(self, device):
        self.device = device

    def sync(self):
        if self.device.type == 'cuda':
            import torch
            torch.cuda.synchronize(self.device)

    def __call__(self, fn, runs, warmup):
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(runs):
            self.sync()
            start = time.perf_counter()
            fn()
            self.sync()
            times.append(time.perf_counter() - start)
        return times


def peak_memory_mb(device):
    import torch
    if device.type == 'cuda':
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def autocast(args, device):
    import contextlib

    import torch
    return torch.autocast(device.type, dtype=torch.bfloat16) if args.bf16 else contextlib.nullcontext()


def fast_srgan_model(opt):
    """BasicSR's ``SRGANModel`` with the speed options our models read: the U-Net baseline under the same AMP."""
    from basicsr.models.srgan_model import SRGANModel

    from sfd_basicsr.models.fast_training import FastTraining, fast_training_step

    class FastSRGANModel(FastTraining, SRGANModel):
        optimize_parameters = fast_training_step(SRGANModel.optimize_parameters)

    return FastSRGANModel(opt)


def run_train_case(case, args, device, steps_only=False, model=None):
    """A training case's median step time and peak memory; with ``steps_only`` its step function (``step.model``
    the model it trains, which ``model`` passes back in to time another case's step on the same model)."""
    import torch
    import torch.nn.functional as F
    from basicsr.models import build_model
    preset = PRESETS[args.preset]
    case, _, precision = case.partition('@')
    case, _, backbone = case.partition('#')
    opt = train_options({'floor': 'sfd', 'sed_floor': 'sedu_hr'}.get(case, case), preset, backbone)
    opt['num_gpu'] = 1 if device.type == 'cuda' else 0
    if precision:
        opt.update(PRECISIONS[precision])
    if model is None:
        model = fast_srgan_model(opt) if precision and opt['model_type'] == 'SRGANModel' else build_model(opt)
    precision_of = getattr(model, 'mixed_precision', None)

    def autocast_of_case():  # the model's own autocast with --precisions, else --bf16's
        return precision_of.autocast() if precision_of is not None else autocast(args, device)
    size = preset['gt_size']
    batch = {'lq': torch.rand(preset['batch'], 3, size // 4, size // 4),
             'gt': torch.rand(preset['batch'], 3, size, size)}
    model.feed_data(batch)
    if case == 'floor':
        encoder, layers, embedding = model.encoder, model.featd_layers, model.net_d_tg is not None

        def step():
            model.optimizer_g.zero_grad()
            with autocast_of_case():
                output = model.net_g(model.lq)
                features = encoder(output, layers=layers, embedding=embedding)
                loss = F.l1_loss(output.float(), model.gt) + sum(f.float().mean() for f in features.values())
                with torch.no_grad():
                    encoder(model.gt, layers=layers, embedding=embedding)
            if precision_of is not None:  # fp16: scaled as the model's own losses are
                loss = precision_of.scaled_for_backward(loss)
            loss.backward()
            model.optimizer_g.step()
    elif case == 'sed_floor':
        discriminator = model.get_bare_model(model.net_d)

        def step():
            model.optimizer_g.zero_grad()
            with autocast(args, device):
                output = model.net_g(model.lq)
                loss = F.l1_loss(output, model.gt)
                with torch.no_grad():
                    discriminator.semantic(model.gt)
            loss.backward()
            model.optimizer_g.step()
    else:
        counter = iter(range(1, 10**9))

        def step():
            with autocast(args, device) if precision_of is None else contextlib.nullcontext():
                model.optimize_parameters(next(counter))

    if steps_only:
        step.model = model
        return step
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    times = Timer(device)(step, preset['runs'], args.warmup)
    return {'seconds': median(times), 'peak_mb': peak_memory_mb(device)}


def run_backbone_pair(backbone, args, device):
    """Feat-D's step and its floor on one model in one process, alternating step by step: the drift of a shared
    machine (other work, memory reclaim) then falls on both alike, and the ratio is the median of the rounds'."""
    import torch
    featd = run_train_case(f'featd#{backbone}', args, device, steps_only=True)
    floor = run_train_case(f'floor#{backbone}', args, device, steps_only=True, model=featd.model)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    timer, rounds = Timer(device), []
    for _ in range(args.warmup):
        featd(), floor()
    for _ in range(PRESETS[args.preset]['runs']):
        rounds.append((timer(featd, 1, 0)[0], timer(floor, 1, 0)[0]))
    return {'seconds': median([f for f, _ in rounds]), 'floor_seconds': median([f for _, f in rounds]),
            'ratio': median([f / g for f, g in rounds]), 'peak_mb': peak_memory_mb(device)}


def run_diffaugment_case(args, device):
    """Seconds per full SFD step with DiffAugment and without (alternating), and of the augmentation alone."""
    import torch
    from basicsr.models import build_model

    from sfd_basicsr.models.diff_augment import augment
    preset = PRESETS[args.preset]
    opt = train_options('sfd', preset)
    opt['num_gpu'] = 1 if device.type == 'cuda' else 0
    opt['train']['diffaugment'] = {'probability': 1.0}
    model = build_model(opt)
    augmenter = model.diffaugment
    size = preset['gt_size']
    model.feed_data({'lq': torch.rand(preset['batch'], 3, size // 4, size // 4),
                     'gt': torch.rand(preset['batch'], 3, size, size)})
    counter = iter(range(1, 10**9))

    def step(augmented):
        model.diffaugment = augmenter if augmented else None
        model.optimize_parameters(next(counter))

    output = torch.rand_like(model.gt).requires_grad_()  # the generator's output, as the augmentation sees it

    def augmentation_alone():  # what a step adds: SR forward and backward, GT forward
        drawn = augmenter.draw(output)
        augment(output, drawn).sum().backward()
        augment(model.gt, drawn)

    timer = Timer(device)
    for _ in range(args.warmup):
        step(False), step(True)
    times = {False: [], True: []}
    for _ in range(preset['runs']):
        for augmented in (False, True):
            times[augmented] += timer(lambda: step(augmented), 1, 0)
    alone = timer(augmentation_alone, preset['runs'], args.warmup)
    return {'seconds': median(times[False]), 'seconds_augmented': median(times[True]), 'seconds_alone': median(alone),
            'peak_mb': peak_memory_mb(device)}


def run_iqa_case(case, args, device):
    import numpy as np
    import torch
    preset = PRESETS[args.preset]
    height, width = map(int, case.split(':')[1].split('x'))
    kind = case.split(':')[0]
    torch.manual_seed(0)
    image = torch.rand(1, 3, height, width, device=device)
    runs = 1 if height * width > 4e6 and device.type == 'cpu' else preset['iqa_runs']
    warmup = 0 if runs == 1 else args.warmup
    if kind == 'niqe':
        from basicsr.metrics import calculate_niqe
        array = (image[0].permute(1, 2, 0).cpu().numpy() * 255).astype(np.uint8)

        def fn():
            calculate_niqe(array, crop_border=0)
    else:
        from sfd_basicsr.iqa.sfd_iqa_arch import SFDIQA
        net = SFDIQA(args.weights).to(device)
        encoder = net.featd.encoder(device)

        def fn():
            with torch.no_grad(), autocast(args, device):
                if kind == 'sfd_iqa':
                    net(image)
                else:  # the floor: one untiled encoder pass over the image
                    encoder(image, layers=net.featd.layers, embedding=True)

    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    times = Timer(device)(fn, runs, warmup)
    return {'seconds': median(times), 'peak_mb': peak_memory_mb(device)}


def single(args):
    import torch

    import sfd_basicsr  # noqa: F401
    device = torch.device(args.device)
    if args.single == 'diffaugment':
        result = run_diffaugment_case(args, device)
    elif args.single.startswith('pair#'):
        result = run_backbone_pair(args.single.partition('#')[2], args, device)
    else:
        is_train = args.single.partition('@')[0].partition('#')[0] in TRAIN_CASES
        result = (run_train_case if is_train else run_iqa_case)(args.single, args, device)
    print('RESULT ' + json.dumps(result))


def measure(case, args):
    command = [sys.executable, os.path.abspath(__file__), '--single', case, '--device', args.device, '--preset',
               args.preset, '--warmup', str(args.warmup), '--weights', args.weights]
    command += (['--bf16'] if args.bf16 else []) + (['--runs', str(args.runs)] if args.runs else [])
    return run_for_result(command, case)


def make_weights(path):
    """SFD-IQA weights of random Feat-D / TG-D on a random CLIP: the cost is that of trained ones."""
    import torch

    import sfd_basicsr  # noqa: F401
    from sfd_basicsr.archs.featd_arch import FeatD
    from sfd_basicsr.archs.tgd_arch import TGDiscriminator
    from sfd_basicsr.iqa.weights import save_weights, weights_from_checkpoints
    folder = os.path.dirname(path)
    torch.save({'params': FeatD(**ENCODER).state_dict()}, os.path.join(folder, 'net_d.pth'))
    torch.save({'params': TGDiscriminator(**ENCODER).state_dict()}, os.path.join(folder, 'net_d_tg.pth'))
    save_weights(weights_from_checkpoints(os.path.join(folder, 'net_d.pth'), os.path.join(folder, 'net_d_tg.pth'),
                                          clip_pretrained=None), path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--preset', choices=sorted(PRESETS), default='small')
    parser.add_argument('--bf16', action='store_true', help='bf16 autocast around the timed work')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--runs', type=int, default=None, help="timed steps per case (default: the preset's)")
    parser.add_argument('--weights', default=None, help=argparse.SUPPRESS)
    parser.add_argument('--single', default=None, help=argparse.SUPPRESS)
    parser.add_argument('--no-write', action='store_true', help='print only, leave docs/benchmarks.md alone')
    parser.add_argument('--skip-iqa', action='store_true', help='training steps only')
    parser.add_argument('--backbones', action='store_true', help='Feat-D on each backbone against its own floor '
                        '(its own section)')
    parser.add_argument('--precisions', action='store_true', help='float32 / bf16 / fp16 / bf16 + compile rows of '
                        'the U-Net baseline and full SFD (their own section)')
    parser.add_argument('--diffaugment', action='store_true', help='full SFD steps with DiffAugment and without '
                        '(their own section)')
    args = parser.parse_args()
    if args.runs:
        PRESETS[args.preset]['runs'] = args.runs
    if args.single:
        return single(args)
    import tempfile
    if args.weights is None and (args.precisions or args.backbones or args.diffaugment):
        args.weights = ''  # training steps only: no SFD-IQA weights
    elif args.weights is None:  # a folder of its own: the export reads the options of the run around the checkpoints
        args.weights = os.path.join(tempfile.mkdtemp(), 'run', 'models', 'sfd_iqa.pth')
        os.makedirs(os.path.dirname(args.weights))
        make_weights(args.weights)
    started = time.time()

    def elapsed():
        return time.time() - started

    sections = {  # a flag's own section: what it measures and renders
        'precisions': lambda: render_precisions(args, {
            (case, p): measure(f'{case}@{p}', args) for p in PRECISIONS for case in PRECISION_CASES}, elapsed()),
        'backbones': lambda: render_backbones(args, {b: measure(f'pair#{b}', args) for b in BACKBONES}, elapsed()),
        'diffaugment': lambda: render_diffaugment(args, measure('diffaugment', args), elapsed()),
    }
    for flag, run_section in sections.items():
        if getattr(args, flag):
            text = run_section()
            print(text)
            if not args.no_write:
                write_section(f'sfd-{args.device.split(":")[0]}-{args.preset}-{flag}', text)
            return
    print('training steps:', flush=True)
    train = {case: measure(case, args) for case in TRAIN_CASES}
    print('SFD-IQA:', flush=True)
    iqa = {}
    for h, w in [] if args.skip_iqa else PRESETS[args.preset]['iqa_sizes']:
        for kind in ('sfd_iqa', 'encoder', 'niqe'):
            iqa[(kind, h, w)] = measure(f'{kind}:{h}x{w}', args)
    text = render(args, train, iqa, time.time() - started)
    print(text)
    if not args.no_write:
        write_section(f'sfd-{args.device.split(":")[0]}-{args.preset}{"-bf16" if args.bf16 else ""}', text)


def render(args, train, iqa, elapsed):
    preset = PRESETS[args.preset]
    g = preset['g']
    memory = 'peak allocated GPU memory' if args.device.startswith('cuda') else 'peak process RSS'
    lines = [f'## {args.device.split(":")[0].upper()}, preset `{args.preset}`{", bf16 autocast" if args.bf16 else ""}',
             '', f'`python benchmarks/bench_sfd.py --device {args.device} --preset {args.preset}'
             f'{" --bf16" if args.bf16 else ""}` on {machine(args.device)}; {elapsed / 60:.1f} min.', '',
             f'Training step: RRDBNet {g["num_feat"]}/{g["num_block"]}/{g["num_grow_ch"]} x4, GT patch '
             f'{preset["gt_size"]}, batch {preset["batch"]}, median of {preset["runs"]} steps after {args.warmup} '
             'warm-up.', '',
             f'| configuration | s / step | vs (a) | vs its floor (SeD rows: SeD floor) | {memory} (MB) |',
             '|---|---|---|---|---|']
    names = {'unet': '(a) UNetDiscriminatorSN, SRGANModel', 'featd': '(b) Feat-D only', 'tgd': '(c) TG-D only',
             'sfd': '(d) full SFD', 'sedu': '(e) SeD-U (self-conditioned), SRGANModel',
             'sedp_hr': '(f) SeD-P, HR-conditioned (SeDModel)', 'sedu_hr': '(g) SeD-U, HR-conditioned (SeDModel)',
             'floor': 'SFD floor: G fwd/bwd + 1 encoder fwd/bwd (SR) + 1 fwd (GT)',
             'sed_floor': 'SeD floor: G fwd/bwd + 1 encoder fwd (GT)'}
    base = train['unet']['seconds']
    for case in TRAIN_CASES:
        r = train[case]
        floor = train['sed_floor' if case.startswith('sed') else 'floor']['seconds']
        lines.append(f'| {names[case]} | {r["seconds"]:.4f} | {r["seconds"] / base:.2f} | '
                     f'{r["seconds"] / floor:.2f} | {r["peak_mb"]:.0f} |')
    if not iqa:
        return '\n'.join(lines) + '\n'
    lines += ['', f'SFD-IQA on one image (default tile size 1024, margin 64), median of up to {preset["iqa_runs"]} '
              'runs; the floor is one untiled encoder forward on the same image.', '',
              f'| size (HxW) | SFD-IQA images/s | encoder floor images/s | SFD-IQA / floor time | BasicSR NIQE '
              f'images/s | SFD-IQA {memory} (MB) | floor {memory} (MB) |', '|---|---|---|---|---|---|---|']
    for h, w in [size for size in preset['iqa_sizes'] if ('sfd_iqa', *size) in iqa]:
        s, e, n = iqa[('sfd_iqa', h, w)], iqa[('encoder', h, w)], iqa[('niqe', h, w)]
        lines.append(f'| {h}x{w} | {1 / s["seconds"]:.2f} | {1 / e["seconds"]:.2f} | {s["seconds"] / e["seconds"]:.2f} '
                     f'| {1 / n["seconds"]:.2f} | {s["peak_mb"]:.0f} | {e["peak_mb"]:.0f} |')
    return '\n'.join(lines) + '\n'


def heading(args, title, elapsed):
    """A section's title and the command that rewrites it (``--backbones`` for the title 'backbones')."""
    return [f'## {args.device.split(":")[0].upper()}, preset `{args.preset}`, {title}', '',
            f'`python benchmarks/bench_sfd.py --device {args.device} --preset {args.preset} --{title.lower()}'
            f'{f" --runs {args.runs}" if args.runs else ""}` on {machine(args.device)}; {elapsed / 60:.1f} min.', '']


def render_backbones(args, results, elapsed):
    preset = PRESETS[args.preset]
    g = preset['g']
    memory = 'peak allocated GPU memory' if args.device.startswith('cuda') else 'peak process RSS'
    lines = heading(args, 'backbones', elapsed) + [
             f'Feat-D alone (default layers, random weights: the cost of trained ones), RRDBNet '
             f'{g["num_feat"]}/{g["num_block"]}/{g["num_grow_ch"]} x4, GT patch {preset["gt_size"]}, batch '
             f'{preset["batch"]}; {preset["runs"]} rounds after {args.warmup} warm-up, each a Feat-D step then a '
             'floor step on the same model in one process (medians; the ratio is the median of the rounds\' '
             'ratios). Floor: G fwd/bwd + 1 backbone fwd/bwd on SR + 1 fwd on GT, the same layers. Goal: at most '
             '1.15x.', '',
             f'| backbone | Feat-D layers | s / step | floor s / step | vs its floor | {memory} (MB) |',
             '|---|---|---|---|---|---|']
    from sfd_basicsr.backbones.layout import encoder_layout
    for backbone in BACKBONES:
        r = results[backbone]
        layers = ', '.join(encoder_layout(backbone).default_layers)
        lines.append(f'| `{backbone}` | {layers} | {r["seconds"]:.4f} | {r["floor_seconds"]:.4f} | '
                     f'{r["ratio"]:.2f} | {r["peak_mb"]:.0f} |')
    return '\n'.join(lines) + '\n'


def render_diffaugment(args, result, elapsed):
    preset = PRESETS[args.preset]
    g = preset['g']
    memory = 'peak allocated GPU memory' if args.device.startswith('cuda') else 'peak process RSS'
    ratio = result['seconds_augmented'] / result['seconds']
    lines = heading(args, 'DiffAugment', elapsed) + [
             f'Full SFD step (Feat-D and TG-D): RRDBNet {g["num_feat"]}/{g["num_block"]}/{g["num_grow_ch"]} x4, GT '
             f'patch {preset["gt_size"]}, batch {preset["batch"]}; steps with and without DiffAugment alternate in one '
             f'process (p = 1, colour, translation and cutout on every sample: the most it costs), median of '
             f'{preset["runs"]} each after {args.warmup} warm-up; {memory} of the process '
             f'{result["peak_mb"]:.0f} MB.', '',
             '| step | s / step | vs the step without |', '|---|---|---|',
             f'| full SFD without DiffAugment | {result["seconds"]:.4f} | 1.00 |',
             f'| full SFD with DiffAugment | {result["seconds_augmented"]:.4f} | {ratio:.3f} |',
             f'| DiffAugment alone (one draw; SR forward and backward, GT forward) | {result["seconds_alone"]:.4f} | '
             f'{result["seconds_alone"] / result["seconds"]:.3f} |', '',
             'Goal: the step with DiffAugment at most 1.05x the step without: '
             f'{"met" if ratio <= 1.05 else "not met"}. '
             'On a shared machine the two step medians move by a few per cent from run to run; the augmentation '
             'alone is the steadier figure of what it adds.']
    return '\n'.join(lines) + '\n'


def render_precisions(args, results, elapsed):
    preset = PRESETS[args.preset]
    g = preset['g']
    on_gpu = args.device.startswith('cuda')
    memory = 'peak allocated GPU memory' if on_gpu else 'peak process RSS'
    lines = [f'## {args.device.split(":")[0].upper()}, preset `{args.preset}`, precisions', '',
             f'`python benchmarks/bench_sfd.py --device {args.device} --preset {args.preset} --precisions'
             f'{f" --runs {args.runs}" if args.runs else ""}'
             f'{f" --warmup {args.warmup}" if args.warmup != 2 else ""}` on '
             f'{machine(args.device)}; {elapsed / 60:.1f} min.', '',
             f'Training step: RRDBNet {g["num_feat"]}/{g["num_block"]}/{g["num_grow_ch"]} x4, GT patch '
             f'{preset["gt_size"]}, batch {preset["batch"]}, median of {preset["runs"]} steps after {args.warmup} '
             'warm-up (compiling happens in the warm-up). "bf16 + compile" also sets `use_channels_last`; every '
             'row uses fused Adam, as the options files do. The floor is SFD\'s (G fwd/bwd + 1 encoder fwd/bwd '
             'on SR + 1 fwd on GT) in the same precision.',
             '', f'| configuration | precision | s / step | vs its float32 | vs SFD floor, same precision | {memory} '
             '(MB) | vs its float32 memory |', '|---|---|---|---|---|---|---|']
    names = {'unet': '(a) UNetDiscriminatorSN', 'sfd': '(d) full SFD', 'floor': 'SFD floor'}
    for case in PRECISION_CASES:
        base = results[(case, 'float32')]
        for precision in PRECISIONS:
            r, floor = results[(case, precision)], results[('floor', precision)]
            lines.append(f'| {names[case]} | {precision} | {r["seconds"]:.4f} | {r["seconds"] / base["seconds"]:.2f} | '
                         f'{r["seconds"] / floor["seconds"]:.2f} | {r["peak_mb"]:.0f} | '
                         f'{r["peak_mb"] / base["peak_mb"]:.2f} |')
    if not on_gpu:
        lines += ['', 'On this CPU (no bfloat16 or float16 instructions) these rows show that every precision trains '
                  '(the tests check the losses against float32), not what it gains: reduced precision is emulated and '
                  'slower here, and process RSS is not what a GPU allocates.']
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    main()
