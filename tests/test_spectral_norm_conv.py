"""SpectralNormConv2d against torch's own ``spectral_norm(nn.Conv2d(...))``: initialisation, parameters, state dicts,
power iteration, outputs and gradients, in both of its ways to divide by sigma."""
import pytest
import torch
from torch import nn
from torch.nn.utils import spectral_norm

from sfd_basicsr.archs.spectral_norm_conv import SpectralNormConv2d, conv_output_numel

# (in, out, kernel, stride, padding, bias, input side): the weight outweighs the output on small inputs
CONVS = [(64, 128, 4, 2, 1, False, 8), (16, 8, 3, 1, 1, True, 32), (32, 16, 1, 1, 0, True, 4),
         (8, 8, 3, 1, 1, False, 64), (64, 128, 4, 2, 1, True, 8), (32, 16, 1, 1, 0, True, 2)]


def ours_and_torchs(in_ch, out_ch, kernel, stride, padding, bias, seed=0):
    torch.manual_seed(seed)
    ours = SpectralNormConv2d(in_ch, out_ch, kernel, stride, padding, bias=bias)
    torch.manual_seed(seed)
    reference = spectral_norm(nn.Conv2d(in_ch, out_ch, kernel, stride, padding, bias=bias))
    return ours, reference


@pytest.mark.parametrize('conv', CONVS)
def test_same_initialisation_parameters_and_keys_as_torch_spectral_norm(conv):
    ours, reference = ours_and_torchs(*conv[:6])
    assert [name for name, _ in ours.named_parameters()] == [name for name, _ in reference.named_parameters()]
    ours_state, reference_state = ours.state_dict(), reference.state_dict()
    assert list(ours_state) == list(reference_state)
    for key, value in reference_state.items():
        assert torch.equal(ours_state[key], value), key


@pytest.mark.parametrize('conv', CONVS)
def test_outputs_gradients_and_power_iteration_match_torch_spectral_norm(conv):
    *layer, side = conv
    ours, reference = ours_and_torchs(*layer)
    real, fake = (torch.randn(2, layer[0], side, side) for _ in range(2))
    grads = []
    for net in (ours, reference):
        inputs = [real.clone().requires_grad_(), fake.clone().requires_grad_()]
        # two forwards before one backward, as a GAN's D(real) and D(fake): each keeps its own u and v
        outputs = [net(x) for x in inputs]
        try:
            (outputs[0].square().mean() - outputs[1].mean()).backward()
        except RuntimeError as error:  # the second forward's power iteration overwrote what the first one's needs
            pytest.fail(f'{type(net).__name__}: backward through two forwards failed: {error}')
        grads.append((outputs, [x.grad for x in inputs], {n: p.grad for n, p in net.named_parameters()}))
    (ours_out, ours_in, ours_params), (ref_out, ref_in, ref_params) = grads
    for a, b in zip(ours_out + ours_in, ref_out + ref_in):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    for name, grad in ref_params.items():
        torch.testing.assert_close(ours_params[name], grad, rtol=1e-4, atol=1e-6, msg=name)
    for name in ('weight_u', 'weight_v'):  # two power iterations done, in place, the same as torch's
        torch.testing.assert_close(getattr(ours, name), getattr(reference, name))


@pytest.mark.parametrize('conv', CONVS[:2])
def test_eval_mode_leaves_the_vectors_and_matches_torch(conv):
    *layer, side = conv
    ours, reference = ours_and_torchs(*layer)
    x = torch.randn(1, layer[0], side, side)
    ours(x), reference(x)  # one training step's iteration first, so the vectors are not the initial ones
    ours.eval(), reference.eval()
    u = ours.weight_u.clone()
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=1e-4, atol=1e-6)
    assert torch.equal(ours.weight_u, u)


@pytest.mark.parametrize('conv', CONVS[:2])
def test_state_dicts_load_both_ways_with_torch_spectral_norm(conv):
    *layer, side = conv
    ours, reference = ours_and_torchs(*layer, seed=1)
    moved, _ = ours_and_torchs(*layer, seed=2)
    x = torch.randn(1, layer[0], side, side)
    moved(x)  # vectors moved by an iteration, so a load that skips them shows
    reference.load_state_dict(moved.state_dict(), strict=True)  # ours -> torch's (no spectral_norm metadata)
    for key, value in moved.state_dict().items():
        assert torch.equal(reference.state_dict()[key], value), key
    ours.load_state_dict(reference.state_dict(), strict=True)  # torch's (with its metadata) -> ours
    ours.eval(), reference.eval()
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=1e-4, atol=1e-6)


def test_under_bf16_autocast_as_torch_spectral_norm():
    ours, reference = ours_and_torchs(64, 128, 4, 2, 1, True)
    x = torch.randn(2, 64, 8, 8)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        a, b = ours(x), reference(x)
    assert a.dtype == b.dtype == torch.bfloat16
    torch.testing.assert_close(a.float(), b.float(), rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize('conv', CONVS)
def test_divides_the_smaller_of_weight_and_output(conv, monkeypatch):
    *layer, side = conv
    ours, _ = ours_and_torchs(*layer)
    x = torch.randn(2, layer[0], side, side)
    seen = []
    conv_forward = ours._conv_forward
    monkeypatch.setattr(ours, '_conv_forward',
                        lambda i, w, b: seen.append(w is ours.weight_orig) or conv_forward(i, w, b))
    out = ours(x)
    assert seen == [out.numel() < ours.weight_orig.numel()], (out.numel(), ours.weight_orig.numel())


@pytest.mark.parametrize('shape,kernel,stride,padding', [((2, 3, 8, 8), 4, 2, 1), ((1, 3, 7, 9), 3, 1, 1),
                                                         ((3, 3, 5, 6), 4, 2, 1), ((1, 3, 9, 4), (3, 1), (2, 1), 0)])
def test_conv_output_numel_is_torch_convolutions(shape, kernel, stride, padding):
    conv = nn.Conv2d(3, 5, kernel, stride, padding)
    assert conv_output_numel(shape, 5, conv.kernel_size, conv.stride, conv.padding) == conv(torch.zeros(shape)).numel()


@pytest.mark.parametrize('conv', CONVS[:2])
def test_a_fresh_layer_in_eval_mode_matches_torch(conv):
    """Before any power iteration sigma is ``u . W v`` with the initial u and v, which are unrelated: not ``|W v|``."""
    *layer, side = conv
    ours, reference = ours_and_torchs(*layer)
    ours.eval(), reference.eval()
    x = torch.randn(1, layer[0], side, side)
    with torch.no_grad():  # a fresh sigma can be small, and the outputs large: a looser tolerance
        torch.testing.assert_close(ours(x), reference(x), rtol=1e-3, atol=1e-5)
