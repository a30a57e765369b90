"""The GPU path, checked on the CPU: float32 graphs, loud failures."""
import os
import subprocess
import sys
import tempfile
import types

import numpy as np
import pytest

from conftest import ROOT, write_idx_folder
from mlp_mnist import backend
from mlp_mnist.data import one_hot
from mlp_mnist.model import compile_functions, floatX, init_weights

TRAIN = str(ROOT / 'scripts' / 'train.py')
theano_only = pytest.mark.skipif(
    backend.NAME != 'theano', reason='pygpu and device= are Theano\'s')


def test_graphs_hold_no_float64(toy_sets):
    (X, y), (X_valid, y_valid), _ = toy_sets
    rng = np.random.RandomState(0)
    old = backend.config.warn_float64
    backend.config.warn_float64 = 'raise'
    try:
        w_h = init_weights((784, 16), rng)
        w_o = init_weights((16, 10), rng)
        sets = {'train': (backend.shared(floatX(X)),
                          backend.shared(one_hot(y))),
                'valid': (backend.shared(floatX(X_valid)),
                          backend.shared(one_hot(y_valid)))}
        train_fn, evaluate, predict_fn = compile_functions(
            sets, w_h, w_o, batch_size=64)
        cost = train_fn(0)
        accuracy = evaluate('valid')
        py_x = predict_fn(floatX(X_valid))
    finally:
        backend.config.warn_float64 = old
    assert cost.dtype == np.float32 and py_x.dtype == np.float32
    assert w_h.get_value().dtype == np.float32
    assert 0 <= accuracy <= 1


def run_script(tmp_path, flags, pythonpath=None):
    data = tmp_path / 'idx'
    write_idx_folder(data, n_train=120, n_test=20)
    env = dict(os.environ, THEANO_FLAGS=flags)
    if pythonpath:
        env['PYTHONPATH'] = str(pythonpath)
    return subprocess.run(
        [sys.executable, TRAIN, '--data', str(data), '--epochs', '1',
         '--n-hidden', '8', '--batch-size', '20'],
        env=env, capture_output=True, text=True, timeout=300)


def fake_pygpu(folder, init):
    """Write a pygpu package whose __init__ is `init`, into `folder`."""
    package = folder / 'pygpu'
    package.mkdir(parents=True)
    (package / '__init__.py').write_text(init)
    (package / 'gpuarray.py').write_text(
        'def api_version():\n    return (2, 0)\n')
    return folder


@theano_only
@pytest.mark.parametrize('init, expected', [
    ("raise ImportError('libgpuarray.so.3: cannot open shared object')",
     'pygpu cannot be imported (libgpuarray.so.3: cannot open shared '
     'object)'),
    ("__version__ = '0.6.9'\n",
     'pygpu 0.6.9 could not start the GPU (ValueError: Your installed '
     'version of pygpu(0.6.9) is too old'),
])
def test_broken_pygpu_stops_before_training(tmp_path, init, expected):
    run = run_script(tmp_path, 'device=cuda',
                     fake_pygpu(tmp_path / 'fake', init))
    assert run.returncode == 1
    assert run.stdout == ''  # not a single epoch ran
    assert run.stderr.startswith('error: device=cuda is set, but ')
    assert expected in run.stderr
    assert 'install pygpu' in run.stderr and 'device=cpu' in run.stderr
    assert run.stderr.count('\n') == 1 and 'Traceback' not in run.stderr


@theano_only
def test_missing_pkg_resources_is_named(tmp_path):
    # setuptools 82 and later have no pkg_resources, which Theano's GPU
    # code imports; hide the installed one
    fake = tmp_path / 'fake' / 'pkg_resources'
    fake.mkdir(parents=True)
    (fake / '__init__.py').write_text(
        "raise ModuleNotFoundError(\"No module named 'pkg_resources'\", "
        "name='pkg_resources')\n")
    run = run_script(tmp_path, 'device=cuda', fake.parent)
    assert run.returncode == 1 and run.stdout == ''
    assert run.stderr == (
        "error: device=cuda is set, but Theano's GPU code cannot be imported "
        "(No module named 'pkg_resources'); pip install 'setuptools<82'\n")



