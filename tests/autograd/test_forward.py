"""Forward mode (JVPs) and its nesting with reverse mode; derivative forms the generated tests do not draw.

Expected values come from closed forms or plain NumPy, never from autograd itself.
"""
import math
import threading
import warnings

import numpy
import pytest

import minpy.numpy as np
from minpy.autograd import (AutogradError, customop, deriv, grad, hessian, jacobian, make_jvp, primitive,
                            check_grads, value_and_grad)

from autograd_support import close, host, rand


def jvp(f, x, v):
    return make_jvp(f)(np.array(x))(np.array(v))


def test_jvp_through_control_flow(policy):
    def f(x):
        y = x
        for _ in range(3):
            y = np.tanh(y) * 2.0 if np.sum(y) > 0 else y * 3.0
        return y
    x = numpy.array([0.3, 0.4])
    v = numpy.array([1.0, -0.5])
    ans, t = jvp(f, x, v)
    y, dy = x, v
    for _ in range(3):
        dy = 2 * (1 - numpy.tanh(y) ** 2) * dy
        y = numpy.tanh(y) * 2.0
    close(ans, y)
    close(t, dy)


def test_forward_over_reverse_is_the_hessian_vector_product(policy):
    a = rand(3, 3)
    f = lambda w: np.sum(np.sin(np.dot(a, w)) * w)  # noqa: E731
    x, v = rand(3, seed=1), rand(3, seed=2)
    H = host(hessian(f)(np.array(x)))
    close(make_jvp(grad(f))(np.array(x))(np.array(v))[1], H @ v)


def test_reverse_over_forward(policy):
    f = lambda w: np.sum(np.exp(w) * w ** 2)  # noqa: E731
    x, v = rand(4, seed=3), rand(4, seed=4)
    directional = lambda w: make_jvp(f)(w)(np.array(v))[1]  # noqa: E731
    # the gradient of the directional derivative is the Hessian applied to v (diagonal here)
    d2 = numpy.exp(x) * (x ** 2 + 4 * x + 2)
    close(grad(directional)(np.array(x)), d2 * v)


def test_forward_over_forward_and_third_order(policy):
    f = lambda w: np.sin(w) * w  # noqa: E731
    x = 0.7
    close(deriv(deriv(f))(x), 2 * math.cos(x) - x * math.sin(x))
    close(deriv(grad(deriv(f)))(x), -3 * math.sin(x) - x * math.cos(x))


def test_jvp_of_operators_without_their_own_rule(policy):
    """A primitive with a VJP only: its JVP is the transposed VJP."""
    @primitive
    def cube(x):
        return numpy.asarray(x) ** 3
    cube.defvjp(lambda g, ans, x: g * 3 * x ** 2)
    close(deriv(cube)(2.0), 12.0)
    close(deriv(deriv(lambda w: cube(w)))(2.0), 12.0)

    @customop("numpy")
    def twice(x):
        return 2 * x
    twice.def_grad(lambda ans, x: lambda g: 2 * g)
    close(jvp(lambda w: twice(w) + 0.0, numpy.ones(3), numpy.arange(3.0))[1], [0.0, 2.0, 4.0])


def test_tangent_must_match_the_argument(policy):
    with pytest.raises(ValueError):
        jvp(np.sin, numpy.ones(3), numpy.ones(2))
    with pytest.raises(TypeError):
        make_jvp(np.sin)(np.array(numpy.ones(2)))(np.array(numpy.ones(2) * 1j))


def test_integer_results_carry_no_tangent(policy):
    ans, t = jvp(lambda w: np.sum(np.argmax(w) * 1.0 + w), numpy.array([0.5, 2.0]), numpy.array([1.0, 1.0]))
    close(t, 2.0)


def test_jacobian_of_jacobian_in_both_modes(policy):
    fun = lambda w: np.sin(np.outer(w, w)) + np.cos(np.dot(w, w))  # noqa: E731
    x = rand(2, seed=5)
    assert jacobian(jacobian(fun))(np.array(x)).shape == (2, 2, 2, 2)
    check_grads(lambda w: np.sum(np.sin(jacobian(fun)(w))), x, modes=("rev", "fwd"), order=2)


