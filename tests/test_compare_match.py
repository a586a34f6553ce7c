"""Result folders matched by image name with BasicSR's suffixes stripped (inference/compare_match.py); the names
expected are worked out by hand from BasicSR's naming (``<img>_<name>``, ``<img>_<iter>``, ``<img>x4``)."""
import os

import pytest

from sfd_basicsr.inference.compare_match import (CompareInputError, common_suffix_removed, image_name,
                                                 match_folders, parse_run)


def touch(folder, *names):
    os.makedirs(folder, exist_ok=True)
    for name in names:
        with open(os.path.join(folder, name), 'wb') as f:
            f.write(b'')  # matching reads names only
    return str(folder)


@pytest.mark.parametrize('stems, expected', [
    (['baby_SFD', 'bird_SFD'], ['baby', 'bird']),  # basicsr test: _<experiment name>
    (['baby_5000', 'bird_5000'], ['baby', 'bird']),  # validation: _<iter>
    (['0801x4', '0811x4'], ['0801', '0811']),  # DIV2K's LR names; not '080' / '081'
    (['a_x4_out', 'b_x4_out'], ['a', 'b']),  # upscale --suffix _x4, then Real-ESRGAN's _out
    (['img_001', 'img_002'], ['img_001', 'img_002']),  # nothing shared after a separator
    (['baby_SFD'], ['baby_SFD']),  # one file: its suffix cannot be told from its name
    (['_SFD', 'a_SFD'], ['_SFD', 'a_SFD']),  # a name is never empty: a leading separator starts no suffix
])
def test_the_suffix_a_folder_shares_is_removed(stems, expected):
    assert [common_suffix_removed(stems)[s] for s in stems] == expected


@pytest.mark.parametrize('stem, expected', [
    ('img10_a', 'img10'), ('img1_a', 'img1'), ('img_1_SFD', 'img_1'), ('img_SFD', 'img'), ('babyx4', 'baby'),
    ('baby-sfd', 'baby'), ('baby', 'baby'), ('baby2', None), ('boxes', None),
    ('babyx4k', None),  # x<scale> is a suffix only where a separator or the end follows it
])
def test_a_file_is_the_longest_image_name_it_starts_with_before_a_suffix(stem, expected):
    assert image_name(stem, {'img', 'img_1', 'img1', 'img10', 'baby', 'bo'}) == expected


def test_runs_are_matched_to_the_gt_by_name_and_the_rest_is_named(tmp_path):
    gt = touch(tmp_path / 'gt', 'baby.png', 'bird.png', 'head.png')
    lr = touch(tmp_path / 'lr', 'babyx4.png', 'birdx4.png', 'headx4.png')
    sfd = touch(tmp_path / 'sfd', 'baby_SFD.png', 'bird_SFD.png', 'head_SFD.png', 'notes.txt', 'zebra_SFD.png')
    esrgan = touch(tmp_path / 'esrgan', 'baby_ESRGAN.png', 'bird_ESRGAN.png')
    matched = match_folders([('SFD', sfd, None), ('ESRGAN', esrgan, None)], gt=gt, lr=lr)
    assert matched.names == ['baby', 'bird']
    assert [(p.label, p.kind) for p in matched.panes] == [
        ('LR', 'lr'), ('SFD', 'run'), ('ESRGAN', 'run'), ('GT', 'gt')]
    assert matched.panes[1].files == {'baby': os.path.join(sfd, 'baby_SFD.png'),
                                      'bird': os.path.join(sfd, 'bird_SFD.png')}
    assert matched.panes[0].files['bird'] == os.path.join(lr, 'birdx4.png')
    unmatched = {os.path.basename(path): why for path, why in matched.unmatched}
    assert set(unmatched) == {'notes.txt', 'zebra_SFD.png', 'head_SFD.png', 'head.png', 'headx4.png'}
    assert unmatched['zebra_SFD.png'] == 'its name is no image of GT (nor one with a suffix)'
    assert unmatched['head_SFD.png'] == "'head' is not in every run (missing from ESRGAN)"


def test_without_gt_the_first_run_names_the_images(tmp_path):
    a = touch(tmp_path / 'a', 'baby_A.png', 'bird_A.png')
    b = touch(tmp_path / 'b', 'baby_B.png', 'bird_B.png')
    matched = match_folders([('A', a, None), ('B', b, None)])
    assert matched.names == ['baby', 'bird'] and matched.unmatched == []


