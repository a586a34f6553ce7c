"""The one image reader of every command: what it refuses, naming the file, and what a folder listing passes over."""
import os

import cv2
import numpy as np
import pytest
import skimage.data
from PIL import Image

from sfd_basicsr.utils.image_io import ImageReadError, NoImages, read_unchanged, scan_images


def photo(size=(96, 128)):
    return cv2.resize(cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR), size[::-1])


def write_truncated(path, keep=0.6):
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])


@pytest.mark.parametrize('name, params', [('cut.png', []), ('cut.jpg', []),
                                          ('cut_progressive.jpg', [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])])
def test_truncated_png_and_jpeg_files_are_refused_though_decoders_accept_them(tmp_path, name, params):
    path = tmp_path / name
    cv2.imwrite(str(path), photo(), params)
    write_truncated(path)
    if name.endswith('.jpg'):  # cv2.imread (libjpeg) gives a whole-size image and only a warning on stderr
        assert cv2.imread(str(path)).shape == (96, 128, 3)
    kind = 'PNG' if name.endswith('.png') else 'JPEG'
    with pytest.raises(ImageReadError, match=rf"'{path}' is a truncated {kind}"):
        read_unchanged(str(path))


@pytest.mark.parametrize('name, params', [('whole.png', []), ('whole.jpg', []),
                                          ('whole_progressive.jpg', [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])])
def test_whole_files_read_as_another_reader_reads_them(tmp_path, name, params):
    path = tmp_path / name
    cv2.imwrite(str(path), photo(), params)
    with open(path, 'ab') as f:  # bytes after the end marker (some tools append metadata) are no truncation
        f.write(b'\0' * 16)
    expected = np.asarray(Image.open(path).convert('RGB'))[..., ::-1]
    got = read_unchanged(str(path))
    assert got.shape == expected.shape
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= (0 if name.endswith('.png') else 2)


def test_a_jpeg_whose_thumbnail_is_whole_but_its_image_cut_is_refused(tmp_path):
    thumbnail = cv2.imencode('.jpg', photo((24, 32)))[1].tobytes()  # holds an end-of-image marker of its own
    main = cv2.imencode('.jpg', photo())[1].tobytes()
    exif = b'Exif\0\0' + thumbnail
    app1 = b'\xff\xe1' + (len(exif) + 2).to_bytes(2, 'big') + exif
    data = main[:2] + app1 + main[2:]
    (tmp_path / 'thumb.jpg').write_bytes(data)
    assert read_unchanged(str(tmp_path / 'thumb.jpg')).shape == (96, 128, 3)
    (tmp_path / 'cut.jpg').write_bytes(data[:len(data) - 2000])
    with pytest.raises(ImageReadError, match='truncated JPEG'):
        read_unchanged(str(tmp_path / 'cut.jpg'))


def test_gif_empty_folder_and_broken_link_are_refused_by_name(tmp_path):
    Image.fromarray(photo()[..., ::-1]).save(tmp_path / 'anim.gif', save_all=True,
                                             append_images=[Image.fromarray(photo()[::-1, :, ::-1])])
    (tmp_path / 'empty.png').write_bytes(b'')
    (tmp_path / 'dir.png').mkdir()
    os.symlink(tmp_path / 'gone.png', tmp_path / 'link.png')
    (tmp_path / 'notes.png').write_text('not an image')
    for name, reason in [('anim.gif', 'is a GIF: not read'), ('empty.png', r'is empty \(0 bytes\)'),
                         ('dir.png', 'is a folder'), ('link.png', 'is a broken link'),
                         ('notes.png', 'is not a readable image')]:
        with pytest.raises(ImageReadError, match=rf"'{tmp_path / name}' {reason}"):
            read_unchanged(str(tmp_path / name))
    with pytest.raises(FileNotFoundError, match='does not exist'):
        read_unchanged(str(tmp_path / 'missing.png'))