def test_forward_mode_per_thread():
    """Two threads differentiate at once, one in forward mode and one in reverse mode."""
    results = {}
    barrier = threading.Barrier(2)

    def forward():
        barrier.wait()
        results["fwd"] = [host(deriv(lambda w: w ** 3)(float(i))) for i in range(20)]

    def reverse():
        barrier.wait()
        results["rev"] = [host(grad(lambda w: w ** 2)(float(i))) for i in range(20)]
    threads = [threading.Thread(target=forward), threading.Thread(target=reverse)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    close(results["fwd"], [3.0 * i * i for i in range(20)])
    close(results["rev"], [2.0 * i for i in range(20)])


# -- forms the generated tests do not draw ------------------------------------------------------------------------
@pytest.mark.parametrize("spec, shapes", [
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 2)]),
    ("j...k,lj...->lk...", [(2, 3, 2), (4, 2, 3)]),
    ("...,...->...", [(3, 1), (1, 4)]),
    ("i...,i...", [(3, 2), (3, 2)]),
    ("ii...->i...", [(3, 3, 2)]),
    ("...k,...nk->...", [(3, 5), (3, 2, 5)]),
])
def test_einsum_with_ellipsis(policy, spec, shapes):
    args = [rand(*s, seed=i) for i, s in enumerate(shapes)]
    f = lambda *xs: np.einsum(spec, *xs)  # noqa: E731
    check_grads(f, *args, modes=("rev", "fwd"), order=2)


def test_einsum_sublist_form(policy):
    a, b = rand(2, 3), rand(3, 4, seed=1)
    check_grads(lambda x, y: np.einsum(x, [0, 1], y, [1, 2], [0, 2]), a, b, modes=("rev", "fwd"), order=2)
    check_grads(lambda x: np.einsum(x, [Ellipsis, 0, 1], [Ellipsis, 1, 0]), rand(2, 2, 3), modes=("rev", "fwd"))


@pytest.mark.parametrize("kwargs", [{}, {"axisa": 0}, {"axisa": 0, "axisb": 1, "axisc": 0}, {"axis": 0}])
def test_cross_axes(policy, kwargs):
    a = rand(3, 3)
    b = rand(3, 3, seed=1)
    check_grads(lambda x, y: np.cross(x, y, **kwargs), a, b, modes=("rev", "fwd"), order=2)
    if numpy.lib.NumpyVersion(numpy.__version__) < "2.0.0":  # 2-vectors: deprecated in NumPy 2
        check_grads(lambda x, y: np.cross(x, y), rand(4, 2), rand(4, 3, seed=2), modes=("rev", "fwd"))


def test_diff_with_prepend_and_append(policy):
    x = rand(3, 4)
    check_grads(lambda a: np.diff(a, n=2, axis=1, prepend=1.5, append=np.ones((3, 2))), x, modes=("rev", "fwd"))
    check_grads(lambda a, p: np.diff(a, axis=0, prepend=p), x, rand(1, 4, seed=3), modes=("rev", "fwd"))


def test_gradient_with_spacing(policy):
    x = rand(6, 5)
    check_grads(lambda a: np.gradient(a, 0.5, axis=0), x, modes=("rev", "fwd"), order=2)
    coords = numpy.cumsum(numpy.array([0.3, 0.5, 0.2, 0.7, 0.4]))
    check_grads(lambda a: np.gradient(a, coords, axis=1, edge_order=2), x, modes=("rev", "fwd"))
    check_grads(lambda a: np.stack(np.gradient(a, 2.0, 0.5)), x, modes=("rev",))


def test_fft_with_repeated_axes_and_odd_lengths(policy):
    x = rand(5, 3)
    check_grads(lambda a: np.fft.fftn(a, s=(4, 6), axes=(0, 0)), x, modes=("rev", "fwd"))
    check_grads(lambda a: np.fft.rfftn(a, s=(5, 3), axes=(0, 1)), x, modes=("rev", "fwd"), order=2)
    check_grads(lambda a: np.fft.irfft(a, 5), x + 1j * rand(5, 3, seed=1), modes=("rev", "fwd"), order=2)
    check_grads(lambda a: np.fft.hfft(a, 7, norm="ortho"), x + 1j * rand(5, 3, seed=2), modes=("rev", "fwd"))


def test_split_outputs_and_lists(policy):
    x = rand(6, 2)
    check_grads(lambda a: np.stack(np.array_split(a, 4)[:2]), x, modes=("rev", "fwd"), order=2)
    close(grad(lambda a, b: np.sum(np.append([a, 2.0 * a], b) ** 2), (0, 1))(1.0, 3.0), (10.0, 6.0))
    value, g = value_and_grad(lambda a: np.sum(np.linspace(a, 2 * a, 5, retstep=True)[1]))(1.0)
    close(value, 0.25)
    close(g, 0.25)


def test_decompositions_refuse_what_is_not_unique(policy):
    x = rand(4, 2)
    with pytest.raises(AutogradError):
        grad(lambda a: np.sum(np.linalg.svd(a, full_matrices=True)[0]))(np.array(x))
    with pytest.raises(AutogradError):
        grad(lambda a: np.sum(np.linalg.qr(a, mode="complete")[0]))(np.array(x))
    with pytest.raises(AutogradError), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NumPy's ComplexWarning: the cast the rule refuses to derive
        grad(lambda a: np.sum(np.var(a, dtype=numpy.float64)))(np.array(x + 1j))
