"""SFD-IQA: the score, its weights, pyiqa's conventions, any image, large images in tiles."""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import skimage.data
import torch

from helpers.iqa import random_sfd_iqa_weights
from helpers.models import astronaut
from sfd_basicsr.iqa import SFDIQA, load_weights
from sfd_basicsr.utils.image_io import ImageReadError, read_image
from sfd_basicsr.iqa.weights import FORMAT_VERSION, WeightsError, resolve_weights_path


@pytest.fixture(scope='module')
def weights(tmp_path_factory):
    return random_sfd_iqa_weights(tmp_path_factory.mktemp('sfd_iqa'))


@pytest.fixture(scope='module')
def net(weights):
    return SFDIQA(str(weights[2]))


def test_score_is_the_documented_fusion(net):
    image = astronaut((160, 128))
    features = net.featd.encoder()(image, layers=net.featd.layers, embedding=True)
    featd_part = torch.sigmoid(net.featd(features=features)).mean()
    tgd_part = torch.sigmoid(net.tgd(embedding=features['embedding'])).mean()
    expected = net.fusion_weight * featd_part + (1 - net.fusion_weight) * tgd_part
    score = net(image)
    assert score.shape == (1, ) and 0 <= score.item() <= 1
    torch.testing.assert_close(score[0], expected)


def test_fusion_weight_selects_the_parts(weights):
    image = astronaut((96, 96))
    only_featd, only_tgd = SFDIQA(str(weights[2]), fusion_weight=1.0), SFDIQA(str(weights[2]), fusion_weight=0.0)
    features = only_featd.featd.encoder()(image, layers=only_featd.featd.layers, embedding=True)
    torch.testing.assert_close(only_featd(image)[0], torch.sigmoid(only_featd.featd(features=features)).mean())
    torch.testing.assert_close(only_tgd(image)[0],
                               torch.sigmoid(only_tgd.tgd(embedding=features['embedding'])).mean())


def test_training_checkpoints_and_exported_file_score_the_same(weights):
    from_checkpoints = SFDIQA(featd_checkpoint=str(weights[0]), tgd_checkpoint=str(weights[1]), clip_pretrained='none')
    image = astronaut((128, 128))
    torch.testing.assert_close(from_checkpoints(image), SFDIQA(str(weights[2]))(image))


def test_same_image_same_score_alone_in_a_batch_and_across_runs(net, weights):
    images = torch.cat([astronaut((128, 160)), torch.rand(3, 3, 128, 160)])
    alone = net(images[:1])
    batch = net(images)
    torch.testing.assert_close(batch[:1], alone, rtol=0, atol=1e-5)
    assert len(set(batch.tolist())) == 4  # different images, different scores
    torch.testing.assert_close(SFDIQA(str(weights[2]))(images[:1]), alone, rtol=0, atol=0)


def test_as_loss_gives_finite_gradients_on_the_input(weights):
    import pyiqa
    metric = pyiqa.create_metric('sfd_iqa', as_loss=True, device='cpu', pretrained_model_path=str(weights[2]))
    assert metric.lower_better is False and metric.metric_mode == 'NR'
    image = astronaut((96, 96)).requires_grad_()
    score = metric(image)
    score.sum().backward()
    assert image.grad is not None and torch.isfinite(image.grad).all() and image.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in metric.net.parameters())  # the metric itself never trains


def test_pyiqa_metric_accepts_tensors_and_file_paths(weights, tmp_path):
    import pyiqa
    metric = pyiqa.create_metric('sfd_iqa', device='cpu', pretrained_model_path=str(weights[2]))
    assert 'sfd_iqa' in pyiqa.list_models(metric_mode='NR')
    path = tmp_path / 'astronaut.png'
    cv2.imwrite(str(path), cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR))
    torch.testing.assert_close(metric(str(path)), metric(read_image(str(path))), rtol=0, atol=1e-6)


def photo(name, size=(160, 128)):
    return torch.from_numpy(cv2.resize(getattr(skimage.data, name)(), size)).permute(2, 0, 1)[None].float() / 255


