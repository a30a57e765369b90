"""Fixtures shared by the tests: tiny synthetic MNIST-like data on disk."""
import gzip
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tests'))


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'realdata: needs the real MNIST files in data/')


def toy_digits(n, rng):
    """Return (images, labels): uint8 (n, 28, 28) where label k lights row
    band k, so the classes are linearly separable."""
    labels = rng.randint(0, 10, size=n).astype(np.uint8)
    images = rng.randint(0, 40, size=(n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(labels):
        images[i, 2 * k + 4:2 * k + 6, 4:24] = 250
    return images, labels


def gz(data):
    """Return `data` gzipped fast (level 9 takes 0.3 s on a toy pickle)."""
    return gzip.compress(data, compresslevel=1)


def idx_bytes(array):
    """Return the IDX encoding of a uint8 array (images or labels)."""
    magic = 0x0800 | array.ndim
    header = struct.pack('>I', magic) + b''.join(
        struct.pack('>I', d) for d in array.shape)
    return header + array.tobytes()


IDX_NAMES = ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte',
             't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')


def write_idx_folder(folder, n_train=600, n_test=100, gz=False, seed=0):
    """Write the four IDX files of a toy set into `folder`; return the
    arrays written, as {name: array}."""
    rng = np.random.RandomState(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    train = toy_digits(n_train, rng)
    test = toy_digits(n_test, rng)
    arrays = dict(zip(IDX_NAMES, train + test))
    for name, array in arrays.items():
        data = idx_bytes(array)
        if gz:
            (folder / (name + '.gz')).write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return arrays


@pytest.fixture
def idx_folder(tmp_path):
    folder = tmp_path / 'idx'
    write_idx_folder(folder)
    return folder


@pytest.fixture(scope='session')
def toy_sets():
    """Return ((X, y) train, valid, test) as float32 / int32 arrays."""
    rng = np.random.RandomState(0)
    sets = []
    for n in (640, 128, 128):
        images, labels = toy_digits(n, rng)
        sets.append((images.reshape(n, 784) / np.float32(256),
                     labels.astype(np.int32)))
    return tuple(sets)
