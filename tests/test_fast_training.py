"""traiNNer-redux's speed options in our models: channels-last, compiled networks with BasicSR's key names, the
gradient scalers in the training state, and no checkpoint of non-finite weights."""
import os

import pytest
import torch
from basicsr.archs.rrdbnet_arch import RRDBNet
from basicsr.models import build_model

from helpers.models import TINY_RRDB, batch, sfd_options
from helpers.training import logged_losses, read_log, run_basicsr, tiny_train_options, write_options
from sfd_basicsr.utils.atomic import OutputWriteError
from sfd_basicsr.utils.checkpoint_file import read_checkpoint


def built(**speed):
    torch.manual_seed(0)
    opt = sfd_options()
    opt.update(speed)
    model = build_model(opt)
    model.feed_data(batch())
    return model


def convolution_weights(net):
    """4-D parameters with kernels wider than 1 px (for 1x1 kernels both layouts are the same)."""
    return [p for p in net.parameters() if p.dim() == 4 and p.shape[-1] > 1]


def test_channels_last_networks_train_like_the_default_layout():
    reference = built()
    reference.optimize_parameters(1)
    model = built(use_channels_last=True)
    for net in (model.net_g, model.net_d):
        weights = convolution_weights(net)
        assert weights and all(w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous()
                               for w in weights)
    model.optimize_parameters(1)
    expected = reference.get_current_log()
    for key, value in model.get_current_log().items():
        assert value == pytest.approx(expected[key], rel=1e-4, abs=1e-6), key
    assert set(model.net_g.state_dict()) == set(reference.net_g.state_dict())


def test_a_training_step_reads_no_loss_back_to_the_host_until_the_log_is_read(monkeypatch):
    from collections import OrderedDict

    from basicsr.models.base_model import BaseModel
    import traceback
    model = built()
    reads = []

    def recorded(name, real):
        def read(self, *args, **kwargs):
            caller = traceback.extract_stack(limit=2)[0].filename
            if 'basicsr' in caller:  # BasicSR's and ours (torch's Adam reads its CPU step counters: no GPU sync)
                reads.append(name)
            return real(self, *args, **kwargs)
        return read

    for name in ('item', 'tolist', '__float__'):
        monkeypatch.setattr(torch.Tensor, name, recorded(name, getattr(torch.Tensor, name)))
    model.optimize_parameters(1)
    assert reads == [], 'each .item() is a host sync (a stalled GPU step)'
    log = model.get_current_log()
    assert reads == ['tolist'], 'one read for the whole log'
    monkeypatch.undo()
    losses = OrderedDict(a=torch.tensor([1.0, 2.0]), b=torch.tensor(0.25, requires_grad=True))
    assert model.reduce_loss_dict(losses) == pytest.approx(BaseModel.reduce_loss_dict(model, losses))
    assert all(isinstance(value, float) for value in log.values()) and 'l_g_total' in log


def test_the_gradient_scalers_are_part_of_the_training_state(tmp_path, own_data_stream):
    model = built(use_amp=True)
    model.optimize_parameters(1)  # at torch's initial scale (65536) some step overflows: its scale falls
    scales = {name: getattr(model, name).scaler.get_scale() for name in ('optimizer_g', 'optimizer_d')}
    skipped = {name: getattr(model, name).skipped for name in scales}
    assert min(scales.values()) < 65536 and sum(skipped.values()) >= 1
    path = tmp_path / '1.state'
    torch.save(model.training_state(0, 1), path)
    state = read_checkpoint(str(path), 'path.resume_state')  # the safe reader training resumes with
    assert set(state.get('grad_scalers', {})) == {'optimizer_g', 'optimizer_d'}
    assert state['grad_scalers']['optimizer_g']['scaler'] == model.optimizer_g.scaler.state_dict()
    resumed = built(use_amp=True)
    for net in ('net_g', 'net_d', 'net_d_tg'):  # what BasicSR loads from the network files
        getattr(resumed, net).load_state_dict(getattr(model, net).state_dict())
    resumed.resume_training(state)
    for name in scales:
        assert getattr(resumed, name).scaler.get_scale() == scales[name]
        assert getattr(resumed, name).skipped == skipped[name]
    model.optimize_parameters(2)
    resumed.optimize_parameters(2)
    expected = model.get_current_log()
    assert resumed.get_current_log() == pytest.approx(expected, rel=1e-6), 'the resumed step is the same step'


def test_a_state_without_scalers_resumes_at_the_initial_scale_and_says_so(monkeypatch):
    import sfd_basicsr.models.fast_training as fast_training
    warnings = []
    monkeypatch.setattr(fast_training, 'get_root_logger',
                        lambda: type('Logger', (), {'warning': staticmethod(warnings.append)}))
    state = built().training_state(0, 3)  # saved by a float32 run
    model = built(use_amp=True)
    model.resume_training(state)
    assert model.optimizer_g.scaler.get_scale() == 65536.0
    assert len(warnings) == 2 and 'holds no gradient scaler for optimizer_g' in warnings[0]


