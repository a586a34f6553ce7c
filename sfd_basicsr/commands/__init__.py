"""The command lines: ``basicsr`` (``basicsr_command``) and ``sfd-iqa`` (``sfd_iqa_command``).

One module per command, each with ``add_parser(commands)`` (its argparse sub-parser) and ``run(args)`` (the exit
code). Options that mean the same in several commands are defined once (``common``). Everything a command does
beyond reading its options and reporting lives in the library below it, which takes plain arguments.
"""
