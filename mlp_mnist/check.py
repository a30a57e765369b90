"""Check the Theano set-up before training: settings, BLAS and device.

Usage: python -m mlp_mnist.check   (with THEANO_FLAGS as you will train)

Prints the settings line the train script starts with, then compiles and
runs one matrix product of the tutorial's size on the configured device.
"""
import sys
import time

import numpy as np

from .errors import UserError


def main():
    try:
        from . import backend
        X = backend.shared(np.ones((128, 784), dtype=backend.config.floatX))
        W = backend.shared(np.ones((784, 625), dtype=backend.config.floatX))
        product = backend.function([], backend.T.dot(X, W).sum())
        backend.check_device(product)
    except UserError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(' '.join(f'{k}={v}' for k, v in backend.settings().items()))
    tic = time.perf_counter()
    for _ in range(100):
        total = product()
    seconds = (time.perf_counter() - tic) / 100
    expected = 128 * 625 * 784
    if not np.isclose(total, expected, rtol=1e-5):
        print(f'error: a test product gave {total}, expected {expected}; '
              'the BLAS or device in use computes wrong results',
              file=sys.stderr)
        return 1
    print(f'ok: a (128, 784) x (784, 625) product takes '
          f'{seconds * 1e3:.2f} ms on {backend.device_used()}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
