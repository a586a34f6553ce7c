"""Mixed precision in our models' training steps: bf16 autocast with float32 losses, fp16 with a gradient scaler per
optimiser (CPU: torch's autocast and ``GradScaler('cpu')``); expected values come from the same model in float32."""
import pytest
import torch
from basicsr.models import build_model
from torch import nn

from helpers.models import CLIP, batch, sfd_options, stock_options
from sfd_basicsr.models.mixed_precision import MixedPrecision

SED_D = {'type': 'SeDPatchDiscriminator', 'num_feat': 8, 'fused_channels': 8, 'clip_model': CLIP, 'pretrained': None}


def options(model_type, fused=True, **speed):
    opt = stock_options(model_type, SED_D) if model_type == 'SeDModel' else dict(sfd_options(), model_type=model_type)
    opt.update(speed)
    for key in ('optim_g', 'optim_d'):  # the options files' fused Adam, or torch's default implementation
        opt['train'][key] = {**opt['train'][key], 'fused': fused}
    return opt


def built(model_type, fused=True, **speed):
    torch.manual_seed(0)
    model = build_model(options(model_type, fused, **speed))
    if model_type == 'SFDRealModel':  # the pair its degradations would make, and the USM-sharpened GT it trains on
        data = batch()
        model.lq, model.gt = data['lq'], data['gt']
        model.gt_usm = model.usm_sharpener(model.gt)
    else:
        model.feed_data(batch())
    return model


def gradients_at_each_step(model):
    """``{optimiser name: [gradient of each parameter]}`` as each real optimiser's ``step`` receives them."""
    seen = {}
    for name in ('optimizer_g', 'optimizer_d'):
        optimizer = getattr(getattr(model, name), 'optimizer', getattr(model, name))
        real_step = optimizer.step

        def step(*args, _name=name, _optimizer=optimizer, _step=real_step, **kwargs):
            # a fused Adam is handed scaled gradients and the scale, and unscales inside its kernel
            scale = getattr(_optimizer, 'grad_scale', None)
            seen[_name] = [p.grad.clone() / (1 if scale is None else scale)
                           for group in _optimizer.param_groups for p in group['params'] if p.grad is not None]
            return _step(*args, **kwargs)
        optimizer.step = step
    return seen


def set_scale(optimizer, scale):
    optimizer.load_state_dict({'scaler': {**optimizer.scaler.state_dict(), 'scale': scale}, 'skipped': 0})


def relative_error(a, b):
    return float((a - b).norm() / a.norm().clamp_min(1e-12))


def test_bf16_autocasts_generator_encoder_text_tower_and_discriminators_and_keeps_the_losses_float32():
    reference = built('SFDModel')
    reference.optimize_parameters(1)
    model = built('SFDModel', use_amp=True, amp_bf16=True)
    assert model.optimizer_g is model.optimizers[0], 'bf16 needs no gradient scaler'
    dtypes = {}

    def record(name):
        def hook(module, args, out):
            dtypes.setdefault(name, (out if torch.is_tensor(out) else next(iter(out.values()))).dtype)
        return hook
    model.net_g.register_forward_hook(record('generator'))
    model.encoder.register_forward_hook(record('encoder'))
    model.net_d_tg.prompts.register_forward_hook(record('text tower'))
    model.net_d.register_forward_hook(record('Feat-D'))
    gan_inputs = []
    model.cri_featd.loss.register_forward_pre_hook(
        lambda module, args: gan_inputs.append((args[0].dtype, torch.is_autocast_enabled('cpu'))))
    model.optimize_parameters(1)
    assert dtypes == dict.fromkeys(['generator', 'encoder', 'text tower', 'Feat-D'], torch.bfloat16)
    assert gan_inputs and set(gan_inputs) == {(torch.float32, False)}, 'GAN losses run in float32, outside autocast'
    expected, log = reference.get_current_log(), model.get_current_log()
    assert set(log) == set(expected)
    for key, value in expected.items():
        assert log[key] == pytest.approx(value, rel=2e-2, abs=2e-3), key


