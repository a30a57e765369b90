import gzip
import pickle

import numpy as np
import pytest

import py2pickle
from conftest import IDX_NAMES, write_idx_folder
from mlp_mnist.backend import config
from mlp_mnist.data import DataError, load_mnist, one_hot


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
    path.write_bytes(gzip.compress(py2pickle.dumps(sets)))

    loaded = load_mnist(path)

    assert len(loaded) == 3
    for (X, y), (X_ref, y_ref) in zip(loaded, sets):
        assert X.dtype == config.floatX and X.shape == X_ref.shape
        assert y.dtype == np.int32 and y.shape == y_ref.shape
        np.testing.assert_array_equal(X, X_ref)
        np.testing.assert_array_equal(y, y_ref)


def test_load_python3_pickle(tmp_path):
    sets = toy_pickle_sets(np.random.RandomState(2))
    for protocol in (2, 4, 5):
        path = tmp_path / f'mnist_py3k_{protocol}.pkl.gz'
        path.write_bytes(gzip.compress(pickle.dumps(sets, protocol)))
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
