"""The tutorial's network: 784-625-10, sigmoid then softmax, plain SGD.

`floatX`, `init_weights`, `sgd` and `model` keep the names and the
arithmetic of Newmu's 3_net.py. `compile_functions` adds what the script
inlines: the data sets in shared variables, so that on a GPU they stay in
GPU memory, and a train function that takes a minibatch index.
"""
import numpy as np

from .backend import (T, categorical_crossentropy, config, function, shared,
                      sigmoid, softmax)


def floatX(X):
    """Return X as an array of Theano's floatX (float32 for the GPU)."""
    return np.asarray(X, dtype=config.floatX)


def init_weights(shape, rng):
    """Return a shared weight matrix drawn from N(0, 1) times 0.01.

    The small scale keeps the sigmoid units near their linear middle at the
    start; `rng` is a numpy RandomState, so runs repeat with a seed.
    """
    return shared(floatX(rng.randn(*shape) * 0.01))


def sgd(cost, params, learning_rate=0.05):
    """Return the updates of one plain gradient-descent step on `params`."""
    grads = T.grad(cost=cost, wrt=params)
    return [(p, p - g * learning_rate) for p, g in zip(params, grads)]


def model(X, w_h, w_o):
    """Return py_x, the class probabilities for the rows of X.

    X is (n, 784), w_h (784, n_hidden), w_o (n_hidden, 10); no biases, as
    in the tutorial.
    """
    h = sigmoid(T.dot(X, w_h))  # (n, n_hidden)
    py_x = softmax(T.dot(h, w_o))  # (n, 10)
    return py_x


def cost_of(py_x, Y):
    """Return the mean categorical cross-entropy against one-hot rows Y."""
    return T.mean(categorical_crossentropy(py_x, Y))


def minibatches(data, batch_size):
    """Return shared `data` (n, k) seen as (n // batch_size, batch_size, k).

    Rows past the last full batch are left out. Taking batch i as
    `minibatches(data, batch_size)[i]` keeps every shape fixed, which
    PyTensor's JAX and PyTorch modes need; Theano makes it a view, no copy.
    """
    n_rows, n_cols = data.get_value(borrow=True).shape
    n_batches = n_rows // batch_size
    return data[:n_batches * batch_size].reshape(
        (n_batches, batch_size, n_cols))


def compile_functions(sets, w_h, w_o, batch_size=128, learning_rate=0.05,
                      eval_batch_size=1000):
    """Compile the train, evaluate and predict functions.

    `sets` maps a name ('train', 'valid', 'test') to a pair of shared
    variables (X, Y): images (n, 784) and one-hot labels (n, 10), both
    floatX. Returns (train_fn, evaluate, predict_fn): train_fn(i) runs SGD on
    minibatch i of the training set and returns its cost; evaluate(name)
    returns the accuracy on that set, computed in batches of
    `eval_batch_size`; predict_fn(X) returns class probabilities.
    """
    X = T.matrix('X')
    Y = T.matrix('Y')
    index = T.lscalar('index')

    py_x = model(X, w_h, w_o)
    y_x = T.argmax(py_x, axis=1)
    cost = cost_of(py_x, Y)
    updates = sgd(cost, [w_h, w_o], learning_rate)

    # NOTE: the last partial minibatch is skipped, as in the tutorial
    X_train, Y_train = (minibatches(s, batch_size) for s in sets['train'])
    train_fn = function(
        [index], cost, updates=updates,
        givens={X: X_train[index], Y: Y_train[index]})

    n_correct = T.sum(T.eq(y_x, T.argmax(Y, axis=1)))
    counters = {name: _counter(n_correct, X, Y, index, X_set, Y_set,
                               eval_batch_size)
                for name, (X_set, Y_set) in sets.items() if name != 'train'}

    def evaluate(name):
        n = sets[name][0].get_value(borrow=True).shape[0]
        return counters[name]() / n if n else float('nan')

    return train_fn, evaluate, compile_predict(w_h, w_o)


def compile_predict(w_h, w_o):
    """Return predict_fn(X): probabilities (n, 10) for rows X (n, 784)."""
    X = T.matrix('X')
    return function([X], model(X, w_h, w_o))


def _counter(n_correct, X, Y, index, X_set, Y_set, batch_size):
    """Return a function counting the right answers over a whole set.

    Full batches go through one compiled function taking the batch index,
    the rest (fewer than batch_size rows) through another, so memory stays
    bounded and every shape is fixed.
    """
    n_rows = X_set.get_value(borrow=True).shape[0]
    n_full = n_rows // batch_size
    full_fn = rest_fn = None
    if n_full:
        X_batches = minibatches(X_set, batch_size)
        Y_batches = minibatches(Y_set, batch_size)
        full_fn = function([index], n_correct, givens={
            X: X_batches[index], Y: Y_batches[index]})
    if n_rows % batch_size:
        start = n_full * batch_size
        rest_fn = function([], n_correct, givens={
            X: X_set[start:], Y: Y_set[start:]})

    def count():
        correct = sum(int(full_fn(i)) for i in range(n_full))
        return correct + (int(rest_fn()) if rest_fn else 0)

    return count
