"""Time the tutorial network's epoch: the package, NumPy, PyTorch, BLAS.

All in one process, on the same data, batch size and minibatch order: the
60,000 MNIST training images in the data's order, 468 minibatches of 128
per epoch (the last 96 images skipped, as in the tutorial). The contenders
take turns, one epoch each, so a change in the machine's load falls on
all of them. The table gives each one's median seconds per epoch after
warm-up and its ratio to the floor: the matrix products of those 468 SGD
steps alone, through the BLAS the package links. Then, unless skipped,
the seconds from the command to the first minibatch with an empty and a
warm compile folder, and the peak resident memory of a full training run.

Usage: python benchmarks/bench.py [--data PATH] [--epochs N] [--skip PARTS]
"""
import argparse
import ctypes
import ctypes.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from mlp_mnist.data import default_data_dir  # noqa: E402

N_IN, N_HIDDEN, N_OUT = 784, 625, 10
BATCH_SIZE = 128
LEARNING_RATE = 0.05
SEED = 1234
PARTS = ('startup', 'memory')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='time one epoch of the tutorial network',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--data', metavar='PATH', type=Path,
                        default=default_data_dir(),
                        help='the real MNIST, as scripts/train.py takes it')
    parser.add_argument('--epochs', metavar='N', type=int, default=7,
                        help='timed epochs of each contender')
    parser.add_argument('--warmup', metavar='N', type=int, default=1,
                        help='untimed epochs of each contender first')
    parser.add_argument('--skip', metavar='PARTS', default='',
                        help=f'leave out some of {",".join(PARTS)}')
    parser.add_argument('--no-torch', action='store_true',
                        help='leave PyTorch out even where it is installed')
    args = parser.parse_args(argv)
    args.skip = {p for p in args.skip.split(',') if p}
    if args.skip - set(PARTS):
        parser.error(f'--skip takes a list of {",".join(PARTS)}')
    if args.epochs < 1 or args.warmup < 0:
        parser.error('--epochs must be 1 or more, --warmup 0 or more')
    return args


# The machine

def cpu_model():
    """Return the CPU's model name as the kernel reports it."""
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_libraries():
    """Return one line per BLAS or OpenMP library loaded in this process."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ['(pip install threadpoolctl to list the BLAS libraries and '
                'their threads)']
    lines = []
    for lib in threadpool_info():
        extra = ', '.join(f'{k} {lib[k]}' for k in
                          ('architecture', 'threading_layer') if lib.get(k))
        lines.append(
            f'{lib["internal_api"]} {lib.get("version") or ""}'
            f' ({Path(lib["filepath"]).name}): {lib["num_threads"]} '
            f'threads{", " + extra if extra else ""}')
    return lines


def linker_of(fn):
    """Return how a compiled function runs: its linker, and allow_gc."""
    linker = fn.maker.linker
    name = type(linker).__name__
    if getattr(linker, 'use_cloop', False):
        name += ' (C loop)'
    if hasattr(linker, 'allow_gc'):
        name += f', allow_gc={linker.allow_gc}'
    return name


def machine_lines(package):
    """Return the lines that say what was measured on."""
    from mlp_mnist import backend
    info = backend.settings()
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0))
    lines = [
        f'cpu: {cpu_model()}, {cores} logical cores'
        + (f' ({usable} usable)' if usable != cores else ''),
        f'python {platform.python_version()}, numpy {np.__version__}, '
        f'{info["backend"]} blas={info["blas"]}, '
        f'{linker_of(package.train_fn)}',
    ]
    torch = _torch()
    if torch is not None:
        lines.append(f'torch {torch.__version__}, '
                     f'{torch.get_num_threads()} threads')
    flags = [f'{k}={os.environ[k]}' for k in (
        'OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS',
        backend.BACKENDS[backend.NAME].flags_var) if k in os.environ]
    if flags:
        lines.append('environment: ' + ' '.join(flags))
    return lines + [f'blas: {line}' for line in blas_libraries()]


def _torch():
    """Return the torch module, or None where it is not installed."""
    if _torch.skip:
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch


_torch.skip = False


# The data

def load_training_set(path):
    """Return X (60000, 784) and one-hot Y (60000, 10), float32, in order.

    load_mnist holds the last 10,000 training images back for validation;
    they are put back here, so that an epoch is the 60,000 images the
    tutorial trains on.
    """
    from mlp_mnist.data import load_mnist, one_hot
    (X_train, y_train), (X_valid, y_valid), _ = load_mnist(path)
    X = np.concatenate([X_train, X_valid]).astype(np.float32, copy=False)
    Y = one_hot(np.concatenate([y_train, y_valid])).astype(np.float32)
    return X, Y


def initial_weights():
    """Return w_h and w_o as the package draws them with the default seed."""
    rng = np.random.RandomState(SEED)
    w_h = (rng.randn(N_IN, N_HIDDEN) * 0.01).astype(np.float32)
    w_o = (rng.randn(N_HIDDEN, N_OUT) * 0.01).astype(np.float32)
    return w_h, w_o


# The contenders: each has a name and epoch(); trainers also weights()

class Package:
    """The package's compiled train function, called by its own loop."""

    def __init__(self, X, Y, w_h, w_o):
        from mlp_mnist import backend
        from mlp_mnist.model import compile_functions
        self.w_h = backend.shared(w_h.copy())
        self.w_o = backend.shared(w_o.copy())
        sets = {'train': (backend.shared_data(X), backend.shared_data(Y))}
        self.train_fn, _, _ = compile_functions(
            sets, self.w_h, self.w_o, batch_size=BATCH_SIZE,
            learning_rate=LEARNING_RATE)
        self.n_batches = len(X) // BATCH_SIZE
        self.name = f'package, {backend.settings()["backend"]}'

    def epoch(self):
        from mlp_mnist.train import train_epoch
        return train_epoch(self.train_fn, self.n_batches, 1, 1,
                           LEARNING_RATE, progress=False)

    def weights(self):
        return (np.asarray(self.w_h.get_value()),
                np.asarray(self.w_o.get_value()))


