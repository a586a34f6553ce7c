"""``basicsr train``: BasicSR's ``train_pipeline`` with the options checked first (``pipeline.train``)."""
from .common import add_basicsr_options, run_pipeline


def add_parser(commands):
    parser = commands.add_parser('train', help="BasicSR's train_pipeline (experiments/ under the working directory)",
                                 description="BasicSR's train_pipeline with the plugin loaded; the options are checked "
                                 'first. Under torchrun: torchrun --nproc_per_node=N $(which basicsr) train -opt FILE '
                                 '--launcher pytorch')
    add_basicsr_options(parser)
    parser.set_defaults(run=run)


def run(args):
    from ..training.pipeline import train
    return run_pipeline('train', train, args)