def test_a_folder_listing_names_every_entry_it_passes_over(tmp_path):
    cv2.imwrite(str(tmp_path / 'b.png'), photo())
    cv2.imwrite(str(tmp_path / 'a.JPG'), photo())
    (tmp_path / 'sub.png').mkdir()
    os.symlink(tmp_path / 'gone.png', tmp_path / 'link.png')
    (tmp_path / 'meta_info.txt').write_text('b.png\n')
    Image.fromarray(photo()).save(tmp_path / 'c.gif')
    images, passed_over = scan_images(str(tmp_path))
    assert images == [str(tmp_path / 'a.JPG'), str(tmp_path / 'b.png')]
    reasons = {os.path.basename(path): why for path, why in passed_over}
    assert set(reasons) == {'sub.png', 'link.png', 'meta_info.txt', 'c.gif'}
    assert reasons['sub.png'].startswith('a folder') and reasons['link.png'] == 'a broken link'
    assert reasons['c.gif'].startswith('a GIF') and reasons['meta_info.txt'].startswith('not an image extension')
    assert scan_images(str(tmp_path / 'b.png')) == ([str(tmp_path / 'b.png')], [])


def test_a_folder_without_images_is_refused_naming_it_and_what_was_expected(tmp_path):
    error = NoImages(str(tmp_path / 'emptydir.png'))
    assert isinstance(error, FileNotFoundError) and error.exit_code == 2
    assert str(error) == (f"no images in the folder '{tmp_path / 'emptydir.png'}': expected image files (.png, .jpg, "
                          '.jpeg, .bmp, .tif, .tiff, .webp, .ppm, .pgm).')


def test_a_commands_lock_file_is_not_listed_among_the_entries_passed_over(tmp_path):
    import cv2
    import numpy as np

    from sfd_basicsr.utils.image_io import scan_images
    from sfd_basicsr.utils.locks import OUTPUT_LOCK
    cv2.imwrite(str(tmp_path / 'a.png'), np.zeros((4, 4, 3), np.uint8))
    (tmp_path / OUTPUT_LOCK).write_text('pid 1\n')
    (tmp_path / 'notes.txt').write_text('x')
    images, passed_over = scan_images(str(tmp_path))
    assert [os.path.basename(p) for p in images] == ['a.png']
    assert [os.path.basename(p) for p, _ in passed_over] == ['notes.txt']


def image_tree(root):
    """Images in nested folders, a link back up (a loop) and a second link to one folder."""
    for relative in ('b.png', 'a/x.png', 'a/deeper/y.jpg', 'a.png', 'c/z.png'):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / relative), photo())
    (root / 'c' / 'notes.txt').write_text('x')
    os.symlink(root, root / 'a' / 'loop')
    os.symlink(root / 'c', root / 'c_again')
    return root


def test_a_recursive_listing_finds_the_images_pyiqas_command_finds_each_once(tmp_path):
    from pyiqa.utils import scandir_images
    root = image_tree(tmp_path / 'tree')
    images, passed_over = scan_images(str(root), recursive=True)
    # pyiqa follows links without noticing loops, so its reference is taken on the tree without them
    for link in (root / 'a' / 'loop', root / 'c_again'):
        link.unlink()
    assert images == scandir_images(str(root))
    reasons = {os.path.relpath(path, root): why for path, why in passed_over}
    assert set(reasons) == {'a/loop', 'c_again', 'c/notes.txt'}
    assert reasons['a/loop'].startswith('a folder searched already') and reasons['c_again'] == reasons['a/loop']


def test_without_recursive_sub_folders_are_passed_over_unsearched(tmp_path):
    root = image_tree(tmp_path / 'tree')
    images, passed_over = scan_images(str(root))
    assert images == [str(root / 'a.png'), str(root / 'b.png')]
    assert {os.path.basename(path): why for path, why in passed_over if os.path.isdir(path)} == {
        'a': 'a folder (folders are not searched)', 'c': 'a folder (folders are not searched)',
        'c_again': 'a folder (folders are not searched)'}


def test_a_recursive_listing_passes_over_the_folders_it_is_told_to_skip_with_their_reason(tmp_path):
    root = image_tree(tmp_path / 'tree')
    images, passed_over = scan_images(str(root), recursive=True, skip_folders={str(root / 'c'): 'the output'})
    assert str(root / 'c' / 'z.png') not in images and str(root / 'a' / 'x.png') in images
    # the folder is skipped under any name: its link too
    assert sorted((os.path.relpath(p, root), why) for p, why in passed_over) == [
        ('a/loop', 'a folder searched already (a link to it, or a link loop)'), ('c', 'the output'),
        ('c_again', 'the output')]


