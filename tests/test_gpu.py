"""GPU-only checks (skipped without CUDA): the same behaviour on a CUDA device as on the CPU."""
import pytest
import torch
from basicsr.models import build_model

from helpers.iqa import random_sfd_iqa_weights
from helpers.models import batch, count_encoder_calls, sfd_options
from helpers.training import run_basicsr, tiny_train_options, write_options

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')


def test_sfd_model_trains_on_the_gpu_with_one_encoder_pass_per_batch():
    opt = sfd_options()
    opt['num_gpu'] = 1
    model = build_model(opt)
    assert model.encoder.mean.is_cuda and next(model.net_d.parameters()).is_cuda
    assert model.net_d.encoder(model.device) is model.encoder  # shared, on the model's device
    calls = count_encoder_calls(model)
    model.feed_data(batch())
    for it in (1, 2):
        model.optimize_parameters(it)
    assert len(calls) == 4 and all(c.is_cuda for c in calls)
    assert all(torch.isfinite(torch.as_tensor(v)) for v in model.get_current_log().values())


def test_sfd_iqa_scores_on_the_gpu_match_the_cpu(tmp_path):
    from sfd_basicsr.iqa import SFDIQA
    _, _, weights = random_sfd_iqa_weights(tmp_path)
    image = torch.rand(2, 3, 1100, 700)
    cpu = SFDIQA(str(weights))(image)
    gpu = SFDIQA(str(weights)).cuda()(image.cuda()).cpu()
    torch.testing.assert_close(gpu, cpu, rtol=0, atol=2e-3)


@pytest.mark.slow
def test_training_and_auto_resume_on_the_gpu(tmp_path):
    opt = tiny_train_options(tmp_path, iters=4, with_val=False)
    opt['num_gpu'] = 1
    opt_file = write_options(tmp_path / 'gpu.yml', opt)
    result = run_basicsr(['train', '-opt', opt_file, '--force_yml', 'train:total_iter=2'], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    result = run_basicsr(['train', '-opt', opt_file, '--auto_resume'], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / 'experiments' / 'sfd_tiny' / 'models' / 'net_d_tg_4.pth').is_file()


def test_upscale_on_the_gpu_in_half_precision_matches_the_cpu():
    from sfd_basicsr.inference import LoadedGenerator, Upscaler
    from helpers.models import tiny_rrdbnet
    image = torch.rand(1, 3, 40, 56)
    cpu = Upscaler(LoadedGenerator(tiny_rrdbnet(), 4, 3, True, 'tiny'), 'cpu').upscale_tensor(image)
    half = Upscaler(LoadedGenerator(tiny_rrdbnet(), 4, 3, True, 'tiny'), 'cuda', tile=24, half=True)
    assert half.dtype == torch.float16
    assert {p.dtype for p in half.module.parameters()} == {torch.float16}, 'the network itself runs in float16'
    assert (half.upscale_tensor(image) - cpu).abs().max() < 2 / 255
