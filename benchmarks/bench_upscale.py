"""`basicsr upscale` speed and peak memory against a plain forward of the same network, and tile seams.

    python benchmarks/bench_upscale.py                         # CPU, small RRDBNet (minutes)
    python benchmarks/bench_upscale.py --device cuda --preset full
    python benchmarks/bench_upscale.py --large-only                # peak memory of a 5000x4000 image in tiles

Cases per input size (512x384 and 1920x1080): the network's plain forward on a ready tensor (the floor),
`Upscaler.upscale_array` on a uint8 BGR image whole (untiled) and in 256 px tiles with 16 px padding.
Each case runs in a fresh process, so peak memory is that case's: max RSS on CPU, the allocator's peak on
CUDA. Also the largest tiled-vs-untiled difference (8-bit levels) for several paddings: the seam error.
"""
import argparse
import json
import multiprocessing
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import machine, median, write_section  # noqa: E402

PRESETS = {  # full: ESRGAN / SFD's generator; small: the same design, cut to fit a 2-core CPU run
    'full': {'num_feat': 64, 'num_block': 23, 'num_grow_ch': 32},
    'small': {'num_feat': 32, 'num_block': 3, 'num_grow_ch': 32},
}
SIZES = ((512, 384), (1920, 1080))
TILE, TILE_PAD = 256, 16


def build(preset, device):
    import torch

    import sfd_basicsr  # noqa: F401  (before basicsr: its torchvision compatibility fix)
    from basicsr.archs.rrdbnet_arch import RRDBNet
    from sfd_basicsr.inference import LoadedGenerator, Upscaler
    torch.manual_seed(0)
    net = RRDBNet(3, 3, scale=4, **PRESETS[preset]).eval().requires_grad_(False).to(device)
    return net, lambda tile, pad=TILE_PAD: Upscaler(LoadedGenerator(net, 4, 3, True, 'bench'), device, tile, pad)


