"""Theano and PyTensor train the same network to the same weights.

They cannot share one Python (Theano needs 3.11 and numpy 1.23, PyTensor
3.12+ and numpy 2), so this test runs the script under a second Python
named by MLP_MNIST_OTHER_PYTHON; CI sets it for its Python 3.12 run.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, write_idx_folder

OTHER = os.environ.get('MLP_MNIST_OTHER_PYTHON')


@pytest.mark.skipif(not OTHER, reason='MLP_MNIST_OTHER_PYTHON is not set')
def test_one_epoch_gives_the_same_weights_on_both_backends(tmp_path):
    data = tmp_path / 'idx'
    write_idx_folder(data, n_train=240, n_test=40)
    weights, backends = [], []
    for i, python in enumerate((sys.executable, OTHER)):
        out = tmp_path / f'run{i}'
        run = subprocess.run(
            [python, str(ROOT / 'scripts' / 'train.py'), '--data', str(data),
             '--epochs', '1', '--n-hidden', '16', '--batch-size', '20',
             '--out', str(out)],
            capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr
        settings = dict(pair.split('=', 1)
                        for pair in run.stdout.splitlines()[0].split())
        backends.append(settings['backend'].split('-')[0])
        weights.append(np.load(out / 'weights.npz', allow_pickle=False))

    assert sorted(backends) == ['pytensor', 'theano']
    for name in ('w_h', 'w_o'):
        np.testing.assert_allclose(weights[0][name], weights[1][name],
                                   rtol=1e-5, atol=1e-8)
