"""The adversarial game itself, on a fixed tiny batch: targets, labels, gradients and updates.

Each expected value is computed here, independently of SFDModel, from copies of the discriminators taken
before the iteration, so a flipped target, swapped labels, a missing optimiser step, a detached SR
feature or a loss on the map's mean instead of per position each fail a test.
"""
import pytest
import torch
import torch.nn.functional as F
from basicsr.archs import build_network
from basicsr.models import build_model

from helpers.models import batch, sfd_options, stock_options

WEIGHT = 0.1


def bce(logits, real):
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)  # mean over every position / prompt pair


def clone(net, net_opt):
    """A copy through the state dict (spectral norm's computed weights refuse ``deepcopy``)."""
    twin = build_network(net_opt)
    twin.load_state_dict(net.state_dict())
    return twin.train(net.training)


def model_and_snapshot(**train):
    torch.manual_seed(0)
    options = sfd_options(featd_weight=WEIGHT, tgd_weight=WEIGHT, **train)
    model = build_model(options)
    model.feed_data(batch())
    with torch.no_grad():
        # a random head's map is near constant; widen it so per-position BCE and BCE of the mean differ
        model.net_d.head[-1].weight.mul_(300)
        features = encode(model, model.gt)
        for _ in range(20):  # let spectral norm's power iteration settle, so eval-mode logits are meaningful
            model.net_d(features=features)
    featd_before, tgd_before = clone(model.net_d, options['network_d']), clone(model.net_d_tg, options['network_d_tg'])
    text_before = tgd_before.text_cache.clone()
    model.optimize_parameters(1)
    return model, featd_before, tgd_before, text_before


def encode(model, image):
    with torch.no_grad():
        return model.encoder(image, layers=model.net_d.layers, embedding=True)


def test_generator_losses_are_bce_against_the_real_target_per_position():
    model, featd_before, tgd_before, text_before = model_and_snapshot()
    log = model.get_current_log()
    sr = encode(model, model.output.detach())
    featd_logits = featd_before(features=sr)
    assert featd_logits.shape[-2:] == (8, 8)  # a map: the loss must average BCE over its positions
    expected_featd = WEIGHT * bce(featd_logits, real=True)
    assert log['l_g_featd'] == pytest.approx(expected_featd.item(), rel=1e-4)
    assert log['l_g_featd'] != pytest.approx(WEIGHT * bce(featd_logits.mean((2, 3)), real=True).item(), rel=1e-3)
    expected_tgd = WEIGHT * bce(tgd_before(embedding=sr['embedding'], text_features=text_before), real=True)
    assert log['l_g_tgd'] == pytest.approx(expected_tgd.item(), rel=1e-4)


def test_discriminator_losses_label_hq_real_and_sr_fake():
    model, featd_before, tgd_before, _ = model_and_snapshot()
    log = model.get_current_log()
    gt, sr = encode(model, model.gt), encode(model, model.output.detach())
    featd_before(features=sr)  # the generator step's forward, which advanced spectral norm's power iteration
    both = {key: torch.cat([gt[key], sr[key]]) for key in gt}
    with torch.no_grad():
        real, fake = featd_before(features=both).split(2)
        text = tgd_before.text_features()
        tg_real, tg_fake = tgd_before(embedding=both['embedding'], text_features=text).split(2)
    assert log['l_d_featd_real'] == pytest.approx(bce(real, True).item(), rel=1e-4)
    assert log['l_d_featd_fake'] == pytest.approx(bce(fake, False).item(), rel=1e-4)
    assert log['l_d_tgd_real'] == pytest.approx(bce(tg_real, True).item(), rel=1e-4)
    assert log['l_d_tgd_fake'] == pytest.approx(bce(tg_fake, False).item(), rel=1e-4)
    # the logged mean outputs, as BasicSR's SRGANModel logs out_d_real / out_d_fake
    for name, value in (('featd_real', real), ('featd_fake', fake), ('tgd_real', tg_real), ('tgd_fake', tg_fake)):
        assert log[f'out_d_{name}'] == pytest.approx(value.mean().item(), rel=1e-4, abs=1e-6)


