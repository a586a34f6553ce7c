"""The ``sfd-iqa`` command: SFD-IQA scores and quality maps, weights exported from training, correlations with MOS."""
import argparse
import sys

from . import correlate, score, sfd_iqa_export
from .common import run_command

COMMANDS = (score, sfd_iqa_export, correlate)


def build_parser():
    parser = argparse.ArgumentParser(prog='sfd-iqa', description='SFD-IQA: opinion-unaware no-reference IQA.')
    commands = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv=None):
    return run_command('sfd-iqa', build_parser().parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