@pytest.mark.parametrize('fused', [True, False], ids=['fused_adam', 'default_adam'])
@pytest.mark.parametrize('model_type', ['SFDModel', 'SFDRealModel', 'SeDModel'])
def test_fp16_scales_each_optimisers_gradients_in_backward_and_unscales_them_before_its_step(model_type, fused):
    reference = built(model_type, fused)
    expected = gradients_at_each_step(reference)
    reference.optimize_parameters(1)
    model = built(model_type, fused, use_amp=True)
    scalers = {model.optimizer_g.scaler, model.optimizer_d.scaler}
    assert len(scalers) == 2 and all(s.is_enabled() for s in scalers), 'one GradScaler per optimiser'
    scales = {'optimizer_g': 2.0**10, 'optimizer_d': 2.0**6}  # low enough that no gradient overflows
    for name, scale in scales.items():
        set_scale(getattr(model, name), scale)
    in_backward, watched = {}, {}
    for name in scales:
        params = [p for group in getattr(model, name).param_groups for p in group['params']]
        watched[name] = next(i for i, p in enumerate(params) if p.dim() > 1)
        params[watched[name]].register_hook(
            lambda grad, _name=name: in_backward.setdefault(_name, []).append(grad.clone()))
    seen = gradients_at_each_step(model)
    model.optimize_parameters(1)
    log = model.get_current_log()
    assert (log['amp_skipped_g'], log['amp_skipped_d']) == (0, 0)
    for name in scales:
        assert len(seen[name]) == len(expected[name])
        for got, want in zip(seen[name], expected[name]):
            assert relative_error(want, got) < 0.05, name
    # in backward, a weight's gradient is the float32 one times its own optimiser's scale
    for name, i in watched.items():
        assert relative_error(expected[name][i] * scales[name], sum(in_backward[name])) < 0.05, name


@pytest.mark.parametrize('fused', [True, False], ids=['fused_adam', 'default_adam'])
def test_fp16_skips_a_step_whose_gradients_overflow_counts_it_and_lowers_only_that_scale(fused):
    model = built('SFDModel', fused, use_amp=True)
    scaler_g = model.optimizer_g.scaler
    set_scale(model.optimizer_g, 3e38)  # any gradient times this is inf
    set_scale(model.optimizer_d, 2.0**6)
    before = {k: v.clone() for k, v in model.net_g.state_dict().items()}
    adam_state = len(model.optimizers[0].state)
    model.optimize_parameters(1)
    log = model.get_current_log()
    assert log['amp_skipped_g'] == 1 and log['amp_skipped_d'] == 0
    assert torch.isfinite(torch.tensor(log['l_g_total'])), 'the loss itself was finite: only its gradient overflowed'
    for key, value in model.net_g.state_dict().items():
        assert torch.equal(value, before[key]), f'{key} changed in a skipped step'
    # torch's loop Adam never starts its state; the fused one starts it and takes its step back (step 0, no moments)
    assert adam_state == 0 and all(
        float(state['step']) == 0 and not state['exp_avg'].any() and not state['exp_avg_sq'].any()
        for state in model.optimizers[0].state.values()), 'Adam never took the step'
    assert scaler_g.get_scale() == pytest.approx(3e38 * 0.5, rel=1e-6)  # torch's backoff factor
    assert model.optimizer_d.scaler.get_scale() == 2.0**6
    model.optimize_parameters(2)
    assert model.get_current_log()['amp_skipped_g'] == 2, 'the count is cumulative'


def test_a_loss_with_gradient_outside_an_optimiser_step_is_refused_under_fp16():
    precision = MixedPrecision('cpu', bf16=False)
    loss = precision.loss(nn.L1Loss())
    prediction = torch.rand(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match='outside an optimiser step'):
        loss(prediction, torch.rand(2, 3))
    with torch.no_grad():
        assert float(loss(prediction, prediction)) == 0  # nothing to scale without a gradient


