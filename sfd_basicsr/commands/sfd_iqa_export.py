"""``sfd-iqa export``: the Feat-D and prompt pairs of a trained SFD experiment as one SFD-IQA weights file."""
import sys

from .common import add_model


def add_parser(commands):
    from ..iqa.weights import DEFAULT_FUSION_WEIGHT
    parser = commands.add_parser('export', help='export a trained SFD experiment as one SFD-IQA weights file',
                                 description="Write the latest Feat-D and TG-D prompt pairs of an SFD training run "
                                 'as one SFD-IQA weights file (for pyiqa, sfd-iqa score and basicsr evaluate).')
    add_model(parser, help='experiments/<name> folder of an SFD training run', required=False)
    parser.add_argument('experiment', nargs='?', default=None, help='the same as -m (the form before -m existed)')
    parser.add_argument('-o', '--output', required=True, help='the SFD-IQA weights file to write')
    parser.add_argument('--fusion-weight', type=float, default=None,
                        help=f'w (default {DEFAULT_FUSION_WEIGHT}; 1, the only value, for a run without TG-D)')
    parser.add_argument('--clip-pretrained', default=None,
                        help='CLIP weights scorers should load (default: those of the training options)')
    parser.set_defaults(run=run, parser=parser)


def run(args):
    from ..iqa.weights import FROM_TRAINING_RUN, export_experiment
    if (args.model is None) == (args.experiment is None):
        args.parser.error('give the experiment once: -m experiments/<name>')
    experiment = args.model or args.experiment
    clip_pretrained = FROM_TRAINING_RUN if args.clip_pretrained is None else args.clip_pretrained
    weights = export_experiment(experiment, args.output, args.fusion_weight, clip_pretrained)
    trained = weights['trained_iter']
    if trained is None:
        print(f"sfd-iqa export: the checkpoints in '{experiment}' do not record their iteration; check that "
              'the run trained before relying on this export.', file=sys.stderr)
    print(f"Exported SFD-IQA weights from iteration {'unknown' if trained is None else trained} "
          f"(backbone {weights['clip_model']}, weights '{weights['clip_pretrained']}', "
          f"fusion weight {weights['fusion_weight']}) to {args.output}")
    return 0
