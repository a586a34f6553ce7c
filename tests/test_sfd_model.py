"""SFDModel's iteration: one encoder pass per image batch, switchable discriminators."""
import copy

import pytest
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