def test_an_experiments_visualization_is_read_at_the_latest_iteration_every_image_has(tmp_path):
    vis = tmp_path / 'experiments' / 'x' / 'visualization'
    touch(vis / 'baby', 'baby_5.png', 'baby_10.png')
    touch(vis / 'bird', 'bird_5.png')
    other = touch(tmp_path / 'other', 'baby_o.png', 'bird_o.png')
    matched = match_folders([('X', *parse_run(f'X={vis}')[1:]), ('O', other, None)])
    run = matched.panes[0]
    assert run.iteration == 5 and run.files == {'baby': str(vis / 'baby' / 'baby_5.png'),
                                                'bird': str(vis / 'bird' / 'bird_5.png')}
    chosen = match_folders([parse_run(f'X={vis}@10'), ('O', other, None)])
    assert chosen.names == ['baby'] and chosen.panes[0].files == {'baby': str(vis / 'baby' / 'baby_10.png')}
    assert (str(vis / 'bird'), 'no image of iteration 10') in chosen.unmatched


@pytest.mark.parametrize('text, message', [
    ('results', "run 'results': expected NAME=FOLDER (or NAME=EXPERIMENT/visualization@ITER)."),
    ('=results', "run '=results': expected NAME=FOLDER"),
    ('A={tmp}/absent', "run A: folder '{tmp}/absent' does not exist."),
    ('A={tmp}@last', "run 'A={tmp}@last': the iteration after @ must be a whole number; got 'last'."),
])
def test_a_run_argument_that_names_no_folder_is_refused(text, message, tmp_path):
    with pytest.raises(CompareInputError) as refused:
        parse_run(text.format(tmp=tmp_path))
    assert str(refused.value).startswith(message.format(tmp=tmp_path))


def test_run_names_must_differ_and_differ_from_the_other_panes(tmp_path):
    a = touch(tmp_path / 'a', 'baby.png')
    for runs in ([('A', a, None), ('A', a, None)], [('GT', a, None), ('A', a, None)], [('Bicubic', a, None)]):
        with pytest.raises(CompareInputError, match='run names must differ from each other and from Bicubic, GT, LR'):
            match_folders(runs)


def test_runs_without_a_shared_image_are_refused(tmp_path):
    a = touch(tmp_path / 'a', 'baby_A.png', 'bird_A.png')
    b = touch(tmp_path / 'b', 'head_B.png', 'woman_B.png')
    with pytest.raises(CompareInputError, match='no image is in every run'):
        match_folders([('A', a, None), ('B', b, None)])


def test_an_iteration_for_a_folder_of_images_is_refused(tmp_path):
    a = touch(tmp_path / 'a', 'baby_A.png')
    with pytest.raises(CompareInputError, match=r"@5 needs an experiment's visualization/ folder"):
        match_folders([('A', a, 5), ('B', a, None)])


def test_a_missing_gt_folder_is_named(tmp_path):
    a = touch(tmp_path / 'a', 'baby_A.png')
    with pytest.raises(CompareInputError, match=f"--gt '{tmp_path}/absent': no such folder."):
        match_folders([('A', a, None), ('B', a, None)], gt=str(tmp_path / 'absent'))


def test_the_latest_iteration_every_image_has_is_the_default_and_stray_files_are_no_images(tmp_path):
    vis = tmp_path / 'visualization'
    touch(vis / 'baby', 'baby_5.png', 'baby_10.png', 'baby_15.png', 'stray_20.png')  # stray: not baby's name
    touch(vis / 'bird', 'bird_5.png', 'bird_10.png', 'bird_20.png')
    other = touch(tmp_path / 'other', 'baby_o.png', 'bird_o.png')
    run = match_folders([('X', str(vis), None), ('O', other, None)]).panes[0]
    assert run.iteration == 10 and run.files == {'baby': str(vis / 'baby' / 'baby_10.png'),
                                                 'bird': str(vis / 'bird' / 'bird_10.png')}


def test_a_folder_whose_name_holds_an_at_sign_is_a_folder_not_an_iteration(tmp_path):
    folder = tmp_path / 'runs@home'
    folder.mkdir()
    assert parse_run(f'A={folder}') == ('A', str(folder), None)
