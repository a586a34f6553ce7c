"""SFD-IQA end to end: train, export, score with `pyiqa`, `create_metric`, `sfd-iqa` and BasicSR."""
import csv
import os
import re
import shutil
import subprocess
import sys

import cv2
import pytest
import skimage.data
import torch

from helpers.iqa import as_tensor, png_files_of_known_pixels, random_sfd_iqa_weights
from helpers.training import command_path, run_basicsr, tiny_train_options, torchrun, write_options

BIN = os.path.dirname(sys.executable)


def run(command, cwd, **env):
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, HF_HUB_OFFLINE='1', **env))


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A tiny SFD training run, its exported SFD-IQA file, and a folder of images to score."""
    root = tmp_path_factory.mktemp('sfd_iqa_e2e')
    opt = tiny_train_options(root, iters=2, with_val=False)
    result = run_basicsr(['train', '-opt', write_options(root / 'train.yml', opt)], cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    exported = root / 'sfd_iqa.pth'
    result = run([os.path.join(BIN, 'sfd-iqa'), 'export', '-m', str(root / 'experiments' / 'sfd_tiny'), '-o',
                  str(exported)], cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "weights 'None'" in result.stdout  # the training's random CLIP is recorded
    assert 'from iteration 2 ' in result.stdout
    images = root / 'images'
    images.mkdir()
    for name in ('astronaut', 'coffee', 'chelsea'):
        image = cv2.cvtColor(getattr(skimage.data, name)(), cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(images / f'{name}.png'), cv2.resize(image, (160, 128)))
    return root, exported, images


@pytest.mark.slow
def test_pyiqa_command_and_create_metric_give_the_same_numbers(trained):
    root, exported, images = trained
    result = run([os.path.join(BIN, 'pyiqa'), 'sfd_iqa', '-t', str(images), '-v'], cwd=root,
                 SFD_IQA_WEIGHTS=str(exported))
    assert result.returncode == 0, result.stderr[-3000:]
    command_scores = {os.path.basename(path): float(value)
                      for path, value in re.findall(r"'([^']+\.png)': ([\d.]+)", result.stdout)}
    assert sorted(command_scores) == ['astronaut.png', 'chelsea.png', 'coffee.png']

    import pyiqa
    metric = pyiqa.create_metric('sfd_iqa', device='cpu', pretrained_model_path=str(exported))
    for name, value in command_scores.items():
        assert metric(str(images / name)).item() == pytest.approx(value, abs=1e-6)
    assert len(set(command_scores.values())) == 3


@pytest.mark.slow
def test_sfd_iqa_command_reports_bad_files_scores_the_rest_and_draws_maps(trained, tmp_path, sfd_iqa_main):
    root, exported, images = trained
    folder = tmp_path / 'mixed'
    shutil.copytree(images, folder)
    (folder / 'broken.png').write_bytes(b'\x89PNG not really')
    tiny = cv2.resize(cv2.imread(str(images / 'coffee.png')), (20, 20))
    (folder / 'tiny.png').write_bytes(cv2.imencode('.png', tiny)[1].tobytes())
    result = sfd_iqa_main(['score', '-t', str(folder), '--weights', str(exported), '--maps',
                          str(tmp_path / 'maps'), '--csv', str(tmp_path / 'scores.csv'), '-q'], cwd=root)
    assert result.returncode == 1
    assert 'broken.png' in result.stderr and 'tiny.png' in result.stderr and 'Traceback' not in result.stderr
    scored = dict(line.split('\t') for line in result.stdout.strip().splitlines())
    assert {os.path.basename(k) for k in scored} == {'astronaut.png', 'coffee.png', 'chelsea.png', 'mean'}
    import pyiqa
    metric = pyiqa.create_metric('sfd_iqa', device='cpu', pretrained_model_path=str(exported))
    assert float(scored[str(folder / 'coffee.png')]) == pytest.approx(metric(str(images / 'coffee.png')).item(),
                                                                      abs=1e-5)
    picture = cv2.imread(str(tmp_path / 'maps' / 'coffee_sfd_map.png'))
    header = picture.shape[0] - 128
    assert picture.shape[1] > 320 and 0 < header < 64  # score line above [image | overlay | colour bar]
    bar = picture[header:, 320 + 10].astype(int)  # BGR down the colour bar: red (real) at the top, blue at the bottom
    assert bar[0, 2] > 100 > bar[0, 0] and bar[-1, 0] > 100 > bar[-1, 2]
    csv_text = (tmp_path / 'scores.csv').read_text()
    assert 'broken.png' in csv_text and 'coffee.png' in csv_text


def test_score_with_bf16_gives_the_bfloat16_networks_scores(tmp_path, sfd_iqa_main):
    from helpers.iqa import random_sfd_iqa_weights
    from sfd_basicsr.iqa import SFDIQA
    from sfd_basicsr.iqa.sfd_iqa_arch import BF16_TOLERANCE
    from sfd_basicsr.utils.image_io import read_image
    weights = random_sfd_iqa_weights(tmp_path)[2]
    images = tmp_path / 'images'
    images.mkdir()
    for name in ('astronaut', 'coffee'):
        cv2.imwrite(str(images / f'{name}.png'), cv2.resize(getattr(skimage.data, name)()[..., ::-1], (160, 128)))
    scores = {}
    for flags in ([], ['--bf16']):
        result = sfd_iqa_main(['score', '-t', images, '--weights', weights, '-q', *flags], cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
        scores[bool(flags)] = {os.path.basename(k): float(v) for k, v in
                               (line.split('\t') for line in result.stdout.strip().splitlines()) if k != 'mean'}
    in_bf16 = SFDIQA(str(weights), bf16=True)
    for name, value in scores[True].items():
        assert value == pytest.approx(in_bf16(read_image(str(images / name))).item(), abs=2e-6)
        assert abs(value - scores[False][name]) <= BF16_TOLERANCE
    assert scores[True] != scores[False], 'bfloat16 rounds differently'


def test_score_of_a_folder_without_images_is_refused_before_any_network(tmp_path, sfd_iqa_main):
    (tmp_path / 'empty').mkdir()
    (tmp_path / 'empty' / 'notes.txt').write_text('no image here')
    # the weights are never read: the folder is refused first
    result = sfd_iqa_main(['score', '-t', str(tmp_path / 'empty'), '--weights', str(tmp_path / 'absent.pth')],
                          cwd=tmp_path)
    assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr[-2000:]
    assert f"sfd-iqa score: no images in the folder '{tmp_path / 'empty'}': expected image files (" in result.stderr
    assert 'notes.txt' in result.stderr  # the entry passed over is named


@pytest.fixture(scope='module')
def random_weights(tmp_path_factory):
    return random_sfd_iqa_weights(tmp_path_factory.mktemp('random_weights'))[2]


@pytest.mark.slow
@pytest.mark.parametrize('folder', ['emptydir.png', 'empty', 'notes'])
def test_pyiqa_command_refuses_a_folder_without_images_as_sfd_iqa_score_does(random_weights, tmp_path, folder,
                                                                            sfd_iqa_main):
    target = tmp_path / folder
    target.mkdir()
    if folder == 'notes':
        (target / 'notes.txt').write_text('no image here')
    by_pyiqa = run([os.path.join(BIN, 'pyiqa'), 'sfd_iqa', '-t', str(target)], cwd=tmp_path,
                   SFD_IQA_WEIGHTS=str(random_weights))
    by_score = sfd_iqa_main(['score', '-t', str(target), '--weights', str(random_weights)], cwd=tmp_path)
    said = {}
    for result, command in ((by_pyiqa, 'pyiqa sfd_iqa'), (by_score, 'sfd-iqa score')):
        assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr[-2000:]
        said[command] = result.stderr.strip().splitlines()[-1]
        assert said[command].startswith(f"{command}: no images in the folder '{target}': expected image files (.png, ")
    assert 'nan' not in by_pyiqa.stdout
    assert said['pyiqa sfd_iqa'].split(': ', 1)[1] == said['sfd-iqa score'].split(': ', 1)[1]


def photo_tree(root):
    """Photos in nested folders, two of them named alike but for the extension."""
    names = {'a.png': 'astronaut', 'a.jpg': 'coffee', 'sub/b.png': 'chelsea', 'sub/deeper/c.png': 'rocket'}
    for relative, name in names.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        image = cv2.cvtColor(getattr(skimage.data, name)(), cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(root / relative), cv2.resize(image, (96, 80)))
    return root


def printed_scores(result):
    return [(path, float(value)) for path, value in (line.split('\t') for line in result.stdout.splitlines())
            if path != 'mean']


def test_recursive_scores_the_files_pyiqas_command_lists_and_mirrors_the_sub_folders_in_the_maps(
        random_weights, tmp_path, sfd_iqa_main):
    from pyiqa.utils import scandir_images
    root = photo_tree(tmp_path / 'photos')
    listed_by_pyiqa = scandir_images(str(root))
    maps = root / 'maps'  # inside the scored folder: a rerun must not score the first run's maps
    args = ['score', '-t', str(root), '-r', '--weights', str(random_weights), '--maps', str(maps), '-q']
    first = sfd_iqa_main(args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    assert [path for path, _ in printed_scores(first)] == listed_by_pyiqa
    written = sorted(os.path.relpath(os.path.join(folder, name), maps) for folder, _, names in os.walk(maps)
                     for name in names)
    assert written == ['a.jpg_sfd_map.png', 'a.png_sfd_map.png', 'sub/b_sfd_map.png', 'sub/deeper/c_sfd_map.png']
    alone = sfd_iqa_main(['score', '-t', str(root / 'sub' / 'deeper' / 'c.png'), '--weights', str(random_weights),
                          '-q'], cwd=tmp_path)
    assert dict(printed_scores(first))[str(root / 'sub' / 'deeper' / 'c.png')] == printed_scores(alone)[0][1]

    again = sfd_iqa_main(args, cwd=tmp_path)
    assert again.returncode == 0 and printed_scores(again) == printed_scores(first)
    assert f'passed over {maps}: the --maps folder of this run' in again.stderr


def test_without_recursive_the_sub_folders_are_named_and_recursive_is_suggested(random_weights, tmp_path,
                                                                               sfd_iqa_main):
    root = photo_tree(tmp_path / 'photos')
    result = sfd_iqa_main(['score', '-t', str(root), '--weights', str(random_weights), '-q'], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert [path for path, _ in printed_scores(result)] == [str(root / 'a.jpg'), str(root / 'a.png')]
    assert f'passed over {root / "sub"}: a folder (folders are not searched)' in result.stderr
    assert 'give --recursive to score the images in sub-folders too.' in result.stderr


def test_the_map_of_a_file_given_by_a_bare_name_is_written_under_its_own_name(random_weights, tmp_path,
                                                                              sfd_iqa_main):
    photo_tree(tmp_path)
    result = sfd_iqa_main(['score', '-t', 'a.png', '--weights', str(random_weights), '--maps', 'maps', '-q'],
                          cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert os.listdir(tmp_path / 'maps') == ['a_sfd_map.png']


@pytest.mark.slow
def test_a_target_that_does_not_exist_is_refused_alike_by_both_commands(random_weights, tmp_path, sfd_iqa_main):
    target = tmp_path / 'nowhere.png'
    by_pyiqa = run([os.path.join(BIN, 'pyiqa'), 'sfd_iqa', '-t', str(target)], cwd=tmp_path,
                   SFD_IQA_WEIGHTS=str(random_weights))
    by_score = sfd_iqa_main(['score', '-t', str(target), '--weights', str(random_weights)], cwd=tmp_path)
    for result, command in ((by_pyiqa, 'pyiqa sfd_iqa'), (by_score, 'sfd-iqa score')):
        assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr[-2000:]
        # pyiqa's progress bar may be closed after the refusal, so the line is looked for, not taken as the last
        assert f"{command}: '{target}' is neither an image file nor a folder." in result.stderr.splitlines(), \
            result.stderr[-2000:]


@pytest.mark.slow
def test_png_files_of_every_kind_score_the_same_through_pyiqa_and_sfd_iqa_score(random_weights, tmp_path,
                                                                                sfd_iqa_main):
    from sfd_basicsr.iqa import SFDIQA
    pixels = png_files_of_known_pixels(tmp_path)
    result = run([os.path.join(BIN, 'pyiqa'), 'sfd_iqa', '-t', str(tmp_path), '-v'], cwd=tmp_path,
                 SFD_IQA_WEIGHTS=str(random_weights))
    assert result.returncode == 0, result.stderr[-3000:]
    by_pyiqa = {os.path.basename(path): float(value)
                for path, value in re.findall(r"'([^']+\.png)': ([\d.]+)", result.stdout)}
    result = sfd_iqa_main(['score', '-t', str(tmp_path), '--weights', str(random_weights), '-q'], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    by_score = {os.path.basename(path): float(value) for path, value in
                (line.split('\t') for line in result.stdout.strip().splitlines()) if path != 'mean'}
    assert sorted(by_pyiqa) == sorted(by_score) == sorted(pixels)
    net = SFDIQA(str(random_weights))
    for name, known in pixels.items():
        expected = net(as_tensor(known)).item()  # the score of the pixels written, as no reader gave them
        assert by_pyiqa[name] == pytest.approx(expected, abs=1e-5), name
        assert by_score[name] == pytest.approx(expected, abs=1e-5), name


@pytest.mark.slow
def test_score_under_torchrun_splits_the_files_and_rank_0_reports_them_all(trained, tmp_path, sfd_iqa_main):
    root, exported, images = trained
    args = ['score', '-t', str(images), '--weights', str(exported), '-q', '--device', 'cpu']
    single = sfd_iqa_main(args + ['--csv', str(tmp_path / 'one.csv')], cwd=tmp_path)
    assert single.returncode == 0, single.stderr[-3000:]
    split = torchrun([command_path('sfd-iqa')] + args + ['--csv', str(tmp_path / 'two.csv'), '--maps',
                                                         str(tmp_path / 'maps')], cwd=tmp_path)
    assert split.returncode == 0, split.stderr[-3000:]
    assert '3 image(s) on 2 processes (2, 1)' in split.stderr
    assert split.still_joined == [], 'every process leaves its process group before it exits (gloo can abort it)'
    lines = [line.split('\t') for line in split.stdout.splitlines() if '\t' in line]
    expected = [line.split('\t') for line in single.stdout.splitlines() if '\t' in line]
    assert [name for name, _ in lines] == [name for name, _ in expected], 'printed once, in the files\' order'
    for (_, got), (_, want) in zip(lines, expected):
        assert float(got) == pytest.approx(float(want), abs=1e-5)
    read = {name: list(csv.reader(open(tmp_path / name))) for name in ('one.csv', 'two.csv')}
    assert [r[0] for r in read['one.csv']] == [r[0] for r in read['two.csv']]
    for a, b in zip(read['one.csv'][1:], read['two.csv'][1:]):
        assert float(b[1]) == pytest.approx(float(a[1]), abs=1e-5)
    maps = sorted(f'{name}_sfd_map.png' for name in ('astronaut', 'chelsea', 'coffee'))
    assert sorted(os.listdir(tmp_path / 'maps')) == maps


@pytest.mark.slow
def test_under_torchrun_an_output_that_cannot_be_written_stops_every_process_without_a_traceback(
        trained, tmp_path, read_only_folder, small_disk):
    root, exported, images = trained
    for name in ('a', 'b', 'c', 'd'):  # enough maps to fill the small disk on both processes
        shutil.copy(images / 'coffee.png', tmp_path / f'{name}.png')
    args = [command_path('sfd-iqa'), 'score', '-t', str(tmp_path), '--weights', str(exported), '-q', '--device', 'cpu']
    for output, message in ((['--csv', str(read_only_folder / 's.csv')], 'read-only file system'),
                            (['--maps', str(small_disk)], 'no space left')):  # before the work, and in it
        result = torchrun(args + output, cwd=tmp_path)
        assert result.returncode != 0 and message in result.stderr.lower(), result.stderr[-3000:]
        assert 'sfd_basicsr' not in result.stderr and 'all_gather' not in result.stderr, result.stderr[-3000:]
        assert result.still_joined == [], 'every process leaves its process group before it exits'
    assert not [name for name in os.listdir(small_disk) if name.endswith('.tmp')]


@pytest.mark.slow
def test_pyiqa_command_stops_at_a_bad_file_in_one_line_naming_it(trained, tmp_path):
    root, exported, images = trained
    folder = tmp_path / 'with_broken'
    shutil.copytree(images, folder)
    (folder / 'broken.png').write_bytes(b'\x89PNG not really')
    result = run([os.path.join(BIN, 'pyiqa'), 'sfd_iqa', '-t', str(folder)], cwd=root, SFD_IQA_WEIGHTS=str(exported))
    assert result.returncode == 1
    assert f"cannot score '{folder / 'broken.png'}'" in result.stderr and 'sfd-iqa score' in result.stderr
    assert 'Traceback' not in result.stderr


@pytest.mark.slow
def test_export_takes_the_experiment_once_by_m_or_by_position(trained, tmp_path, sfd_iqa_main):
    root, exported, _ = trained
    experiment = str(root / 'experiments' / 'sfd_tiny')
    by_position = sfd_iqa_main(['export', experiment, '-o', str(tmp_path / 'p.pth')], cwd=root)
    assert by_position.returncode == 0, by_position.stderr[-2000:]
    got, want = (torch.load(path, weights_only=True)['featd']['params'] for path in (tmp_path / 'p.pth', exported))
    assert got.keys() == want.keys()
    assert all(torch.equal(v, want[k]) if torch.is_tensor(v) else v == want[k] for k, v in got.items())
    for words in ([], ['-m', experiment, experiment]):
        result = sfd_iqa_main(['export', *words, '-o', str(tmp_path / 'x.pth')], cwd=root)
        assert result.returncode == 2 and 'give the experiment once: -m experiments/<name>' in result.stderr
        assert not (tmp_path / 'x.pth').exists()


@pytest.mark.slow
def test_export_refuses_an_untrained_run(trained, tmp_path, sfd_iqa_main):
    root, _, _ = trained
    experiment = tmp_path / 'untrained'
    shutil.copytree(root / 'experiments' / 'sfd_tiny', experiment)
    for name in ('net_d_latest.pth', 'net_d_tg_latest.pth'):
        checkpoint = torch.load(experiment / 'models' / name, weights_only=True)
        assert checkpoint['iter'] == 2
        torch.save({**checkpoint, 'iter': 0}, experiment / 'models' / name)
    result = sfd_iqa_main(['export', str(experiment), '-o', str(tmp_path / 'x.pth')], cwd=root)
    assert result.returncode == 2 and 'untrained' in result.stderr and not (tmp_path / 'x.pth').exists()


@pytest.mark.slow
def test_scorer_from_training_checkpoints_takes_the_runs_clip_weights(trained):
    root, exported, images = trained
    from sfd_basicsr.iqa import SFDIQA
    from sfd_basicsr.utils.image_io import read_image
    models = root / 'experiments' / 'sfd_tiny' / 'models'
    # the run trained on a random CLIP (pretrained: null); OpenAI's weights cannot even be downloaded here
    from_checkpoints = SFDIQA(featd_checkpoint=str(models / 'net_d_latest.pth'),
                              tgd_checkpoint=str(models / 'net_d_tg_latest.pth'))
    image = read_image(str(images / 'coffee.png'))
    assert from_checkpoints(image).item() == pytest.approx(SFDIQA(str(exported))(image).item(), abs=1e-6)


@pytest.mark.slow
def test_missing_weights_tell_the_user_how_to_get_them(trained, tmp_path, sfd_iqa_main, monkeypatch):
    root, _, images = trained
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    monkeypatch.setenv('SFD_IQA_WEIGHTS', '')
    result = sfd_iqa_main(['score', '-t', str(images)], cwd=root)
    assert result.returncode == 2 and 'sfd-iqa export' in result.stderr and 'Traceback' not in result.stderr


@pytest.mark.slow
def test_the_pyiqa_command_without_weights_ends_in_one_line_of_advice(trained, tmp_path):
    root, _, images = trained
    result = run([os.path.join(BIN, 'pyiqa'), 'sfd_iqa', '-t', str(images)], cwd=root, TORCH_HOME=str(tmp_path),
                 SFD_IQA_WEIGHTS='')
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith('pyiqa sfd_iqa: SFD-IQA weights not found') and 'SFD_IQA_WEIGHTS' in last


@pytest.mark.slow
@pytest.mark.parametrize('clip, why', [('/nowhere/RN50.pt', 'does not exist'),
                                       ('openai', "Could not get the 'openai' weights")])
def test_weights_whose_clip_file_is_absent_give_advice_that_fits_the_metric(trained, tmp_path, clip, why, sfd_iqa_main,
                                                                            monkeypatch):
    root, exported, images = trained
    weights = torch.load(exported, weights_only=True)
    weights['clip_pretrained'] = clip
    torch.save(weights, tmp_path / 'w.pth')
    environment = {'SFD_IQA_WEIGHTS': str(tmp_path / 'w.pth'), 'TORCH_HOME': str(tmp_path), 'HF_HOME': str(tmp_path)}
    by_pyiqa = run([os.path.join(BIN, 'pyiqa'), 'sfd_iqa', '-t', str(images)], cwd=root, **environment)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    for result in (by_pyiqa, sfd_iqa_main(['score', '-t', str(images)], cwd=root)):
        assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr[-2000:]
        last = result.stderr.strip().splitlines()[-1]
        assert f"CLIP RN50-quickgelu weights '{clip}'" in last and why in last
        assert "clip_pretrained='/path/to/RN50.pt'" in last and '--clip-pretrained' in last
        assert "set 'pretrained'" not in last


@pytest.mark.slow
@pytest.mark.parametrize('option', ['--csv', '--maps'])
def test_score_into_a_read_only_folder_stops_before_scoring(trained, read_only_folder, option, sfd_iqa_main):
    root, exported, images = trained
    target = read_only_folder / ('scores.csv' if option == '--csv' else 'maps')
    result = sfd_iqa_main(['score', '-t', str(images), '--weights', str(exported), option,
                          str(target), '-q'], cwd=root)
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert f"{option} '" in result.stderr and 'read-only file system' in result.stderr
    assert '\t' not in result.stdout, 'nothing was scored'


@pytest.mark.slow
def test_export_into_a_read_only_folder_is_one_line(trained, read_only_folder, sfd_iqa_main):
    root, _, _ = trained
    result = sfd_iqa_main(['export', str(root / 'experiments' / 'sfd_tiny'), '-o',
                          str(read_only_folder / 'x.pth')], cwd=root)
    assert result.returncode == 1 and 'read-only file system' in result.stderr and 'Traceback' not in result.stderr


@pytest.mark.slow
def test_basicsr_metric_inside_a_basicsr_test_run(trained):
    root, exported, _ = trained
    opt = tiny_train_options(root, iters=2)
    test_opt = {
        'name': 'sfd_iqa_in_basicsr', 'model_type': 'SRModel', 'scale': 4, 'num_gpu': 0, 'manual_seed': 0,
        'datasets': {'test_1': opt['datasets']['val']}, 'network_g': opt['network_g'],
        'path': {'pretrain_network_g': str(root / 'experiments' / 'sfd_tiny' / 'models' / 'net_g_latest.pth'),
                 'param_key_g': 'params_ema', 'strict_load_g': True},
        'val': {'save_img': False, 'metrics': {
            'sfd_iqa': {'type': 'calculate_sfd_iqa', 'better': 'higher', 'pretrained_model_path': str(exported)}}},
    }
    result = run_basicsr(['test', '-opt', write_options(root / 'test_iqa.yml', test_opt)], cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    logs = list((root / 'results' / 'sfd_iqa_in_basicsr').glob('test_*.log'))
    value = float(re.search(r'# sfd_iqa: ([\d.]+)', logs[0].read_text()).group(1))
    assert 0 < value < 1


@pytest.mark.slow
def test_basicsr_metric_equals_the_network_on_the_same_image(trained):
    _, exported, images = trained
    from sfd_basicsr.iqa import SFDIQA
    from sfd_basicsr.metrics import calculate_sfd_iqa
    from sfd_basicsr.utils.image_io import read_image
    bgr = cv2.imread(str(images / 'chelsea.png'))
    expected = SFDIQA(str(exported))(read_image(str(images / 'chelsea.png'))).item()
    assert calculate_sfd_iqa(bgr, pretrained_model_path=str(exported), img2=bgr) == pytest.approx(expected, abs=1e-6)


@pytest.mark.slow
def test_startup_hook_imports_nothing_heavy_until_pyiqa_is_used():
    code = ('import sys; heavy = [m for m in ("torch", "pyiqa", "sfd_basicsr", "basicsr") if m in sys.modules]; '
            'print(heavy, "sfd_basicsr_pyiqa_hook" in sys.modules)')
    result = run([sys.executable, '-c', code], cwd='/')
    assert result.returncode == 0 and result.stdout.strip() == '[] True', result.stdout + result.stderr
    code = 'import pyiqa; print("sfd_iqa" in pyiqa.list_models(), "sfd_basicsr" in __import__("sys").modules)'
    result = run([sys.executable, '-c', code], cwd='/')
    assert result.stdout.strip().endswith('True False'), result.stdout + result.stderr


@pytest.mark.slow
def test_score_options_fusion_weight_tile_size_and_map_size_reach_the_scorer(trained, tmp_path, sfd_iqa_main):
    import pyiqa
    root, exported, images = trained
    result = sfd_iqa_main(['score', '-t', str(images), '--weights', str(exported), '--fusion-weight', '1',
                          '--tile-size', '64', '--maps', str(tmp_path / 'maps'), '--map-size', '64', '-q'], cwd=root)
    assert result.returncode == 0, result.stderr[-2000:]
    scored = dict(line.split('\t') for line in result.stdout.strip().splitlines())
    featd_only = pyiqa.create_metric('sfd_iqa', device='cpu', pretrained_model_path=str(exported), fusion_weight=1.0,
                                     tile_size=64)
    default = pyiqa.create_metric('sfd_iqa', device='cpu', pretrained_model_path=str(exported))
    coffee = str(images / 'coffee.png')
    assert float(scored[coffee]) == pytest.approx(featd_only(coffee).item(), abs=1e-5)
    assert abs(float(scored[coffee]) - default(coffee).item()) > 1e-4  # the options changed the score
    picture = cv2.imread(str(tmp_path / 'maps' / 'coffee_sfd_map.png'))
    assert picture.shape[1] == 64 + 64 + 86  # 160 x 128 panels shrunk to 64 px wide, and the 86 px colour bar


@pytest.mark.slow
def test_export_fusion_weight_is_recorded_in_the_file(trained, tmp_path, sfd_iqa_main):
    root, _, _ = trained
    output = tmp_path / 'w25.pth'
    result = sfd_iqa_main(['export', str(root / 'experiments' / 'sfd_tiny'), '-o', str(output),
                          '--fusion-weight', '0.25'], cwd=root)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'fusion weight 0.25' in result.stdout
    assert torch.load(output, weights_only=True)['fusion_weight'] == 0.25


def test_a_score_table_that_cannot_be_written_exits_non_zero(tmp_path, sfd_iqa_main, fail_writes):
    _, _, weights = random_sfd_iqa_weights(tmp_path)
    cv2.imwrite(str(tmp_path / 'a.png'), cv2.resize(skimage.data.astronaut(), (64, 64)))
    fail_writes('scores.csv', 3, OSError(28, 'No space left on device'))
    result = sfd_iqa_main(['score', '-t', str(tmp_path / 'a.png'), '--weights', str(weights), '--csv',
                           str(tmp_path / 'scores.csv'), '-q'], cwd=tmp_path)
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith('sfd-iqa score: stopped: cannot write ') and 'scores.csv' in last
    assert not (tmp_path / 'scores.csv').exists()


def test_an_export_that_cannot_be_written_exits_non_zero(tmp_path, sfd_iqa_main, fail_writes):
    import shutil

    import yaml
    featd, tgd, _ = random_sfd_iqa_weights(tmp_path)
    experiment = tmp_path / 'experiments' / 'run'
    (experiment / 'models').mkdir(parents=True)
    shutil.copy(featd, experiment / 'models' / 'net_d_7.pth')
    shutil.copy(tgd, experiment / 'models' / 'net_d_tg_7.pth')
    encoder = {'clip_model': 'RN50-quickgelu', 'pretrained': None}
    (experiment / 'run.yml').write_text(yaml.safe_dump({
        'network_d': {'type': 'FeatD', **encoder, 'num_feat': 16},
        'network_d_tg': {'type': 'TGDiscriminator', **encoder, 'n_ctx': 4,
                         'prompt_pairs': [['Good photo.', 'Bad photo.'], ['Sharp.', 'Blurry.']]}}))
    fail_writes('w.pth', 100, OSError(28, 'No space left on device'))
    result = sfd_iqa_main(['export', '-m', str(experiment), '-o', str(tmp_path / 'w.pth')], cwd=tmp_path)
    assert result.returncode == 1 and 'Traceback' not in result.stderr, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1].startswith('sfd-iqa export: stopped: cannot write ')
    assert not (tmp_path / 'w.pth').exists()


def test_export_and_score_a_run_that_trained_featd_alone_on_a_timm_backbone(tmp_path, sfd_iqa_main):
    """A backbone without a text tower trains no TG-D: the export holds Feat-D alone, the score is its realness."""
    import pyiqa
    models = tmp_path / 'experiments' / 'dino' / 'models'
    models.mkdir(parents=True)
    random_sfd_iqa_weights(models, clip_model='timm:convnext_atto', with_tgd=False)
    (models / 'sfd_iqa.pth').unlink()
    output = tmp_path / 'featd_only.pth'
    result = sfd_iqa_main(['export', '-m', str(models.parent), '-o', str(output), '--clip-pretrained', 'none'],
                          cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'backbone timm:convnext_atto' in result.stdout and 'fusion weight 1.0' in result.stdout
    refused = sfd_iqa_main(['export', '-m', str(models.parent), '-o', str(tmp_path / 'x.pth'), '--fusion-weight',
                            '0.5'], cwd=tmp_path)
    assert refused.returncode == 2 and 'so fusion_weight must be 1; got 0.5' in refused.stderr
    assert not (tmp_path / 'x.pth').exists()
    image = tmp_path / 'coffee.png'
    cv2.imwrite(str(image), cv2.resize(cv2.cvtColor(skimage.data.coffee(), cv2.COLOR_RGB2BGR), (160, 128)))
    scored = sfd_iqa_main(['score', '-t', str(image), '--weights', str(output), '-q'], cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr[-2000:]
    metric = pyiqa.create_metric('sfd_iqa', device='cpu', pretrained_model_path=str(output))
    assert float(scored.stdout.splitlines()[0].split('\t')[1]) == pytest.approx(metric(str(image)).item(), abs=1e-5)