def run_case(queue, case, preset, device, size, repeats):
    import numpy as np
    import torch
    torch.set_num_threads(torch.get_num_threads())
    net, upscaler = build(preset, device)
    width, height = size
    image = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    tensor = torch.from_numpy(image[..., ::-1].astype(np.float32) / 255).permute(2, 0, 1)[None].contiguous()
    if case == 'forward':
        def step():
            with torch.inference_mode():
                return net(tensor.to(device)).cpu()
    else:
        up = upscaler(TILE if case == 'tiled' else 0)
        step = lambda: up.upscale_array(image)  # noqa: E731
    cuda = device.startswith('cuda')
    step()  # warm-up
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    peak = (torch.cuda.max_memory_allocated() / 2**20 if cuda
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    queue.put({'seconds': median(times), 'peak_mib': peak})


def measure(case, preset, device, size, repeats):
    context = multiprocessing.get_context('spawn')
    queue = context.Queue()
    process = context.Process(target=run_case, args=(queue, case, preset, device, size, repeats))
    process.start()
    while process.is_alive() or not queue.empty():
        try:
            result = queue.get(timeout=5)
        except Exception:  # noqa: BLE001  (queue.Empty: keep waiting while the case runs)
            continue
        process.join()
        return result
    raise RuntimeError(f'benchmark case {case} {size} failed (exit code {process.exitcode}); see its output above.')


LARGE_SIZE, LARGE_TILE = (5000, 4000), 512
LARGE_NET = {'num_feat': 8, 'num_block': 1, 'num_grow_ch': 32}  # memory is the image's, not the network's


def run_large(queue, with_write, folder, tile):
    """Peak RSS of ``upscale_array`` (and of writing the PNG, as ``basicsr upscale`` does) on a 5000x4000 photo."""
    import cv2
    import skimage.data
    import torch

    import sfd_basicsr  # noqa: F401
    from basicsr.archs.rrdbnet_arch import RRDBNet
    from sfd_basicsr.inference import LoadedGenerator, Upscaler
    from sfd_basicsr.utils.image_io import write_image
    torch.manual_seed(0)
    net = RRDBNet(3, 3, scale=4, **LARGE_NET).eval().requires_grad_(False)
    image = cv2.resize(cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR), LARGE_SIZE,
                       interpolation=cv2.INTER_CUBIC)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    result = Upscaler(LoadedGenerator(net, 4, 3, True, 'bench'), 'cpu', tile, TILE_PAD).upscale_array(image)
    if with_write:
        write_image(os.path.join(folder, 'large.png'), result)
    queue.put({'seconds': time.perf_counter() - started, 'output_mib': result.nbytes / 2**20,
               'before_mib': before, 'peak_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def large_section(args):
    import tempfile
    context = multiprocessing.get_context('spawn')
    rows, folder = [], tempfile.mkdtemp()
    for tile, with_write in ((LARGE_TILE, False), (LARGE_TILE, True), (LARGE_TILE // 2, True)):
        queue = context.Queue()
        process = context.Process(target=run_large, args=(queue, with_write, folder, tile))
        process.start()
        result = queue.get()
        process.join()
        goal = 1.5 * result['output_mib'] + 1024
        added = result['peak_mib'] - result['before_mib']
        rows.append(f"| {'upscale_array + PNG write' if with_write else 'upscale_array'} | {tile} "
                    f"| {result['seconds']:.0f} | {result['output_mib']:.0f} | {result['before_mib']:.0f} "
                    f"| {result['peak_mib']:.0f} | {added:.0f} | {goal:.0f} "
                    f"| {'yes' if result['peak_mib'] <= goal else 'no'} / {'yes' if added <= goal else 'no'} |")
        print(json.dumps(result), flush=True)
    text = '\n'.join([
        f'### Tiled upscaling of a {LARGE_SIZE[0]}x{LARGE_SIZE[1]} image (cpu)', '',
        f'{machine("cpu")}. `benchmarks/bench_upscale.py --large-only`: astronaut resized to {LARGE_SIZE[0]}x'
        f'{LARGE_SIZE[1]} (uint8 BGR), x4 RRDBNet {LARGE_NET} (memory is the image\'s, not the network\'s), '
        f'{TILE_PAD} px tile padding, each case in a fresh process. Goal: peak RSS under 1.5x the output array plus '
        '1 GiB; "met" says whether the whole process\'s peak and the memory upscaling adds to the process (peak '
        'minus the RSS before, which is the libraries and the input) are under it.', '',
        '| case | tile | seconds | output array MiB | RSS before MiB | peak RSS MiB | added MiB | goal MiB '
        '| met (peak / added) |', '|---|---:|---:|---:|---:|---:|---:|---:|---|', *rows])
    print(text)
    if not args.no_write:
        write_section('upscale-large-cpu', text)


def seam_errors(preset, device, size=(512, 384), tile=TILE, pads=(0, 8, 16, 32)):
    """Largest |tiled - whole| in 8-bit levels by padding, on a smooth photo (random noise would exaggerate)."""
    import cv2
    import numpy as np
    import skimage.data
    _, upscaler = build(preset, device)
    image = cv2.resize(cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR), size, interpolation=cv2.INTER_AREA)
    whole = upscaler(0).upscale_array(image).astype(int)
    return {pad: int(np.abs(upscaler(tile, pad).upscale_array(image).astype(int) - whole).max()) for pad in pads}


def seams_section(args, preset):
    width, height = map(int, args.seam_size.split('x'))
    seams = seam_errors(preset, args.device, (width, height), args.seam_tile)
    text = (f'### Tile seams ({args.device}, {preset} RRDBNet {PRESETS[preset]})\n\n{machine(args.device)}. '
            f'`benchmarks/bench_upscale.py --seams-only`. Largest |tiled - whole image| in 8-bit levels, astronaut '
            f'resized to {width}x{height}, {args.seam_tile} px tiles, by tile padding: '
            + ', '.join(f'{pad} px: {err}' for pad, err in seams.items()) + '.')
    print(text)
    if not args.no_write:
        write_section(f'upscale-seams-{args.device.split(":")[0]}-{preset}', text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--preset', choices=sorted(PRESETS), default=None, help='default: full on CUDA, small on CPU')
    parser.add_argument('--repeats', type=int, default=None, help='timed runs per case (default: 5 CUDA, 2 CPU)')
    parser.add_argument('--no-write', action='store_true', help='print only, leave docs/benchmarks.md alone')
    parser.add_argument('--seams-only', action='store_true', help='only the tile-seam measurement')
    parser.add_argument('--seam-size', default='512x384', help='image size (WxH) for the seam measurement')
    parser.add_argument('--seam-tile', type=int, default=TILE, help='tile size for the seam measurement')
    parser.add_argument('--large-only', action='store_true', help='only the 5000x4000 tiled peak-memory measurement')
    args = parser.parse_args()
    if args.large_only:
        return large_section(args)
    cuda = args.device.startswith('cuda')
    preset = args.preset or ('full' if cuda else 'small')
    if args.seams_only:
        return seams_section(args, preset)
    repeats = args.repeats or (5 if cuda else 2)
    rows = []
    for size in SIZES:
        results = {case: measure(case, preset, args.device, size, repeats) for case in ('forward', 'untiled', 'tiled')}
        floor = results['forward']['seconds']
        for case, result in results.items():
            ratio = result['seconds'] / floor
            rows.append(f"| {size[0]}x{size[1]} | {case} | {1 / result['seconds']:.3f} | {ratio:.2f}x "
                        f"| {result['peak_mib']:.0f} |")
        print(json.dumps({'size': size, **results}), flush=True)
    memory = 'GPU allocator peak' if cuda else 'process max RSS (model, image and buffers)'
    text = '\n'.join([
        f'## `basicsr upscale` ({args.device}, {preset} RRDBNet {PRESETS[preset]}, x4)', '',
        f'{machine(args.device)}. `benchmarks/bench_upscale.py`. forward: the network alone on a ready float tensor; '
        f'untiled / tiled ({TILE} px tiles, {TILE_PAD} px padding): `Upscaler.upscale_array` on a uint8 BGR image, '
        'conversions and clamping included. Goal: untiled <= 1.1x forward.', '',
        f'| input | case | images/s | time vs forward | peak memory MiB ({memory}) |', '|---|---|---:|---:|---:|',
        *rows,
    ])
    print(text)
    if not args.no_write:
        write_section(f'upscale-{args.device.split(":")[0]}-{preset}', text)
    seams_section(args, preset)


if __name__ == '__main__':
    main()