def test_once_an_optimiser_has_stepped_a_loss_with_gradient_is_refused_again_under_fp16():
    """The step owner ends with its step: a loss computed after it (before the next ``zero_grad``) would otherwise
    have its gradient scaled by a scaler whose step is over, and reach the next step unscaled by the wrong one."""
    precision = MixedPrecision('cpu', bf16=False)
    weight = torch.ones(2, 3, requires_grad=True)
    optimizer = precision.optimizer(torch.optim.SGD([weight], lr=0.1))
    loss = precision.loss(nn.L1Loss())
    optimizer.zero_grad()
    loss(weight, torch.zeros(2, 3)).backward()
    optimizer.step()
    # L1's gradient is sign/6 per element, unscaled before SGD's step: 1 - 0.1 / 6, as in float32
    assert torch.allclose(weight, torch.full((2, 3), 1 - 0.1 / 6))
    with pytest.raises(RuntimeError, match='outside an optimiser step'):
        loss(weight, torch.zeros(2, 3))

def test_a_scaled_optimisers_state_brings_back_its_scale_and_skipped_count():
    precision = MixedPrecision('cpu', bf16=False)
    weights = [torch.ones(3, requires_grad=True) for _ in range(2)]
    first, resumed = (precision.optimizer(torch.optim.SGD([w], lr=0.1)) for w in weights)
    first.zero_grad()
    first.scaler.scale(torch.ones(()))  # what a loss in its step does (scaled_for_backward)
    weights[0].grad = torch.full((3, ), float('inf'))
    first.step()  # overflow: skipped, the scale backs off from torch's initial 2**16 by its factor 0.5
    assert (first.skipped, first.scaler.get_scale()) == (1, 2.0**15)
    resumed.load_state_dict(first.state_dict())
    assert (resumed.skipped, resumed.scaler.get_scale()) == (1, 2.0**15)
    resumed.zero_grad()
    resumed.scaler.scale(torch.ones(()))
    weights[1].grad = torch.ones(3) * 2.0**15  # a finite (scaled) gradient: a step taken, nothing more skipped
    resumed.step()
    assert resumed.skipped == 1 and torch.allclose(weights[1], torch.full((3, ), 0.9))


def test_zero_grad_leaves_no_gradient_as_torchs_optimisers_do():
    weight = torch.ones(3, requires_grad=True)
    plain = torch.optim.SGD([weight], lr=0.1)
    weight.grad = torch.ones(3)
    plain.zero_grad()
    assert weight.grad is None  # torch's default
    scaled = MixedPrecision('cpu', bf16=False).optimizer(torch.optim.SGD([weight], lr=0.1))
    weight.grad = torch.ones(3)
    scaled.zero_grad()
    assert weight.grad is None


def test_a_loss_run_under_autocast_still_gives_a_float32_result():
    class HalfLoss(nn.Module):  # as BasicSR's perceptual loss under autocast: its VGG's result in reduced precision
        def forward(self, x, y):
            return (x - y).abs().mean().to(torch.bfloat16)
    loss = MixedPrecision('cpu', bf16=True).loss(HalfLoss(), under_autocast=True)
    value = loss(torch.rand(2, 3), torch.rand(2, 3))
    assert value.dtype == torch.float32


def test_the_wrapped_loss_reads_like_the_loss_it_wraps():
    precision = MixedPrecision('cpu', bf16=True)
    gan = precision.loss(build_model(sfd_options()).cri_featd)
    assert gan.loss_weight == 0.1 and gan.gan_type == 'vanilla'
    logits = torch.randn(2, 1, 4, 4, dtype=torch.bfloat16)
    with precision.autocast():
        value = gan(logits, True, is_disc=True)
    assert value.dtype == torch.float32
    assert float(value) == pytest.approx(float(nn.functional.binary_cross_entropy_with_logits(
        logits.float(), torch.ones(2, 1, 4, 4))), rel=1e-6)
