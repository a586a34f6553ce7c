"""SFDModel's iteration: one encoder pass per image batch, switchable discriminators, DiffAugment before the encoder."""
import copy

import pytest
import torch
from basicsr.models import build_model

from helpers.models import batch, count_encoder_calls, sfd_options


def test_one_encoder_pass_on_sr_and_one_on_gt_per_iteration():
    model = build_model(sfd_options())
    assert model.net_d_tg.has_text_features()  # computed once at set-up, for the first generator step
    calls = count_encoder_calls(model)
    text_passes = []
    model.net_d_tg.prompts.register_forward_hook(lambda *args: text_passes.append(1))
    model.feed_data(batch())
    model.optimize_parameters(1)
    assert len(calls) == 2
    assert calls[0] is model.output and calls[0].requires_grad
    assert calls[1] is model.gt
    log = model.get_current_log()
    assert {'l_g_pix', 'l_g_featd', 'l_g_tgd', 'l_d_featd_real', 'l_d_featd_fake', 'l_d_tgd_real',
            'l_d_tgd_fake', 'out_d_featd_real', 'out_d_featd_fake', 'out_d_tgd_real', 'out_d_tgd_fake'} <= set(log)
    calls.clear()
    text_passes.clear()
    model.optimize_parameters(2)
    assert len(calls) == 2
    # one text pass, in the discriminator step (with gradient to the prompts); none in the generator step
    assert len(text_passes) == 1


def test_skipped_generator_step_still_encodes_each_batch_once():
    model = build_model(sfd_options(net_d_init_iters=5))
    calls = count_encoder_calls(model)
    model.feed_data(batch())
    model.optimize_parameters(1)
    assert len(calls) == 2 and 'l_g_total' not in model.get_current_log()


def test_with_both_weights_zero_the_generator_loss_is_the_pixel_loss():
    model = build_model(sfd_options(featd_weight=0, tgd_weight=0))
    assert model.net_d is None and model.net_d_tg is None and model.encoder is None
    model.feed_data(batch())
    model.optimize_parameters(1)
    log = model.get_current_log()
    assert set(log) == {'l_g_pix', 'l_g_total'}
    assert log['l_g_total'] == pytest.approx(log['l_g_pix'])


@pytest.mark.parametrize('off', ['featd_opt', 'tgd_opt'])
def test_each_discriminator_switches_off_alone(off):
    opt = sfd_options()
    opt['train'].pop(off)
    model = build_model(opt)
    model.feed_data(batch())
    model.optimize_parameters(1)
    log = model.get_current_log()
    name = 'featd' if off == 'featd_opt' else 'tgd'
    other = 'tgd' if name == 'featd' else 'featd'
    assert f'l_g_{name}' not in log and f'l_d_{name}_real' not in log
    assert f'l_g_{other}' in log and f'l_d_{other}_real' in log
    assert len(model.optimizer_d.param_groups) == 1


def test_discriminator_optimizer_has_featd_and_prompt_groups():
    opt = sfd_options(optim_d_tg={'lr': 5e-4})
    model = build_model(opt)
    featd_group, prompt_group = model.optimizer_d.param_groups
    assert featd_group['lr'] == 1e-4 and prompt_group['lr'] == 5e-4
    assert prompt_group['params'] == [model.net_d_tg.prompts.ctx]
    assert len(model.schedulers) == 2


def test_discriminators_on_different_encoders_are_refused():
    opt = sfd_options()
    opt['network_d_tg']['clip_model'] = 'RN101'
    with pytest.raises(ValueError, match='both discriminators share one CLIP encoder pass'):
        build_model(copy.deepcopy(opt))


def test_loss_set_without_its_network_is_refused():
    opt = sfd_options()
    opt.pop('network_d_tg')
    with pytest.raises(ValueError, match='network_d_tg'):
        build_model(opt)


def augmented_model(**diffaugment):
    return build_model(sfd_options(diffaugment={'probability': 1.0, **diffaugment}))


@pytest.mark.parametrize('net_d_init_iters', [0, 5], ids=['generator step', 'generator step skipped'])
def test_diffaugment_gives_the_sr_and_the_gt_pass_the_same_transform(net_d_init_iters):
    model = build_model(sfd_options(net_d_init_iters=net_d_init_iters, diffaugment={'probability': 1.0}))
    calls = count_encoder_calls(model)
    model.feed_data(batch())
    with torch.no_grad():  # a GT equal to the output: one transform for both gives one encoder input
        model.gt = model.net_g(model.lq)
    model.optimize_parameters(1)
    sr, gt = calls if net_d_init_iters == 0 else calls[::-1]
    assert sr is not model.output and gt is not model.gt  # both augmented (p = 1)
    assert not torch.equal(gt, model.gt)
    torch.testing.assert_close(sr, gt, rtol=0, atol=0)


