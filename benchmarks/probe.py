"""Run scripts/train.py in this process and note when each phase ends.

bench.py starts this as `python benchmarks/probe.py MODE [train.py flags]`
and reads the last line: JSON with the wall-clock time (time.time()) and
the peak resident memory so far (MB) at the end of each phase: python up,
back-end imported, data loaded, functions compiled, then the first
minibatch (MODE first-step, which stops there) or the end of the whole run
(MODE full).
"""
import json
import runpy
import sys
import time
from pathlib import Path

MARKS = {}


def peak_rss_mb():
    """Return this process's peak resident memory so far, in MB.

    Read from VmHWM, not getrusage: on Linux, ru_maxrss survives exec, so
    a child started by a large process would report its parent's peak.
    """
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith('VmHWM:'):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError('no VmHWM in /proc/self/status')


def mark(name):
    MARKS[name] = (time.time(), peak_rss_mb())


mark('python')
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class FirstStep(BaseException):
    """Raised at the first minibatch; passes the script's except clauses."""


def marked(function, name):
    def wrapper(*args, **kwargs):
        result = function(*args, **kwargs)
        mark(name)
        return result
    return wrapper


def stop_at_first_step(*args, **kwargs):
    mark('first_step')
    raise FirstStep


def main():
    mode, flags = sys.argv[1], sys.argv[2:]
    from mlp_mnist import backend
    mark('backend')
    import mlp_mnist.data
    import mlp_mnist.model
    import mlp_mnist.train
    mlp_mnist.data.load_mnist = marked(mlp_mnist.data.load_mnist, 'data')
    mlp_mnist.model.compile_functions = marked(
        mlp_mnist.model.compile_functions, 'compiled')
    if mode == 'first-step':
        mlp_mnist.train.train_epoch = stop_at_first_step
    sys.argv = [str(ROOT / 'scripts' / 'train.py'), *flags]
    try:
        runpy.run_path(sys.argv[0], run_name='__main__')
    except FirstStep:
        pass
    except SystemExit as e:
        if e.code:
            raise
    if mode == 'full':
        mark('end')
    tic = time.perf_counter()
    backend.find_blas()  # after the clock stopped: what the probe costs
    report = {name: {'time': t, 'peak_mb': m}
              for name, (t, m) in MARKS.items()}
    report['blas_probe_s'] = time.perf_counter() - tic
    print(json.dumps(report))


if __name__ == '__main__':
    main()
