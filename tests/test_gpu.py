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


@pytest.mark.parametrize('bf16', [True, False], ids=['bf16', 'fp16'])
def test_amp_training_steps_on_the_gpu_are_finite_and_close_to_float32(bf16):
    logs = {}
    for amp in (False, True):
        torch.manual_seed(0)
        opt = sfd_options()
        opt.update(num_gpu=1, use_amp=amp, amp_bf16=bf16 and amp, use_channels_last=amp)
        model = build_model(opt)
        model.feed_data(batch())
        model.optimize_parameters(1)
        logs[amp] = model.get_current_log()
    if not bf16:
        assert logs[True]['amp_skipped_g'] + logs[True]['amp_skipped_d'] <= 2
    for key in ('l_g_pix', 'l_g_featd', 'l_g_tgd'):  # computed before any update
        assert logs[True][key] == pytest.approx(logs[False][key], rel=3e-2, abs=3e-3), key


def test_a_compiled_sfd_step_on_the_gpu_logs_what_the_eager_one_logs():
    logs = {}
    for compiled in (False, True):
        torch.manual_seed(0)
        opt = sfd_options()
        opt.update(num_gpu=1, use_compile=compiled, compile_mode='default')
        model = build_model(opt)
        model.feed_data(batch())
        model.optimize_parameters(1)
        logs[compiled] = model.get_current_log()
        assert not any('_orig_mod' in key for key in model.net_g.state_dict())
    assert logs[True] == pytest.approx(logs[False], rel=1e-3, abs=1e-5)


def test_upscale_in_bfloat16_on_the_gpu_matches_the_cpu():
    from sfd_basicsr.inference import LoadedGenerator, Upscaler
    from helpers.models import tiny_rrdbnet
    image = torch.rand(1, 3, 40, 56)
    cpu = Upscaler(LoadedGenerator(tiny_rrdbnet(), 4, 3, True, 'tiny'), 'cpu').upscale_tensor(image)
    bf16 = Upscaler(LoadedGenerator(tiny_rrdbnet(), 4, 3, True, 'tiny'), 'cuda', tile=24, bf16=True)
    assert {p.dtype for p in bf16.module.parameters()} == {torch.bfloat16}
    assert (bf16.upscale_tensor(image) - cpu).abs().max() < 4 / 255


def test_sfd_iqa_in_bfloat16_on_the_gpu_is_within_the_stated_tolerance(tmp_path):
    from sfd_basicsr.iqa import SFDIQA
    from sfd_basicsr.iqa.sfd_iqa_arch import BF16_TOLERANCE
    _, _, weights = random_sfd_iqa_weights(tmp_path)
    image = torch.rand(2, 3, 1100, 700)
    float32 = SFDIQA(str(weights)).cuda()(image.cuda()).cpu()
    bf16 = SFDIQA(str(weights), bf16=True).cuda()(image.cuda()).cpu()
    assert (bf16 - float32).abs().max() <= BF16_TOLERANCE


@pytest.mark.parametrize('backbone', ['timm:vit_small_patch14_dinov2', 'timm:convnext_atto', 'open_clip:convnext_tiny'])
def test_other_backbones_with_diffaugment_train_on_the_gpu_under_bf16(backbone):
    """Feat-D on each family (TG-D where the backbone has CLIP's text tower), DiffAugment drawn on the device."""
    opt = sfd_options(tgd_weight=0.1 if backbone.startswith('open_clip') else None,
                      diffaugment={'adaptive_target': 0.6, 'adaptive_interval': 1, 'adaptive_images': 8})
    for key in ('network_d', 'network_d_tg'):
        if key in opt:
            opt[key].pop('clip_model')
            opt[key]['backbone'] = backbone
    opt.update(num_gpu=1, use_amp=True, amp_bf16=True)
    model = build_model(opt)
    assert model.encoder.mean.is_cuda and model.encoder.layout.model_name == backbone.replace('open_clip:', '')
    data = batch()
    model.feed_data({key: value[..., :56, :56] if key == 'gt' else value[..., :14, :14] for key, value in data.items()})
    for it in (1, 2, 3):
        model.optimize_parameters(it)
    log = model.get_current_log()
    assert all(torch.isfinite(torch.as_tensor(v)) for v in log.values())
    assert 0 <= log['diffaugment_p'] <= 1
