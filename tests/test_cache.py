"""Theano reuses, in a new process, every module an earlier run compiled."""
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from mlp_mnist import backend

# Compiles the tutorial's functions on toy data and prints how many C
# modules that took.
COMPILE = """
import numpy as np
from mlp_mnist import backend
from mlp_mnist.model import compile_functions, floatX, init_weights
from mlp_mnist.data import one_hot
import theano.gof.cmodule as cmodule

calls = []
compile_str = cmodule.GCC_compiler.compile_str
def counted(*args, **kwargs):
    calls.append(kwargs.get('module_name'))
    return compile_str(*args, **kwargs)
cmodule.GCC_compiler.compile_str = staticmethod(counted)

rng = np.random.RandomState(0)
X = floatX(rng.rand(40, 784))
Y = one_hot(rng.randint(0, 10, 40))
sets = {name: (backend.shared(X), backend.shared(Y))
        for name in ('train', 'valid', 'test')}
w_h = init_weights((784, 8), rng)
w_o = init_weights((8, 10), rng)
train_fn, evaluate, predict_fn = compile_functions(
    sets, w_h, w_o, batch_size=20, eval_batch_size=15)
train_fn(0)
print(len(calls))
"""


def modules(folder):
    return sorted(p.parent.name for p in folder.rglob('key.pkl'))


@pytest.mark.slow
@pytest.mark.skipif(backend.NAME != 'theano', reason='fixes Theano 1.0.5')
def test_a_second_run_compiles_nothing(tmp_path):
    compiledir = tmp_path / 'compiledir'
    counts, kept = [], []
    for hash_seed in ('1', '2'):  # str hashes differ between the runs
        env = dict(os.environ, PYTHONHASHSEED=hash_seed,
                   THEANO_FLAGS=f'base_compiledir={compiledir}')
        run = subprocess.run([sys.executable, '-c', COMPILE], cwd=ROOT,
                             env=env, capture_output=True, text=True,
                             timeout=600)
        assert run.returncode == 0, run.stderr
        counts.append(int(run.stdout.split()[-1]))
        kept.append(modules(compiledir))
    assert counts[0] > 0 and counts[1] == 0
    assert kept[1] == kept[0]  # nothing new left behind