class NumpyNet:
    """The same network and SGD written by hand in NumPy, buffers reused."""

    name = 'NumPy by hand'

    def __init__(self, X, Y, w_h, w_o):
        self.X, self.Y = X, Y
        self.w_h, self.w_o = w_h.copy(), w_o.copy()
        self.n_batches = len(X) // BATCH_SIZE
        B = BATCH_SIZE
        self.h = np.empty((B, N_HIDDEN), np.float32)
        self.d_h = np.empty((B, N_HIDDEN), np.float32)
        self.tmp = np.empty((B, N_HIDDEN), np.float32)
        self.p = np.empty((B, N_OUT), np.float32)
        self.g_o = np.empty((N_HIDDEN, N_OUT), np.float32)
        self.g_h = np.empty((N_IN, N_HIDDEN), np.float32)

    def epoch(self):
        B = BATCH_SIZE
        h, d_h, tmp, p = self.h, self.d_h, self.tmp, self.p
        w_h, w_o = self.w_h, self.w_o
        costs = []
        for i in range(self.n_batches):
            X = self.X[i * B:(i + 1) * B]
            Y = self.Y[i * B:(i + 1) * B]
            np.dot(X, w_h, out=h)
            np.negative(h, out=h)  # sigmoid, in place
            np.exp(h, out=h)
            h += 1
            np.reciprocal(h, out=h)
            np.dot(h, w_o, out=p)
            p -= p.max(axis=1, keepdims=True)  # softmax, in place
            np.exp(p, out=p)
            p /= p.sum(axis=1, keepdims=True)
            costs.append(-np.mean(np.sum(Y * np.log(p), axis=1)))
            p -= Y  # the gradient at the softmax's input, times B
            p *= LEARNING_RATE / B
            np.dot(p, w_o.T, out=d_h)
            np.subtract(1, h, out=tmp)
            tmp *= h
            d_h *= tmp
            np.dot(h.T, p, out=self.g_o)
            w_o -= self.g_o
            np.dot(X.T, d_h, out=self.g_h)
            w_h -= self.g_h
        return float(np.mean(costs))

    def weights(self):
        return self.w_h, self.w_o


class TorchNet:
    """The same network in PyTorch eager mode, as one would write it."""

    def __init__(self, X, Y, w_h, w_o):
        torch = _torch()
        self.torch = torch
        self.F = torch.nn.functional
        self.X = torch.from_numpy(X)
        self.y = torch.from_numpy(Y.argmax(axis=1))
        self.w_h = torch.tensor(w_h, requires_grad=True)
        self.w_o = torch.tensor(w_o, requires_grad=True)
        self.optimizer = torch.optim.SGD([self.w_h, self.w_o],
                                         lr=LEARNING_RATE)
        self.n_batches = len(X) // BATCH_SIZE
        self.name = f'PyTorch {torch.__version__} eager'

    def epoch(self):
        B = BATCH_SIZE
        costs = []
        for i in range(self.n_batches):
            X = self.X[i * B:(i + 1) * B]
            y = self.y[i * B:(i + 1) * B]
            h = self.torch.sigmoid(X @ self.w_h)
            # cross_entropy takes the softmax's input: log-softmax inside
            cost = self.F.cross_entropy(h @ self.w_o, y)
            self.optimizer.zero_grad()
            cost.backward()
            self.optimizer.step()
            costs.append(cost.item())
        return float(np.mean(costs))

    def weights(self):
        return self.w_h.detach().numpy(), self.w_o.detach().numpy()


