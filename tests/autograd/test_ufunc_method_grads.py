"""Gradients of the ufunc methods under every policy: the methods that are other operators (np.add.reduce is np.sum,
np.maximum.reduce np.amax, np.add.accumulate np.cumsum, ufunc.outer the ufunc) through those operators' rules;
np.add.at and np.subtract.at on a traced array as a functional update (first and second order); writes that
would cut the gradient refused before anything is written. (add.reduceat and the running maximum/minimum are
declared differentiable in the table and checked by test_grad_property.py.)"""
import numpy
import pytest

import minpy.numpy as np
from minpy.autograd import AutogradError, check_grads, grad
from minpy.dispatch.policy import resolve_policy

POLICIES = [pytest.param("prefer_mxnet", marks=pytest.mark.mxnet), "only_numpy",
            pytest.param("auto", marks=pytest.mark.mxnet)]
RNG = numpy.random.default_rng(7)
X = RNG.permutation(12).reshape(3, 4) * 0.25 + 0.1  # distinct values: no ties at the extremes


@pytest.mark.parametrize("policy", POLICIES)
def test_methods_that_are_operators(policy):
    def f(x):
        return (np.sum(np.add.reduce(x) ** 2) + np.sum(np.multiply.reduce(x, axis=1))
                + np.sum(np.maximum.reduce(x, axis=0) * np.arange(4.0)) + np.sum(np.minimum.reduce(x, axis=None))
                + np.sum(np.add.accumulate(x, axis=1) ** 2) + np.sum(np.multiply.outer(x[0], x[1]) ** 2)
                + np.sum(np.subtract.outer(x[:, 0], x[0]) ** 3))
    with resolve_policy(policy):
        check_grads(f, X, order=2)


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("method", ["add", "subtract"])
def test_at_on_traced_arrays(policy, method):
    idx = numpy.array([0, 2, 2, 1, 0])

    def f(a, b):
        c = a * 1.0 + 0.0 * np.sum(b)  # traced whenever a or b is
        getattr(np, method).at(c, idx, b)
        return np.sum(c * c * np.arange(1.0, 4.0)[:, None])

    a = X[:, :2].copy()
    b = RNG.standard_normal((5, 2))
    with resolve_policy(policy):
        check_grads(f, a, b, order=2)
        sign = 1.0 if method == "add" else -1.0
        c = a.copy()
        getattr(numpy, method).at(c, idx, b)
        dc = 2 * c * numpy.arange(1.0, 4.0)[:, None]
        ga, gb = grad(f, argnum=(0, 1))(np.array(a), np.array(b))
        numpy.testing.assert_allclose(ga.asnumpy(), dc)
        numpy.testing.assert_allclose(gb.asnumpy(), sign * dc[idx])


def test_embedding_backward_with_add_at():
    """The hand-written embedding backward (np.add.at into a zeros array) outside grad, and the same function
    differentiated: both give what NumPy gives."""
    words = numpy.array([[0, 3, 1], [3, 3, 2]])
    dout = RNG.standard_normal((2, 3, 4))
    dw = np.zeros((5, 4))
    np.add.at(dw, words, dout)
    expected = numpy.zeros((5, 4))
    numpy.add.at(expected, words, dout)
    numpy.testing.assert_allclose(dw.asnumpy(), expected)
    g = grad(lambda w: np.sum(w[words] * dout))(np.array(RNG.standard_normal((5, 4))))
    numpy.testing.assert_allclose(g.asnumpy(), expected)


def test_writes_that_would_cut_the_gradient_are_refused():
    z = np.zeros(3)
    with pytest.raises(AutogradError):
        grad(lambda b: (np.add.at(z, [0], b), np.sum(z * b))[1])(np.array(1.0))
    numpy.testing.assert_array_equal(z.asnumpy(), numpy.zeros(3))  # nothing written
    a = np.array([1.0, 2.0])
    with pytest.raises(AutogradError):
        grad(lambda a: (np.multiply.at(a, [0], 2.0), np.sum(a))[1])(a)
    numpy.testing.assert_array_equal(a.asnumpy(), [1.0, 2.0])
