"""minpy.autograd's public API against hand-derived NumPy math.

Every computing test runs under the prefer-MXNet and the only-NumPy policy (the ``policy`` fixture); where
MXNet is not installed prefer-MXNet runs on NumPy too. Tests that put data on the MXNet backend explicitly
are marked ``mxnet``. Expected values are written out with plain NumPy (``numpy``), never with autograd.
"""
import gc
import weakref

import numpy
import pytest

import minpy.numpy as np
from minpy import extend
from minpy.array import Array
from minpy.context import cpu
from minpy.autograd import (AutogradError, check_grads, customop, elementwise_grad, grad, grad_and_loss,
                            hessian, jacobian, primitive, stop_gradient, value_and_grad, vjp)
from minpy.autograd.primitives import check_rules_cover_table

from autograd_support import close, host, rand


# -- the seed example -------------------------------------------------------------------------------------------------
def test_seed_example(policy):
    from minpy.autograd import grad
    import minpy.numpy as np  # noqa: F401  (as in the example)

    def foo(x):
        if x >= 0:
            return x
        else:
            return 2 * x

    assert grad(foo)(3) == 1.0
    assert grad(foo)(-1) == 2.0


# -- control flow ---------------------------------------------------------------------------------------------------
def test_data_dependent_if(policy):
    def f(x):
        if np.sum(x) > 0:
            return np.sum(x ** 2)
        return np.sum(-3.0 * x)

    pos = numpy.array([1.0, 2.0, -0.5])
    close(grad(f)(np.array(pos)), 2 * pos)
    close(grad(f)(np.array(-pos)), numpy.full(3, -3.0))


def test_for_with_data_dependent_count(policy):
    def f(x):
        y = x
        for _ in range(int(np.floor(x))):
            y = y * x
        return y  # x ** (floor(x) + 1)

    close(grad(f)(2.5), 3 * 2.5 ** 2)
    close(grad(f)(3.5), 4 * 3.5 ** 3)
    close(grad(f)(0.5), 1.0)


def test_while_newton_iterations(policy):
    def newton_sqrt(x):
        y = x
        while abs(float(y * y - x)) > 1e-13:
            y = 0.5 * (y + x / y)
        return y

    for x in (2.0, 9.0, 0.3):
        close(newton_sqrt(np.array(x)), numpy.sqrt(x), rtol=1e-12)
        close(grad(newton_sqrt)(x), 0.5 / numpy.sqrt(x), rtol=1e-9)


def test_recursion(policy):
    def power(x, n):
        return 1.0 if n == 0 else x * power(x, n - 1)

    def halve_until_small(x):
        if x < 1:
            return x * x
        return halve_until_small(x / 2.0)

    close(grad(power)(1.5, 4), 4 * 1.5 ** 3)
    close(grad(halve_until_small)(5.0), 2 * 5.0 / 64)  # (x / 8) ** 2


def test_closures_capturing_arrays(policy):
    w_host = numpy.array([1.0, -2.0, 0.5])
    w = np.array(w_host)

    def f(x):
        return np.sum(w * x ** 2)

    x = numpy.array([0.3, 0.7, -1.1])
    close(grad(f)(np.array(x)), 2 * w_host * x)

    # A closure over a traced value (an outer gradient's variable) differentiates through both levels.
    def outer(a):
        return grad(lambda x: a * x * x)(2.0)  # d/dx = 2 a x = 4 a

    close(grad(outer)(3.0), 4.0)

    def make_loss(scale):
        def loss(v):
            return np.sum(scale * np.sin(v))
        return loss

    close(grad(make_loss(np.array(w_host)))(np.array(x)), w_host * numpy.cos(x))


# -- argument and result structures -----------------------------------------------------------------------------------
def test_structured_arguments_give_same_structure(policy):
    W, b1, b2 = rand(2, 3), rand(3, seed=1), rand(3, seed=2)
    params = {"W": np.array(W), "b": [np.array(b1), (np.array(b2),)]}
    x = rand(2, seed=3)

    def f(p):
        h = np.dot(np.array(x), p["W"]) + p["b"][0]
        return np.sum(h * p["b"][1][0])

    g = grad(f)(params)
    assert isinstance(g, dict) and set(g) == {"W", "b"}
    assert isinstance(g["b"], list) and len(g["b"]) == 2
    assert isinstance(g["b"][1], tuple) and len(g["b"][1]) == 1
    close(g["W"], numpy.outer(x, b2))
    close(g["b"][0], b2)
    close(g["b"][1][0], x @ W + b1)

    # A tuple of arrays as one argument.
    gt = grad(lambda t: np.sum(t[0] * t[1]))((np.array(W), np.array(2 * W)))
    assert isinstance(gt, tuple)
    close(gt[0], 2 * W)
    close(gt[1], W)


