"""``basicsr export``: a trained generator as one ``.safetensors`` file for spandrel and chaiNNer (``inference``)."""
import sys

from .common import add_model


def add_parser(commands):
    parser = commands.add_parser('export', help='a trained generator as .safetensors for spandrel / chaiNNer',
                                 description='Write a trained generator as one .safetensors file, checked first: '
                                 "spandrel must load it and reproduce the generator's output.")
    add_model(parser, help='experiments/<name> folder or generator weights file')
    parser.add_argument('-o', '--output', required=True, help='the .safetensors file to write')
    parser.set_defaults(run=run)


def run(args):
    from ..inference.export import export_safetensors
    if not args.output.endswith('.safetensors'):
        print(f"basicsr export: '{args.output}' should end in .safetensors (the format spandrel and chaiNNer "
              'detect by name).', file=sys.stderr)
        return 2
    generator = export_safetensors(args.model, args.output)
    print(f'Exported {generator.source} (x{generator.scale}) to {args.output}')
    return 0