class NumpyProducts:
    """The five matrix products of each SGD step alone, through NumPy."""

    name = "matrix products only, NumPy's BLAS"

    def __init__(self, X, Y, w_h, w_o):
        self.X = X
        self.n_batches = len(X) // BATCH_SIZE
        self.w_h, self.w_o = w_h.copy(), w_o.copy()
        B = BATCH_SIZE
        rng = np.random.RandomState(0)
        self.h = rng.rand(B, N_HIDDEN).astype(np.float32)
        self.d_h = (rng.randn(B, N_HIDDEN) * 1e-3).astype(np.float32)
        self.p = rng.rand(B, N_OUT).astype(np.float32)
        self.d_o = (rng.randn(B, N_OUT) * 1e-2).astype(np.float32)
        self.g_o = np.empty((N_HIDDEN, N_OUT), np.float32)
        self.g_h = np.empty((N_IN, N_HIDDEN), np.float32)
        self.a_h = np.empty((B, N_HIDDEN), np.float32)

    def epoch(self):
        B = BATCH_SIZE
        for i in range(self.n_batches):
            X = self.X[i * B:(i + 1) * B]
            np.dot(X, self.w_h, out=self.a_h)
            np.dot(self.h, self.w_o, out=self.p)
            np.dot(self.d_o, self.w_o.T, out=self.d_h)
            np.dot(self.h.T, self.d_o, out=self.g_o)
            np.dot(X.T, self.d_h, out=self.g_h)


class BlasProducts(NumpyProducts):
    """The same five products through the BLAS library the package links.

    Called through its Fortran sgemm_, as the back-end's C code calls it;
    the two weight gradients are added into the weights in the same call
    (beta = 1), as the back-end's in-place Gemm does.
    """

    def __init__(self, X, Y, w_h, w_o, lib, label):
        super().__init__(X, Y, w_h, w_o)
        self.name = f'matrix products only, {label} (the floor)'
        self.sgemm = lib.sgemm_
        self.sgemm.restype = None
        self.calls = []
        B = BATCH_SIZE
        lr = -LEARNING_RATE
        # each: C (m, n) = alpha * op(A) (m, k) @ op(B) (k, n) + beta * C
        self.forward = self._call(None, False, self.w_h, False, self.a_h,
                                  B, N_HIDDEN, N_IN, 1, 0)
        self.calls = [
            self._call(self.h, False, self.w_o, False, self.p,
                       B, N_OUT, N_HIDDEN, 1, 0),
            self._call(self.d_o, False, self.w_o, True, self.d_h,
                       B, N_HIDDEN, N_OUT, 1, 0),
            self._call(self.h, True, self.d_o, False, self.w_o,
                       N_HIDDEN, N_OUT, B, lr, 1),
        ]
        self.update = self._call(None, True, self.d_h, False, self.w_h,
                                 N_IN, N_HIDDEN, B, lr, 1)

    def _call(self, A, trans_a, B, trans_b, C, m, n, k, alpha, beta):
        """Return the argument list of one row-major product for sgemm_.

        Row-major C is column-major C.T = op(B).T @ op(A).T, so A and B
        swap places. A of None is the minibatch, filled in at each step.
        """
        def ref(value, kind):
            return ctypes.byref(kind(value))

        def ptr(array):
            return ctypes.c_void_p(array.ctypes.data)

        lda = (m if trans_a else k)
        ldb = (k if trans_b else n)
        return [ref(b'T' if trans_b else b'N', ctypes.c_char),
                ref(b'T' if trans_a else b'N', ctypes.c_char),
                ref(n, ctypes.c_int), ref(m, ctypes.c_int),
                ref(k, ctypes.c_int), ref(alpha, ctypes.c_float),
                ptr(B), ref(ldb, ctypes.c_int),
                None if A is None else ptr(A), ref(lda, ctypes.c_int),
                ref(beta, ctypes.c_float), ptr(C), ref(n, ctypes.c_int)]

    def epoch(self):
        sgemm, calls = self.sgemm, self.calls
        forward, update = self.forward, self.update
        base = self.X.ctypes.data
        step = BATCH_SIZE * N_IN * self.X.itemsize
        for i in range(self.n_batches):
            X = ctypes.c_void_p(base + i * step)
            forward[8] = update[8] = X
            sgemm(*forward)
            for args in calls:
                sgemm(*args)
            sgemm(*update)


