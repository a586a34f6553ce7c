"""``python -m sfd_basicsr.train -opt FILE``: the same as ``basicsr train -opt FILE``."""
import sys

from sfd_basicsr.commands.basicsr_command import main

if __name__ == '__main__':
    sys.exit(main(['train'] + sys.argv[1:]))