def test_bf16_runs_the_encoder_and_heads_in_bfloat16_and_scores_within_the_stated_tolerance(net, weights, tmp_path):
    import pyiqa

    from sfd_basicsr.iqa.sfd_iqa_arch import BF16_TOLERANCE
    bf16 = SFDIQA(str(weights[2]), bf16=True, tile_size=128)  # tiled too: 160 px wide
    seen = []
    hook = bf16.featd.encoder().register_forward_hook(lambda m, args, out: seen.append(out['embedding'].dtype))
    try:
        for name in ('astronaut', 'coffee', 'chelsea'):
            image = photo(name)
            expected, expected_map = net(image, return_map=True)
            seen.clear()  # the float32 network shares the encoder
            score, quality_map = bf16(image, return_map=True)
            assert seen and set(seen) == {torch.bfloat16}
            assert score.dtype == quality_map.dtype == torch.float32
            assert abs(score.item() - expected.item()) <= BF16_TOLERANCE, name
            # on average: a pixel whose Feat-D logit is near 0 may fall on the other side of it
            assert (quality_map - expected_map).abs().mean() <= BF16_TOLERANCE, name
    finally:
        hook.remove()
    metric = pyiqa.create_metric('sfd_iqa', device='cpu', pretrained_model_path=str(weights[2]), bf16=True)
    assert metric.net.bf16
    assert metric(photo('coffee')).item() == pytest.approx(SFDIQA(str(weights[2]), bf16=True)(photo('coffee')).item(),
                                                           abs=1e-6)


def test_grey_rgba_and_16_bit_files_read_as_documented(net, tmp_path):
    rgb = cv2.resize(skimage.data.astronaut(), (96, 96))
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    cv2.imwrite(str(tmp_path / 'rgb.png'), bgr)
    cv2.imwrite(str(tmp_path / 'grey.png'), grey)
    alpha = np.dstack([bgr, np.full(grey.shape, 7, np.uint8)])
    cv2.imwrite(str(tmp_path / 'rgba.png'), alpha)
    cv2.imwrite(str(tmp_path / 'rgb16.png'), bgr.astype(np.uint16) * 257)
    reference = read_image(str(tmp_path / 'rgb.png'))
    torch.testing.assert_close(read_image(str(tmp_path / 'rgba.png')), reference)  # alpha dropped
    torch.testing.assert_close(read_image(str(tmp_path / 'rgb16.png')), reference)  # full 16-bit precision
    grey_image = read_image(str(tmp_path / 'grey.png'))
    assert grey_image.shape == (1, 3, 96, 96) and torch.equal(grey_image[:, 0], grey_image[:, 2])
    torch.testing.assert_close(net(grey_image[:, :1]), net(grey_image))  # 1-channel tensors too
    for name in ('rgba.png', 'rgb16.png', 'grey.png'):
        assert 0 <= net(read_image(str(tmp_path / name))).item() <= 1


@pytest.mark.skipif(not os.path.isdir(os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'data')),
                    reason='../shared/data (real grey, RGBA and 16-bit files) is not beside this checkout')
def test_real_edge_case_files_from_shared_data(net):
    folder = os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'data', 'realesrgan_inputs')
    for name in ('00017_gray.png', 'children-alpha.png', 'tree_alpha_16bit.png', 'wolf_gray.jpg'):
        image = read_image(os.path.join(folder, name))
        assert image.shape[1] == 3 and 0 <= image.min() and image.max() <= 1
        assert 0 <= net(image).item() <= 1


def test_too_small_and_unreadable_inputs_are_clear_errors(net, tmp_path):
    with pytest.raises(ValueError, match='at least 32 px per side'):
        net(torch.rand(1, 3, 24, 300))
    bad = tmp_path / 'notes.png'
    bad.write_text('not an image')
    with pytest.raises(ImageReadError, match='notes.png'):
        read_image(str(bad))
    with pytest.raises(FileNotFoundError, match='missing.png'):
        read_image(str(tmp_path / 'missing.png'))


