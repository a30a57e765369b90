"""The vectorizable sigmoid: Theano's values and gradient, in float32."""
import numpy as np
import pytest

from mlp_mnist import backend

pytestmark = pytest.mark.skipif(
    backend.NAME != 'theano', reason="replaces Theano's sigmoid only")


def reference(x):
    """Return 1 / (1 + e^-x) in float64, with Theano's float32 cut-offs."""
    x = x.astype(np.float64)
    y = 1 / (1 + np.exp(-x))
    return np.where(x < -88, 0.0, np.where(x > 15, 1.0, y))


@pytest.mark.parametrize('dtype', ['float32', 'float64'])
def test_sigmoid_and_its_gradient_match_numpy(dtype):
    T = backend.T
    x = T.vector('x', dtype=dtype)
    y = backend.sigmoid(x)
    fn = backend.function([x], [y, T.grad(T.sum(y), x)])
    # both sides of each cut-off, long vectors for the SIMD loop and its
    # remainder
    values = np.concatenate([
        np.linspace(-100, 100, 2003),
        [-88.0001, -88.0, -87.9999, 14.9999, 15.0, 15.0001, 0.0]])
    values = values.astype(dtype)
    y_fn, grad_fn = fn(values)
    assert y_fn.dtype == grad_fn.dtype == np.dtype(dtype)
    expected = reference(values) if dtype == 'float32' else (
        1 / (1 + np.exp(-values)))
    np.testing.assert_allclose(y_fn, expected, rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(grad_fn, y_fn * (1 - y_fn), rtol=1e-6,
                               atol=1e-30)
