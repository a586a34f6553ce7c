"""What the discriminator sees during training (models/validation_images.py): the first validation images, Feat-D's
realness map and TG-D's realness go to TensorBoard under stable tags, read back with tensorboard's own reader."""
import os

import cv2
import numpy as np
import pytest
import torch
import yaml
from basicsr.data import build_dataloader, build_dataset
from basicsr.models import build_model
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.tensorboard import SummaryWriter

from helpers.models import sfd_options
from helpers.training import run_basicsr, tiny_train_options, write_options
from sfd_basicsr.data.sample_images import write_bicubic_pairs
from sfd_basicsr.training.options_schema import schema_problems
from sfd_basicsr.training.recipe import paired_dataset

OPTIONS = os.path.join(os.path.dirname(__file__), os.pardir, 'options')
VAL_NAMES = ('astronaut', 'chelsea', 'coffee')


def val_loader(folder, size=128):
    hr, lr = write_bicubic_pairs(str(folder / 'val'), VAL_NAMES, size)
    opt = dict(paired_dataset('tiny_val', hr, lr, 'val'), phase='val', scale=4)
    return build_dataloader(build_dataset(opt), opt, num_gpu=0, dist=False)


def first_images(loader, count):
    """The names of the first images BasicSR's validation loader gives (in its folder-listing order)."""
    return [os.path.splitext(os.path.basename(p['lq_path']))[0] for p in loader.dataset.paths[:count]]


def sfd_model(folder, **val):
    opt = sfd_options()
    opt['name'] = 'validation_images'
    opt['path'] = {'visualization': str(folder / 'visualization')}
    opt['val'] = {'val_freq': 1, 'save_img': True, **val}
    return build_model(opt)


def events(folder):
    reader = EventAccumulator(str(folder), size_guidance={'images': 0, 'scalars': 0})
    reader.Reload()
    return reader


def decoded(event):
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(event.encoded_image_string, np.uint8), cv2.IMREAD_COLOR),
                        cv2.COLOR_BGR2RGB)


def rgb_tensor(path):
    return torch.from_numpy(cv2.imread(str(path))[..., ::-1].astype(np.float32) / 255).permute(2, 0, 1)[None]


def test_the_first_validation_images_reach_tensorboard_under_the_same_tags_at_every_validation(tmp_path):
    loader, model = val_loader(tmp_path), sfd_model(tmp_path, log_images=2, log_image_size=64)
    writer = SummaryWriter(str(tmp_path / 'tb'))
    for iteration in (3, 7):
        model.validation(loader, iteration, writer, save_img=True)
    writer.close()
    reader = events(tmp_path / 'tb')
    shown = first_images(loader, 2)
    assert sorted(reader.Tags()['images']) == sorted(
        f'val/tiny_val/{name}/{kind}' for name in shown for kind in ('sr', 'gt', 'featd_map'))
    assert sorted(reader.Tags()['scalars']) == sorted(
        f'val/tiny_val/{name}/{kind}' for name in shown for kind in ('featd_realness', 'tgd_realness'))
    for name in shown:
        tag = f'val/tiny_val/{name}'
        assert [e.step for e in reader.Images(f'{tag}/sr')] == [3, 7]
        assert [e.step for e in reader.Images(f'{tag}/featd_map')] == [3, 7]
        assert [e.step for e in reader.Images(f'{tag}/gt')] == [3]  # the GT does not change
        saved = cv2.imread(str(tmp_path / 'visualization' / name / f'{name}_7.png'))[..., ::-1]  # BasicSR's writer
        expected = cv2.resize(saved, (64, 64), interpolation=cv2.INTER_AREA)
        logged = decoded(reader.Images(f'{tag}/sr')[-1])
        assert logged.shape == expected.shape and np.abs(logged.astype(int) - expected).max() <= 1
        gt = cv2.imread(str(tmp_path / 'val' / 'hr' / f'{name}.png'))[..., ::-1]
        logged = decoded(reader.Images(f'{tag}/gt')[0])
        expected = cv2.resize(gt, (64, 64), interpolation=cv2.INTER_AREA)
        assert logged.shape == expected.shape and np.abs(logged.astype(int) - expected).max() <= 1
        # the networks' own forward on the generator's output for the LR file (unclamped, as training feeds it)
        model.net_d.eval()
        model.net_d_tg.eval()
        with torch.no_grad():
            sr = model.net_g(rgb_tensor(tmp_path / 'val' / 'lr' / f'{name}.png'))
            featd = torch.sigmoid(model.net_d(img=sr)).mean().item()
            tgd = torch.sigmoid(model.net_d_tg(img=sr)).mean().item()
        model.net_d.train()
        model.net_d_tg.train()
        assert reader.Scalars(f'{tag}/featd_realness')[-1].value == pytest.approx(featd, abs=1e-5)
        assert reader.Scalars(f'{tag}/tgd_realness')[-1].value == pytest.approx(tgd, abs=1e-5)


def test_validating_leaves_the_discriminators_as_training_left_them(tmp_path):
    loader, model = val_loader(tmp_path), sfd_model(tmp_path)
    before = {name: {k: v.clone() for k, v in getattr(model, name).state_dict().items()}
              for name in ('net_d', 'net_d_tg')}
    writer = SummaryWriter(str(tmp_path / 'tb'))
    model.validation(loader, 1, writer, save_img=False)
    writer.close()
    assert f'val/tiny_val/{first_images(loader, 1)[0]}/featd_map' in events(tmp_path / 'tb').Tags()['images']
    for name, state in before.items():
        net = getattr(model, name)
        assert net.training
        after = net.state_dict()  # spectral norm's vectors too: a forward in training mode would move them
        assert [k for k in state if not torch.equal(state[k], after[k])] == []


