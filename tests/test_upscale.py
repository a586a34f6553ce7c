"""`basicsr upscale` / `basicsr export`: any generator file, exact outputs, tiles, every image kind, safe writes."""
import errno
import os
import re
import shutil

import cv2
import numpy as np
import pytest
import torch
import yaml
from basicsr.archs.rrdbnet_arch import RRDBNet

from sfd_basicsr.inference import GeneratorLoadError, Upscaler, load_generator
from sfd_basicsr.inference.export import export_safetensors
from helpers.training import command_path, torchrun

from helpers.models import TINY_RRDB

SHARED_INPUTS = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, 'shared', 'data', 'realesrgan_inputs')


@pytest.mark.parametrize('source', ['experiment', 'checkpoint_in_experiment', 'basicsr_checkpoint', 'esrgan_release'])
def test_every_model_source_gives_basicsrs_rrdbnet_output(models, source):
    generator = load_generator(models[source])
    assert generator.scale == 4
    assert ('[params_ema]' in generator.source) == (source in ('experiment', 'checkpoint_in_experiment'))
    image = torch.rand(1, 3, 24, 40)
    with torch.no_grad():
        expected = models['reference'](image).clamp(0, 1)  # params_ema, not params
    assert (Upscaler(generator, 'cpu').upscale_tensor(image) - expected).abs().max() <= 1e-5


def test_export_gives_a_safetensors_file_spandrel_loads_with_the_same_output(models, tmp_path):
    exported = tmp_path / 'sfd_x4.safetensors'
    export_safetensors(models['experiment'], exported)
    from spandrel import ModelLoader
    descriptor = ModelLoader().load_from_file(str(exported))
    assert descriptor.scale == 4
    image = torch.rand(1, 3, 20, 28)
    with torch.no_grad():
        assert (descriptor.model(image) - models['reference'](image)).abs().max() <= 1e-5