def test_argnum_tuples(policy):
    x, y, z = rand(3), rand(3, seed=1), rand(2, seed=2)

    def f(a, b, c):
        return np.sum(a * b) + np.sum(c ** 2)

    gx, gz = grad(f, argnum=(0, 2))(np.array(x), np.array(y), np.array(z))
    close(gx, y)
    close(gz, 2 * z)
    gy = grad(f, argnum=1)(np.array(x), np.array(y), np.array(z))
    close(gy, x)
    (gz2,) = grad(f, argnum=(-1,))(np.array(x), np.array(y), np.array(z))
    close(gz2, 2 * z)
    with pytest.raises(TypeError):
        grad(f, argnum=3)(np.array(x), np.array(y), np.array(z))


@pytest.mark.parametrize("kind", ["python_float", "python_int", "numpy_array", "numpy_int_array", "numpy_scalar",
                                  "minpy_array"])
def test_input_kinds(policy, kind):
    values = {"python_float": 1.5, "python_int": 2, "numpy_array": numpy.array([1.0, -2.0]),
              "numpy_int_array": numpy.array([1, -2]), "numpy_scalar": numpy.float64(0.25),
              "minpy_array": np.array([0.5, 3.0])}
    x = values[kind]
    g = grad(lambda v: np.sum(v ** 3))(x)
    assert isinstance(g, Array)
    expected = 3 * numpy.asarray(host(x), dtype=numpy.float64) ** 2
    close(g, expected)
    assert host(g).dtype == numpy.float64


@pytest.mark.mxnet
def test_input_on_mxnet_backend(policy):
    from minpy.backends import get_backend

    mx_backend = get_backend("mxnet")
    data = numpy.array([[0.5, -1.0], [2.0, 0.25]])
    x = Array(mx_backend.from_numpy(data, cpu()), mx_backend)
    assert x.backend == "mxnet"
    close(grad(lambda v: np.sum(np.exp(v) * v))(x), numpy.exp(data) * (1 + data))


def test_non_scalar_output_is_a_type_error(policy):
    with pytest.raises(TypeError) as info:
        grad(lambda x: x * 2)(np.array([1.0, 2.0]))
    assert "elementwise_grad" in str(info.value)
    assert "vjp" in str(info.value)


def test_value_and_grad_and_grad_and_loss_order(policy):
    x = rand(4)

    def f(v):
        return np.sum(np.sin(v))

    value, g = value_and_grad(f)(np.array(x))
    close(value, numpy.sin(x).sum())
    close(g, numpy.cos(x))
    g2, loss = grad_and_loss(f)(np.array(x))
    close(loss, numpy.sin(x).sum())
    close(g2, numpy.cos(x))


def test_vjp(policy):
    A, x, u = rand(3, 4), rand(4, seed=1), rand(3, seed=2)
    value, vjp_fn = vjp(lambda v: np.tanh(np.dot(np.array(A), v)), np.array(x))
    close(value, numpy.tanh(A @ x))
    close(vjp_fn(np.array(u)), A.T @ (u * (1 - numpy.tanh(A @ x) ** 2)))
    close(vjp_fn(u), A.T @ (u * (1 - numpy.tanh(A @ x) ** 2)))  # a NumPy cotangent; the graph is reusable


def test_elementwise_grad(policy):
    x = rand(2, 3)
    close(elementwise_grad(np.sin)(np.array(x)), numpy.cos(x))
    close(elementwise_grad(lambda v: v ** 3 - 2.0 * v)(np.array(x)), 3 * x ** 2 - 2)


