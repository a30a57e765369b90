import importlib.util
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

import py2pickle
from conftest import IDX_NAMES, ROOT, gz, idx_bytes, write_idx_folder
from mlp_mnist.backend import config
from mlp_mnist.data import DataError, load_mnist, one_hot


LOGIN_PAGE = (b'<!DOCTYPE html>\n<html><head><title>Sign in</title></head>'
              b'<body>Please sign in to download.</body></html>\n')


def toy_pickle_sets(rng, sizes=(60, 20, 20)):
    """Return three (X, y) pairs shaped like mnist.pkl.gz's: float32 pixels
    k/256 and int64 labels."""
    sets = []
    for n in sizes:
        X = rng.randint(0, 256, size=(n, 784)).astype(np.float32) / 256
        y = rng.randint(0, 10, size=n).astype(np.int64)
        sets.append((X, y))
    return tuple(sets)


def test_load_python2_pickle(tmp_path):
    sets = toy_pickle_sets(np.random.RandomState(1))
    path = tmp_path / 'mnist.pkl.gz'
    path.write_bytes(gz(py2pickle.dumps(sets)))

    loaded = load_mnist(path)

    assert len(loaded) == 3
    for (X, y), (X_ref, y_ref) in zip(loaded, sets):
        assert X.dtype == config.floatX and X.shape == X_ref.shape
        assert y.dtype == np.int32 and y.shape == y_ref.shape
        np.testing.assert_array_equal(X, X_ref)
        np.testing.assert_array_equal(y, y_ref)


def test_load_python3_pickle(tmp_path):
    sets = toy_pickle_sets(np.random.RandomState(2))
    for protocol in (2, 3, 4, 5):
        path = tmp_path / f'mnist_py3k_{protocol}.pkl.gz'
        path.write_bytes(gz(pickle.dumps(sets, protocol)))
        (X, y), _, (X_test, _) = load_mnist(path)
        np.testing.assert_array_equal(X, sets[0][0])
        np.testing.assert_array_equal(X_test, sets[2][0])


@pytest.mark.parametrize('gz', [False, True])
def test_load_idx_folder(tmp_path, gz):
    arrays = write_idx_folder(tmp_path, n_train=120, n_test=30, gz=gz)
    train_images = arrays['train-images-idx3-ubyte'].reshape(120, 784)
    train_labels = arrays['train-labels-idx1-ubyte']

    (X, y), (X_valid, y_valid), (X_test, y_test) = load_mnist(tmp_path)

    # the last sixth of the training images is the validation set
    assert X.shape == (100, 784) and X_valid.shape == (20, 784)
    assert X_test.shape == (30, 784)
    assert X.dtype == config.floatX and y.dtype == np.int32
    np.testing.assert_array_equal(X, train_images[:100] / 256.0)
    np.testing.assert_array_equal(X_valid, train_images[100:] / 256.0)
    np.testing.assert_array_equal(y_valid, train_labels[100:])
    np.testing.assert_array_equal(
        y_test, arrays['t10k-labels-idx1-ubyte'])
    assert X.max() <= 255 / 256


def test_dotted_idx_names_are_found(tmp_path):
    write_idx_folder(tmp_path, n_train=60, n_test=10)
    for name in IDX_NAMES:
        (tmp_path / name).rename(tmp_path / name.replace('-idx', '.idx'))
    (X, _), _, (X_test, _) = load_mnist(tmp_path)
    assert len(X) == 50 and len(X_test) == 10


def test_one_hot_rows_have_a_single_one():
    Y = one_hot(np.array([3, 0, 9]), 10)
    expected = np.zeros((3, 10))
    expected[[0, 1, 2], [3, 0, 9]] = 1
    assert Y.dtype == config.floatX
    np.testing.assert_array_equal(Y, expected)


def test_missing_path_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match='no such file or folder'):
        load_mnist(tmp_path / 'nothing.pkl.gz')


# Each bad input raises one DataError line: the absolute path, what was
# expected, what was found, then after '; ' the fix.

