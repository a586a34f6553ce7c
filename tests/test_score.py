"""``sfd-iqa score`` (``commands/score.py``): its output options refused where they would replace what the user gave
or could not be honoured, before any network is built."""
import shutil

import cv2
import numpy as np
import pytest

from helpers.iqa import random_sfd_iqa_weights


@pytest.fixture(scope='module')
def score_weights(tmp_path_factory):
    return random_sfd_iqa_weights(tmp_path_factory.mktemp('score_weights'))[2]


def _images(folder):
    folder.mkdir()
    for name, value in (('a.png', 60), ('b.png', 190)):
        cv2.imwrite(str(folder / name), np.full((64, 64, 3), value, np.uint8))
    return folder


@pytest.mark.parametrize('clash', ['image', 'weights', 'map'])
def test_a_csv_over_an_image_the_weights_or_a_map_of_the_run_is_refused_and_nothing_changes(tmp_path, score_weights,
                                                                                             sfd_iqa_main, clash):
    images = _images(tmp_path / 'images')
    given = tmp_path / 'given.pth'
    shutil.copy(score_weights, given)
    csv = {'image': images / 'a.png', 'weights': given, 'map': tmp_path / 'maps' / 'a_sfd_map.png'}[clash]
    what = {'image': 'an image this run scores', 'weights': 'the SFD-IQA weights this run reads',
            'map': 'a quality map this run writes'}[clash]
    before = {path: path.read_bytes() for path in (images / 'a.png', images / 'b.png', given)}
    refused = sfd_iqa_main(['score', '-t', str(images), '--weights', str(given), '--maps', str(tmp_path / 'maps'),
                            '--csv', str(csv), '-q'])
    assert refused.returncode == 2 and refused.stdout == ''
    assert refused.stderr.strip().splitlines() == [
        f"sfd-iqa score: --csv '{csv}' is {what}; writing the scores there would replace it. Give another file name."]
    assert {path: path.read_bytes() for path in before} == before
    assert not any((tmp_path / 'maps').rglob('*.png')), 'refused before any work'


def test_a_csv_reached_through_a_link_to_an_image_is_refused(tmp_path, score_weights, sfd_iqa_main):
    images = _images(tmp_path / 'images')
    (tmp_path / 'scores.csv').symlink_to(images / 'b.png')
    refused = sfd_iqa_main(['score', '-t', str(images), '--weights', str(score_weights), '--csv',
                            str(tmp_path / 'scores.csv'), '-q'])
    assert refused.returncode == 2 and 'is an image this run scores' in refused.stderr
    assert cv2.imread(str(images / 'b.png')) is not None


def test_a_csv_elsewhere_is_written(tmp_path, score_weights, sfd_iqa_main):
    import csv
    images = _images(tmp_path / 'images')
    done = sfd_iqa_main(['score', '-t', str(images), '--weights', str(score_weights), '--csv', str(tmp_path / 's.csv'),
                         '-q'])
    assert done.returncode == 0, done.stderr[-2000:]
    with open(tmp_path / 's.csv', newline='') as f:
        rows = list(csv.reader(f))
    assert [row[0] for row in rows] == ['image', str(images / 'a.png'), str(images / 'b.png')]


@pytest.mark.parametrize('size', ['0', '-1', 'x'])
def test_a_map_size_that_is_no_positive_whole_number_is_refused(tmp_path, score_weights, sfd_iqa_main, size):
    images = _images(tmp_path / 'images')
    refused = sfd_iqa_main(['score', '-t', str(images), '--weights', str(score_weights), '--maps',
                            str(tmp_path / 'maps'), f'--map-size={size}', '-q'])
    assert refused.returncode == 2 and not (tmp_path / 'maps').exists()
    assert refused.stderr.splitlines()[-1].endswith(
        f"error: argument --map-size: expected a positive whole number, got '{size}'")


@pytest.mark.slow  # its own process: stdout as a terminal's, strict UTF-8, not pytest's capture
def test_a_file_name_that_is_not_utf8_is_printed_and_written_as_its_own_bytes(tmp_path, score_weights):
    import os
    import subprocess

    from helpers.training import command_path
    images = _images(tmp_path / 'images')
    raw = os.fsencode(str(images / 'a.png')).replace(b'a.png', b'bad\xff.png')
    os.rename(images / 'a.png', os.fsdecode(raw))
    done = subprocess.run([command_path('sfd-iqa'), 'score', '-t', str(images), '--weights', str(score_weights),
                           '--csv', str(tmp_path / 's.csv'), '-q'], capture_output=True, timeout=300,
                          env=dict(os.environ, HF_HUB_OFFLINE='1', PYTHONIOENCODING='utf-8', LC_ALL='C.UTF-8'))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[1].startswith(raw + b'\t')  # sorted: b.png, then bad\xff.png
    assert raw + b',' in (tmp_path / 's.csv').read_bytes()


def test_every_process_scores_its_share_of_rank_0s_list_gathered_before_any_map_is_written(tmp_path, score_weights,
                                                                                           monkeypatch):
    """--maps inside -t with -r: a process listing after another wrote a map would score that map."""
    from sfd_basicsr.commands.score import _score
    from sfd_basicsr.commands.sfd_iqa_command import build_parser
    from sfd_basicsr.utils import distributed
    images = _images(tmp_path / 'images')
    cv2.imwrite(str(images / 'c.png'), np.full((64, 64, 3), 120, np.uint8))
    calls = []

    def gather(value, world):  # rank 1 of 2; rank 0 listed a and c, and scored nothing
        calls.append((sorted(p.name for p in images.rglob('*.png')), value))
        if isinstance(value, list):  # the listing
            return [[str(images / 'a.png'), str(images / 'c.png')], value]
        return [({}, []), value] if isinstance(value, tuple) else [value, value]
    monkeypatch.setattr(distributed, 'gather', gather)
    args = build_parser().parse_args(['score', '-t', str(images), '-r', '--weights', str(score_weights), '--maps',
                                      str(images / 'maps'), '-q'])
    assert _score(args, 1, 2) == 0
    listed = [str(images / name) for name in ('a.png', 'b.png', 'c.png')]
    assert [call for call in calls if isinstance(call[1], list)] == [(['a.png', 'b.png', 'c.png'], listed)]
    assert sorted(p.name for p in (images / 'maps').iterdir()) == ['c_sfd_map.png']  # the second of rank 0's two
    assert [list(call[1][0]) for call in calls if isinstance(call[1], tuple)] == [[str(images / 'c.png')]]