def test_jacobian(policy):
    A, x = rand(3, 4), rand(4, seed=1)
    J = jacobian(lambda v: np.tanh(np.dot(np.array(A), v)))(np.array(x))
    close(J, (1 - numpy.tanh(A @ x) ** 2)[:, None] * A)

    # Matrix input: shape out.shape + in.shape.
    M = rand(2, 2, seed=2)
    J2 = jacobian(lambda m: np.sum(m * m, axis=0) * 1.0)(np.array(M))
    expected = numpy.zeros((2, 2, 2))
    for j in range(2):
        expected[j, :, j] = 2 * M[:, j]
    close(J2, expected)


def test_hessian(policy):
    A, x = rand(3, 3), rand(3, seed=1)  # A is not symmetric
    H = hessian(lambda v: np.dot(v, np.dot(np.array(A), v)))(np.array(x))
    close(H, A + A.T, rtol=1e-12)
    H3 = hessian(lambda v: np.sum(v ** 3))(np.array(x))
    close(H3, numpy.diag(6 * x))


def test_higher_order_derivatives_are_exact(policy):
    for x in (-0.7, 0.4, 1.3):
        t = numpy.tanh(x)
        close(grad(grad(np.tanh))(x), -2 * t * (1 - t ** 2))
        close(grad(grad(lambda v: np.sin(v) * v))(x), 2 * numpy.cos(x) - x * numpy.sin(x))
        close(grad(grad(lambda v: v ** 3))(x), 6 * x)
        # third derivatives
        close(grad(grad(grad(lambda v: v ** 3)))(x), 6.0)
        close(grad(grad(grad(np.sin)))(x), -numpy.cos(x))
        close(grad(grad(grad(np.tanh)))(x), -2 * (1 - t ** 2) * (1 - 3 * t ** 2))


def test_stop_gradient(policy):
    x = rand(3)
    close(grad(lambda v: np.sum(v * stop_gradient(v)))(np.array(x)), x)


# -- custom gradients -------------------------------------------------------------------------------------------------
@primitive
def logsumexp(x):
    """Written in plain NumPy: autograd cannot see inside it."""
    a = host(x)
    m = a.max()
    return np.array(m + numpy.log(numpy.sum(numpy.exp(a - m))))


logsumexp.defvjp(lambda g, ans, x: g * np.exp(x - ans))


def test_primitive_on_plain_numpy_function(policy):
    x = rand(5)
    close(logsumexp(np.array(x)), numpy.log(numpy.exp(x).sum()))
    softmax = numpy.exp(x) / numpy.exp(x).sum()
    close(grad(logsumexp)(np.array(x)), softmax)
    close(grad(lambda v: 3.0 * logsumexp(v * 2.0))(np.array(x)),
          6 * numpy.exp(2 * x) / numpy.exp(2 * x).sum())
    check_grads(logsumexp, np.array(x), order=2)


def test_defvjp_by_operator_name(policy, monkeypatch):
    """``defvjp(name, ...)`` gives a ``minpy.numpy`` operator without a rule (convolve) a gradient."""
    from minpy.autograd import defvjp, registry

    monkeypatch.setattr(registry, "VJPS", dict(registry.VJPS))  # undone after the test
    monkeypatch.setattr(registry, "_VJP_BY_REF", dict(registry._VJP_BY_REF))
    # convolve(x, [1, 1], 'valid') sums neighbours: x_i reaches outputs i-1 and i
    defvjp("convolve", lambda g, ans, x, k, mode="full": np.convolve(g, k[::-1], "full"))
    x = numpy.array([3.0, -1.0, 2.0, 7.0, 0.5])
    close(grad(lambda v: np.sum(np.convolve(v, np.array([1.0, 1.0]), "valid") * np.arange(4.0)))(np.array(x)),
          [0.0, 1.0, 3.0, 5.0, 3.0])


@customop("numpy")
def softmax_loss(x, label):
    """MinPy 0.3-style: NumPy arrays in, NumPy out."""
    probs = numpy.exp(x - numpy.max(x, axis=1, keepdims=True))
    probs /= numpy.sum(probs, axis=1, keepdims=True)
    n = x.shape[0]
    return -numpy.sum(numpy.log(probs[numpy.arange(n), label])) / n


def softmax_loss_grad(ans, x, label):
    def grad_fn(g):
        n = x.shape[0]
        probs = numpy.exp(x - numpy.max(x, axis=1, keepdims=True))
        probs /= numpy.sum(probs, axis=1, keepdims=True)
        probs[numpy.arange(n), label] -= 1
        return g * probs / n
    return grad_fn


