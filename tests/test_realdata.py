"""Checks on the real MNIST in data/; CI fetches it so these never skip."""
import os

import numpy as np
import pytest

from conftest import ROOT
from mlp_mnist.data import find_data, load_mnist
from mlp_mnist.train import train

DATA = find_data(ROOT / 'data')
if DATA is None and os.environ.get('CI'):
    raise RuntimeError('CI is set but data/ holds no MNIST; run '
                       'data/download.sh before the tests')

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(DATA is None,
                       reason='no MNIST in data/: run data/download.sh'),
]

# Images of each digit 0-9 in the standard MNIST splits: train is the first
# 50,000 training images, valid the last 10,000, as in mnist.pkl.gz.
COUNTS = {
    'train': [4932, 5678, 4968, 5101, 4859, 4506, 4951, 5175, 4842, 4988],
    'valid': [991, 1064, 990, 1030, 983, 915, 967, 1090, 1009, 961],
    'test': [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
}


@pytest.fixture(scope='module')
def mnist():
    return load_mnist(DATA)


def test_class_counts_of_each_split(mnist):
    for name, (X, y) in zip(('train', 'valid', 'test'), mnist):
        assert X.shape == (sum(COUNTS[name]), 784)
        assert np.bincount(y, minlength=10).tolist() == COUNTS[name]
        assert 0 <= X.min() and X.max() == np.float32(255 / 256)


def test_three_epochs_reach_085(mnist):
    history = train(mnist, n_epochs=3, log=lambda line: None)['history']
    assert history[-1]['test_acc'] >= 0.85
    assert history[0]['cost'] > history[-1]['cost']
