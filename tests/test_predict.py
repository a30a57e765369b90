import warnings

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, write_idx_folder
from mlp_mnist.data import find_data, load_mnist
from mlp_mnist.errors import UserError
from mlp_mnist.images import read_digit
from mlp_mnist.train import train
from test_cli import load_script
from test_model import numpy_forward

predict_script = load_script('predict')
REAL_DATA = find_data(ROOT / 'data')


def rectangle_picture(path, ink=255, paper=0, mode='L'):
    """Save a 300 x 200 picture with a 60 x 120 rectangle off centre."""
    pixels = np.full((200, 300), paper, np.uint8)
    pixels[50:170, 30:90] = ink
    Image.fromarray(pixels).convert(mode).save(path)
    return path


def ink_box(frame):
    """Return (height, width) of the pixels above half grey."""
    rows, cols = np.nonzero(frame > 0.5)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


def centre_of_mass(frame):
    rows, cols = np.indices(frame.shape)
    return ((rows * frame).sum() / frame.sum(),
            (cols * frame).sum() / frame.sum())


def test_digit_is_scaled_into_20x20_and_centred_by_mass(tmp_path):
    row = read_digit(rectangle_picture(tmp_path / 'digit.png'))
    assert row.shape == (784,) and row.dtype == np.float32
    frame = row.reshape(28, 28)

    # 120 x 60 scaled by 20 / 120: 20 x 10, its centre of mass at (14, 14)
    assert ink_box(frame) == (20, 10)
    np.testing.assert_allclose(centre_of_mass(frame), (14, 14), atol=0.5)
    assert frame.max() == np.float32(255 / 256) and frame.min() == 0
    assert (frame > 0.5).sum() == 200


def test_dark_ink_on_paper_with_invert_reads_the_same(tmp_path):
    expected = read_digit(rectangle_picture(tmp_path / 'light.png'))
    dark = rectangle_picture(tmp_path / 'dark.png', ink=0, paper=255)
    np.testing.assert_array_equal(read_digit(dark, invert=True), expected)

    # black ink on a transparent background: the paper is what is missing
    pixels = np.zeros((200, 300, 4), np.uint8)
    pixels[50:170, 30:90, 3] = 255
    Image.fromarray(pixels, 'RGBA').save(tmp_path / 'alpha.png')
    np.testing.assert_array_equal(
        read_digit(tmp_path / 'alpha.png', invert=True), expected)

    jpeg = rectangle_picture(tmp_path / 'dark.jpg', ink=0, paper=255,
                             mode='RGB')
    np.testing.assert_allclose(read_digit(jpeg, invert=True), expected,
                               atol=0.1)


def test_picture_without_ink_gives_a_black_frame(tmp_path):
    Image.new('L', (50, 40), 0).save(tmp_path / 'blank.png')
    np.testing.assert_array_equal(read_digit(tmp_path / 'blank.png'),
                                  np.zeros(784))


@pytest.mark.parametrize('name, write, message', [
    ('notes.png', lambda p: p.write_text('not a picture'),
     'not a PNG or JPEG image'),
    ('digit.gif', lambda p: Image.new('L', (28, 28)).save(p),
     'not a PNG or JPEG image'),
    ('missing.png', lambda p: None, 'no such file'),
])
def test_not_a_picture_is_a_user_error(tmp_path, name, write, message):
    path = tmp_path / name
    write(path)
    with pytest.raises(UserError, match=f'^{path}: {message}$'):
        read_digit(path)


@pytest.fixture(scope='module')
def toy_run(tmp_path_factory):
    """Weights of a short run on toy IDX data: (idx folder, weights path,
    data)."""
    folder = tmp_path_factory.mktemp('idx')
    write_idx_folder(folder)
    data = load_mnist(folder)
    out = tmp_path_factory.mktemp('out')
    train(data, n_epochs=8, n_hidden=16, batch_size=50, learning_rate=0.5,
          out=out, log=lambda line: None)
    return folder, out / 'weights.npz', data


def test_picture_past_pillows_limit_is_one_error(tmp_path, monkeypatch):
    # the limit scaled down: rectangle_picture has 60,000 pixels
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 20_000)
    path = rectangle_picture(tmp_path / 'big.png')
    with pytest.raises(UserError, match=f'^{path}: over 40,000 pixels, too '
                                        'large to read safely'):
        read_digit(path)

    # between the limit and twice it Pillow only warns: read, and quiet
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 40_000)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        np.testing.assert_array_equal(
            read_digit(path), read_digit(rectangle_picture(
                tmp_path / 'same.png')))


def expected_lines(weights, names, X, labels=None):
    """Return the lines predict.py should print, by a NumPy forward pass."""
    with np.load(weights) as saved:
        _, p = numpy_forward(np.asarray(X, np.float64), saved['w_h'],
                             saved['w_o'])
    lines = [f'{name}  digit {row.argmax()}  probability {row.max():.4f}'
             for name, row in zip(names, p)]
    if labels is not None:
        lines = [f'{line}  label {y}' for line, y in zip(lines, labels)]
    return lines


def test_predict_names_toy_test_images_by_index(toy_run, capsys):
    folder, weights, (_, _, (X_test, y_test)) = toy_run
    rc = predict_script.main(['--weights', str(weights), '--data',
                              str(folder), '--test-index', '0', '7', '99'])
    lines = capsys.readouterr().out.splitlines()

    assert rc == 0
    indexes = [0, 7, 99]
    assert lines == expected_lines(
        weights, [f'test[{i}]' for i in indexes], X_test[indexes],
        y_test[indexes])
    assert [line.split()[2] for line in lines] == [
        str(y) for y in y_test[indexes]]


