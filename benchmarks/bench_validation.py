"""Validation under torchrun: split across 2 processes (ours) against BasicSR's rank-0-only validation.

    python benchmarks/bench_validation.py                 # CPU, gloo, 2 processes: about 3 minutes on 2 cores
    python benchmarks/bench_validation.py --device cuda   # one process per GPU, nccl (needs 2 GPUs)

Both run in the same 2 processes on the same SFD model and validation set (skimage photos, PSNR and SSIM as
BasicSR computes them): BasicSR's ``SRModel.dist_validation`` (rank 0 validates every image, rank 1 waits at the
barrier that follows) and this project's ``SplitValidation.dist_validation`` (each process its share, the values
gathered). The time is the wall time of one validation of the whole set, barrier included, median of several.
"""
import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_sfd import PRESETS, Timer, train_options  # noqa: E402
from report import machine, median, run_for_result, write_section  # noqa: E402

IMAGES = ('astronaut', 'coffee', 'chelsea', 'rocket', 'immunohistochemistry', 'hubble_deep_field', 'retina',
          'colorwheel')
SIDE = 384
RUNS = 3


def run(args):
    import torch
    import torch.distributed as dist

    import sfd_basicsr  # noqa: F401  (before basicsr: it makes basicsr importable)
    from basicsr.data import build_dataloader, build_dataset
    from basicsr.models import build_model
    from basicsr.models.sr_model import SRModel
    from sfd_basicsr.compat.basicsr_patches import basicsr_distributed_on_any_device
    from sfd_basicsr.data.sample_images import write_bicubic_pairs
    from sfd_basicsr.training.recipe import paired_dataset
    dist.init_process_group('nccl' if args.device == 'cuda' else 'gloo')
    rank, world = dist.get_rank(), dist.get_world_size()
    if args.device == 'cuda':
        torch.cuda.set_device(rank)
    folder = os.path.join(tempfile.gettempdir(), 'bench_validation_data')
    if rank == 0:
        write_bicubic_pairs(folder, IMAGES, SIDE)
    dist.barrier()
    hr, lr = os.path.join(folder, 'hr'), os.path.join(folder, 'lr')  # write_bicubic_pairs' layout
    dataset_opt = dict(paired_dataset('bench', hr, lr, 'val'), phase='val', scale=4)
    loader = build_dataloader(build_dataset(dataset_opt), dataset_opt, num_gpu=0, dist=False, sampler=None)
    opt = train_options('sfd', PRESETS[args.preset])
    opt.update(num_gpu=1 if args.device == 'cuda' else 0, dist=True, rank=rank, world_size=world, name='bench')
    opt['val'] = {'val_freq': 1, 'save_img': False, 'metrics': {
        'psnr': {'type': 'calculate_psnr', 'crop_border': 4, 'test_y_channel': True},
        'ssim': {'type': 'calculate_ssim', 'crop_border': 4, 'test_y_channel': True}}}
    with basicsr_distributed_on_any_device():
        model = build_model(opt)
    device = torch.device('cuda', rank) if args.device == 'cuda' else torch.device('cpu')
    timer = Timer(device)
    results = {}
    for name, validate in (('rank 0 only', lambda: SRModel.dist_validation(model, loader, 1, None, False)),
                           ('split', lambda: model.dist_validation(loader, 1, None, False))):
        def once():
            validate()
            dist.barrier()
        results[name] = median(timer(once, RUNS, 1))
        results[f'{name} psnr'] = model.metric_results['psnr'] if rank == 0 else None
    dist.destroy_process_group()
    if rank == 0:
        print('RESULT ' + json.dumps({**results, 'threads': torch.get_num_threads()}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    parser.add_argument('--preset', choices=sorted(PRESETS), default='small')
    parser.add_argument('--single', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--no-write', action='store_true', help='print only, leave docs/benchmarks.md alone')
    args = parser.parse_args()
    if args.single:
        return run(args)
    started = time.time()
    env = dict(os.environ, HF_HUB_OFFLINE='1', OMP_NUM_THREADS=str(max(1, (os.cpu_count() or 2) // 2)))
    result = run_for_result([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2',
                             os.path.abspath(__file__), '--single', '--device', args.device, '--preset', args.preset],
                            'validation x2', env)
    g = PRESETS[args.preset]['g']
    text = '\n'.join([
        f'## Validation on 2 processes ({args.device}, {"nccl" if args.device == "cuda" else "gloo"})', '',
        f'`python benchmarks/bench_validation.py --device {args.device} --preset {args.preset}` on '
        f'{machine(args.device)}, {result["threads"]} thread(s) per process; {(time.time() - started) / 60:.1f} min. '
        f'SFD model (RRDBNet {g["num_feat"]}/{g["num_block"]}/{g["num_grow_ch"]} x4), {len(IMAGES)} validation '
        f'images of {SIDE}x{SIDE} px, PSNR-Y and SSIM-Y; median of {RUNS} validations after 1 warm-up. Load average '
        f'during the run: {os.getloadavg()[0]:.1f} (other work on the machine takes cores from the two processes).',
        '',
        '| validation | s | vs rank 0 only | PSNR-Y logged |', '|---|---|---|---|',
        f'| BasicSR: rank 0 validates, rank 1 waits | {result["rank 0 only"]:.3f} | 1.00 | '
        f'{result["rank 0 only psnr"]:.4f} |',
        f'| split: each process its share, values gathered | {result["split"]:.3f} | '
        f'{result["split"] / result["rank 0 only"]:.2f} | {result["split psnr"]:.4f} |', ''])
    print(text)
    if not args.no_write:
        write_section(f'validation-{args.device}', text)


if __name__ == '__main__':
    main()
