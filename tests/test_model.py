import numpy as np
import pytest

from mlp_mnist.backend import T, function, shared
from mlp_mnist.data import one_hot
from mlp_mnist.model import (compile_functions, cost_of, floatX,
                             init_weights, model, sgd)


def numpy_forward(X, w_h, w_o):
    h = 1 / (1 + np.exp(-X @ w_h))
    z = h @ w_o
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return h, e / e.sum(axis=1, keepdims=True)


def numpy_sgd_step(X, Y, w_h, w_o, learning_rate):
    """Return (cost, new w_h, new w_o) of one SGD step, by hand."""
    h, p = numpy_forward(X, w_h, w_o)
    cost = np.mean(-np.sum(Y * np.log(p), axis=1))
    dz_o = (p - Y) / len(X)
    g_o = h.T @ dz_o
    dz_h = (dz_o @ w_o.T) * h * (1 - h)
    g_h = X.T @ dz_h
    return cost, w_h - learning_rate * g_h, w_o - learning_rate * g_o


def test_init_weights_scale_and_dtype():
    w = init_weights((784, 625), np.random.RandomState(0)).get_value()
    assert w.shape == (784, 625) and w.dtype == floatX(0).dtype
    np.testing.assert_allclose(w.std(), 0.01, rtol=0.01)
    np.testing.assert_allclose(
        w, floatX(np.random.RandomState(0).randn(784, 625) * 0.01))


def test_model_rows_are_probabilities():
    rng = np.random.RandomState(0)
    X = T.matrix('X')
    w_h, w_o = init_weights((20, 7), rng), init_weights((7, 10), rng)
    py_x = function([X], model(X, w_h, w_o))(floatX(rng.rand(5, 20)))
    assert py_x.shape == (5, 10) and py_x.dtype == floatX(0).dtype
    np.testing.assert_allclose(py_x.sum(axis=1), 1, rtol=1e-5)


def test_sgd_moves_against_gradient():
    # cost = (w - 3)^2 has gradient 2 (w - 3): from w = 1 one step of
    # 0.05 gives 1 + 0.05 * 4 = 1.2
    w = shared(floatX(1.0))
    step = function([], [], updates=sgd((w - 3) ** 2, [w], 0.05))
    step()
    np.testing.assert_allclose(w.get_value(), 1.2, rtol=1e-6)


def test_one_sgd_step_matches_numpy(toy_sets):
    (X_all, y_all), _, _ = toy_sets
    rng = np.random.RandomState(3)
    X_all = X_all[:32, :50]  # a narrower net keeps it quick
    Y_all = one_hot(y_all[:32])
    w_h, w_o = init_weights((50, 12), rng), init_weights((12, 10), rng)
    w_h.set_value(w_h.get_value() * 30)  # larger weights, larger steps
    w_h0, w_o0 = w_h.get_value(), w_o.get_value()
    sets = {name: (shared(floatX(X_all)), shared(Y_all))
            for name in ('train', 'test')}
    train_fn, _, _ = compile_functions(sets, w_h, w_o, batch_size=16,
                                       learning_rate=0.05)

    cost = train_fn(1)  # the second minibatch, rows 16 to 31

    X = X_all[16:32].astype(np.float64)
    Y = Y_all[16:32].astype(np.float64)
    ref_cost, ref_w_h, ref_w_o = numpy_sgd_step(
        X, Y, w_h0.astype(np.float64), w_o0.astype(np.float64), 0.05)
    np.testing.assert_allclose(cost, ref_cost, rtol=1e-5)
    np.testing.assert_allclose(w_h.get_value(), ref_w_h, rtol=1e-5,
                               atol=1e-7)
    np.testing.assert_allclose(w_o.get_value(), ref_w_o, rtol=1e-5,
                               atol=1e-7)
    assert w_h.get_value().dtype == floatX(0).dtype


def test_gradient_matches_finite_differences():
    rng = np.random.RandomState(4)
    X = rng.rand(6, 8)
    Y = np.eye(10)[rng.randint(0, 10, 6)]
    w_h = shared(rng.randn(8, 5) * 0.5)  # float64 throughout
    w_o = shared(rng.randn(5, 10) * 0.5)
    Xs, Ys = T.dmatrix('X'), T.dmatrix('Y')
    cost = cost_of(model(Xs, w_h, w_o), Ys)
    cost_fn = function([Xs, Ys], cost)
    grad_fn = function([Xs, Ys], T.grad(cost, [w_h, w_o]))

    eps = 1e-6
    for w, g in zip((w_h, w_o), grad_fn(X, Y)):
        value = w.get_value()
        numeric = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            for sign in (1, -1):
                shifted = value.copy()
                shifted[idx] += sign * eps
                w.set_value(shifted)
                numeric[idx] += sign * cost_fn(X, Y) / (2 * eps)
        w.set_value(value)
        np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-9)


def test_cost_falls_on_separable_set(toy_sets):
    (X, y), (X_valid, y_valid), _ = toy_sets
    rng = np.random.RandomState(5)
    w_h, w_o = init_weights((784, 32), rng), init_weights((32, 10), rng)
    sets = {'train': (shared(floatX(X)), shared(one_hot(y))),
            'valid': (shared(floatX(X_valid)), shared(one_hot(y_valid)))}
    train_fn, evaluate, _ = compile_functions(
        sets, w_h, w_o, batch_size=32, learning_rate=0.5)
    costs = [np.mean([train_fn(i) for i in range(len(X) // 32)])
             for epoch in range(15)]
    assert costs[-1] < 0.5 * costs[0]
    assert evaluate('valid') > 0.9


@pytest.mark.parametrize('eval_batch_size', [7, 1000])
def test_evaluate_counts_every_row(toy_sets, eval_batch_size):
    (X, y), _, _ = toy_sets
    X, y = X[:50], y[:50]
    rng = np.random.RandomState(6)
    w_h, w_o = init_weights((784, 16), rng), init_weights((16, 10), rng)
    sets = {'train': (shared(floatX(X)), shared(one_hot(y))),
            'test': (shared(floatX(X)), shared(one_hot(y)))}
    _, evaluate, predict_fn = compile_functions(
        sets, w_h, w_o, eval_batch_size=eval_batch_size)
    _, p = numpy_forward(X.astype(np.float64),
                         w_h.get_value().astype(np.float64),
                         w_o.get_value().astype(np.float64))
    expected = np.mean(p.argmax(axis=1) == y)
    assert evaluate('test') == pytest.approx(expected)
    np.testing.assert_allclose(predict_fn(floatX(X)), p, rtol=1e-4)
