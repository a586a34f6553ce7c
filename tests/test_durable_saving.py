"""Our models' checkpoint files: BasicSR's names and keys, the last trained iteration in every network file
(``*_latest.pth`` too), a training state written by rank 0 alone and none for BasicSR's final save. Files are read
back with torch's own reader and loaded into BasicSR's network."""
import os

import pytest
import torch
from basicsr.archs.rrdbnet_arch import RRDBNet
from basicsr.models import build_model

from helpers.models import STOCK_G, batch, sfd_options

NETWORKS = ('net_d', 'net_d_tg', 'net_g')


def saving(options, tmp_path):
    """An SFD model whose ``models`` and ``training_states`` folders are empty folders under ``tmp_path``."""
    torch.manual_seed(0)
    model = build_model(options)
    for folder in ('models', 'training_states'):
        os.mkdir(tmp_path / folder)
        model.opt['path'][folder] = str(tmp_path / folder)
    return model, tmp_path


@pytest.fixture
def saving_model(tmp_path):
    return saving(sfd_options(), tmp_path)


def test_the_latest_networks_record_the_last_trained_iteration_and_load_into_basicsrs_network(saving_model):
    model, folder = saving_model
    model.feed_data(batch())
    model.optimize_parameters(3)
    model.save(0, -1)  # BasicSR's save when training ends: current_iter -1, files named *_latest
    assert sorted(os.listdir(folder / 'models')) == [f'{net}_latest.pth' for net in NETWORKS]
    assert os.listdir(folder / 'training_states') == [], 'BasicSR saves no training state at -1'
    for net in NETWORKS:
        assert torch.load(folder / 'models' / f'{net}_latest.pth', weights_only=True)['iter'] == 3, net
    stock = RRDBNet(**{k: v for k, v in STOCK_G.items() if k != 'type'})
    stock.load_state_dict(torch.load(folder / 'models' / 'net_g_latest.pth', weights_only=True)['params'])
    for key, value in model.net_g.state_dict().items():
        assert torch.equal(stock.state_dict()[key], value), key


def test_a_resumed_model_records_the_resumed_iteration_until_it_trains_again(saving_model, own_data_stream):
    model, folder = saving_model
    model.resume_training(model.training_state(0, 5))  # resumed at 5 and saved before training: an export's case
    model.save(0, -1)
    assert torch.load(folder / 'models' / 'net_g_latest.pth', weights_only=True)['iter'] == 5


def test_only_rank_0_writes_the_training_state(saving_model):
    model, folder = saving_model
    model.opt['rank'] = 1  # every process builds the state (it gathers their generators); one writes it
    model.save_training_state(0, 5)
    assert os.listdir(folder / 'training_states') == []
    model.opt['rank'] = 0
    model.save_training_state(0, 5)
    assert os.listdir(folder / 'training_states') == ['5.state']
    state = torch.load(folder / 'training_states' / '5.state', weights_only=False)
    assert (state['epoch'], state['iter'], len(state['optimizers'])) == (0, 5, 2)


def test_with_ema_the_generator_file_holds_params_and_params_ema_under_basicsrs_keys(tmp_path):
    model, _ = saving(sfd_options(ema_decay=0.5), tmp_path)
    model.feed_data(batch())
    model.optimize_parameters(1)
    model.save(0, 1)
    saved = torch.load(tmp_path / 'models' / 'net_g_1.pth', weights_only=True)
    for key, trained in (('params', model.net_g), ('params_ema', model.net_g_ema)):
        stock = RRDBNet(**{k: v for k, v in STOCK_G.items() if k != 'type'})
        stock.load_state_dict(saved[key])
        assert all(torch.equal(stock.state_dict()[k], v) for k, v in trained.state_dict().items()), key
    assert not torch.equal(saved['params']['conv_first.weight'], saved['params_ema']['conv_first.weight'])