softmax_loss.def_grad(softmax_loss_grad)


def test_customop_softmax_loss(policy):
    x = rand(4, 5)
    label = numpy.array([0, 3, 4, 1])
    p = numpy.exp(x) / numpy.exp(x).sum(axis=1, keepdims=True)
    close(softmax_loss(np.array(x), np.array(label)), -numpy.log(p[numpy.arange(4), label]).mean())
    expected = p.copy()
    expected[numpy.arange(4), label] -= 1
    close(grad(softmax_loss)(np.array(x), np.array(label)), expected / 4)
    check_grads(lambda v: softmax_loss(v, np.array(label)), np.array(x))
    # composed with traced operators on both sides
    close(grad(lambda v: 2.0 * softmax_loss(v * 3.0, label))(np.array(x)),
          6.0 * _softmax_loss_grad_host(3 * x, label))


def _softmax_loss_grad_host(x, label):
    p = numpy.exp(x) / numpy.exp(x).sum(axis=1, keepdims=True)
    p[numpy.arange(len(label)), label] -= 1
    return p / len(label)


# -- non-differentiable operators and errors --------------------------------------------------------------------------
def test_non_differentiable_ops_give_zero_gradient_paths(policy):
    x = numpy.array([1.5, -0.5, 2.25, -3.0])
    close(grad(lambda v: np.sum(v * (v > 0)))(np.array(x)), (x > 0).astype(float))
    onehot = numpy.zeros(4)
    onehot[2] = 2.0
    close(grad(lambda v: v[np.argmax(v)] * 2.0)(np.array(x)), onehot)
    close(grad(lambda v: np.sum(np.floor(v) * v))(np.array(x)), numpy.floor(x))
    close(grad(lambda v: np.argmax(v) * 1.0 + np.sum(v))(np.array(x)), numpy.ones(4))
    # Only a non-differentiable path: the gradient is zero, with the input's shape.
    close(grad(lambda v: np.sum(np.floor(v)))(np.array(x)), numpy.zeros(4))
    close(grad(lambda v: np.sum(np.sign(v) * 1.0) + np.sum(v >= 0) * 1.0)(np.array(x)), numpy.zeros(4))


def test_operator_without_rule_raises_naming_it(policy):
    with pytest.raises(AutogradError, match="convolve"):
        grad(lambda v: np.sum(np.convolve(v, v)))(np.array([1.0, 2.0, 3.0]))
    assert extend.get_interceptor() is None


def test_write_of_traced_value_into_untraced_array_raises(policy):
    def f(x):
        out = np.zeros(3)
        out[0] = x * 2
        return np.sum(out)

    with pytest.raises(AutogradError):
        grad(f)(1.5)
    assert extend.get_interceptor() is None


def test_writes_into_traced_array(policy):
    def f(x):
        h = x * 1.0
        h[0] = h[1] * 3
        return np.sum(h * h)

    x = numpy.array([0.4, -1.2, 0.9])
    # h = [3 x1, x1, x2]: f = 10 x1^2 + x2^2
    close(grad(f)(np.array(x)), [0.0, 20 * x[1], 2 * x[2]])
    check_grads(f, np.array(x), order=2)

    def g(x):
        h = x * 2.0
        h[1:] = np.sin(h[:-1])  # the right side is read before the write
        h[0] += x[2]
        return np.sum(h ** 2)

    def g_host(v):
        h = v * 2.0
        h[1:] = numpy.sin(h[:-1].copy())
        h[0] += v[2]
        return numpy.sum(h ** 2)

    check_grads(g, np.array(x), order=2)
    close(value_and_grad(g)(np.array(x))[0], g_host(x))


def test_recorded_array_written_in_place_raises(policy):
    x = np.array([1.0, 2.0, 3.0])

    def f(v):
        w = np.ones(3)
        y = v * w
        w[0] = 5.0
        return y.sum()

    with pytest.raises(AutogradError, match="written in place"):
        grad(f)(x)
    assert extend.get_interceptor() is None

    w = np.ones(3)

    def closed_over(v):
        y = v * w
        w[0] = 5.0
        return y.sum()

    with pytest.raises(AutogradError, match="multiply"):
        grad(closed_over)(x)