def test_an_export_on_a_full_disk_keeps_the_previous_file(models, tmp_path, fail_writes):
    from sfd_basicsr.utils.atomic import OutputWriteError
    target = tmp_path / 'g.safetensors'
    target.write_bytes(b'previous version')
    fail_writes('g.safetensors', 10, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    with pytest.raises(OutputWriteError, match=r"cannot write '.*g.safetensors': no space left on device"):
        export_safetensors(models['experiment'], str(target))
    assert target.read_bytes() == b'previous version' and os.listdir(tmp_path) == ['g.safetensors']


def test_export_refuses_a_network_spandrel_would_rebuild_differently(tmp_path, basicsr_main):
    experiment = tmp_path / 'odd'
    (experiment / 'models').mkdir(parents=True)
    odd = dict(TINY_RRDB, num_grow_ch=4)  # spandrel assumes 32 growth channels
    (experiment / 'o.yml').write_text(yaml.safe_dump({'scale': 4, 'network_g': {'type': 'RRDBNet', **odd}}))
    torch.save({'params': RRDBNet(**odd).state_dict()}, experiment / 'models' / 'net_g_1.pth')
    result = basicsr_main(['export', '-m', str(experiment), '-o', str(tmp_path / 'odd.safetensors')], cwd=tmp_path)
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert 'network_g.num_grow_ch is 4, but spandrel (and chaiNNer) rebuild RRDBNet with num_grow_ch 32' in \
        result.stderr.strip().splitlines()[-1]
    assert not (tmp_path / 'odd.safetensors').exists() and os.listdir(tmp_path) == ['odd']


def test_export_refuses_a_file_spandrel_would_not_reproduce(models, tmp_path, monkeypatch):
    from sfd_basicsr.inference import export
    real = export.generator_from_state_dict

    def rebuilt_with_other_weights(state_dict, source):
        generator = real(state_dict, source)
        with torch.no_grad():
            next(generator.module.parameters()).add_(0.1)
        return generator

    monkeypatch.setattr(export, 'generator_from_state_dict', rebuilt_with_other_weights)
    with pytest.raises(GeneratorLoadError, match='spandrel rebuilds a different network from the export'):
        export_safetensors(models['experiment'], tmp_path / 'x.safetensors')
    assert os.listdir(tmp_path) == []


def test_the_demos_generator_is_exportable(tmp_path, basicsr_main):
    from sfd_basicsr.training.demo import demo_options
    network_g = dict(demo_options(str(tmp_path / 'data'), 1, None, warm_start=False)['network_g'])
    experiment = tmp_path / 'demo'
    (experiment / 'models').mkdir(parents=True)
    (experiment / 'o.yml').write_text(yaml.safe_dump({'scale': 4, 'network_g': network_g}))
    options = {k: v for k, v in network_g.items() if k != 'type'}
    torch.save({'params': RRDBNet(**options).state_dict()}, experiment / 'models' / 'net_g_1.pth')
    result = basicsr_main(['export', '-m', str(experiment), '-o', str(tmp_path / 'demo.safetensors')], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    from spandrel import ModelLoader
    assert ModelLoader().load_from_file(str(tmp_path / 'demo.safetensors')).scale == 4


class Payload:
    """Pickles as a call that creates a file: proof of whether a loader ran the checkpoint's code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def upscale_and_export(model, tmp_path, basicsr_main):
    """What ``basicsr upscale`` (of one image into ``o/``) and ``basicsr export`` (to ``x.safetensors``) give."""
    (tmp_path / 'in').mkdir(exist_ok=True)
    cv2.imwrite(str(tmp_path / 'in' / 'a.png'), np.zeros((16, 16, 3), np.uint8))
    return [basicsr_main(command + ['-m', str(model)], cwd=tmp_path)
            for command in (['upscale', '-i', str(tmp_path / 'in'), '-o', str(tmp_path / 'o')],
                            ['export', '-o', str(tmp_path / 'x.safetensors')])]


@pytest.mark.parametrize('value', [float('nan'), float('inf'), float('-inf')])
def test_a_diverged_checkpoint_is_refused_naming_the_weight_and_never_upscaled_or_exported(models, tmp_path, value,
                                                                                          basicsr_main):
    experiment = tmp_path / 'experiments' / 'diverged'
    shutil.copytree(models['experiment'], experiment)
    checkpoint = experiment / 'models' / 'net_g_5.pth'
    saved = torch.load(checkpoint, weights_only=True)
    saved['params_ema']['body.0.rdb2.conv3.weight'][0, 0, 1, 1] = value  # the weights inference reads
    torch.save(saved, checkpoint)
    for result in upscale_and_export(experiment, tmp_path, basicsr_main):
        assert result.returncode == 2, result.stderr[-2000:]
        assert result.stderr.strip().splitlines()[-1].endswith(
            f"'{checkpoint} [params_ema]': weight body.0.rdb2.conv3.weight holds NaN or infinite values (the run "
            'diverged by then?); give an earlier checkpoint, models/net_g_<iter>.pth.')
    assert not (tmp_path / 'o').exists() or not os.listdir(tmp_path / 'o')
    assert not (tmp_path / 'x.safetensors').exists()
    saved['params_ema']['body.0.rdb2.conv3.weight'][0, 0, 1, 1] = 0.5  # the same file, finite: it loads
    torch.save(saved, checkpoint)
    assert load_generator(experiment).source == f'{checkpoint} [params_ema]'


@pytest.mark.parametrize('kind', ['truncated', 'empty', 'text', 'malicious'])
def test_a_bad_checkpoint_in_an_experiment_is_named_in_one_line_and_never_run(models, tmp_path, kind, basicsr_main):
    experiment = tmp_path / 'experiments' / 'bad'
    shutil.copytree(models['experiment'], experiment)
    marker, checkpoint = tmp_path / 'payload_ran', experiment / 'models' / 'net_g_5.pth'
    data = checkpoint.read_bytes()
    if kind == 'malicious':
        torch.save({'params': Payload(str(marker))}, checkpoint)
    else:
        checkpoint.write_bytes({'truncated': data[:len(data) // 2], 'empty': b'', 'text': b'not a checkpoint'}[kind])
    for result in upscale_and_export(experiment, tmp_path, basicsr_main):
        assert result.returncode == 2, result.stderr[-2000:]
        last = result.stderr.strip().splitlines()[-1]
        assert str(checkpoint) in last and 'Traceback' not in result.stderr and 'weights_only' not in result.stderr
        assert not marker.exists(), 'the payload ran'


def test_tiles_with_enough_padding_match_the_whole_image(models):
    generator = load_generator(models['esrgan_release'])
    image = torch.rand(1, 3, 70, 90)
    whole = Upscaler(generator, 'cpu').upscale_tensor(image)
    padded = Upscaler(generator, 'cpu', tile=32, tile_pad=24).upscale_tensor(image)
    unpadded = Upscaler(generator, 'cpu', tile=32, tile_pad=0).upscale_tensor(image)
    assert (padded - whole).abs().max() <= 1e-5
    assert (unpadded - whole).abs().max() > 1e-3  # seams, which the padding removes


@pytest.fixture(scope='module')
def upscaler(models):
    return Upscaler(load_generator(models['experiment']), 'cpu')


def test_grey_alpha_16_bit_and_outscale(upscaler):
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (12, 10), dtype=np.uint8)
    assert upscaler.upscale_array(grey).shape == (48, 40)
    bgra = rng.integers(0, 256, (12, 10, 4), dtype=np.uint8)
    out = upscaler.upscale_array(bgra)
    assert out.shape == (48, 40, 4) and out.dtype == np.uint8
    expected_alpha = cv2.resize(bgra[..., 3].astype(np.float32) / 255, (40, 48), interpolation=cv2.INTER_CUBIC)
    assert np.abs(out[..., 3] / 255. - np.clip(expected_alpha, 0, 1)).max() <= 1 / 255
    deep = (rng.random((12, 10, 3)) * 65535).astype(np.uint16)
    out16 = upscaler.upscale_array(deep)
    assert out16.dtype == np.uint16
    as_float = upscaler.upscale_array(deep.astype(np.float32) / 65535)
    assert np.abs(out16 / 65535. - as_float).max() <= 1 / 65535  # 16 bits kept, not squeezed through 8
    assert upscaler.upscale_array(grey, outscale=2).shape == (24, 20)


def test_float_images_stay_in_0_1_through_the_bicubic_alpha_and_the_lanczos_outscale(upscaler):
    checker = np.indices((12, 10)).sum(axis=0) % 2  # sharp edges: bicubic and Lanczos overshoot them
    bgra = np.dstack([np.repeat(checker[..., None], 3, axis=2), checker]).astype(np.float32)
    alpha = upscaler.upscale_array(bgra)[..., 3]
    resized = cv2.resize(checker.astype(np.float32), (40, 48), interpolation=cv2.INTER_CUBIC)
    assert resized.max() > 1 and np.array_equal(alpha, np.clip(resized, 0, 1))
    bgr = bgra[..., :3].copy()
    at_scale = cv2.resize(upscaler.upscale_array(bgr), (30, 36), interpolation=cv2.INTER_LANCZOS4)
    assert at_scale.max() > 1 or at_scale.min() < 0
    assert np.array_equal(upscaler.upscale_array(bgr, outscale=3), np.clip(at_scale, 0, 1))


def test_the_whole_image_is_upscaled_in_one_pass_where_it_fits_else_the_largest_tile_that_does(upscaler):
    from sfd_basicsr.inference.upscaler import memory_needed
    from sfd_basicsr.utils.memory import TooLarge
    whole = memory_needed(4, 100, 50, 3, 1)
    assert upscaler.tile_that_fits('x.png', 100, 50, 3, 1, available=whole) == 0
    # tiles of 1024 to 128 px cover this 100 x 50 image whole; 64 px tiles (96 px with their context) are smaller
    smallest = memory_needed(4, 100, 50, 3, 1, tile=64, tile_pad=upscaler.tile_pad)
    assert smallest < whole and upscaler.tile_that_fits('x.png', 100, 50, 3, 1, available=smallest) == 64
    with pytest.raises(TooLarge, match="'x.png': upscaling its 50x100 pixels x4 needs at least"):
        upscaler.tile_that_fits('x.png', 100, 50, 3, 1, available=smallest - 1)
    assert upscaler.tile_that_fits('x.png', 100, 50, 3, 1, available=None) == 0  # memory unknown: as asked


def test_half_precision_on_cpu_warns_and_stays_float32(models):
    with pytest.warns(UserWarning, match='CUDA'):
        assert Upscaler(load_generator(models['experiment']), 'cpu', half=True).dtype == torch.float32


def test_bf16_runs_the_network_in_bfloat16_on_any_device_close_to_float32(models):
    generator = load_generator(models['experiment'])
    image = torch.rand(1, 3, 24, 40)
    expected = Upscaler(generator, 'cpu').upscale_tensor(image)
    bf16 = Upscaler(load_generator(models['experiment']), 'cpu', tile=16, bf16=True)
    assert bf16.dtype == torch.bfloat16
    assert {p.dtype for p in bf16.module.parameters()} == {torch.bfloat16}, 'the network itself runs in bfloat16'
    result = bf16.upscale_tensor(image)
    assert result.dtype == torch.float32 and (result - expected).abs().max() < 4 / 255
    with pytest.raises(ValueError, match='two precisions; choose one'):
        Upscaler(generator, 'cpu', half=True, bf16=True)


def test_bf16_for_a_model_without_bfloat16_warns_and_stays_float32(models):
    generator = load_generator(models['experiment'])
    generator.supports_bfloat16 = False
    with pytest.warns(UserWarning, match='does not support bfloat16'):
        assert Upscaler(generator, 'cpu', bf16=True).dtype == torch.float32


def test_upscale_and_evaluate_commands_take_bf16_and_refuse_it_with_half(models, tmp_path, basicsr_main):
    inputs = tmp_path / 'in'
    inputs.mkdir()
    rng = np.random.default_rng(1)
    cv2.imwrite(str(inputs / 'photo.png'), rng.integers(0, 256, (16, 20, 3), dtype=np.uint8))
    images = {}
    for flags in ([], ['--bf16']):
        out = tmp_path / ('bf16' if flags else 'float32')
        result = basicsr_main(['upscale', '-i', inputs, '-o', out, '-m', models['experiment'], '-q', *flags],
                              cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        images[bool(flags)] = cv2.imread(str(out / 'photo.png')).astype(int)
    assert 0 < np.abs(images[True] - images[False]).max() <= 4, 'bfloat16 rounds differently, and only a little'
    for command in (['upscale', '-i', inputs, '-o', tmp_path / 'x'], ['evaluate', '--data', f'set={inputs}']):
        result = basicsr_main([*command, '-m', models['experiment'], '--half', '--bf16'], cwd=tmp_path)
        assert result.returncode == 2 and 'argument --bf16: not allowed with argument --half' in result.stderr


def write_inputs(folder):
    folder.mkdir()
    rng = np.random.default_rng(1)
    cv2.imwrite(str(folder / 'photo.png'), rng.integers(0, 256, (16, 20, 3), dtype=np.uint8))
    cv2.imwrite(str(folder / 'grey.png'), rng.integers(0, 256, (16, 20), dtype=np.uint8))
    cv2.imwrite(str(folder / 'deep.png'), rng.integers(0, 65536, (16, 20, 4), dtype=np.uint16))
    (folder / 'broken.jpg').write_bytes(b'\xff\xd8 not a jpeg')


def test_upscale_command_writes_every_readable_image_and_names_the_others(models, tmp_path, basicsr_main):
    inputs, outputs = tmp_path / 'in', tmp_path / 'out'
    write_inputs(inputs)
    result = basicsr_main(['upscale', '-i', str(inputs), '-o', str(outputs), '-m', str(models['experiment']), '-q',
                          '--tile', '8'], cwd=tmp_path)
    assert result.returncode == 1 and 'broken.jpg' in result.stderr and 'Traceback' not in result.stderr
    assert sorted(os.listdir(outputs)) == ['deep.png', 'grey.png', 'photo.png']
    deep = cv2.imread(str(outputs / 'deep.png'), cv2.IMREAD_UNCHANGED)
    assert deep.shape == (64, 80, 4) and deep.dtype == np.uint16
    assert cv2.imread(str(outputs / 'grey.png'), cv2.IMREAD_UNCHANGED).shape == (64, 80)


def test_upscale_command_never_writes_over_an_input(models, tmp_path, basicsr_main):
    inputs = tmp_path / 'in'
    write_inputs(inputs)
    before = {name: (inputs / name).read_bytes() for name in os.listdir(inputs)}
    result = basicsr_main(['upscale', '-i', str(inputs), '-o', str(inputs), '-m', str(models['basicsr_checkpoint'])],
                          cwd=tmp_path)
    assert result.returncode == 2 and 'would overwrite the input' in result.stderr
    assert {name: (inputs / name).read_bytes() for name in os.listdir(inputs)} == before


def test_a_model_file_that_is_no_generator_is_named(tmp_path, basicsr_main):
    path = tmp_path / 'notes.pth'
    torch.save({'weights': torch.zeros(3)}, path)
    result = basicsr_main(['upscale', '-i', str(tmp_path), '-o', str(tmp_path / 'o'), '-m', str(path)], cwd=tmp_path)
    assert result.returncode == 2 and str(path) in result.stderr and 'Traceback' not in result.stderr


@pytest.mark.skipif(not os.path.isdir(SHARED_INPUTS), reason='../shared/data/realesrgan_inputs is not beside the repo')
def test_real_grey_alpha_and_16_bit_files(upscaler, tmp_path):
    from sfd_basicsr.inference.files import upscale_files
    for name in ('wolf_gray.jpg', 'children-alpha.png', 'tree_alpha_16bit.png'):
        source = cv2.imread(os.path.join(SHARED_INPUTS, name), cv2.IMREAD_UNCHANGED)
        small = cv2.resize(source, (source.shape[1] // 8, source.shape[0] // 8), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(tmp_path / name), small)
    written, failures = upscale_files(Upscaler(upscaler.generator, 'cpu', tile=32), str(tmp_path),
                                      str(tmp_path / 'out'), progress=False)
    assert not failures
    kinds = {os.path.basename(p): cv2.imread(p, cv2.IMREAD_UNCHANGED) for p in written}
    assert kinds['wolf_gray.jpg'].ndim == 2
    assert kinds['children-alpha.png'].shape[2] == 4
    assert kinds['tree_alpha_16bit.png'].dtype == np.uint16 and kinds['tree_alpha_16bit.png'].shape[2] == 4


def test_every_process_upscales_its_share_of_rank_0s_list_gathered_before_any_write(upscaler, tmp_path, monkeypatch):
    """-o equal to -i with a --suffix: a process listing the folder after another wrote into it would see a result as
    an input, and the processes' shares would no longer split one list."""
    from sfd_basicsr.inference.files import upscale_files
    from sfd_basicsr.utils import distributed
    write_inputs(tmp_path / 'in')
    (tmp_path / 'in' / 'broken.jpg').unlink()
    rank_0_list = [str(tmp_path / 'in' / name) for name in ('deep.png', 'grey.png')]  # what rank 0 saw, say
    gathered = []

    def gather(value, world):
        gathered.append((sorted(os.listdir(tmp_path / 'in')), value, world))
        return [rank_0_list, value]
    monkeypatch.setattr(distributed, 'gather', gather)  # rank_0_list's collective
    written, failures = upscale_files(upscaler, str(tmp_path / 'in'), str(tmp_path / 'in'), suffix='_x4',
                                      progress=False, rank=1, world=2)
    own_list = [str(tmp_path / 'in' / name) for name in ('deep.png', 'grey.png', 'photo.png')]
    assert gathered == [(['deep.png', 'grey.png', 'photo.png'], own_list, 2)]  # nothing written yet
    assert (written, failures) == ([str(tmp_path / 'in' / 'grey_x4.png')], [])  # rank 1 of 2: the second of two


@pytest.mark.slow
def test_under_torchrun_a_process_that_cannot_write_stops_every_process_without_a_traceback(models, tmp_path):
    inputs, outputs = tmp_path / 'in', tmp_path / 'out'
    inputs.mkdir()
    for i in range(4):  # process 0 upscales 0.png and 2.png, process 1 1.png and 3.png
        cv2.imwrite(str(inputs / f'{i}.png'), np.full((12, 12, 3), 60 * i, np.uint8))
    (outputs / '1.png').mkdir(parents=True)  # so only process 1 fails to write
    result = torchrun([command_path('basicsr'), 'upscale', '-i', str(inputs), '-o', str(outputs), '-m',
                       str(models['experiment']), '-q', '--device', 'cpu'], cwd=tmp_path)
    assert result.returncode != 0, result.stderr[-3000:]
    assert f"basicsr upscale: stopped: cannot write '{outputs / '1.png'}': Is a directory." in result.stderr
    assert 'sfd_basicsr' not in result.stderr and 'all_gather' not in result.stderr, result.stderr[-3000:]
    assert result.still_joined == [], 'every process leaves its process group before it exits'
    assert sorted(os.listdir(outputs)) == ['0.png', '1.png', '2.png']  # process 0 finished its share


@pytest.mark.slow
def test_upscale_under_torchrun_splits_the_files_and_writes_what_one_process_writes(models, tmp_path, basicsr_main):
    import skimage.data
    inputs = tmp_path / 'in'
    inputs.mkdir()
    names = ['astronaut', 'coffee', 'chelsea', 'rocket', 'camera']
    for name in names:
        image = getattr(skimage.data, name)()
        cv2.imwrite(str(inputs / f'{name}.png'), cv2.resize(image, (20, 16), interpolation=cv2.INTER_AREA))
    single = basicsr_main(['upscale', '-i', str(inputs), '-o', str(tmp_path / 'one'), '-m', str(models['experiment']),
                          '-q', '--device', 'cpu'], cwd=tmp_path)
    assert single.returncode == 0, single.stderr[-3000:]
    split = torchrun([command_path('basicsr'), 'upscale', '-i', str(inputs), '-o', str(tmp_path / 'two'), '-m',
                      str(models['experiment']), '-q', '--device', 'cpu'], cwd=tmp_path)
    assert split.returncode == 0, split.stderr[-3000:]
    assert 'wrote 5 image(s)' in split.stderr and 'on 2 processes (3, 2)' in split.stderr
    assert split.still_joined == [], 'every process leaves its process group before it exits (gloo can abort it)'
    assert split.stderr.count('wrote 5 image(s)') == 1, 'rank 0 reports for both'
    assert sorted(os.listdir(tmp_path / 'two')) == sorted(os.listdir(tmp_path / 'one')) == sorted(
        f'{n}.png' for n in names)
    for name in names:
        one = cv2.imread(str(tmp_path / 'one' / f'{name}.png')).astype(int)
        two = cv2.imread(str(tmp_path / 'two' / f'{name}.png')).astype(int)
        assert one.shape == (64, 80, 3) and np.abs(one - two).max() <= 1, name


def test_upscale_names_truncated_files_and_entries_it_passes_over(models, tmp_path, basicsr_main):
    inputs = tmp_path / 'in'
    inputs.mkdir()
    rng = np.random.default_rng(2)
    for name in ('whole.png', 'cut.png', 'cut.jpg'):
        cv2.imwrite(str(inputs / name), rng.integers(0, 256, (16, 20, 3), dtype=np.uint8))
    for name in ('cut.png', 'cut.jpg'):
        data = (inputs / name).read_bytes()
        (inputs / name).write_bytes(data[:len(data) * 2 // 3])
    (inputs / 'folder.png').mkdir()
    os.symlink(tmp_path / 'gone.png', inputs / 'link.png')
    (inputs / 'notes.txt').write_text('x')
    result = basicsr_main(['upscale', '-i', str(inputs), '-o', str(tmp_path / 'out'), '-m', str(models['experiment']),
                          '-q'], cwd=tmp_path)
    assert result.returncode == 1, result.stderr[-2000:]
    assert os.listdir(tmp_path / 'out') == ['whole.png']
    for name, why in (('cut.png', 'truncated PNG'), ('cut.jpg', 'truncated JPEG'), ('folder.png', 'a folder'),
                      ('link.png', 'a broken link'), ('notes.txt', 'not an image extension')):
        assert any(str(inputs / name) in line and why in line for line in result.stderr.splitlines()), name


def test_upscale_of_a_folder_without_images_fails(models, tmp_path, basicsr_main):
    (tmp_path / 'empty').mkdir()
    result = basicsr_main(['upscale', '-i', str(tmp_path / 'empty'), '-o', str(tmp_path / 'out'), '-m',
                          str(models['experiment'])], cwd=tmp_path)
    assert result.returncode == 2 and 'no image files' in result.stderr and 'Traceback' not in result.stderr


def test_upscale_into_a_read_only_folder_stops_before_any_work(models, tmp_path, read_only_folder, basicsr_main):
    cv2.imwrite(str(tmp_path / 'a.png'), np.zeros((16, 16, 3), np.uint8))
    result = basicsr_main(['upscale', '-i', str(tmp_path / 'a.png'), '-o', str(read_only_folder / 'new'), '-m',
                          str(models['experiment'])], cwd=tmp_path)
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert f"-o '{read_only_folder / 'new'}': " in result.stderr and 'read-only file system' in result.stderr
    assert 'upscale:' not in result.stderr.replace('basicsr upscale:', ''), 'no image was tried'


def test_upscale_on_a_full_disk_stops_naming_the_file_and_leaves_no_short_file(models, tmp_path, small_disk,
                                                                               basicsr_main):
    inputs = tmp_path / 'in'
    inputs.mkdir()
    rng = np.random.default_rng(3)
    for i in range(3):  # each output ~50 KB of noise: the second does not fit on the 64 KiB disk
        cv2.imwrite(str(inputs / f'{i}.png'), rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    result = basicsr_main(['upscale', '-i', str(inputs), '-o', str(small_disk), '-m', str(models['experiment']), '-q'],
                          cwd=tmp_path)
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"basicsr upscale: stopped: cannot write '{small_disk}/") and 'no space left' in last
    for name in os.listdir(small_disk):  # whatever is there is whole
        assert cv2.imread(str(small_disk / name)).shape == (256, 256, 3)
    assert not [name for name in os.listdir(small_disk) if name.endswith('.tmp')]


def test_export_into_a_read_only_folder_is_one_line(models, read_only_folder, tmp_path, basicsr_main):
    """A write failure is exit 1 in every command (docs/inference.md), export included."""
    result = basicsr_main(['export', '-m', str(models['experiment']), '-o', str(read_only_folder / 'g.safetensors')],
                          cwd=tmp_path)
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith('basicsr export: stopped: ') and 'read-only file system' in last


def test_16_bit_images_keep_16_bits_against_basicsrs_network(models, upscaler):
    rng = np.random.default_rng(5)
    deep = rng.integers(0, 65536, (12, 10, 3), dtype=np.uint16)
    got = upscaler.upscale_array(deep)
    rgb = torch.from_numpy(deep[..., ::-1].astype(np.float32) / 65535).permute(2, 0, 1)[None].contiguous()
    with torch.no_grad():  # BasicSR's own RRDBNet with the experiment's EMA weights, outside the upscaler
        expected = models['reference'](rgb).clamp(0, 1)[0].permute(1, 2, 0).numpy()[..., ::-1]
    expected = (expected * 65535).round().astype(np.int64)
    assert got.dtype == np.uint16
    assert np.abs(got.astype(np.int64) - expected).max() <= 2  # an 8-bit detour would be off by ~128 levels


def test_upscale_command_outscale_writes_that_scale(models, tmp_path, basicsr_main):
    (tmp_path / 'in').mkdir()
    cv2.imwrite(str(tmp_path / 'in' / 'a.png'), np.random.default_rng(6).integers(0, 256, (16, 20, 3), np.uint8))
    result = basicsr_main(['upscale', '-i', str(tmp_path / 'in'), '-o', str(tmp_path / 'out'), '-m',
                          str(models['experiment']), '--outscale', '2', '-q'], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert cv2.imread(str(tmp_path / 'out' / 'a.png')).shape == (32, 40, 3)


def test_an_output_whose_format_switches_to_png_is_refused_before_it_lands_on_another_output(models, tmp_path,
                                                                                            basicsr_main):
    folder = tmp_path / 'photos'
    folder.mkdir()
    cv2.imwrite(str(folder / 'a.png'), np.full((16, 16, 3), 9, np.uint8))
    cv2.imwrite(str(folder / 'a.webp'), np.full((16, 16, 4), 200, np.uint8))  # BGRA: its output must be a PNG
    result = basicsr_main(['upscale', '-i', str(folder), '-o', str(tmp_path / 'out'), '-m',
                          str(models['experiment']), '-q'], cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert (f"'{folder / 'a.png'}' and '{folder / 'a.webp'}' would both be written to '{tmp_path / 'out' / 'a.png'}'; "
            'rename one of them or upscale them into different folders.') in result.stderr
    assert not (tmp_path / 'out').exists() or os.listdir(tmp_path / 'out') == []


def test_an_output_whose_format_switches_to_png_never_lands_on_another_input(models, tmp_path, basicsr_main):
    folder = tmp_path / 'photos'
    folder.mkdir()
    cv2.imwrite(str(folder / 'a_x4.png'), np.full((16, 16, 3), 9, np.uint8))
    cv2.imwrite(str(folder / 'a.bmp'), np.full((16, 16, 4), 9, np.uint8))  # BGRA: its output becomes a_x4.png
    before = (folder / 'a_x4.png').read_bytes()
    result = basicsr_main(['upscale', '-i', str(folder), '-o', str(folder), '--suffix', '_x4', '-m',
                          str(models['experiment']), '-q'], cwd=tmp_path)
    assert result.returncode == 1 and 'would overwrite an input' in result.stderr
    assert (folder / 'a_x4.png').read_bytes() == before


def test_a_checkpoint_missing_half_its_weights_is_refused(models, tmp_path):
    experiment = tmp_path / 'experiments' / 'half'
    shutil.copytree(models['experiment'], experiment)
    checkpoint = experiment / 'models' / 'net_g_5.pth'
    state = torch.load(checkpoint, weights_only=True)
    keys = sorted(state['params_ema'])
    state['params_ema'] = {k: state['params_ema'][k] for k in keys[:len(keys) // 2]}
    torch.save(state, checkpoint)
    with pytest.raises(Exception) as raised:  # any exception, so that BasicSR's own (a traceback) fails below
        load_generator(experiment)
    assert isinstance(raised.value, GeneratorLoadError), repr(raised.value)
    message = str(raised.value)
    assert re.search(r"does not fit the experiment's network_g \(RRDBNet\): \d+ missing weights \(first: ", message)
    assert '\n' not in message


def test_negative_tile_options_are_refused_by_the_api_and_the_command(models, tmp_path, basicsr_main):
    generator = load_generator(models['experiment'])
    for tile, pad in ((-1, 16), (64, -2)):
        with pytest.raises(ValueError, match=f'tile and tile_pad must be >= 0; got {tile} and {pad}'):
            Upscaler(generator, 'cpu', tile=tile, tile_pad=pad)
    (tmp_path / 'in').mkdir()
    cv2.imwrite(str(tmp_path / 'in' / 'a.png'), np.zeros((8, 8, 3), np.uint8))
    result = basicsr_main(['upscale', '-i', str(tmp_path / 'in'), '-o', str(tmp_path / 'out'), '-m',
                          str(models['experiment']), '--tile', '-1', '-q'], cwd=tmp_path)
    assert result.returncode == 2 and 'tile and tile_pad must be >= 0; got -1 and 16' in result.stderr
    assert not (tmp_path / 'out').exists() or not os.listdir(tmp_path / 'out')


def test_8_bit_outputs_are_rounded_not_truncated(models, upscaler):
    image = np.random.default_rng(7).integers(0, 256, (12, 10, 3), np.uint8)
    with torch.no_grad():  # BasicSR's network on the RGB image, to 8 bits by rounding, back to BGR
        rgb = torch.from_numpy(image[..., ::-1].astype(np.float32) / 255).permute(2, 0, 1)[None]
        expected = (models['reference'](rgb).clamp(0, 1)[0].permute(1, 2, 0).numpy()[..., ::-1] * 255).round()
    difference = np.abs(upscaler.upscale_array(image).astype(np.float64) - expected)
    assert difference.max() <= 1 and difference.mean() < 0.01  # truncating would be off by one on about half


def test_a_spandrel_model_for_another_task_is_refused(tmp_path, monkeypatch):
    import types

    import spandrel
    descriptor = types.SimpleNamespace(purpose='Inpainting', architecture=types.SimpleNamespace(name='LaMa'),
                                       scale=1, model=torch.nn.Identity(), input_channels=3, supports_half=True)
    monkeypatch.setattr(spandrel.ModelLoader, 'load_from_state_dict', lambda self, state_dict: descriptor)
    torch.save({'w': torch.zeros(1)}, tmp_path / 'lama.pth')
    with pytest.raises(GeneratorLoadError, match='is a LaMa model for Inpainting, not an image-to-image generator'):
        load_generator(tmp_path / 'lama.pth')


def test_an_experiment_of_another_scale_upscales_by_its_own(tmp_path):
    network = RRDBNet(**{**TINY_RRDB, 'scale': 2}).eval()
    experiment = tmp_path / 'experiments' / 'x2'
    (experiment / 'models').mkdir(parents=True)
    (experiment / 'train_x2.yml').write_text(yaml.safe_dump(
        {'scale': 2, 'network_g': {'type': 'RRDBNet', **TINY_RRDB, 'scale': 2}}))
    torch.save({'params': network.state_dict()}, experiment / 'models' / 'net_g_3.pth')
    generator = load_generator(experiment)
    assert generator.scale == 2
    image = torch.rand(1, 3, 10, 12)
    with torch.no_grad():
        expected = network(image).clamp(0, 1)
    output = Upscaler(generator, 'cpu').upscale_tensor(image)
    assert output.shape == (1, 3, 20, 24) and (output - expected).abs().max() <= 1e-5


def test_upscale_command_ext_tile_pad_and_half(models, tmp_path, basicsr_main):
    rng = np.random.default_rng(8)
    (tmp_path / 'in').mkdir()
    cv2.imwrite(str(tmp_path / 'in' / 'a.jpg'), rng.integers(0, 256, (24, 24, 3), np.uint8))

    def upscale(out, *options):
        result = basicsr_main(['upscale', '-i', str(tmp_path / 'in'), '-o', str(tmp_path / out), '-m',
                              str(models['experiment']), '-q', *options], cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
        return result

    upscale('as_png', '--ext', 'png')
    assert os.listdir(tmp_path / 'as_png') == ['a.png']
    upscale('no_context', '--ext', 'png', '--tile', '8', '--tile-pad', '0')
    upscale('whole', '--ext', 'png')
    without_context, whole = (cv2.imread(str(tmp_path / folder / 'a.png')) for folder in ('no_context', 'whole'))
    assert np.abs(without_context.astype(int) - whole.astype(int)).max() > 2  # tiles cut without context show
    half = upscale('half', '--half')
    assert 'half precision needs a CUDA device; running in float32.' in half.stderr
    assert os.listdir(tmp_path / 'half') == ['a.jpg']


def test_two_inputs_that_would_share_one_output_are_refused_before_any_is_written(models, tmp_path, basicsr_main):
    inputs = tmp_path / 'in'
    inputs.mkdir()
    image = np.random.default_rng(10).integers(0, 256, (8, 8, 3), np.uint8)
    cv2.imwrite(str(inputs / 'a.jpg'), image)
    cv2.imwrite(str(inputs / 'a.png'), image)
    result = basicsr_main(['upscale', '-i', str(inputs), '-o', str(tmp_path / 'out'), '-m',
                          str(models['experiment']), '--ext', 'png', '-q'], cwd=tmp_path)
    assert result.returncode == 2 and 'would both be written to' in result.stderr and "give --ext" in result.stderr
    assert not (tmp_path / 'out').exists() or not os.listdir(tmp_path / 'out')


def test_export_refuses_an_experiment_whose_scale_spandrel_reads_otherwise(tmp_path, basicsr_main):
    experiment = tmp_path / 'mislabelled'
    (experiment / 'models').mkdir(parents=True)  # options say x2, the network is x4
    (experiment / 'o.yml').write_text(yaml.safe_dump({'scale': 2, 'network_g': {'type': 'RRDBNet', **TINY_RRDB}}))
    torch.save({'params': RRDBNet(**TINY_RRDB).state_dict()}, experiment / 'models' / 'net_g_1.pth')
    result = basicsr_main(['export', '-m', str(experiment), '-o', str(tmp_path / 'x.safetensors')], cwd=tmp_path)
    assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr[-2000:]
    assert 'spandrel reads the exported file as x4, not x2.' in result.stderr
    assert not (tmp_path / 'x.safetensors').exists()


def test_an_output_folder_another_command_is_writing_is_refused_naming_it(models, tmp_path, basicsr_main):
    from sfd_basicsr.utils.locks import OUTPUT_LOCK, take_lock
    cv2.imwrite(str(tmp_path / 'a.png'), np.zeros((16, 16, 3), np.uint8))
    out = tmp_path / 'out'
    held = take_lock(str(out / OUTPUT_LOCK), 'x')
    try:
        result = basicsr_main(['upscale', '-i', str(tmp_path / 'a.png'), '-o', str(out), '-m',
                               str(models['experiment'])], cwd=tmp_path)
    finally:
        held.close()
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert f"basicsr upscale: output folder '{out}' is being written by another run (pid {os.getpid()}, " \
        in result.stderr
    assert os.listdir(out) == []


@pytest.mark.parametrize('outscale', ['inf', 'nan', '0', '-2'])
def test_an_outscale_that_is_no_finite_number_above_zero_is_refused_before_any_work(models, tmp_path, basicsr_main,
                                                                                     outscale):
    cv2.imwrite(str(tmp_path / 'a.png'), np.full((16, 16, 3), 128, np.uint8))
    refused = basicsr_main(['upscale', '-i', str(tmp_path / 'a.png'), '-o', str(tmp_path / 'out'), '-m',
                            str(models['basicsr_checkpoint']), f'--outscale={outscale}', '-q'])
    assert refused.returncode == 2 and not (tmp_path / 'out').exists()
    assert refused.stderr.splitlines()[-1].endswith(
        f"error: argument --outscale: expected a finite number above 0, got '{outscale}'")


@pytest.mark.parametrize('ext', ['xyz', 'gif', 'exr', '', 'pgm'])
def test_an_output_format_that_is_not_written_and_read_back_is_refused_before_any_work(models, tmp_path,
                                                                                       basicsr_main, ext):
    cv2.imwrite(str(tmp_path / 'a.png'), np.full((16, 16, 3), 128, np.uint8))
    if ext == 'pgm':  # read back, but OpenCV writes no colour into it
        assert not cv2.imencode('.pgm', np.zeros((4, 4, 3), np.uint8))[0]
    refused = basicsr_main(['upscale', '-i', str(tmp_path / 'a.png'), '-o', str(tmp_path / 'out'), '-m',
                            str(models['basicsr_checkpoint']), f'--ext={ext}', '-q'])
    assert refused.returncode == 2 and not (tmp_path / 'out').exists()
    assert refused.stderr.splitlines()[-1].endswith(
        f"error: argument --ext: expected auto or one of png, jpg, jpeg, bmp, tif, tiff, webp, ppm; got '{ext}'")


@pytest.mark.parametrize('ext, written', [('.JPG', 'a.jpg'), ('webp', 'a.webp'), ('auto', 'a.png')])
def test_an_output_format_is_taken_with_or_without_its_dot_in_any_case(models, tmp_path, basicsr_main, ext, written):
    from sfd_basicsr.utils.image_io import read_image
    cv2.imwrite(str(tmp_path / 'a.png'), np.full((16, 16, 3), 128, np.uint8))
    done = basicsr_main(['upscale', '-i', str(tmp_path / 'a.png'), '-o', str(tmp_path / 'out'), '-m',
                         str(models['basicsr_checkpoint']), f'--ext={ext}', '-q'])
    assert done.returncode == 0, done.stderr[-2000:]
    assert os.listdir(tmp_path / 'out') == [written]
    assert tuple(read_image(str(tmp_path / 'out' / written)).shape) == (1, 3, 64, 64)


@pytest.mark.parametrize('channels', [1, 4])
def test_a_generator_that_does_not_take_rgb_is_refused_before_any_work(tmp_path, basicsr_main, channels):
    torch.manual_seed(0)
    net = RRDBNet(channels, channels, num_feat=8, num_block=1, num_grow_ch=32, scale=4)
    torch.save({'params': net.state_dict()}, tmp_path / 'net.pth')
    assert load_generator(str(tmp_path / 'net.pth')).input_channels == channels  # as spandrel reads the file
    cv2.imwrite(str(tmp_path / 'a.png'), np.full((16, 16, 3), 128, np.uint8))
    refused = basicsr_main(['upscale', '-i', str(tmp_path / 'a.png'), '-o', str(tmp_path / 'out'), '-m',
                            str(tmp_path / 'net.pth'), '-q'])
    assert refused.returncode == 2
    assert not (tmp_path / 'out').exists() or not os.listdir(tmp_path / 'out')
    assert refused.stderr.strip().splitlines()[-1].endswith(
        f'takes {channels}-channel images; images are fed to a generator as RGB (3 channels), as BasicSR and '
        'Real-ESRGAN train them.')
    assert 'Traceback' not in refused.stderr


def nested_photos(root):
    """Small photos in nested folders (pyiqa's ``scandir_images`` lists the same files)."""
    import skimage.data
    names = {'a.png': 'astronaut', 'a.jpg': 'coffee', 'sub/b.png': 'chelsea', 'sub/deeper/c.png': 'rocket'}
    for relative, name in names.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / relative), cv2.resize(getattr(skimage.data, name)()[..., ::-1], (20, 16)))
    return root


def test_recursive_upscales_what_pyiqa_lists_into_mirrored_sub_folders_and_skips_its_own_output(models, tmp_path,
                                                                                             basicsr_main):
    from pyiqa.utils import scandir_images
    root = nested_photos(tmp_path / 'photos')
    expected = sorted(os.path.relpath(path, root) for path in scandir_images(str(root)))
    out = root / 'out'  # inside the input: a rerun must not upscale the first run's results
    words = ['upscale', '-i', str(root), '-o', str(out), '-r', '-m', str(models['experiment']), '-q']
    first = basicsr_main(words, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    written = sorted(os.path.relpath(os.path.join(folder, name), out) for folder, _, names in os.walk(out)
                     for name in names if not name.startswith('.'))
    assert written == expected
    alone = basicsr_main(['upscale', '-i', str(root / 'sub' / 'deeper' / 'c.png'), '-o', str(tmp_path / 'alone'),
                          '-m', str(models['experiment']), '-q'], cwd=tmp_path)
    assert alone.returncode == 0
    assert np.array_equal(cv2.imread(str(out / 'sub' / 'deeper' / 'c.png')), cv2.imread(str(tmp_path / 'alone' /
                                                                                              'c.png')))
    again = basicsr_main(words, cwd=tmp_path)
    assert again.returncode == 0 and f'passed over {out}: the -o folder of this run (not upscaled)' in again.stderr
    assert 'wrote 4 image(s)' in again.stderr


def test_without_recursive_sub_folders_are_named_and_recursive_is_suggested(models, tmp_path, basicsr_main):
    root = nested_photos(tmp_path / 'photos')
    out = root / 'out'  # inside the input, made by an earlier run
    out.mkdir()
    words = ['-o', str(out), '-m', str(models['experiment']), '-q']
    result = basicsr_main(['upscale', '-i', str(root), *words], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(name for name in os.listdir(out) if not name.startswith('.')) == ['a.jpg', 'a.png']
    assert f'passed over {out}: the -o folder of this run (not upscaled)' in result.stderr
    assert f'passed over {root / "sub"}: a folder (folders are not searched)' in result.stderr
    assert 'upscale: give --recursive to upscale the images in sub-folders too.' in result.stderr
    (root / 'sub' / 'b.png').unlink()  # left: a folder alone
    only_folders = basicsr_main(['upscale', '-i', str(root / 'sub'), *words], cwd=tmp_path)
    assert only_folders.returncode == 2
    assert only_folders.stderr.strip().splitlines()[-1].endswith(
        f"-i '{root / 'sub'}': no image files (.png, .jpg, .jpeg, .bmp, .tif, .tiff, .webp, .ppm, .pgm) to upscale "
        '(give --recursive to search its sub-folders).')


def test_a_mirrored_sub_folder_that_cannot_be_made_stops_the_run_naming_it(models, tmp_path, basicsr_main):
    root = nested_photos(tmp_path / 'photos')
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'sub').write_text('a file where the sub-folder goes')
    result = basicsr_main(['upscale', '-i', str(root), '-o', str(out), '-r', '-m', str(models['experiment']), '-q'],
                          cwd=tmp_path)
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(  # it stops there: every later file would fail too
        f"basicsr upscale: stopped: cannot make the output folder '{out / 'sub'}'")
    assert (out / 'sub').read_text() == 'a file where the sub-folder goes'


def test_an_output_folder_mirrors_the_inputs_place_and_keeps_the_output_path_as_given():
    from sfd_basicsr.inference.files import output_folder
    # worked out by hand; 'link/..' is not collapsed on paper: through a link it is another folder
    assert output_folder(os.path.join('in', 'a.png'), 'in', os.path.join('link', '..', 'res')) == os.path.join(
        'link', '..', 'res')
    assert output_folder(os.path.join('in', 'sub', 'deeper', 'c.png'), 'in', 'out') == os.path.join(
        'out', 'sub', 'deeper')
