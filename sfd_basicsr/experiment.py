"""Reading a BasicSR experiment folder: its copied options file and its latest checkpoints."""
import glob
import os

import yaml


def training_options(experiment, required_key):
    """The options file BasicSR copied into ``experiment`` that has ``required_key``, or {}."""
    for path in sorted(glob.glob(os.path.join(experiment, '*.yml'))):
        with open(path) as f:
            opt = yaml.safe_load(f)
        if isinstance(opt, dict) and required_key in opt:
            return opt
    return {}


def latest_checkpoint(models_dir, label):
    """``<label>_latest.pth``, else the highest ``<label>_<iter>.pth`` in ``models_dir``."""
    latest = os.path.join(models_dir, f'{label}_latest.pth')
    if os.path.isfile(latest):
        return latest
    numbered = [(int(name[len(label) + 1:-4]), name) for name in os.listdir(models_dir)
                if name.startswith(f'{label}_') and name.endswith('.pth') and name[len(label) + 1:-4].isdigit()]
    if not numbered:
        raise FileNotFoundError(f"No {label}_*.pth checkpoint in '{models_dir}'.")
    return os.path.join(models_dir, max(numbered)[1])