def test_recorded_view_whose_base_is_written_raises(policy):
    """A view of an array is recorded, then its base is written: never a wrong gradient."""
    w = np.ones(3)
    v = w[0:2]

    def f(x):
        y = x[:2] * v
        w[0] = 5.0
        return y.sum()

    with pytest.raises(AutogradError, match="written in place"):
        grad(f)(np.array([1.0, 2.0, 3.0]))


def test_keyword_and_primitive_array_arguments_written_in_place_raise(policy):
    lo = np.zeros(3)

    def f(x):
        y = np.clip(x, a_min=lo, a_max=None)  # the clip rule reads a_min
        lo[0] = 100.0
        return np.sum(y)

    with pytest.raises(AutogradError, match="a_min"):
        grad(f)(np.array([1.0, 2.0, 3.0]))

    @customop("numpy")
    def weighted_sum(x, w):
        return numpy.sum(x * w)

    weighted_sum.def_grad(lambda ans, x, w: lambda g: g * w)
    w = np.array([1.0, 2.0, 3.0])

    def h(x):
        y = weighted_sum(x, w)
        w[0] = 7.0
        return y

    with pytest.raises(AutogradError, match="weighted_sum"):
        grad(h)(np.array([1.0, 2.0, 3.0]))
    assert extend.get_interceptor() is None


def test_array_built_from_traced_values(policy):
    # np.array of (nested) lists of traced values is traced (built by stacking).
    close(grad(lambda x: np.sum(np.array([x, 2.0 * x]) ** 2))(1.5), 10 * 1.5)
    W = numpy.array([[1.0, 2.0], [3.0, 4.0]])
    close(grad(lambda x: np.sum(np.array([[x, 1.0], [2.0, x * x]]) * np.array(W)))(1.5), 1 + 8 * 1.5)
    x = numpy.array([0.3, -1.2, 2.0])
    close(grad(lambda v: np.sum(np.array((v[0], v[2])) * np.array([2.0, 5.0])))(np.array(x)), [2.0, 0, 5.0])
    g32 = grad(lambda v: np.sum(np.array([v, v], dtype=numpy.float32)))(np.array(x))
    close(g32, numpy.full(3, 2.0))

    # np.array(x) copies: writing the copy leaves x (and its gradient) alone; asarray(x) is x.
    def f(v):
        y = np.array(v)
        y[0] = 10.0
        assert np.asarray(v) is v
        return np.sum(v) + np.sum(y)

    close(grad(f)(np.array(x)), [1.0, 2.0, 2.0])
    check_grads(lambda v: np.array([[v[0] * v[1], np.sin(v[2])], [v[1], 1.0]]), np.array(x), order=2)
    close(grad(lambda a: grad(lambda v: np.sum(np.array([a * v, v])))(2.0))(3.0), 1.0)


def _write_untraced_inplace(x):
    w = np.ones(3)
    w *= x
    return np.sum(w)


def _write_untraced_view_inplace(x):
    w = np.ones(4)
    view = w[1:]
    view += x
    return np.sum(w)


def _write_untraced_out(x):
    w = np.ones(3)
    np.multiply(x, 2.0, out=w)
    return np.sum(w)


def _write_untraced_fill(x):
    w = np.ones(3)
    w.fill(x[0])
    return np.sum(w)


def _write_untraced_copyto(x):
    w = np.ones(3)
    np.copyto(w, x)
    return np.sum(w)


def _write_traced_fill_diagonal(x):
    h = np.exp(np.reshape(x[:2], (2, 1)) * np.ones((1, 2)))
    np.fill_diagonal(h, 0.0)
    return np.sum(h)


@pytest.mark.parametrize("f", [
    _write_untraced_inplace, _write_untraced_view_inplace, _write_untraced_out, _write_untraced_fill,
    _write_untraced_copyto, _write_traced_fill_diagonal,
    lambda x: np.sum(numpy.exp(x)),             # a plain NumPy function on a traced value
    lambda x: np.sum(np.full(3, x[0])),          # creation from a traced value
    lambda x: np.sum(np.delete(x, 0)),           # an operator without a rule that keeps values
    lambda x: np.sum(np.modf(x)[0]),
    lambda x: np.sum(np.random.normal(x, 1.0)),
], ids=["imul_into_untraced", "iadd_into_untraced_view", "out=", "fill", "copyto", "fill_diagonal",
        "host_numpy", "full", "delete", "modf", "random_loc"])
