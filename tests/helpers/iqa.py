"""SFD-IQA weight files for tests: random-initialised Feat-D and TG-D on a random CLIP."""
import torch

from helpers.models import tiny_featd, tiny_tgd
from sfd_basicsr.iqa.weights import save_weights, weights_from_checkpoints


def random_sfd_iqa_weights(folder, fusion_weight=0.5, clip_model='RN50-quickgelu', with_tgd=True):
    """Save BasicSR-style Feat-D / TG-D checkpoints and their exported SFD-IQA file; return the three paths (no TG-D
    with ``with_tgd=False``, as a backbone without a text tower trains: its path None, ``fusion_weight`` 1)."""
    torch.manual_seed(0)
    pairs = [['Good photo.', 'Bad photo.'], ['Sharp.', 'Blurry.']]
    featd = tiny_featd(clip_model)
    tgd = tiny_tgd(clip_model, prompt_pairs=pairs) if with_tgd else None
    with torch.no_grad():  # make the heads non-trivial so scores differ between images
        for p in list(featd.parameters()) + (list(tgd.parameters()) if tgd else []):
            p.add_(0.05 * torch.randn_like(p))
    featd_path, exported = folder / 'net_d_7.pth', folder / 'sfd_iqa.pth'
    tgd_path = folder / 'net_d_tg_7.pth' if with_tgd else None
    torch.save({'params': featd.state_dict()}, featd_path)
    if with_tgd:
        torch.save({'params': tgd.state_dict()}, tgd_path)
    else:
        fusion_weight = 1.0
    save_weights(weights_from_checkpoints(featd_path, tgd_path, fusion_weight, clip_pretrained=None), exported)
    return featd_path, tgd_path, exported