def test_predict_prints_path_digit_probability_per_picture(
        toy_run, tmp_path, capsys):
    _, weights, _ = toy_run
    good = rectangle_picture(tmp_path / 'a.png')
    dark = rectangle_picture(tmp_path / 'b.jpg', ink=0, paper=255,
                             mode='RGB')
    (tmp_path / 'c.png').write_text('not a picture')
    rc = predict_script.main(['--weights', str(weights), str(good),
                              str(tmp_path / 'c.png')])
    captured = capsys.readouterr()

    assert rc == 1
    assert captured.out.splitlines() == expected_lines(
        weights, [str(good)], [read_digit(good)])
    assert captured.err == (f'error: {tmp_path / "c.png"}: not a PNG or '
                            'JPEG image\n')

    rc = predict_script.main(['--weights', str(weights), '--invert',
                              str(dark)])
    assert rc == 0
    assert capsys.readouterr().out.splitlines() == expected_lines(
        weights, [str(dark)], [read_digit(dark, invert=True)])


def test_weights_are_checked_and_never_unpickled(toy_run, tmp_path,
                                                 capsys):
    folder = str(toy_run[0])
    np.savez(tmp_path / 'objects.npz', w_h=np.array([None, 1]),
             w_o=np.zeros((2, 10)))
    np.savez(tmp_path / 'shapes.npz', w_h=np.zeros((784, 4)),
             w_o=np.zeros((5, 10)))
    np.savez(tmp_path / 'empty.npz', w_h=np.zeros((784, 0)),
             w_o=np.zeros((0, 10)))
    (tmp_path / 'text.npz').write_text('not weights')
    np.savez(tmp_path / 'names.npz', weights=np.zeros(3))
    (tmp_path / 'folder.npz').mkdir()
    (tmp_path / 'checkpoint.npz').write_bytes(
        (toy_run[1].parent / 'checkpoint.npz').read_bytes())
    cases = {'objects.npz': 'not a weights file (Object arrays cannot be '
                            'loaded when allow_pickle=False)',
             'names.npz': 'holds weights, not the arrays w_h and w_o',
             'shapes.npz': 'holds w_h (784, 4) float64 and w_o (5, 10) '
                           'float64, expected float arrays (784, n) and '
                           '(n, 10)',
             'empty.npz': 'holds w_h (784, 0) float64 and w_o (0, 10) '
                          'float64, expected float arrays (784, n) and '
                          '(n, 10), n at least 1',
             'folder.npz': 'not a file',
             'checkpoint.npz': 'a checkpoint, whose weights are of the '
                               'last epoch, not the best; give the '
                               'weights.npz that the same run wrote beside '
                               'it',
             'text.npz': 'not a weights file (not an .npz archive)',
             'missing.npz': 'no such file'}
    for name, message in cases.items():
        rc = predict_script.main(['--weights', str(tmp_path / name),
                                  '--data', folder, '--test-index', '0'])
        captured = capsys.readouterr()
        assert rc == 1 and captured.out == ''
        assert captured.err.startswith(
            f'error: {tmp_path / name}: {message}')
        assert captured.err.count('\n') == 1


def test_test_index_past_the_end_is_one_error_line(toy_run, capsys):
    folder, weights, _ = toy_run
    rc = predict_script.main(['--weights', str(weights), '--data',
                              str(folder), '--test-index', '3', '100'])
    captured = capsys.readouterr()
    assert rc == 1 and captured.out == ''
    assert captured.err == ('error: --test-index 100 is past the last test '
                            'image, 99\n')


def test_nothing_to_classify_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exit_info:
        predict_script.main(['--weights', 'weights.npz'])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(
        'error: give IMAGE files, --test-index N, or both')


@pytest.mark.realdata
@pytest.mark.skipif(REAL_DATA is None,
                    reason='no MNIST in data/: run data/download.sh')
def test_predict_names_real_test_digits_right(tmp_path, capsys):
    mnist = load_mnist(REAL_DATA)
    train(mnist, n_epochs=1, n_hidden=100, learning_rate=0.5, out=tmp_path,
          log=lambda line: None)
    weights = str(tmp_path / 'weights.npz')
    X_test, y_test = mnist[2]
    indexes = [0, 2, 3]  # MNIST's first test images: 7, 1 and 0

    pictures = []
    for i in indexes:  # 3 times larger, and as a dark-on-light JPEG
        pixels = np.uint8(X_test[i].reshape(28, 28) * 256)
        large = Image.fromarray(pixels).resize((84, 84), Image.BICUBIC)
        large.save(tmp_path / f'{i}.png')
        pictures.append(str(tmp_path / f'{i}.png'))
        Image.fromarray(255 - pixels).convert('RGB').resize(
            (150, 150), Image.BICUBIC).save(tmp_path / f'{i}.jpg')
    rc = predict_script.main(['--weights', weights, *pictures,
                              '--test-index', *map(str, indexes)])
    rc_inverted = predict_script.main(
        ['--weights', weights, '--invert',
         *(str(tmp_path / f'{i}.jpg') for i in indexes)])
    lines = capsys.readouterr().out.splitlines()

    assert rc == rc_inverted == 0
    expected = [str(y) for y in y_test[indexes]]
    assert expected == ['7', '1', '0']
    assert len(lines) == 9
    assert [line.split()[2] for line in lines] == expected * 3
    assert lines[3:6] == expected_lines(
        weights, [f'test[{i}]' for i in indexes], X_test[indexes],
        y_test[indexes])
