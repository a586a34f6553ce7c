"""The ``sfd-iqa`` command: SFD-IQA scores and quality maps, weights exported from training, correlations with MOS."""
import argparse
import sys

from . import correlate, score, sfd_iqa_export

COMMANDS = (score, sfd_iqa_export, correlate)


def build_parser():
    parser = argparse.ArgumentParser(prog='sfd-iqa', description='SFD-IQA: opinion-unaware no-reference IQA.')
    commands = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    from ..utils.atomic import OutputWriteError
    from ..iqa.weights import WeightsError
    try:
        return args.run(args)
    except (WeightsError, FileNotFoundError, ValueError) as error:
        print(f'sfd-iqa {args.command}: {error}', file=sys.stderr)
        return 2
    except OutputWriteError as error:
        print(f'sfd-iqa {args.command}: stopped: {error}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
