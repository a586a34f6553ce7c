"""SFD-IQA weight files for tests: random-initialised Feat-D and TG-D on a random CLIP; PNG files of known pixels."""
import cv2
import numpy as np
import torch
from PIL import Image

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


def png_files_of_known_pixels(folder, size=64):
    """PNG files of the kinds PIL and OpenCV may read differently (16-bit grey and RGB, 8-bit grey with alpha, a
    palette), written from random arrays: ``{name: the H x W x 3 RGB float64 array in [0, 1] the file holds}``, each
    computed from the values written, not read back. OpenCV writes no grey-with-alpha or palette PNG: PIL writes those.
    """
    rng = np.random.default_rng(0)
    grey16 = rng.integers(0, 65536, (size, size), dtype=np.uint16)
    bgr16 = rng.integers(0, 65536, (size, size, 3), dtype=np.uint16)
    grey_alpha = rng.integers(0, 256, (size, size, 2), dtype=np.uint8)
    palette = rng.integers(0, 256, (16, 3), dtype=np.uint8)
    indices = rng.integers(0, 16, (size, size), dtype=np.uint8)
    assert cv2.imwrite(str(folder / 'grey16.png'), grey16) and cv2.imwrite(str(folder / 'rgb16.png'), bgr16)
    Image.frombytes('LA', (size, size), grey_alpha.tobytes()).save(folder / 'grey_alpha.png')
    paletted = Image.frombytes('P', (size, size), indices.tobytes())
    paletted.putpalette(palette.ravel().tolist())
    paletted.save(folder / 'palette.png')
    return {'grey16.png': np.repeat(grey16[..., None] / 65535, 3, axis=2), 'rgb16.png': bgr16[..., ::-1] / 65535,
            'grey_alpha.png': np.repeat(grey_alpha[..., :1] / 255, 3, axis=2), 'palette.png': palette[indices] / 255}


def as_tensor(pixels):
    """An H x W x 3 array as the (1, 3, H, W) float32 tensor a metric takes."""
    return torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32)).permute(2, 0, 1)[None]
