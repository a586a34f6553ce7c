"""Result folders for ``basicsr compare`` tests: small GT/LR pairs and two runs named as BasicSR names outputs."""
import os

import cv2

from sfd_basicsr.data.sample_images import write_bicubic_pairs

NAMES = ('astronaut', 'chelsea', 'coffee')
RUNS = {'Lanczos': cv2.INTER_LANCZOS4, 'Nearest': cv2.INTER_NEAREST}


def write_results(folder, names=NAMES, size=96):
    """``(gt_dir, lr_dir, {run: dir})``: GT/LR pairs and each run's x4 outputs as ``<name>_<run>.png``."""
    gt, lr = write_bicubic_pairs(os.path.join(folder, 'data'), names, size)
    runs = {}
    for run, interpolation in RUNS.items():
        runs[run] = os.path.join(folder, run)
        os.makedirs(runs[run], exist_ok=True)
        for name in names:
            small = cv2.imread(os.path.join(lr, f'{name}.png'))
            # not OpenCV's default compression: a page that re-encoded them would give other bytes
            output = cv2.resize(small, None, fx=4, fy=4, interpolation=interpolation)
            cv2.imwrite(os.path.join(runs[run], f'{name}_{run}.png'), output, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return gt, lr, runs