def test_weights_that_are_not_finite_are_never_saved(tmp_path):
    model = built()
    model.opt['path'].update(models=str(tmp_path), training_states=str(tmp_path))
    model.save(0, 5)
    assert sorted(os.listdir(tmp_path)) == ['5.state', 'net_d_5.pth', 'net_d_tg_5.pth', 'net_g_5.pth']
    with torch.no_grad():
        model.net_d.head[-1].bias.fill_(float('nan'))
    with pytest.raises(OutputWriteError, match=r'net_d not saved at iter 6: 1 of its tensors are not finite '
                                               r'\(first: head\.4\.bias\)'):
        model.save(0, 6)
    assert 'net_d_6.pth' not in os.listdir(tmp_path)



def test_infinite_weights_and_those_of_the_ema_generator_are_refused_too(tmp_path):
    torch.manual_seed(0)
    model = build_model(sfd_options(ema_decay=0.999))  # net_g is saved with its EMA copy: one file, two networks
    model.opt['path'].update(models=str(tmp_path), training_states=str(tmp_path))
    with torch.no_grad():
        model.net_g_ema.conv_last.bias[0] = float('inf')  # overflow, not NaN
    with pytest.raises(OutputWriteError, match=r'net_g not saved at iter 7: 1 of its tensors are not finite '
                                               r'\(first: conv_last\.bias\)'):
        model.save(0, 7)
    assert os.listdir(tmp_path) == []


def test_logged_losses_are_averaged_over_the_processes_as_basicsr_averages_them(monkeypatch):
    from collections import OrderedDict

    from basicsr.models.base_model import BaseModel
    model = built()
    model.opt.update(dist=True, rank=0, world_size=2)

    def reduce(tensor, dst):  # no process group: the other process's losses (3 and 5) summed in, as onto rank 0
        assert dst == 0
        tensor.add_(torch.tensor([3.0, 5.0]))
    monkeypatch.setattr(torch.distributed, 'reduce', reduce)

    def losses():
        return OrderedDict(l_a=torch.tensor(1.0), l_b=torch.tensor(3.0))
    ours = {key: float(value) for key, value in model.reduce_loss_dict(losses()).items()}
    assert ours == {'l_a': 2.0, 'l_b': 4.0} == BaseModel.reduce_loss_dict(model, losses())

@pytest.mark.slow
def test_a_compiled_bf16_run_saves_models_that_upscale_spandrel_and_stock_basicsr_load(tmp_path, basicsr_main):
    opt = tiny_train_options(tmp_path, name='compiled', iters=2, with_val=False, warm_start=False)
    opt['network_g'] = {'type': 'RRDBNet', **TINY_RRDB}  # spandrel reads ESRGAN's 32 growth channels
    opt['logger']['save_checkpoint_freq'] = 2
    opt.update(use_amp=True, amp_bf16=True, use_channels_last=True, use_compile=True, compile_mode='default')
    result = run_basicsr(['train', '-opt', write_options(tmp_path / 'compiled.yml', opt)], cwd=tmp_path, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    experiment = tmp_path / 'experiments' / 'compiled'
    assert sorted(logged_losses(read_log(experiment, 'train_compiled'))) == [1, 2]
    saved = torch.load(experiment / 'models' / 'net_g_latest.pth')
    assert set(saved['params']) == set(RRDBNet(**TINY_RRDB).state_dict()), 'no _orig_mod. in the key names'
    stock = RRDBNet(**TINY_RRDB)
    stock.load_state_dict(saved['params_ema'], strict=True)
    for net in ('net_d', 'net_d_tg'):
        assert not any('_orig_mod' in key for key in torch.load(experiment / 'models' / f'{net}_latest.pth')['params'])

    from spandrel import ModelLoader
    descriptor = ModelLoader().load_from_file(str(experiment / 'models' / 'net_g_latest.pth'))
    image = torch.rand(1, 3, 12, 16)
    with torch.no_grad():
        torch.testing.assert_close(descriptor.model.eval()(image), stock.eval()(image), rtol=1e-5, atol=1e-6)
    lr = tmp_path / 'lr'
    lr.mkdir()
    import cv2
    import numpy as np
    cv2.imwrite(str(lr / 'a.png'), np.random.default_rng(0).integers(0, 255, (12, 16, 3), np.uint8))
    upscaled = basicsr_main(['upscale', '-i', lr, '-o', tmp_path / 'sr', '-m', experiment, '-q'], cwd=tmp_path)
    assert upscaled.returncode == 0, upscaled.stderr
    assert cv2.imread(str(tmp_path / 'sr' / 'a.png')).shape == (48, 64, 3)
    exported = basicsr_main(['export', '-m', experiment, '-o', tmp_path / 'g.safetensors'], cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr  # export checks spandrel rebuilds the same network
    with torch.no_grad():
        torch.testing.assert_close(ModelLoader().load_from_file(str(tmp_path / 'g.safetensors')).model.eval()(image),
                                   stock(image), rtol=1e-5, atol=1e-6)
