"""``python -m sfd_basicsr.test -opt FILE``: the same as ``basicsr test -opt FILE``."""
import sys

from sfd_basicsr.cli import main

if __name__ == '__main__':
    sys.exit(main(['test']))
