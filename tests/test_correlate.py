"""``sfd-iqa correlate`` (``iqa/correlate.py``, ``commands/correlate.py``): MOS files as users' spreadsheets
write them, and every malformed one refused in one line that names the file, the line and what was expected."""
import pytest

from sfd_basicsr.iqa.correlate import read_mos_csv

ROWS = 'image,mos\r\n0.png,1\r\n1.png,2.5\r\n2.png,3\r\n'
SCORE_FIRST = 'mos,image\r\n1,0.png\r\n2.5,1.png\r\n3,2.png\r\n'  # the mark then sits on the score's name


@pytest.fixture
def mos_images(tmp_path):
    folder = tmp_path / 'mos_images'
    folder.mkdir()
    for i in range(3):
        (folder / f'{i}.png').write_bytes(b'')  # only their presence is read here
    return folder


def test_a_byte_order_mark_is_read_past_as_spreadsheets_write_it(tmp_path, mos_images):
    plain, marked = tmp_path / 'plain.csv', tmp_path / 'marked.csv'
    plain.write_text(SCORE_FIRST)
    marked.write_bytes(b'\xef\xbb\xbf' + SCORE_FIRST.encode())  # Excel's "CSV UTF-8"
    expected = ([(str(mos_images / f'{i}.png'), score) for i, score in enumerate((1.0, 2.5, 3.0))], [])
    assert read_mos_csv(str(plain), str(mos_images)) == expected
    assert read_mos_csv(str(marked), str(mos_images)) == expected


@pytest.mark.parametrize('content, line', [
    (b'image,mos\n0.png,1\n1.png,n/a\n', "line 3: the mos column holds 'n/a', not a finite number."),
    (b'image,mos\n0.png,1\n1.png,\n', 'line 3: the mos column holds nothing, not a finite number.'),
    (b'image,mos\n0.png,1\n1.png\n', 'line 3: the mos column holds nothing, not a finite number.'),
    (b'image,mos\n0.png,nan\n', "line 2: the mos column holds 'nan', not a finite number."),
    (b'image,mos\n0.png,1\n1.png,-inf\n', "line 3: the mos column holds '-inf', not a finite number."),
    (b'image,mos\n0.png,1\n,2\n', 'line 3: the image column holds no image name.'),
    (b'image,mos\n0.png,1\n1.png,2\nsub/0.png,3\n', 'lines 2 and 4: the image 0.png is listed twice; give each '
                                                  'image one score (the mean of its ratings).'),
    (b'image,mos\n', 'has no rows under its header.'),
    (b'\xff\xfeimage,mos\n', "cannot be read as a UTF-8 CSV file ('utf-8' codec can't decode byte 0xff in position 0: "
                             'invalid start byte).'),
], ids=['text score', 'empty score', 'short row', 'nan', 'infinite', 'no name', 'twice', 'no rows', 'not utf-8'])
def test_a_malformed_mos_file_is_refused_naming_the_file_and_line(tmp_path, mos_images, sfd_iqa_main, content, line):
    mos = tmp_path / 'mos.csv'
    mos.write_bytes(content)
    refused = sfd_iqa_main(['correlate', '--images', str(mos_images), '--mos', str(mos), '--metrics', 'piqe', '-q'])
    assert refused.returncode == 2
    separator = ' ' if line.startswith('has') else ', ' if line.startswith('line') else ': '
    assert refused.stderr.strip().splitlines() == [f"sfd-iqa correlate: --mos '{mos}'{separator}{line}"]


@pytest.mark.parametrize('what', ['absent', 'a folder'])
def test_a_mos_path_that_is_no_file_is_refused(tmp_path, mos_images, sfd_iqa_main, what):
    mos = tmp_path / 'mos.csv'
    if what == 'a folder':
        mos.mkdir()
    refused = sfd_iqa_main(['correlate', '--images', str(mos_images), '--mos', str(mos), '--metrics', 'piqe', '-q'])
    reason = 'No such file or directory' if what == 'absent' else 'Is a directory'
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        f"sfd-iqa correlate: --mos '{mos}': cannot be read as a UTF-8 CSV file ({reason})."]


def test_an_images_folder_that_does_not_exist_is_refused_by_name(tmp_path, sfd_iqa_main):
    mos = tmp_path / 'mos.csv'
    mos.write_text(ROWS)
    refused = sfd_iqa_main(['correlate', '--images', str(tmp_path / 'nowhere'), '--mos', str(mos), '-q'])
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        f"sfd-iqa correlate: --images '{tmp_path / 'nowhere'}' is not a folder."]


def test_a_metric_name_pyiqa_does_not_know_stops_the_library_call_before_any_image_is_scored(mos_images, monkeypatch):
    from sfd_basicsr.iqa import correlate as module
    from sfd_basicsr.iqa.pyiqa_metrics import UnknownMetric

    def no_reading(path):
        raise AssertionError(f'{path} was read before the metric names were checked')
    monkeypatch.setattr('sfd_basicsr.utils.image_io.read_image', no_reading)
    pairs = [(str(mos_images / f'{i}.png'), float(i)) for i in range(3)]
    with pytest.raises(UnknownMetric, match=r"^'piqee' is not a pyiqa metric \(did you mean piqe"):
        module.correlate(pairs, ['piqe', 'piqee'], device='cpu', progress=False)
