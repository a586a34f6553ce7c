"""The ``basicsr`` command: BasicSR's pipelines with the plugin loaded, and the tools around a trained generator.

BasicSR 1.4.2 ships no command of its own. ``python -m sfd_basicsr.train|test`` are the same as ``basicsr
train|test``.
"""
import argparse
import sys

from . import check, compare, demo, evaluate, export, prepare, test, train, upscale
from .common import run_command, take_local_rank

COMMANDS = (train, test, check, demo, prepare, upscale, export, evaluate, compare)


def build_parser():
    parser = argparse.ArgumentParser(
        prog='basicsr', description='BasicSR with SFD (Feat-D, TG-D, SFDModel, SFD-IQA) registered.',
        epilog='Several processes: torchrun --nproc_per_node=N $(which basicsr) train -opt FILE --launcher pytorch '
        '(GPUs, or CPUs with gloo); upscale, evaluate and sfd-iqa score split their files the same way.')
    commands = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv=None):
    """Entry point; ``argv`` defaults to the command line (``python -m sfd_basicsr.train`` passes ``train`` first)."""
    args = build_parser().parse_args(take_local_rank(sys.argv[1:] if argv is None else argv))
    return run_command('basicsr', args)


if __name__ == '__main__':
    sys.exit(main())