def linked_blas():
    """Return (ctypes library, label) of the BLAS in blas.ldflags, or None.

    Finds the library by the -L folders and -l names of the flags, the way
    the linker does, and keeps it only when it exports sgemm_.
    """
    from mlp_mnist import backend
    flags = str(backend.config.blas__ldflags if backend.NAME == 'pytensor'
                else backend.config.blas.ldflags).split()
    folders = [f[2:] for f in flags if f.startswith('-L')]
    for name in (f[2:] for f in flags if f.startswith('-l')):
        paths = [Path(d, f'lib{name}.so') for d in folders]
        found = ctypes.util.find_library(name)
        candidates = [str(p) for p in paths if p.is_file()]
        candidates += [found] if found else []
        for path in candidates:
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            if hasattr(lib, 'sgemm_'):
                return lib, f'lib{name} via sgemm_'
    return None


# Timing

def time_contenders(contenders, n_epochs, n_warmup):
    """Run the contenders an epoch each in turn; return their seconds."""
    seconds = {c.name: [] for c in contenders}
    for round_ in range(n_warmup + n_epochs):
        for contender in contenders:
            time.sleep(0.2)  # let the last one's BLAS threads go idle
            tic = time.perf_counter()
            contender.epoch()
            elapsed = time.perf_counter() - tic
            if round_ >= n_warmup:
                seconds[contender.name].append(elapsed)
        print(f'  round {round_ + 1}/{n_warmup + n_epochs}: '
              + '  '.join(f'{t[-1]:.3f}' for t in seconds.values() if t),
              file=sys.stderr)
    return seconds


def speed_table(seconds, floor_name):
    """Return the markdown table of median seconds and ratios."""
    floor = statistics.median(seconds[floor_name])
    lines = ['| per 468 minibatches of 128 | median s | min - max s '
             '| / floor |', '|---|---:|---:|---:|']
    for name, times in sorted(seconds.items(),
                              key=lambda kv: statistics.median(kv[1])):
        median = statistics.median(times)
        lines.append(f'| {name} | {median:.3f} | {min(times):.3f} - '
                     f'{max(times):.3f} | {median / floor:.2f} |')
    return lines


def agreement(trainers):
    """Return a line saying how far the trainers' weights are apart."""
    reference = trainers[0]
    w_h, w_o = reference.weights()
    parts = []
    for other in trainers[1:]:
        o_h, o_o = other.weights()
        diff = max(np.abs(o_h - w_h).max(), np.abs(o_o - w_o).max())
        parts.append(f'{other.name} {diff:.1e}')
    scale = max(np.abs(w_h).max(), np.abs(w_o).max())
    return (f'weights after the same epochs, largest difference from '
            f'{reference.name} (largest weight {scale:.2f}): '
            + ', '.join(parts))


# Start-up and memory, each in a fresh process running scripts/train.py

def probe(mode, flags, env):
    """Run probe.py; return its phase marks, measured from the command."""
    command = [sys.executable, str(ROOT / 'benchmarks' / 'probe.py'), mode,
               *flags]
    started = time.time()
    run = subprocess.run(command, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f'{" ".join(command)} failed:\n{run.stderr}')
    report = json.loads(run.stdout.splitlines()[-1])
    for value in report.values():
        if isinstance(value, dict):
            value['s'] = value.pop('time') - started
    return report


def with_flag(env, key, value):
    """Return a copy of env with key=value added to the back-end's flags."""
    from mlp_mnist import backend
    var = backend.BACKENDS[backend.NAME].flags_var
    key = backend.BACKENDS[backend.NAME].flag(key)
    env = dict(env)
    env[var] = ','.join(filter(None, [env.get(var, ''), f'{key}={value}']))
    return env