def test_large_images_are_tiled_and_close_to_the_untiled_score(weights):
    image = astronaut((1024, 768))
    untiled = SFDIQA(str(weights[2]), tile_size=1024)(image)
    tiled = SFDIQA(str(weights[2]), tile_size=512)(image)  # 2 x 2 tiles
    assert abs(tiled.item() - untiled.item()) < 0.005
    score, quality_map = SFDIQA(str(weights[2]), tile_size=512)(image, return_map=True)
    assert quality_map.shape == (1, 1, 1024, 768) and 0 <= quality_map.min() and quality_map.max() <= 1
    torch.testing.assert_close(score, tiled)


@pytest.mark.slow
def test_4000_px_image_peak_memory_stays_bounded(weights):
    code = (
        'import resource, torch, sfd_basicsr\n'
        'from sfd_basicsr.iqa import SFDIQA\n'
        f'net = SFDIQA({str(weights[2])!r})\n'
        'x = torch.rand(1, 3, 3000, 4200)\n'
        'before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n'
        'with torch.no_grad():\n'
        '    s = net(x).item()\n'
        'print(s, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, HF_HUB_OFFLINE='1'))
    assert out.returncode == 0, out.stderr[-2000:]
    score, extra_mb = map(float, out.stdout.split())
    assert 0 <= score <= 1
    assert extra_mb < 1024, f'scoring a 4200x3000 image raised peak memory by {extra_mb:.0f} MB (bound: 1024 MB)'


def test_weight_file_errors_name_the_file(tmp_path, weights, monkeypatch):
    monkeypatch.delenv('SFD_IQA_WEIGHTS', raising=False)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    with pytest.raises(FileNotFoundError, match='sfd-iqa export'):
        resolve_weights_path()
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        SFDIQA(str(tmp_path / 'nowhere.pth'))
    with pytest.raises(WeightsError, match='BasicSR network checkpoint'):
        load_weights(str(weights[0]))
    corrupt = tmp_path / 'corrupt.pth'
    corrupt.write_bytes(weights[2].read_bytes()[:2000])
    with pytest.raises(WeightsError, match='corrupt.pth'):
        load_weights(str(corrupt))
    future = torch.load(weights[2])
    future['version'] = FORMAT_VERSION + 1
    torch.save(future, tmp_path / 'future.pth')
    with pytest.raises(WeightsError, match='format version'):
        load_weights(str(tmp_path / 'future.pth'))
    monkeypatch.setenv('SFD_IQA_WEIGHTS', str(weights[2]))
    assert resolve_weights_path() == str(weights[2])


def test_vit_backed_sfd_iqa_scores_and_tiles(tmp_path):
    *_, exported = random_sfd_iqa_weights(tmp_path, clip_model='ViT-B-16')
    net = SFDIQA(str(exported), tile_size=256)
    assert net.featd.stride == 16 and net.featd.layers == ('block6', 'block9')
    image = astronaut((320, 288))
    score = net(image)
    assert 0 <= score.item() <= 1
    untiled = SFDIQA(str(exported), tile_size=1024)(image)
    # ViT tokens attend to the whole input, so tiles only approximate it (docs/iqa.md)
    assert abs(score.item() - untiled.item()) < 0.03


def test_a_featd_on_a_backbone_without_text_scores_its_realness_alone(tmp_path):
    *_, exported = random_sfd_iqa_weights(tmp_path, clip_model='timm:convnext_atto', with_tgd=False)
    net = SFDIQA(str(exported))
    assert net.tgd is None and net.fusion_weight == 1 and net.min_size == net.featd.min_size
    image = astronaut((160, 128))
    from sfd_basicsr.archs.featd_arch import FeatD
    featd = FeatD(backbone='timm:convnext_atto', pretrained=None, num_feat=16)
    featd.load_state_dict(torch.load(tmp_path / 'net_d_7.pth')['params'])
    featd.eval()
    with torch.no_grad():
        expected = torch.sigmoid(featd(image)).mean()
    torch.testing.assert_close(net(image)[0], expected)
    with pytest.raises(WeightsError, match='No TG-D in these SFD-IQA weights .* so fusion_weight must be 1; got 0.5'):
        SFDIQA(str(exported), fusion_weight=0.5)
