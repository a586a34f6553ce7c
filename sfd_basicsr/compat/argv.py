"""``sys.argv`` as BasicSR's own argument parser reads it.

BasicSR's ``parse_options`` (called by its ``train_pipeline`` / ``test_pipeline``) parses ``sys.argv`` itself and
takes no argument list, so the ``basicsr`` command and the demo hand it their options through ``sys.argv``, and
``command_line_options`` reads from it what BasicSR's parser will (the one parser outside ``commands/``).
"""
import argparse
import sys
from contextlib import contextmanager


@contextmanager
def basicsr_command_line(words):
    """Within the block, ``sys.argv`` is ``words`` (program name first); the caller's is back afterwards."""
    original = sys.argv
    sys.argv = list(words)
    try:
        yield
    finally:
        sys.argv = original


def command_line_options(argv):
    """``(-opt FILE, [--force_yml entries])`` from BasicSR's command line."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('-opt')
    parser.add_argument('--force_yml', nargs='+', default=[])
    known = parser.parse_known_args(argv)[0]
    return known.opt, known.force_yml
