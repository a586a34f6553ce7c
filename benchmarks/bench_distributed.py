"""Training steps on 1 vs 2 processes at the same global batch, and what gradient averaging costs.

    python benchmarks/bench_distributed.py                 # CPU, gloo, small preset: about 5 minutes on 2 cores
    python benchmarks/bench_distributed.py --device cuda   # one process per GPU, nccl (needs 2 GPUs)

For BasicSR's ``UNetDiscriminatorSN`` (SRGANModel) and full SFD (Feat-D + TG-D), the same
``optimize_parameters`` as bench_sfd.py runs in one process on the global batch, then under ``torchrun``
in two processes on half of it each, wrapped in DDP by BasicSR's ``model_to_device`` (with this project's
CPU patch). The cost of gradient averaging is measured apart: an ``all_reduce`` of as many float32 values
as each network has trainable parameters (what DDP's buckets carry each step), between the same processes.
Inputs are random tensors (no data loading); CLIP is random-initialised (the cost of OpenAI's weights).
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_sfd import PRESETS, Timer, train_options  # noqa: E402
from report import machine, median, run_for_result, write_section  # noqa: E402

CASES = {'unet': '(a) UNetDiscriminatorSN, SRGANModel', 'sfd': '(d) full SFD (Feat-D + TG-D)'}
GLOBAL_BATCH = 4


def run_case(case, args):
    import torch
    import torch.distributed as dist

    import sfd_basicsr  # noqa: F401
    from basicsr.models import build_model

    from sfd_basicsr.compat.basicsr_patches import basicsr_distributed_on_any_device
    world = int(os.environ.get('WORLD_SIZE', 1))
    if world > 1:
        dist.init_process_group('nccl' if args.device == 'cuda' else 'gloo')
    rank = dist.get_rank() if world > 1 else 0
    device = torch.device('cuda', rank) if args.device == 'cuda' else torch.device('cpu')
    if device.type == 'cuda':
        torch.cuda.set_device(device)
    preset = PRESETS[args.preset]
    opt = train_options(case, preset)
    opt.update(num_gpu=1 if device.type == 'cuda' else 0, dist=world > 1, rank=rank, world_size=world)
    with basicsr_distributed_on_any_device():
        model = build_model(opt)
    size, batch = preset['gt_size'], GLOBAL_BATCH // world
    model.feed_data({'lq': torch.rand(batch, 3, size // 4, size // 4), 'gt': torch.rand(batch, 3, size, size)})
    counter = iter(range(1, 10**9))

    def step():
        model.optimize_parameters(next(counter))
        if world > 1:
            dist.barrier()

    seconds = median(Timer(device)(step, preset['runs'], args.warmup))
    result = {'seconds': seconds, 'threads': torch.get_num_threads()}
    if world > 1:
        for label in ('net_g', 'net_d', 'net_d_tg'):
            net = getattr(model, label, None)
            if net is None:
                continue
            flat = torch.zeros(sum(p.numel() for p in net.parameters() if p.requires_grad), device=device)

            def reduce():
                dist.all_reduce(flat)
                if device.type == 'cuda':
                    torch.cuda.synchronize(device)

            result[f'allreduce_{label}'] = median(Timer(device)(reduce, 20, 3))
            result[f'params_{label}'] = flat.numel()
        dist.destroy_process_group()
    if rank == 0:
        print('RESULT ' + json.dumps(result), flush=True)


def measure(case, world, args):
    script = [os.path.abspath(__file__), '--single', case, '--device', args.device, '--preset', args.preset,
              '--warmup', str(args.warmup)]
    env = dict(os.environ, HF_HUB_OFFLINE='1')
    if world == 1:
        command = [sys.executable] + script
    else:
        command = [sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={world}'] + script
        env['OMP_NUM_THREADS'] = str(max(1, (os.cpu_count() or world) // world))
    return run_for_result(command, f'{case} x{world}', env)


def render(args, results, elapsed):
    preset = PRESETS[args.preset]
    g = preset['g']
    lines = [f'## Distributed training ({args.device}, {"nccl" if args.device == "cuda" else "gloo"}), preset '
             f'`{args.preset}`', '',
             f'`python benchmarks/bench_distributed.py --device {args.device} --preset {args.preset}` on '
             f'{machine(args.device)}; {elapsed / 60:.1f} min. RRDBNet {g["num_feat"]}/{g["num_block"]}/'
             f'{g["num_grow_ch"]} x4, GT patch {preset["gt_size"]}, global batch {GLOBAL_BATCH} (1 process: '
             f'{GLOBAL_BATCH}, 2 processes: {GLOBAL_BATCH // 2} each), median of {preset["runs"]} steps after '
             f'{args.warmup} warm-up. Gradient averaging: `all_reduce` of the trainable parameters\' count of '
             'float32 values per network, between the two processes.', '',
             '| configuration | 1 process s / step | 2 processes s / step | 2 / 1 | samples / s (1 → 2) '
             '| all_reduce G (ms) | all_reduce D (ms) | all_reduce G+D / 2-process step |',
             '|---|---|---|---|---|---|---|---|']
    for case, name in CASES.items():
        one, two = results[(case, 1)], results[(case, 2)]
        d_reduce = two.get('allreduce_net_d', 0) + two.get('allreduce_net_d_tg', 0)
        total = two['allreduce_net_g'] + d_reduce
        lines.append(f'| {name} | {one["seconds"]:.4f} | {two["seconds"]:.4f} | {two["seconds"] / one["seconds"]:.2f} '
                     f'| {GLOBAL_BATCH / one["seconds"]:.1f} → {GLOBAL_BATCH / two["seconds"]:.1f} '
                     f'| {two["allreduce_net_g"] * 1e3:.2f} | {d_reduce * 1e3:.2f} | {total / two["seconds"]:.1%} |')
    params = {case: results[(case, 2)].get('params_net_d', 0) + results[(case, 2)].get('params_net_d_tg', 0)
              for case in CASES}
    lines += ['', f'Trainable discriminator parameters averaged per step: U-Net {params["unet"]:,}, '
              f'Feat-D + TG-D {params["sfd"]:,} (the frozen CLIP encoder and text tower are never averaged).']
    return '\n'.join(lines) + '\n'


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    parser.add_argument('--preset', choices=sorted(PRESETS), default='small')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--single', default=None, help=argparse.SUPPRESS)
    parser.add_argument('--no-write', action='store_true', help='print only, leave docs/benchmarks.md alone')
    args = parser.parse_args()
    if args.single:
        return run_case(args.single, args)
    started = time.time()
    results = {(case, world): measure(case, world, args) for case in CASES for world in (1, 2)}
    text = render(args, results, time.time() - started)
    print(text)
    if not args.no_write:
        write_section(f'distributed-{args.device}-{args.preset}', text)


if __name__ == '__main__':
    main()
