"""``basicsr upscale``: run a trained generator on your own images (``inference``); under torchrun, split the files."""
import argparse
import sys

from .common import (add_device, add_max_pixels, add_model, add_precision, add_quiet, in_inference_processes,
                     positive_number, user_error_exit)


def add_parser(commands):
    parser = commands.add_parser('upscale', help='run a trained generator on your own images',
                                 description='Upscale images with a trained generator, whole or in tiles; outputs are '
                                 'written whole or not at all and never replace an input.')
    parser.add_argument('-i', '--input', required=True, help='image file or folder')
    parser.add_argument('-o', '--output', required=True, help='output folder (never an input file)')
    parser.add_argument('-r', '--recursive', action='store_true', help="also upscale the images in the folder's "
                        'sub-folders, each result in the matching sub-folder of --output')
    add_model(parser)
    parser.add_argument('--tile', type=int, default=0, help='largest input tile side; 0: whole image (default)')
    parser.add_argument('--tile-pad', type=int, default=16, help='context pixels around each tile (default 16)')
    parser.add_argument('--outscale', type=positive_number, default=None,
                        help="final scale (default: the network's)")
    add_precision(parser)
    add_device(parser)
    parser.add_argument('--suffix', default='', help='added to output names, e.g. _x4')
    parser.add_argument('--ext', type=output_extension, default='auto', help="output format: auto (the input's; "
                        'PNG where it cannot hold alpha or 16 bits), png, jpg, ...')
    add_max_pixels(parser)
    add_quiet(parser)
    parser.set_defaults(run=run)


def output_extension(text):
    """``auto`` or an extension that is written and read back (``utils.image_io.IMAGE_EXTENSIONS``) and holds colour
    (OpenCV writes no colour PGM)."""
    from ..utils.image_io import IMAGE_EXTENSIONS
    formats = [e for e in IMAGE_EXTENSIONS if e != '.pgm']
    if text.lower() == 'auto' or '.' + text.lower().lstrip('.') in formats:
        return text
    raise argparse.ArgumentTypeError(f"expected auto or one of {', '.join(e[1:] for e in formats)}; got {text!r}")


def run(args):
    return in_inference_processes(_upscale, args, outputs=[args.output])


def _upscale(args, rank, world):
    from ..utils.atomic import OutputWriteError
    from ..utils.distributed import gather, unshard
    from ..inference.files import upscale_files
    from ..inference.generator import load_generator
    from ..inference.upscaler import Upscaler
    try:
        generator = load_generator(args.model)
        upscaler = Upscaler(generator, args.device, args.tile, args.tile_pad, args.half, args.bf16)
        if rank == 0:
            print(f'basicsr upscale: {generator.source}, x{generator.scale}, on {upscaler.device}'
                  + (f' and {world - 1} more process(es)' if world > 1 else ''), file=sys.stderr)
        share = upscale_files(upscaler, args.input, args.output, args.suffix, args.ext, args.outscale,
                              progress=not args.quiet and rank == 0, rank=rank, world=world,
                              max_pixels=args.max_pixels, recursive=args.recursive)
    except OutputWriteError as error:
        user_error_exit('basicsr upscale', error)
        share = None  # still gathered: a process that left would end the others' gather in a traceback
    shares = gather(share, world)
    if None in shares:
        return 1
    written, failures = unshard([w for w, _ in shares]), [f for _, fs in shares for f in fs]
    if rank != 0:
        return 1 if failures else 0
    per_process = f" on {world} processes ({', '.join(str(len(w) + len(f)) for w, f in shares)})" if world > 1 else ''
    print(f'basicsr upscale: wrote {len(written)} image(s) to {args.output}{per_process}', file=sys.stderr)
    if failures:
        print(f'basicsr upscale: {len(failures)} file(s) skipped: ' + ', '.join(path for path, _ in failures),
              file=sys.stderr)
        return 1
    return 0