def assert_data_error(excinfo, path, found):
    e = excinfo.value
    message = str(e)
    assert message == f'{Path(path).absolute()}: {e.problem}; {e.fix}'
    assert '\n' not in message
    assert e.problem.startswith('expected ') and ', found ' in e.problem
    assert e.fix
    assert found in e.problem


def idx_set(folder, n_train=60, n_test=12, seed=5):
    """Write a toy IDX folder; return {name: raw bytes} and the arrays."""
    arrays = write_idx_folder(folder, n_train=n_train, n_test=n_test,
                              seed=seed)
    return {n: (folder / n).read_bytes() for n in IDX_NAMES}, arrays


def replace_file(folder, name, data, new_name=None):
    (folder / name).unlink()
    (folder / (new_name or name)).write_bytes(data)
    return folder / (new_name or name)


@pytest.mark.parametrize('name, make, found', [
    ('train-labels-idx1-ubyte', lambda raw: b'', 'found an empty file'),
    ('train-images-idx3-ubyte', lambda raw: LOGIN_PAGE,
     'found an HTML page'),
    ('train-images-idx3-ubyte',
     lambda raw: gz(raw)[:len(gz(raw)) // 2],
     'found one cut short'),
    ('t10k-images-idx3-ubyte', lambda raw: b'\x00\x01\x02\x03garbage',
     'found bytes 00 01 02 03 67 61 72 62'),
    ('t10k-images-idx3-ubyte', lambda raw: b'PK\x03\x04' + raw,
     'found a zip archive'),
    ('t10k-labels-idx1-ubyte', lambda raw: gz(gz(
        gz(gz(raw)))), 'found deeper nesting'),
])
def test_broken_idx_file_is_one_line(tmp_path, name, make, found):
    raw, _ = idx_set(tmp_path)
    path = replace_file(tmp_path, name, make(raw[name]), name + '.gz')
    with pytest.raises(DataError) as e:
        load_mnist(tmp_path)
    assert_data_error(e, path, found)


def test_swapped_image_and_label_files(tmp_path):
    raw, _ = idx_set(tmp_path)
    images = tmp_path / 'train-images-idx3-ubyte'
    images.write_bytes(raw['train-labels-idx1-ubyte'])
    (tmp_path / 'train-labels-idx1-ubyte').write_bytes(
        raw['train-images-idx3-ubyte'])
    with pytest.raises(DataError) as e:
        load_mnist(tmp_path)
    assert_data_error(e, images, 'found an IDX labels file (magic '
                      '0x00000801)')
    assert 'swapped' in e.value.fix


def test_images_that_are_not_28x28(tmp_path):
    idx_set(tmp_path)
    images = np.zeros((60, 32, 32), np.uint8)
    path = tmp_path / 'train-images-idx3-ubyte'
    path.write_bytes(idx_bytes(images))
    with pytest.raises(DataError) as e:
        load_mnist(tmp_path)
    assert_data_error(e, path, 'expected 28x28 images, found 32x32')


@pytest.mark.parametrize('change, n_bytes, what', [
    (lambda data: data[:-100], 16 + 60 * 784 - 100, 'shorter'),
    (lambda data: data + b'\x00' * 5, 16 + 60 * 784 + 5, 'longer'),
])
def test_payload_that_disagrees_with_the_header(tmp_path, change, n_bytes,
                                                what):
    raw, _ = idx_set(tmp_path)
    path = tmp_path / 'train-images-idx3-ubyte'
    path.write_bytes(change(raw['train-images-idx3-ubyte']))
    with pytest.raises(DataError) as e:
        load_mnist(tmp_path)
    assert_data_error(e, path, f'expected {16 + 60 * 784:,} bytes (the '
                      f'header says 60 images), found {n_bytes:,}: the '
                      f'file is {what}')


def test_image_and_label_counts_that_differ(tmp_path):
    _, arrays = idx_set(tmp_path)
    path = tmp_path / 'train-labels-idx1-ubyte'
    path.write_bytes(idx_bytes(arrays['train-labels-idx1-ubyte'][:59]))
    with pytest.raises(DataError) as e:
        load_mnist(tmp_path)
    assert_data_error(e, path, 'expected one label for each of the 60 '
                      'images in train-images-idx3-ubyte, found 59 labels')


def test_labels_outside_0_to_9(tmp_path):
    _, arrays = idx_set(tmp_path)
    labels = arrays['t10k-labels-idx1-ubyte'].copy()
    labels[5] = 12
    path = tmp_path / 't10k-labels-idx1-ubyte'
    path.write_bytes(idx_bytes(labels))
    with pytest.raises(DataError) as e:
        load_mnist(tmp_path)
    assert_data_error(e, path, f'found values from {labels.min()} to 12')


def test_missing_idx_files_are_listed_with_every_path_searched(tmp_path):
    raw, _ = idx_set(tmp_path)
    for name in IDX_NAMES[1:]:
        (tmp_path / name).unlink()
    with pytest.raises(DataError) as e:
        load_mnist(tmp_path)
    assert_data_error(e, tmp_path, 'found 1 of the four: missing '
                      + ', '.join(IDX_NAMES[1:]))
    searched = [tmp_path / 'mnist.pkl.gz'] + [
        tmp_path / (stem + suffix) for name in IDX_NAMES[1:]
        for stem in (name, name.replace('-idx', '.idx'))
        for suffix in ('', '.gz')]
    assert f'(looked for {", ".join(map(str, searched))})' in str(e.value)


def test_gz_name_and_gzip_bytes_are_told_apart_by_magic(tmp_path):
    raw, arrays = idx_set(tmp_path)
    # raw bytes under a .gz name, gzip bytes under a raw name, gzip twice
    replace_file(tmp_path, 'train-images-idx3-ubyte',
                 raw['train-images-idx3-ubyte'],
                 'train-images-idx3-ubyte.gz')
    (tmp_path / 'train-labels-idx1-ubyte').write_bytes(
        gz(raw['train-labels-idx1-ubyte']))
    (tmp_path / 't10k-images-idx3-ubyte').write_bytes(
        gz(gz(raw['t10k-images-idx3-ubyte'])))

    (X, y), (X_valid, _), (X_test, _) = load_mnist(tmp_path)

    images = arrays['train-images-idx3-ubyte'].reshape(60, 784)
    np.testing.assert_array_equal(X, images[:50] / 256.0)
    np.testing.assert_array_equal(X_valid, images[50:] / 256.0)
    np.testing.assert_array_equal(y, arrays['train-labels-idx1-ubyte'][:50])
    np.testing.assert_array_equal(
        X_test, arrays['t10k-images-idx3-ubyte'].reshape(12, 784) / 256.0)


def test_one_idx_file_given_instead_of_the_folder(tmp_path):
    idx_set(tmp_path)
    path = tmp_path / 'train-images-idx3-ubyte'
    with pytest.raises(DataError) as e:
        load_mnist(path)
    assert_data_error(e, path, 'found a single IDX file')


def test_folder_holding_mnist_pkl_gz_loads_it(tmp_path):
    sets = toy_pickle_sets(np.random.RandomState(6))
    (tmp_path / 'mnist.pkl.gz').write_bytes(
        gz(py2pickle.dumps(sets)))
    (_, y), _, _ = load_mnist(tmp_path)
    np.testing.assert_array_equal(y, sets[0][1])


def test_numpy2_repickle_loads(tmp_path):
    sets = toy_pickle_sets(np.random.RandomState(7))
    # numpy 2 names the array constructors under numpy._core
    data = pickle.dumps(sets, 2).replace(b'numpy.core.', b'numpy._core.')
    assert b'numpy._core.multiarray' in data
    path = tmp_path / 'mnist_py3k.pkl.gz'
    path.write_bytes(gz(data))
    (X, _), _, (_, y_test) = load_mnist(path)
    np.testing.assert_array_equal(X, sets[0][0])
    np.testing.assert_array_equal(y_test, sets[2][1])


def write_pickle(path, sets, protocol=2):
    path.write_bytes(gz(pickle.dumps(sets, protocol)))
    return path


@pytest.mark.parametrize('change, found', [
    (lambda s: s[:2], 'found a tuple of 2 items'),
    (lambda s: [s[0], s[1], s[2][0]], 'found a list of 3 items'),
    (lambda s: ((s[0][0].reshape(-1, 28, 28), s[0][1]), s[1], s[2]),
     'found them shaped (60, 28, 28)'),
    (lambda s: (((s[0][0] * 256).astype(np.uint8), s[0][1]), s[1], s[2]),
     'found uint8 from 0 to 255'),
    (lambda s: ((np.full(s[0][0].shape, None), s[0][1]), s[1], s[2]),
     'found object'),
    (lambda s: ((s[0][0].astype('S1'), s[0][1]), s[1], s[2]),
     'found |S1'),
    (lambda s: ((np.where(np.arange(784) == 0, np.nan, np.where(
        np.arange(784) == 1, -np.inf, s[0][0])), s[0][1]), s[1], s[2]),
     'found 120 NaN or inf'),
    (lambda s: (s[0], (s[1][0], np.where(np.arange(20) == 3, 10, s[1][1])),
                s[2]), 'found values from 0 to 10'),
    (lambda s: (s[0], s[1], (s[2][0], s[2][1].astype(np.float64))),
     'found float64'),
])
def test_bad_pickle_content_is_one_line(tmp_path, change, found):
    sets = toy_pickle_sets(np.random.RandomState(8))
    sets[0][0][0, :2] = [0, 255 / 256]  # so the pixel range is known
    sets[1][1][:2] = [0, 9]
    path = write_pickle(tmp_path / 'mnist.pkl.gz', change(sets))
    with pytest.raises(DataError) as e:
        load_mnist(path)
    assert_data_error(e, path, found)


@pytest.mark.parametrize('data, found', [
    (b'hello, this is not a pickle', 'found bytes 68 65 6c 6c 6f 2c 20 74'),
    (LOGIN_PAGE, 'found an HTML page'),
    (gz(b'\x80\x02(K\x01K\x02'), 'found one that fails'),
])
def test_file_that_is_not_a_pickle_is_one_line(tmp_path, data, found):
    path = tmp_path / 'mnist.pkl.gz'
    path.write_bytes(data)
    with pytest.raises(DataError) as e:
        load_mnist(path)
    assert_data_error(e, path, found)


def test_path_that_cannot_be_read_is_one_line(tmp_path):
    path = tmp_path / ('a' * 300)  # longer than a file name may be
    with pytest.raises(DataError) as e:
        load_mnist(path)
    assert_data_error(e, path, 'found that it cannot be read (File name '
                      'too long)')


def test_truncated_pickle_gzip_is_one_line(tmp_path):
    data = gz(py2pickle.dumps(toy_pickle_sets(
        np.random.RandomState(9))))
    path = tmp_path / 'mnist.pkl.gz'
    path.write_bytes(data[:-1000])
    with pytest.raises(DataError) as e:
        load_mnist(path)
    assert_data_error(e, path, f'found one cut short ({len(data) - 1000:,} '
                      'bytes)')


class Payload:
    """Pickles as a call of `func(*args)`, as an attacker's file would."""

    def __init__(self, func, *args):
        self.func = func
        self.args = args

    def __reduce__(self):
        return self.func, self.args


def touch_payloads(marker):
    """Return (name in the pickle, pickle bytes) of payloads that would
    create `marker` if they ran."""
    hand_written = (b"cos\nsystem\n(S'touch " + str(marker).encode()
                    + b"'\ntR.")
    sets = toy_pickle_sets(np.random.RandomState(10))
    return [
        ('os.system', hand_written),
        (f'{os.system.__module__}.system',
         pickle.dumps(Payload(os.system, f'touch {marker}'), 2)),
        ('builtins.exec', pickle.dumps(Payload(
            exec, f'open({str(marker)!r}, "w").close()'), 4)),
        # one name of an allowed module is not the whole module
        ('numpy.save', pickle.dumps(Payload(np.save, str(marker),
                                            np.zeros(1)), 2)),
        # arrays first, then the call
        ('builtins.exec', pickle.dumps((sets[0], sets[1], Payload(
            exec, f'open({str(marker)!r}, "w").close()')), 5)),
    ]


@pytest.mark.parametrize('index', range(5))
def test_pickle_naming_a_function_is_refused_and_never_runs(tmp_path,
                                                            index):
    marker = tmp_path / 'ran.npy'
    name, data = touch_payloads(marker)[index]
    path = tmp_path / 'mnist.pkl.gz'
    path.write_bytes(gz(data))

    with pytest.raises(DataError) as e:
        load_mnist(path)

    assert_data_error(e, path, f'found one that names {name}')
    assert not marker.exists()
    # the same bytes, unpickled without the guard, do create the file
    pickle.loads(data)
    assert marker.exists()


def load_train_script():
    spec = importlib.util.spec_from_file_location(
        'train_script', ROOT / 'scripts' / 'train.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('make, found', [
    (lambda p: (p / 'mnist.pkl.gz').write_bytes(LOGIN_PAGE),
     'found an HTML page'),
    (lambda p: (p / 'mnist.pkl.gz').write_bytes(gz(
        b"cos\nsystem\n(S'echo hi'\ntR.")), 'names os.system'),
])
def test_train_script_prints_one_error_line(tmp_path, capsys, make, found):
    make(tmp_path)
    rc = load_train_script().main(
        ['--data', str(tmp_path / 'mnist.pkl.gz'), '--epochs', '1'])
    captured = capsys.readouterr()
    assert rc == 1 and captured.out == ''
    assert captured.err.startswith(
        f'error: {(tmp_path / "mnist.pkl.gz").absolute()}: expected ')
    assert found in captured.err and captured.err.count('\n') == 1