def test_traced_values_are_never_dropped_silently(policy, f):
    with pytest.raises(AutogradError):
        grad(f)(np.array([0.5, 1.5, 2.5]))
    assert extend.get_interceptor() is None


def test_operators_on_traced_values_that_do_keep_gradients(policy):
    x = numpy.array([0.5, 1.5, 2.5])
    close(grad(lambda v: np.sum(np.zeros_like(v) + np.full_like(v, 2.0) * v))(np.array(x)), numpy.full(3, 2.0))
    close(grad(lambda v: np.sum(np.random.normal(0.0, 1.0, size=v.shape) * 0.0 + v))(np.array(x)), numpy.ones(3))
    close(grad(lambda v: np.sum(numpy.float64(2.0) * v + v * numpy.float64(3.0)))(np.array(x)), numpy.full(3, 5.0))
    close(grad(lambda v: np.sum(numpy.array([1.0, 2.0, 3.0]) * v))(np.array(x)), [1.0, 2.0, 3.0])
    # a list of traced values where an operator reads one array: the stacked array, traced
    close(grad(lambda v: np.sum([v[0], 3.0 * v[1]]))(np.array(x)), [1.0, 3.0, 0.0])
    close(grad(lambda v: np.dot([[v[0], v[1]], [2.0, v[2]]], np.ones(2))[0])(np.array(x)), [1.0, 1.0, 0.0])


def test_fmod_and_remainder_gradients(policy):
    # d/dy fmod(x, y) = -trunc(x / y); d/dy remainder(x, y) = -floor(x / y): they differ for x / y < 0.
    close(grad(lambda y: np.fmod(-7.0, y))(2.0), 3.0)
    close(grad(lambda y: np.remainder(-7.0, y))(2.0), 4.0)
    close(grad(lambda x: np.fmod(x, 2.0))(-7.0), 1.0)


# -- indexing ---------------------------------------------------------------------------------------------------------
def test_gradient_of_basic_slices(policy):
    x = rand(4, 5)
    expected = numpy.zeros_like(x)
    expected[1:3, ::2] = 2 * x[1:3, ::2]
    close(grad(lambda v: np.sum(v[1:3, ::2] ** 2))(np.array(x)), expected)
    expected = numpy.zeros_like(x)
    expected[-1] = 1.0
    close(grad(lambda v: np.sum(v[-1]))(np.array(x)), expected)
    expected = numpy.zeros_like(x)
    expected[2, 3] = 3.0
    close(grad(lambda v: v[2, 3] * 3.0)(np.array(x)), expected)


def test_gradient_of_integer_array_indexing_accumulates_repeats(policy):
    x = rand(4)
    c = numpy.array([1.0, 10.0, 100.0, 1000.0])
    # x[[0, 2, 0, 0]] . c: element 0 collects 1 + 100 + 1000
    close(grad(lambda v: np.sum(v[np.array([0, 2, 0, 0])] * np.array(c)))(np.array(x)),
          [1101.0, 0.0, 10.0, 0.0])
    close(grad(lambda v: np.sum(v[[1, 1, 3]] ** 2))(np.array(x)), [0, 4 * x[1], 0, 2 * x[3]])
    m = rand(3, 3)
    expected = numpy.zeros((3, 3))
    expected[0, 1] = 2.0
    expected[2, 0] = 1.0
    close(grad(lambda v: np.sum(v[np.array([0, 2, 0]), np.array([1, 0, 1])]))(np.array(m)), expected)
    expected = numpy.zeros((3, 3))
    expected[[2]] = 2.0
    close(grad(lambda v: np.sum(v[[2, 2]]))(np.array(m)), expected)


def test_gradient_of_boolean_masks(policy):
    x = numpy.array([[0.5, -1.0, 2.0], [-0.25, 3.0, -2.0]])
    close(grad(lambda v: np.sum(v[v > 0] ** 2))(np.array(x)), 2 * x * (x > 0))
    mask = numpy.array([True, False, True])
    expected = numpy.zeros_like(x)
    expected[:, mask] = 1.0
    close(grad(lambda v: np.sum(v[:, np.array(mask)]))(np.array(x)), expected)