def test_a_pipe_named_like_an_image_is_refused_without_reading_it(tmp_path):
    fifo = tmp_path / 'x.png'
    os.mkfifo(fifo)  # opening it to read would wait for a writer forever
    with pytest.raises(ImageReadError, match=r"is not a regular file \(a pipe or a device\), not an image file\.$"):
        read_unchanged(str(fifo))


@pytest.mark.parametrize('bad', [np.nan, np.inf, -np.inf])
def test_a_float_image_holding_nan_or_infinite_pixels_is_refused(tmp_path, bad):
    pixels = np.full((8, 8, 3), 0.5, np.float32)
    pixels[3, 4, 1] = bad
    path = tmp_path / 'x.tif'
    assert cv2.imwrite(str(path), pixels)
    assert not np.isfinite(cv2.imread(str(path), cv2.IMREAD_UNCHANGED)).all()  # OpenCV keeps the value
    with pytest.raises(ImageReadError, match=r"holds NaN or infinite pixels; not read\.$"):
        read_unchanged(str(path))


@pytest.mark.parametrize('name, options', [('pages.tiff', {}), ('anim.webp', {'lossless': True}), ('anim.png', {})])
def test_a_multi_page_tiff_or_an_animation_is_refused_saying_how_many_pages(tmp_path, name, options):
    frames = [Image.fromarray(np.ascontiguousarray(photo()[..., ::-1]) // (1 + i)) for i in range(2)]  # the boundary
    frames[0].save(tmp_path / name, save_all=True, append_images=frames[1:], **options)
    assert Image.open(tmp_path / name).n_frames == 2  # the writer's own count
    assert cv2.imread(str(tmp_path / name)) is not None  # OpenCV alone would read the first page, unsaid
    with pytest.raises(ImageReadError, match=rf"^'{tmp_path / name}' holds 2 pages or frames \(a multi-page TIFF "
                       r'or an animation\): only the first would be read'):
        read_unchanged(str(tmp_path / name))


@pytest.mark.parametrize('name', ['one.tiff', 'one.webp', 'one.png'])
def test_a_single_page_tiff_webp_or_png_reads_as_opencv_reads_it(tmp_path, name):
    Image.fromarray(np.ascontiguousarray(photo()[..., ::-1])).save(tmp_path / name, **(
        {'lossless': True} if name.endswith('webp') else {}))
    assert np.array_equal(read_unchanged(str(tmp_path / name)), cv2.imread(str(tmp_path / name), cv2.IMREAD_UNCHANGED))


def test_a_tiff_with_a_thumbnail_page_holds_one_image_and_reads_as_opencv_reads_it(tmp_path):
    tifffile = pytest.importorskip('tifffile')  # scikit-image's dependency: it writes NewSubfileType
    rgb = np.ascontiguousarray(photo()[..., ::-1])
    with tifffile.TiffWriter(tmp_path / 'scan.tiff') as writer:
        writer.write(rgb, photometric='rgb')
        writer.write(rgb[::8, ::8], photometric='rgb', subfiletype=1)  # a reduced-resolution copy
    assert Image.open(tmp_path / 'scan.tiff').n_frames == 2
    path = str(tmp_path / 'scan.tiff')
    assert np.array_equal(read_unchanged(path), cv2.imread(path, cv2.IMREAD_UNCHANGED))


def test_a_tiff_whose_pages_pillow_cannot_walk_is_left_to_opencv(tmp_path, monkeypatch):
    from sfd_basicsr.utils import image_io

    class Unwalkable:  # Pillow's reader of a page in a layout it does not support
        format = 'TIFF'

        @property
        def n_frames(self):
            raise SyntaxError('unknown pixel mode')

        def close(self):
            pass

    path = tmp_path / 'odd.tiff'
    cv2.imwrite(str(path), photo())
    monkeypatch.setattr(image_io, 'pil_reader', lambda _: Unwalkable())
    assert image_io.frame_count(str(path)) == 1
    assert np.array_equal(read_unchanged(str(path)), cv2.imread(str(path), cv2.IMREAD_UNCHANGED))
