"""The training loop: minibatch SGD over epochs, accuracy after each one.

The tutorial's loop runs 100 epochs of 128-image minibatches in order and
prints the test accuracy after each. This one also prints the epoch's mean
cost, the validation accuracy and the time, and saves the learned weights.
"""
import os
import time
from pathlib import Path

import numpy as np

from . import backend
from .data import N_CLASSES, one_hot
from .model import compile_functions, floatX, init_weights


def to_shared(X, y):
    """Return shared variables for images X and labels y (stored one-hot).

    The tutorial keeps labels as floatX too: a GPU holds only floats.
    """
    return (backend.shared(floatX(X), borrow=True),
            backend.shared(one_hot(y, N_CLASSES), borrow=True))


def save_weights(path, w_h, w_o):
    """Write the weights to `path` (.npz) through a temporary file."""
    path = Path(path)
    tmp = path.with_name(path.name + '.tmp.npz')
    np.savez(tmp, w_h=w_h.get_value(), w_o=w_o.get_value())
    os.replace(tmp, path)


def settings_line(**settings):
    """Return 'key=value' pairs separated by spaces, back-end first."""
    pairs = {**backend.settings(), **settings}
    return ' '.join(f'{k}={v}' for k, v in pairs.items())


def train(data, n_epochs=100, batch_size=128, learning_rate=0.05,
          n_hidden=625, seed=1234, out=None, source=None, log=print):
    """Train the tutorial network on `data` and return its history.

    `data` is what `load_mnist` returns. Prints a settings line, one line
    per epoch and a summary through `log`. With `out`, the weights go to
    out/weights.npz as arrays w_h and w_o. Returns a dict with the weights
    (numpy arrays) and the per-epoch history.
    """
    (X_train, y_train), (X_valid, y_valid), (X_test, y_test) = data
    n_in = X_train.shape[1]
    # NOTE: the last partial minibatch is skipped, as in the tutorial
    n_batches = len(X_train) // batch_size
    if n_batches < 1:
        raise ValueError(
            f'batch_size {batch_size} is larger than the {len(X_train)} '
            'training images')

    rng = np.random.RandomState(seed)
    w_h = init_weights((n_in, n_hidden), rng)
    w_o = init_weights((n_hidden, N_CLASSES), rng)
    sets = {'train': to_shared(X_train, y_train),
            'valid': to_shared(X_valid, y_valid),
            'test': to_shared(X_test, y_test)}
    train_fn, evaluate, predict_fn = compile_functions(
        sets, w_h, w_o, batch_size=batch_size, learning_rate=learning_rate)

    extra = {'data': source} if source else {}
    log(settings_line(**extra, n_train=len(X_train), n_hidden=n_hidden,
                      batch_size=batch_size, learning_rate=learning_rate,
                      n_epochs=n_epochs, seed=seed))
    history = []
    width = len(str(n_epochs))
    started = time.perf_counter()
    for epoch in range(1, n_epochs + 1):
        tic = time.perf_counter()
        cost = np.mean([train_fn(i) for i in range(n_batches)])
        seconds = time.perf_counter() - tic
        valid_acc = evaluate('valid')
        test_acc = evaluate('test')
        history.append(dict(epoch=epoch, cost=float(cost),
                            valid_acc=valid_acc, test_acc=test_acc,
                            seconds=seconds))
        log(f'epoch {epoch:{width}d}/{n_epochs}  cost {cost:.4f}  '
            f'valid_acc {valid_acc:.4f}  test_acc {test_acc:.4f}  '
            f'time {seconds:.1f}s')

    summary = (f'done  {n_epochs} epochs in '
               f'{time.perf_counter() - started:.1f}s  '
               f'valid_acc {valid_acc:.4f}  test_acc {test_acc:.4f}')
    if out is not None:
        weights_path = Path(out) / 'weights.npz'
        save_weights(weights_path, w_h, w_o)
        summary += f'  weights {weights_path}'
    log(summary)
    return dict(w_h=w_h.get_value(), w_o=w_o.get_value(), history=history)