class RecordingLogger:
    """A TensorBoard writer that keeps what it is given."""

    def __init__(self):
        self.logged = {}

    def add_scalar(self, tag, value, step):
        self.logged[tag] = value

    def add_image(self, tag, image, step, dataformats):
        self.logged[tag] = image

    def flush(self):
        pass


def test_validation_with_diffaugment_is_validation_without_it(tmp_path):
    """DiffAugment is for the training step only: metrics, images and realness are those of a model without it."""
    loader, seen = val_loader(tmp_path), []
    for train in ({}, {'diffaugment': {'probability': 1.0}}):
        torch.manual_seed(0)
        opt = sfd_options(**train)
        opt.update(name='validation_diffaugment', val={'val_freq': 1, 'save_img': False, 'log_images': 3, 'metrics': {
            'psnr': {'type': 'calculate_psnr', 'crop_border': 4}}})
        model, logger = build_model(opt), RecordingLogger()
        assert (model.diffaugment is None) == (not train)
        model.validation(loader, 1, logger, save_img=False)
        seen.append(logger.logged)
    without, augmented = seen
    assert 'metrics/tiny_val/psnr' in without
    assert len([tag for tag in without if tag.endswith(('featd_realness', 'tgd_realness'))]) == 6
    assert sorted(augmented) == sorted(without)
    for tag, value in without.items():
        assert np.array_equal(augmented[tag], value), tag


def test_log_images_0_logs_no_image(tmp_path):
    loader, model = val_loader(tmp_path), sfd_model(tmp_path, log_images=0)
    writer = SummaryWriter(str(tmp_path / 'tb'))
    model.validation(loader, 1, writer, save_img=False)
    writer.close()
    assert events(tmp_path / 'tb').Tags()['images'] == []


def test_the_pictures_are_no_larger_than_log_image_size(tmp_path):
    loader, model = val_loader(tmp_path, size=96), sfd_model(tmp_path, log_images=1, log_image_size=40)
    writer = SummaryWriter(str(tmp_path / 'tb'))
    model.validation(loader, 1, writer, save_img=False)
    writer.close()
    reader = events(tmp_path / 'tb')
    sizes = {tag: (reader.Images(tag)[0].width, reader.Images(tag)[0].height) for tag in reader.Tags()['images']}
    name = first_images(loader, 1)[0]
    assert sizes == {f'val/tiny_val/{name}/{kind}': (40, 40) for kind in ('sr', 'gt', 'featd_map')}


@pytest.mark.parametrize('key, value, expected', [
    ('log_images', -1, 'val.log_images: input should be greater than or equal to 0; got -1.'),
    ('log_image_size', 8, 'val.log_image_size: input should be greater than or equal to 16; got 8.'),
    ('log_image_size', 4096, 'val.log_image_size: input should be less than or equal to 2048; got 4096.'),
])
def test_the_options_check_refuses_a_bad_bound(key, value, expected, tmp_path):
    opt = tiny_train_options(str(tmp_path), warm_start=False)
    opt['val'][key] = value
    errors, _ = schema_problems(opt)
    assert errors == [expected]


@pytest.mark.parametrize('name', sorted(n for n in os.listdir(OPTIONS) if n.startswith('train_')))
def test_the_shipped_options_turn_tensorboard_on(name):
    with open(os.path.join(OPTIONS, name)) as f:
        opt = yaml.safe_load(f)
    assert opt['logger']['use_tb_logger'] is True


@pytest.mark.slow
def test_basicsr_train_writes_the_images_into_its_tensorboard_log(tmp_path):
    opt = tiny_train_options(str(tmp_path), name='tb_images', iters=2)
    opt['logger']['use_tb_logger'] = True
    opt['val'].update({'val_freq': 2, 'log_images': 2, 'log_image_size': 48})  # both validation images
    opt['val']['metrics'] = {'psnr': {'type': 'calculate_psnr', 'crop_border': 4}}
    result = run_basicsr(['train', '-opt', write_options(tmp_path / 'o.yml', opt)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    reader = events(tmp_path / 'tb_logger' / 'tb_images')
    assert sorted(reader.Tags()['images']) == [f'val/skimage_val/{name}/{kind}' for name in ('chelsea', 'coffee')
                                               for kind in ('featd_map', 'gt', 'sr')]
    sr = reader.Images('val/skimage_val/chelsea/sr')
    # at val_freq, and BasicSR's validation after the last iteration (its loop ends at total_iter + 1)
    assert [e.step for e in sr] == [2, 3] and max(sr[0].width, sr[0].height) == 48


def test_sed_model_logs_its_output_and_the_gt_only(tmp_path):
    from helpers.models import CLIP, stock_options
    opt = stock_options('SeDModel', {'type': 'SeDPatchDiscriminator', 'num_feat': 8, 'fused_channels': 8,
                                     'clip_model': CLIP, 'pretrained': None})
    opt.update(name='sed_images', val={'val_freq': 1, 'save_img': False, 'log_images': 1})
    loader, model = val_loader(tmp_path), build_model(opt)
    writer = SummaryWriter(str(tmp_path / 'tb'))
    model.validation(loader, 1, writer, save_img=False)
    writer.close()
    name = first_images(loader, 1)[0]
    reader = events(tmp_path / 'tb')
    assert sorted(reader.Tags()['images']) == [f'val/tiny_val/{name}/gt', f'val/tiny_val/{name}/sr']
    assert reader.Tags()['scalars'] == []
