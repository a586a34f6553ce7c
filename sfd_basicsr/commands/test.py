"""``basicsr test``: BasicSR's ``test_pipeline`` with the options checked first (``pipeline.test``)."""
from .common import add_basicsr_options, run_pipeline


def add_parser(commands):
    parser = commands.add_parser('test', help="BasicSR's test_pipeline (results/ under the working directory)",
                                 description="BasicSR's test_pipeline with the plugin loaded; the options are checked "
                                 'first.')
    add_basicsr_options(parser)
    parser.set_defaults(run=run)


def run(args):
    from ..training.pipeline import test
    return run_pipeline('test', test, args)
