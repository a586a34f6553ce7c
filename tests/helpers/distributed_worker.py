"""A few training iterations through BasicSR's own dataloader, sampler and model, in one or several processes.

    python distributed_worker.py OUT_DIR ITERS -opt FILE [--launcher pytorch]   (under torchrun for several)

Every rank saves, after each iteration, the state and gradients of every network it holds and the files its
batches came from, to ``OUT_DIR/rank<N>.pt``; tests/test_distributed.py compares them across ranks and runs.
"""
import os
import sys

import torch

import sfd_basicsr  # noqa: F401  (before basicsr)
from basicsr.models import build_model
from basicsr.train import create_train_val_dataloader
from basicsr.utils import get_root_logger

from sfd_basicsr.compat.basicsr_patches import basicsr_distributed_on_any_device
from sfd_basicsr.training.pipeline import distributed_options, parse_and_check_options

NETWORKS = ('net_g', 'net_g_ema', 'net_d', 'net_d_tg')


def snapshot(model):
    held = {}
    for name in NETWORKS:
        net = getattr(model, name, None)
        if net is None:
            continue
        bare = model.get_bare_model(net)
        held[name] = {key: value.detach().clone() for key, value in bare.state_dict().items()}
        held[f'{name}.grad'] = {key: p.grad.detach().clone() for key, p in bare.named_parameters()
                                if p.grad is not None}
        held[f'{name}.wrapper'] = type(net).__name__
    return held


def main():
    out_dir, iters = sys.argv[1], int(sys.argv[2])
    sys.argv = [sys.argv[0]] + sys.argv[3:]
    with basicsr_distributed_on_any_device(distributed_options()):
        opt, _ = parse_and_check_options(os.getcwd())
        loader, sampler, _, _, _ = create_train_val_dataloader(opt, get_root_logger())
        model = build_model(opt)
        record = {'seen': [], 'after': [], 'rank': opt['rank'], 'world_size': opt['world_size']}
        current_iter, epoch = 0, 0
        while current_iter < iters:
            sampler.set_epoch(epoch)
            for data in loader:
                current_iter += 1
                record['seen'].append((epoch, sorted(os.path.basename(p) for p in data['gt_path'])))
                model.update_learning_rate(current_iter)
                model.feed_data(data)
                model.optimize_parameters(current_iter)
                record['after'].append(snapshot(model))
                if current_iter == iters:
                    break
            epoch += 1
    torch.save(record, os.path.join(out_dir, f"rank{opt['rank']}.pt"))


if __name__ == '__main__':
    main()
