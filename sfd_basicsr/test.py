"""``python -m sfd_basicsr.test -opt FILE``: the same as ``basicsr test -opt FILE``."""
import sys

from sfd_basicsr.commands.basicsr_command import main

if __name__ == '__main__':
    sys.exit(main(['test'] + sys.argv[1:]))