def test_diffaugment_gradient_reaches_the_generator_from_the_discriminators_alone():
    opt = sfd_options(diffaugment={'probability': 1.0})
    opt['train']['pixel_opt']['loss_weight'] = 0  # BasicSR's SRModel wants a pixel or perceptual loss
    model = build_model(opt)
    model.feed_data(batch())
    model.optimize_parameters(1)
    assert model.get_current_log()['l_g_pix'] == 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.net_g.parameters())


def test_diffaugment_p_is_logged_every_iteration_as_a_plain_number():
    model = augmented_model(probability=0.25)
    model.feed_data(batch())
    for it in (1, 2):
        model.optimize_parameters(it)
        assert model.get_current_log()['diffaugment_p'] == 0.25
        assert type(model.log_dict['diffaugment_p']) is float


def test_diffaugment_without_discriminators_is_off():
    model = build_model(sfd_options(featd_weight=0, tgd_weight=0, diffaugment={'probability': 1.0}))
    model.feed_data(batch())
    model.optimize_parameters(1)
    assert model.diffaugment is None and set(model.get_current_log()) == {'l_g_pix', 'l_g_total'}


@pytest.mark.parametrize('off, expected_dims', [(None, 4), ('featd_opt', 2)], ids=['Feat-D map', 'TG-D without Feat-D'])
def test_ada_reads_featd_real_logits_and_tgd_when_featd_is_off(off, expected_dims):
    opt = sfd_options(diffaugment={'adaptive_target': 0.6})
    if off:
        opt['train'].pop(off)
    model = build_model(opt)
    observed = []
    model.diffaugment.observe = lambda logits: observed.append(logits)
    model.feed_data(batch())
    model.optimize_parameters(1)
    assert len(observed) == 1 and observed[0].dim() == expected_dims and observed[0].shape[0] == 2
    # the real images' logits (their mean logged as out_d_*_real, checked in test_adversarial_training), not the SR's
    log, name = model.get_current_log(), 'tgd' if off else 'featd'
    assert log[f'out_d_{name}_real'] != pytest.approx(log[f'out_d_{name}_fake'], rel=1e-3)
    assert observed[0].mean().item() == pytest.approx(log[f'out_d_{name}_real'], rel=1e-5)


def test_ada_moves_the_logged_p_after_its_interval_towards_its_target():
    model = augmented_model(probability=0.5, adaptive_target=0.6, adaptive_interval=2, adaptive_images=40)
    model.feed_data(batch())
    observe, observed, logged = model.diffaugment.observe, [], []
    model.diffaugment.observe = lambda logits: (observed.append(logits.clone()), observe(logits))
    for it in (1, 2, 3):
        model.optimize_parameters(it)
        logged.append(model.get_current_log()['diffaugment_p'])
    r_t = torch.cat([logits.flatten() for logits in observed[:2]]).sign().mean().item()
    assert r_t != 0.6 and logged[:2] == [0.5, 0.5]
    # after iteration 2: 2 iterations x 2 images / 40, up where the real logits are positive more often than 0.6 says
    assert logged[2] == pytest.approx(0.5 + (0.1 if r_t > 0.6 else -0.1))


def test_an_adaptive_p_and_its_sums_are_in_the_training_state():
    model = augmented_model(probability=0.5, adaptive_target=0.6, adaptive_interval=4)
    model.feed_data(batch())
    for it in (1, 2, 3):
        model.optimize_parameters(it)
    saved = model.training_state(0, 3)
    assert 'diffaugment' in saved
    state = saved['diffaugment']
    assert (state['probability'], state['images']) == (0.5, 6) and state['logits'] == 6 * 8 * 8  # Feat-D: 1/8 of 64 px
    resumed = augmented_model(probability=0.0, adaptive_target=0.6, adaptive_interval=4)
    resumed.resume_training(saved)
    assert resumed.diffaugment.state_dict() == state


def test_a_state_without_the_adaptive_p_resumes_from_the_options_and_a_fixed_p_is_the_options(caplog):
    saved = build_model(sfd_options()).training_state(0, 3)
    adaptive = augmented_model(probability=0.2, adaptive_target=0.6)
    adaptive.resume_training(saved)
    assert adaptive.diffaugment.probability == 0.2
    assert 'holds no adaptive DiffAugment probability: it starts again at train.diffaugment.probability (0.2)' \
        in caplog.text
    fixed = augmented_model(probability=0.3)
    fixed.resume_training({**saved, 'diffaugment': {'probability': 0.9, 'signs': 0.0, 'logits': 0, 'images': 0}})
    assert fixed.diffaugment.probability == 0.3 and 'diffaugment' not in fixed.training_state(0, 3)