@pytest.mark.parametrize('featd_weight, tgd_weight', [(WEIGHT, 0), (0, WEIGHT)], ids=['featd', 'tgd'])
def test_each_discriminator_sends_gradient_to_the_generator_through_the_encoder(featd_weight, tgd_weight):
    options = sfd_options(featd_weight=featd_weight, tgd_weight=tgd_weight)
    options['train']['pixel_opt']['loss_weight'] = 0  # the generator's only gradient is the adversarial one
    model = build_model(options)
    model.feed_data(batch())
    model.optimize_parameters(1)
    grads = [p.grad for p in model.net_g.parameters()]
    assert all(g is not None for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0


def real_fake_gap(featd, tgd, gt, sr):
    featd.eval(), tgd.eval()
    with torch.no_grad():
        featd_gap = featd(features=gt).mean() - featd(features=sr).mean()
        text = tgd.prompts(tgd.encoder('cpu'))
        tgd_gap = (tgd(embedding=gt['embedding'], text_features=text).mean() -
                   tgd(embedding=sr['embedding'], text_features=text).mean())
    return featd_gap, tgd_gap


def test_one_discriminator_step_updates_both_and_moves_real_and_fake_apart():
    model, featd_before, tgd_before, _ = model_and_snapshot()
    changed = [not torch.equal(a, b) for a, b in zip(featd_before.parameters(), model.net_d.parameters())]
    assert all(changed), 'every Feat-D weight is trained'
    assert not torch.equal(tgd_before.prompts.ctx, model.net_d_tg.prompts.ctx), 'the prompt contexts are trained'
    gt, sr = encode(model, model.gt), encode(model, model.output.detach())
    featd_gap_before, tgd_gap_before = real_fake_gap(featd_before, tgd_before, gt, sr)
    featd_gap_after, tgd_gap_after = real_fake_gap(model.net_d, model.net_d_tg, gt, sr)
    assert featd_gap_after > featd_gap_before
    assert tgd_gap_after > tgd_gap_before


def test_featd_reads_every_configured_layer():
    from helpers.models import tiny_featd
    featd = tiny_featd(layers=['layer1', 'layer2', 'layer3'])
    image = torch.rand(1, 3, 96, 96)
    features = featd.extract(image)
    logits = featd(features=features)
    for name in featd.layers:
        perturbed = dict(features, **{name: features[name] + torch.randn_like(features[name])})
        assert not torch.allclose(featd(features=perturbed), logits, atol=1e-6), f'{name} is ignored'
    featd.zero_grad()
    featd(features=features).sum().backward()
    for name in featd.layers:
        assert featd.project[name].weight_orig.grad.abs().sum() > 0, f'{name} projection gets no gradient'


def test_the_discriminator_step_descends_the_real_and_the_fake_loss_together():
    model, featd_before, _, _ = model_and_snapshot()
    gt, sr = encode(model, model.gt), encode(model, model.output.detach())
    featd_before(features=sr)  # the generator step's forward, which advanced spectral norm's power iteration
    real, fake = featd_before(features={key: torch.cat([gt[key], sr[key]]) for key in gt}).split(2)
    (bce(real, True) + bce(fake, False)).backward()
    for (name, expected), got in zip(featd_before.named_parameters(), model.net_d.parameters()):
        torch.testing.assert_close(got.grad, expected.grad, rtol=1e-3, atol=1e-6, msg=name)


@pytest.mark.parametrize('schedule', [{}, {'net_d_init_iters': 1}, {'net_d_iters': 2}],
                         ids=['both absent: the defaults', 'init 1', 'every 2nd'])
def test_the_generator_steps_when_basicsrs_srgan_model_steps(schedule):
    srgan_options = stock_options('SRGANModel', {'type': 'UNetDiscriminatorSN', 'num_in_ch': 3})
    options = (srgan_options, sfd_options())
    for opt in options:
        del opt['train']['net_d_iters'], opt['train']['net_d_init_iters']  # each model's own defaults
        opt['train'].update(schedule)
    srgan, sfd = (build_model(opt) for opt in options)
    for model in (srgan, sfd):
        model.feed_data(batch())
    for current_iter in (1, 2, 3):
        trained = []
        for model in (srgan, sfd):
            model.optimize_parameters(current_iter)
            trained.append('l_g_pix' in model.get_current_log())  # logged only when the generator steps
        assert trained[0] == trained[1], current_iter


def test_the_ema_generator_follows_basicsrs_update():
    torch.manual_seed(0)
    model = build_model(sfd_options(ema_decay=0.5))
    model.feed_data(batch())
    ema_before = {name: p.detach().clone() for name, p in model.net_g_ema.named_parameters()}
    model.optimize_parameters(1)
    for name, p in model.net_g.named_parameters():  # BasicSR's model_ema: ema * decay + net_g * (1 - decay)
        torch.testing.assert_close(dict(model.net_g_ema.named_parameters())[name].detach(),
                                   0.5 * ema_before[name] + 0.5 * p.detach(), msg=name)