@theano_only
def test_theanorc_example_is_read_as_written(tmp_path):
    # copied as ~/.theanorc on a machine without a GPU, device changed
    example = (ROOT / 'theanorc.example').read_text()
    assert '\ndevice = cuda\n' in example
    rc = tmp_path / '.theanorc'
    rc.write_text(example.replace('\ndevice = cuda\n', '\ndevice = cpu\n'))
    code = ('from mlp_mnist import backend; c = backend.config; '
            'print(c.device, c.floatX, c.gpuarray.preallocate, '
            'backend.CHOSEN["filled_in"])')
    env = dict(os.environ, THEANORC=str(rc))
    env.pop('THEANO_FLAGS', None)
    run = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    # floatX is the file's; only the BLAS, commented out there, is filled in
    assert run.stdout.split() == ['cpu', 'float32', '0.2', "['blas']"]

@theano_only
def test_old_gpu_spelling_points_to_cuda(tmp_path):
    run = run_script(tmp_path, 'device=gpu0')
    assert run.returncode == 1
    assert run.stderr.startswith("error: device=gpu0 names Theano's old GPU")
    assert 'cuda' in run.stderr and run.stderr.count('\n') == 1


def test_float64_with_a_gpu_warns(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(backend, 'find_blas', lambda: ('', 'none'))
    environ = {'THEANORC': str(tmp_path / 'none'), 'HOME': str(tmp_path),
               'THEANO_FLAGS': 'device=cuda,floatX=float64,blas.ldflags='}
    chosen = backend.configure('theano', environ)
    err = capsys.readouterr().err
    assert chosen['gpu'] == 'cuda'
    assert err.startswith('warning: floatX=float64 with device=cuda')


def test_pytensor_has_no_device_flag(tmp_path):
    environ = {'PYTENSORRC': str(tmp_path / 'none'), 'HOME': str(tmp_path),
               'THEANORC': str(tmp_path / 'none'),
               'THEANO_FLAGS': 'device=cuda', 'PYTENSOR_FLAGS': ''}
    with pytest.raises(backend.BackendError, match='mode=JAX'):
        backend.configure('pytensor', environ)


class FakeFunction:
    """Something shaped like a compiled function, holding the given ops."""

    def __init__(self, *ops):
        nodes = [types.SimpleNamespace(op=op) for op in ops]
        self.maker = types.SimpleNamespace(
            fgraph=types.SimpleNamespace(apply_nodes=nodes))


def test_check_device_refuses_a_cpu_graph_when_a_gpu_was_asked(
        monkeypatch):
    GpuOp = type('GpuElemwise', (), {'__module__': 'theano.gpuarray.elemwise'})
    X = backend.T.matrix('X')
    cpu_fn = backend.function([X], backend.T.dot(X, X))
    monkeypatch.setitem(backend.CHOSEN, 'gpu', 'cuda')

    with pytest.raises(backend.BackendError, match='runs entirely on the CPU'):
        backend.check_device(cpu_fn)
    backend.check_device(FakeFunction(object(), GpuOp()))  # no error

    monkeypatch.setitem(backend.CHOSEN, 'gpu', '')
    backend.check_device(cpu_fn)  # the CPU was asked for


@pytest.mark.parametrize('name', ['theano', 'pytensor'])
def test_unwritable_home_compiles_elsewhere(tmp_path, name):
    if name != backend.NAME:
        pytest.skip(f'{name} is not the back-end of this Python')
    home = tmp_path / 'not-a-folder'
    home.write_text('')  # ~/.theano cannot be made below a file
    code = ('from mlp_mnist import backend; '
            'print(backend.config.base_compiledir)')
    env = dict(os.environ, HOME=str(home))
    env.pop(backend.BACKENDS[name].rc_var, None)
    run = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True)
    base = run.stdout.strip().splitlines()[-1]
    assert base.startswith(os.path.join(
        tempfile.gettempdir(), f'mlp_mnist-{name}-'))
    assert f'compiled code goes to {base}' in run.stderr


@pytest.mark.slow
def test_two_runs_started_together_both_finish(tmp_path):
    """Both compile into the same empty folder, taking the compile lock."""
    data = tmp_path / 'idx'
    write_idx_folder(data, n_train=120, n_test=20)
    flags = backend.BACKENDS[backend.NAME].flags_var
    env = dict(os.environ)
    env[flags] = f'base_compiledir={tmp_path / "compiledir"}'
    command = [sys.executable, TRAIN, '--data', str(data), '--epochs', '2',
               '--n-hidden', '8', '--batch-size', '20']
    runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outputs = [run.communicate(timeout=600) for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    for out, err in outputs:
        assert out.splitlines()[-1].startswith('done  2 epochs')