# -- broadcasting, reductions, dtypes ---------------------------------------------------------------------------------
def test_broadcasting_is_undone(policy):
    a, b, W = rand(3, 1), rand(1, 4, seed=1), rand(3, 4, seed=2)

    def f(p, q):
        return np.sum((p + q) ** 2 * np.array(W)) + np.sum(p * q)

    ga, gb = grad(f, argnum=(0, 1))(np.array(a), np.array(b))
    inner = 2 * (a + b) * W
    close(ga, inner.sum(axis=1, keepdims=True) + b.sum() * numpy.ones((3, 1)))
    close(gb, inner.sum(axis=0, keepdims=True) + a.sum() * numpy.ones((1, 4)))

    x = rand(2, 3)
    gs, gx = grad(lambda s, v: np.sum(s * v), argnum=(0, 1))(2.5, np.array(x))
    close(gs, x.sum())
    close(gx, numpy.full((2, 3), 2.5))
    # A (3,) vector broadcast against a (2, 3) matrix.
    r = rand(3, seed=4)
    close(grad(lambda v: np.sum(np.array(x) / v))(np.array(r)), (-x / r ** 2).sum(axis=0))


def test_reductions_with_axis_and_keepdims(policy):
    x = rand(3, 4)
    c = rand(3, 1, seed=1)
    close(grad(lambda v: np.sum(np.sum(v, axis=1, keepdims=True) * np.array(c)))(np.array(x)),
          numpy.broadcast_to(c, (3, 4)))
    d = rand(4, seed=2)
    close(grad(lambda v: np.sum(np.mean(v, axis=0) * np.array(d)))(np.array(x)),
          numpy.broadcast_to(d / 3, (3, 4)))
    expected = (x == x.max(axis=1, keepdims=True)) * c
    close(grad(lambda v: np.sum(np.max(v, axis=1, keepdims=True) * np.array(c)))(np.array(x)), expected)
    close(grad(lambda v: np.sum(v.sum(axis=(0, 1))))(np.array(x)), numpy.ones((3, 4)))
    close(grad(lambda v: np.sum(np.var(v, axis=1)))(np.array(x)),
          2 * (x - x.mean(axis=1, keepdims=True)) / 4)


def test_float32_input_gives_float32_gradient(policy):
    x32 = numpy.array([0.5, -1.0, 2.0], dtype=numpy.float32)
    for f in (lambda v: np.sum(np.exp(v) * 2.0),
              lambda v: np.sum(v * np.array([1.0, 2.0, 3.0])),  # a float64 operand
              lambda v: np.mean(np.tanh(v[:2]) + v[1:])):
        g = grad(f)(np.array(x32))
        assert g.dtype == numpy.float32, g.dtype
    g = grad(lambda v: np.sum(np.exp(v)))(np.array(x32))
    close(g, numpy.exp(x32), rtol=1e-6)


# -- tape freeing and no overhead outside grad -----------------------------------------------------------------------
def test_tape_is_freed_after_grad(policy):
    refs = []

    def f(x):
        h = np.tanh(x)
        y = h * 2.0 + x
        z = np.sum(y ** 2)
        for t in (h, y, z):
            refs.append(weakref.ref(t))                  # the tracers
            refs.append(weakref.ref(stop_gradient(t)))   # and the Arrays they carry
        return z

    x = np.array(rand(5))
    g = grad(f)(x)
    gc.collect()
    assert len(refs) == 6
    assert [r() for r in refs] == [None] * 6
    t = numpy.tanh(host(x))
    close(g, 2 * (2 * t + host(x)) * (2 * (1 - t ** 2) + 1))


def test_vjp_graph_lives_only_as_long_as_its_function(policy):
    refs = []

    def f(x):
        h = np.exp(x)
        refs.append(weakref.ref(stop_gradient(h)))
        return h * 3.0

    _, fn = vjp(f, np.array(rand(3)))
    gc.collect()
    assert refs[0]() is not None  # kept for fn
    del fn
    gc.collect()
    assert refs[0]() is None


def test_no_interceptor_outside_grad(policy):
    assert extend.get_interceptor() is None
    seen = []

    def f(x):
        seen.append(extend.get_interceptor())
        return np.sum(x * x)

    grad(f)(np.array([1.0, 2.0]))
    assert seen[0] is not None
    assert extend.get_interceptor() is None
    grad(grad(lambda v: v ** 3))(2.0)
    assert extend.get_interceptor() is None

    def boom(x):
        raise ValueError("inside f")

    with pytest.raises(ValueError, match="inside f"):
        grad(boom)(1.0)
    assert extend.get_interceptor() is None
    with pytest.raises(ValueError, match="inside f"):
        grad(lambda v: grad(boom)(v) * v)(1.0)
    assert extend.get_interceptor() is None
    with pytest.raises(TypeError):
        grad(lambda v: v * 2.0)(np.array([1.0, 2.0]))
    assert extend.get_interceptor() is None