def startup_table(data, n_warm=3):
    """Time the command to its first minibatch, cold and warm compile folder.

    The cold run gets a new, empty base_compiledir; the warm runs reuse it.
    """
    phases = [('python', 'python started'),
              ('backend', 'back-end imported, BLAS found'),
              ('data', 'MNIST loaded'),
              ('compiled', 'functions compiled'),
              ('first_step', 'first minibatch starts')]
    flags = ['--data', str(data), '--epochs', '1']
    with tempfile.TemporaryDirectory(prefix='mlp_mnist_cold_') as folder:
        env = with_flag(os.environ, 'base_compiledir', folder)
        runs = {'empty compile folder': [probe('first-step', flags, env)]}
        runs['warm compile folder'] = [
            probe('first-step', flags, env) for _ in range(n_warm)]
    lines = ['| seconds from the command to | ' + ' | '.join(runs) + ' |',
             '|---|' + '---:|' * len(runs)]
    for key, label in phases:
        cells = [statistics.median(r[key]['s'] for r in reports)
                 for reports in runs.values()]
        lines.append(f'| {label} | '
                     + ' | '.join(f'{c:.2f}' for c in cells) + ' |')
    probe_s = statistics.median(
        r['blas_probe_s'] for r in runs['warm compile folder'])
    note = (f'warm: median of {n_warm} runs; of the back-end import, '
            f'finding the BLAS took {probe_s:.2f} s')
    return lines, note


def memory_lines(data):
    """Return the peak resident memory of a full default run with --out."""
    with tempfile.TemporaryDirectory(prefix='mlp_mnist_out_') as out:
        report = probe('full', ['--data', str(data), '--out', out],
                       os.environ)
    phases = [('backend', 'back-end imported'), ('data', 'MNIST loaded'),
              ('compiled', 'functions compiled'),
              ('end', 'after 100 epochs and the pictures')]
    lines = ['| peak resident memory | MB |', '|---|---:|']
    lines += [f'| {label} | {report[key]["peak_mb"]:.0f} |'
              for key, label in phases]
    return lines, f'the whole run took {report["end"]["s"]:.0f} s'


def evaluation_lines(X_test, y_test, w_h, w_o, repeats=5):
    """Time one accuracy pass over the 10,000 test images: package, NumPy."""
    from mlp_mnist import backend
    from mlp_mnist.data import one_hot
    from mlp_mnist.model import compile_functions
    sets = {'train': (backend.shared_data(X_test[:BATCH_SIZE]),
                      backend.shared_data(one_hot(y_test[:BATCH_SIZE]))),
            'test': (backend.shared_data(X_test),
                     backend.shared_data(one_hot(y_test)))}
    _, evaluate, _ = compile_functions(
        sets, backend.shared(w_h), backend.shared(w_o))

    def numpy_accuracy():
        h = 1 / (1 + np.exp(-(X_test @ w_h)))
        return np.mean((h @ w_o).argmax(axis=1) == y_test)

    times = {'package, evaluate': [], 'NumPy, all 10,000 at once': []}
    for _ in range(repeats + 1):
        for name, fn in zip(times, (lambda: evaluate('test'),
                                    numpy_accuracy)):
            tic = time.perf_counter()
            accuracy = fn()
            times[name].append(time.perf_counter() - tic)
    lines = ['| accuracy over 10,000 test images | median s |',
             '|---|---:|']
    lines += [f'| {name} | {statistics.median(t[1:]):.3f} |'
              for name, t in times.items()]
    return lines, f'accuracy of the initial weights {accuracy:.4f}'


def main(argv=None):
    args = parse_args(argv)
    _torch.skip = args.no_torch
    print(f'load average at start: {os.getloadavg()[0]:.2f}')
    from mlp_mnist.data import load_mnist
    X, Y = load_training_set(args.data)
    _, _, (X_test, y_test) = load_mnist(args.data)
    w_h, w_o = initial_weights()

    contenders = [Package(X, Y, w_h, w_o), NumpyNet(X, Y, w_h, w_o)]
    if _torch() is not None:
        contenders.append(TorchNet(X, Y, w_h, w_o))
    trainers = list(contenders)
    contenders.append(NumpyProducts(X, Y, w_h, w_o))
    blas = linked_blas()
    if blas is not None:
        contenders.append(BlasProducts(X, Y, w_h, w_o, *blas))
    floor = contenders[-1]

    print('\n'.join(machine_lines(contenders[0])))
    print(f'timing {args.warmup} + {args.epochs} epochs of each, in turn')
    seconds = time_contenders(contenders, args.epochs, args.warmup)
    print('\n'.join(speed_table(seconds, floor.name)))
    print(agreement(trainers))
    lines, note = evaluation_lines(X_test, y_test, w_h, w_o)
    print('\n'.join(lines) + '\n' + note)
    if 'startup' not in args.skip:
        lines, note = startup_table(args.data)
        print('\n'.join(lines) + '\n' + note)
    if 'memory' not in args.skip:
        lines, note = memory_lines(args.data)
        print('\n'.join(lines) + '\n' + note)
    print(f'load average at end: {os.getloadavg()[0]:.2f}')


if __name__ == '__main__':
    main()