FASHION = Path('/usr/share/datasets/fashion-mnist')


@pytest.mark.realdata
@pytest.mark.skipif(not (FASHION.is_dir() or os.environ.get('CI')),
                    reason='apt-get install dataset-fashion-mnist')
def test_fashion_mnist_folder_loads_like_mnist():
    # CI installs it, so there a missing folder fails here
    (X, y), (X_valid, y_valid), (X_test, y_test) = load_mnist(FASHION)
    assert X.shape == (50000, 784) and X_valid.shape == (10000, 784)
    assert X_test.shape == (10000, 784) and X.dtype == config.floatX
    # Fashion-MNIST has 6,000 training and 1,000 test images of each class
    train_counts = np.bincount(np.concatenate([y, y_valid]), minlength=10)
    assert train_counts.tolist() == [6000] * 10
    assert np.bincount(y_test, minlength=10).tolist() == [1000] * 10
    assert 0 <= X.min() and X.max() <= 255 / 256


def test_idx_set_too_small_for_a_valid_set_is_one_line(tmp_path):
    # the valid set is the last sixth of the 5 training images: none
    write_idx_folder(tmp_path, n_train=5, n_test=3)
    with pytest.raises(DataError) as e:
        load_mnist(tmp_path)
    assert_data_error(e, tmp_path, 'found none in valid')


def test_pickle_with_empty_sets_is_one_line(tmp_path):
    train, valid, test = toy_pickle_sets(np.random.RandomState(2))
    # protocol 4: protocol 2 writes empty bytes as a call of bytes(),
    # which the loader refuses like any name MNIST never needs
    path = write_pickle(tmp_path / 'mnist.pkl.gz', (
        (train[0][:0], train[1][:0]), valid, (test[0][:0], test[1][:0])),
        protocol=4)
    with pytest.raises(DataError) as e:
        load_mnist(path)
    assert_data_error(e, path, 'found none in train and test')