# -- models -----------------------------------------------------------------------------------------------------------
def test_logistic_regression_gradient(policy):
    X, w_host = rand(20, 4), rand(4, seed=1)
    y = (numpy.random.default_rng(2).random(20) > 0.5).astype(float)

    def loss(w):
        p = 1.0 / (1.0 + np.exp(-np.dot(np.array(X), w)))
        return -np.mean(np.array(y) * np.log(p) + (1.0 - np.array(y)) * np.log(1.0 - p))

    p = 1 / (1 + numpy.exp(-X @ w_host))
    value, g = value_and_grad(loss)(np.array(w_host))
    close(value, -numpy.mean(y * numpy.log(p) + (1 - y) * numpy.log(1 - p)), rtol=1e-6)
    close(g, X.T @ (p - y) / 20, rtol=1e-6)


def test_two_layer_net_gradient(policy):
    N, D, H, C = 8, 5, 6, 3
    X = rand(N, D)
    labels = numpy.random.default_rng(1).integers(0, C, N)
    params = [rand(D, H, seed=2), rand(H, seed=3), rand(H, C, seed=4), rand(C, seed=5)]

    def loss(p, x, yl):
        W1, b1, W2, b2 = p
        h = np.maximum(np.dot(x, W1) + b1, 0.0)
        s = np.dot(h, W2) + b2
        s = s - np.max(s, axis=1, keepdims=True)
        logp = s - np.log(np.sum(np.exp(s), axis=1, keepdims=True))
        return -np.mean(logp[np.arange(N), yl])

    grads, value = grad_and_loss(loss)([np.array(a) for a in params], np.array(X), np.array(labels))

    W1, b1, W2, b2 = params
    z = X @ W1 + b1
    h = numpy.maximum(z, 0)
    s = h @ W2 + b2
    p = numpy.exp(s - s.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    close(value, -numpy.log(p[numpy.arange(N), labels]).mean(), rtol=1e-6)
    ds = p.copy()
    ds[numpy.arange(N), labels] -= 1
    ds /= N
    dh = ds @ W2.T
    dz = dh * (z > 0)
    expected = [X.T @ dz, dz.sum(axis=0), h.T @ ds, ds.sum(axis=0)]
    assert isinstance(grads, list) and len(grads) == 4
    for got, want in zip(grads, expected):
        close(got, want, rtol=1e-6)


# -- coverage and the checker itself ---------------------------------------------------------------------------------
def test_rules_cover_the_operator_table():
    assert check_rules_cover_table() == []


def test_check_grads_detects_a_wrong_gradient(policy):
    @primitive
    def cube(x):
        return x * x * x

    cube.defvjp(lambda g, ans, x: g * 2.0 * x * x)  # wrong: 3 x^2
    x = np.array([0.5, -1.5, 2.0])
    with pytest.raises(AssertionError):
        check_grads(cube, x)

    @primitive
    def good_cube(x):
        return x * x * x

    good_cube.defvjp(lambda g, ans, x: g * 3.0 * x * x)
    check_grads(good_cube, x, order=2)

    # Right first derivative, wrong second: only the order-2 check can see it.
    @primitive
    def flat_second(x):
        return x * x * x

    flat_second.defvjp(lambda g, ans, x: g * 3.0 * stop_gradient(x) ** 2)
    check_grads(flat_second, x)
    with pytest.raises(AssertionError):
        check_grads(flat_second, x, order=2)


def test_check_grads_on_library_rules(policy):
    x = np.array(rand(3, 4))
    check_grads(lambda v: np.sum(np.tanh(v) * np.exp(-v), axis=1), x, order=2)
    check_grads(lambda v: np.dot(v, v.T)[np.array([0, 2, 0])], x, order=2)
    check_grads(lambda v: np.concatenate([v[:, :2] ** 2, np.sqrt(np.abs(v) + 1.0)], axis=1), x)
