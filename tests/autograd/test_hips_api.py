"""HIPS autograd's API on minpy: the names of its top-level namespace and modules, and what they compute.

Expected values are derived by hand (or with plain NumPy on closed forms), never with autograd itself. Tests
that compute run under each dispatch policy (the ``policy`` fixture).
"""
import collections
import contextlib
import inspect
import math
import re
import warnings

import numpy
import pytest

import minpy.numpy as np
from minpy.array import Array
import minpy.autograd as ag
from minpy.autograd import (AutogradError, NoRuleError, checkpoint, deriv, elementwise_grad, grad, grad_and_aux,
                            grad_named, hessian, hessian_tensor_product, hessian_vector_product, holomorphic_grad,
                            jacobian, make_ggnvp, make_hvp, make_jvp, make_vjp, multigrad_dict,
                            tensor_jacobian_product, value_and_grad, vector_jacobian_product)

from autograd_support import close, host, rand


# -- the names ----------------------------------------------------------------------------------------------------
HIPS_TOP_LEVEL = ["make_vjp", "grad", "multigrad_dict", "elementwise_grad", "value_and_grad", "grad_and_aux",
                  "hessian_tensor_product", "hessian_vector_product", "hessian", "jacobian",
                  "tensor_jacobian_product", "vector_jacobian_product", "grad_named", "checkpoint", "make_hvp",
                  "make_jvp", "make_ggnvp", "deriv", "holomorphic_grad", "isinstance", "type", "tuple", "list",
                  "dict", "primitive"]
HIPS_MODULES = {
    "differential_operators": HIPS_TOP_LEVEL[:19] + ["make_jvp_reversemode"],
    "extend": ["Box", "primitive", "notrace_primitive", "VSpace", "vspace", "SparseObject", "defvjp",
               "defvjp_argnum", "defvjp_argnums", "defjvp", "defjvp_argnum", "defjvp_argnums", "def_linear"],
    "core": ["make_vjp", "make_jvp", "vspace", "VSpace", "primitive_vjps", "primitive_jvps", "defvjp", "defjvp",
             "def_linear", "VJPNode", "JVPNode", "SparseObject"],
    "builtins": ["tuple", "list", "dict", "isinstance", "type"],
    "test_util": ["check_grads", "combo_check", "scalar_close", "check_equivalent", "check_vjp", "check_jvp"],
    "tracer": ["primitive", "notrace_primitive", "getval", "isbox"],
    "util": ["subvals", "subval", "toposort", "quick_grad_check"],
    "wrap_util": ["unary_to_nary", "wraps", "wrap_nary_f", "get_name"],
    "misc": ["flatten", "const_graph"],
    "misc.optimizers": ["sgd", "rmsprop", "adam"],
    "misc.flatten": ["flatten", "flatten_func"],
    "misc.fixed_points": ["fixed_point"],
}


def test_hips_top_level_names():
    missing = [name for name in HIPS_TOP_LEVEL if not hasattr(ag, name)]
    assert not missing


@pytest.mark.parametrize("module", sorted(HIPS_MODULES))
def test_hips_module_names(module):
    import importlib

    mod = importlib.import_module(f"minpy.autograd.{module}")
    missing = [name for name in HIPS_MODULES[module] if not hasattr(mod, name)]
    assert not missing


def test_builtins_are_not_exported_by_star():
    assert not {"tuple", "list", "dict", "isinstance", "type"} & set(ag.__all__)


def test_signatures_follow_hips():
    assert list(inspect.signature(ag.grad).parameters) == ["fun", "argnum"]
    assert list(inspect.signature(ag.make_ggnvp).parameters) == ["f", "g", "f_argnum"]
    from minpy.autograd.test_util import check_grads

    assert list(inspect.signature(check_grads).parameters) == ["f", "argnum", "modes", "order"]


# -- differential operators ------------------------------------------------------------------------------------
def test_deriv_and_make_jvp(policy):
    f = lambda x: (x + np.sin(x ** 2)) * x  # noqa: E731
    x = 1.3
    exact = 2 * x + math.sin(x * x) + 2 * x * x * math.cos(x * x)
    close(deriv(f)(x), exact)
    close(grad(f)(x), exact)
    ans, tangent = make_jvp(lambda a, b: a * b + b, (0, 1))(2.0, 3.0)((1.0, 0.5))
    close(ans, 9.0)
    close(tangent, 3.0 * 1.0 + 2.0 * 0.5 + 0.5)


def test_make_vjp_returns_vjp_first(policy):
    x = rand(3)
    vjp_fn, ans = make_vjp(lambda v: np.sin(v) * 2.0)(np.array(x))
    close(ans, 2 * numpy.sin(x))
    close(vjp_fn(np.ones(3)), 2 * numpy.cos(x))


def test_value_and_grad_and_aux(policy):
    x = rand(4)
    value, g = value_and_grad(lambda v: np.sum(v ** 3))(np.array(x))
    close(value, numpy.sum(x ** 3))
    close(g, 3 * x ** 2)
    g, aux = grad_and_aux(lambda v: (np.sum(v ** 2), v * 10.0))(np.array(x))
    close(g, 2 * x)
    close(aux, 10 * x)


def test_grad_rejects_non_scalar_and_complex_outputs(policy):
    with pytest.raises(TypeError):
        grad(lambda v: v * 2.0)(np.array(rand(3)))
    with pytest.raises(TypeError):
        grad(lambda v: v * (1.0 + 0.2j))(1.0)
    with pytest.raises(TypeError):
        grad(lambda v: np.allclose(v, v))(np.array(rand(3)))
    with pytest.raises(TypeError):
        elementwise_grad(lambda v: v * 1j)(np.array(rand(3)))


def test_grad_named_and_multigrad_dict(policy):
    def f(a, b, c=2.0):
        return a * b * c

    close(grad_named(f, "b")(3.0, 4.0), 6.0)
    grads = multigrad_dict(f)(3.0, 4.0)
    assert isinstance(grads, collections.OrderedDict) and list(grads) == ["a", "b", "c"]
    close(grads["a"], 8.0)
    close(grads["b"], 6.0)
    close(grads["c"], 12.0)

    def g(x, *rest, scale=1.0):
        return scale * x * sum(rest)

    grads = multigrad_dict(g)(2.0, 3.0, 4.0, scale=0.5)
    close(grads["x"], 3.5)
    assert len(grads["rest"]) == 2
    close(grads["rest"][0], 1.0)
    close(grads["scale"], 14.0)


def test_jacobian_hessian(policy):
    x = rand(3)
    a = rand(3, 3, seed=1)
    close(jacobian(lambda v: np.dot(a, v) ** 2)(np.array(x)), 2 * (a @ x)[:, None] * a)
    sym = a + a.T
    close(hessian(lambda v: np.dot(v, np.dot(sym, v)) / 2.0)(np.array(x)), sym)
    # a vector-valued function: its Hessian is a tensor
    close(hessian(lambda v: v ** 3)(np.array(x)), numpy.einsum("ij,jk->ijk", numpy.eye(3), numpy.diag(6 * x)))
    close(jacobian(lambda v: v * 2.0)(1.5), 2.0)


def test_hessian_products(policy):
    x = rand(4)
    v = rand(4, seed=2)
    a = rand(4, 4, seed=3)
    f = lambda w: np.sum(np.tanh(np.dot(a, w)))  # noqa: E731
    t = numpy.tanh(a @ x)
    hess = a.T @ numpy.diag(-2 * t * (1 - t ** 2)) @ a
    close(hessian_vector_product(f)(np.array(x), np.array(v)), hess @ v)
    assert hessian_vector_product is hessian_tensor_product
    # a matrix argument: the Hessian (a 4-tensor) contracted with a tensor of the argument's shape
    m = rand(2, 2, seed=4)
    t2 = rand(2, 2, seed=10)
    cubic = lambda w: np.sum(w * w * w) + np.sum(w[0] * w[1])  # noqa: E731
    full = host(hessian(cubic)(np.array(m)))
    close(hessian_tensor_product(cubic)(np.array(m), np.array(t2)), numpy.einsum("ijkl,kl->ij", full, t2))
    hvp, g = make_hvp(f)(np.array(x))
    close(g, a.T @ (1 - t ** 2))
    close(hvp(np.array(v)), hess @ v)


def test_ggnvp(policy):
    x = rand(3)
    v = rand(3, seed=5)
    a = rand(2, 3, seed=6)
    f = lambda w: np.tanh(np.dot(a, w))  # noqa: E731
    J = (1 - numpy.tanh(a @ x) ** 2)[:, None] * a
    # default g = 1/2 |y|^2: its Hessian is the identity
    close(make_ggnvp(f)(np.array(x))(np.array(v)), J.T @ J @ v)
    h = numpy.diag([2.0, 3.0])
    close(make_ggnvp(f, lambda y: np.dot(y, np.dot(np.array(h), y)) / 2.0)(np.array(x))(np.array(v)),
          J.T @ h @ J @ v)


def test_tensor_jacobian_product(policy):
    x = rand(3)
    u = rand(2, seed=7)
    a = rand(2, 3, seed=8)
    close(tensor_jacobian_product(lambda w: np.sin(np.dot(a, w)))(np.array(x), np.array(u)),
          (u * numpy.cos(a @ x)) @ a)
    assert vector_jacobian_product is tensor_jacobian_product


def test_checkpoint_recomputes_and_keeps_gradients(policy):
    calls = []

    def block(w):
        calls.append(1)
        return np.tanh(w * 2.0) * w

    x = rand(5)
    expected = grad(lambda w: np.sum(block(w) ** 2))(np.array(x))
    calls.clear()
    got = grad(lambda w: np.sum(checkpoint(block)(w) ** 2))(np.array(x))
    close(got, host(expected))
    assert len(calls) == 2  # the forward pass, and again in the backward pass
    close(deriv(lambda w: checkpoint(block)(w))(0.3), 2 * (1 - numpy.tanh(0.6) ** 2) * 0.3 + numpy.tanh(0.6))


def test_holomorphic_grad(policy):
    z = 0.7 - 0.4j
    close(holomorphic_grad(lambda w: w ** 3)(z), 3 * z ** 2)
    close(holomorphic_grad(lambda w: np.exp(w) * np.sin(w))(z), numpy.exp(z) * (numpy.sin(z) + numpy.cos(z)))
    with pytest.warns(UserWarning, match="not complex"):
        holomorphic_grad(lambda w: w * 2.0)(1.0)


# -- complex numbers (HIPS autograd's convention: grad of real f is du/dx - i du/dy) ----------------------------
def test_complex_conventions(policy):
    z = numpy.array([0.3 + 0.8j, -1.2 + 0.5j])
    Z = np.array(z)
    close(grad(lambda w: np.sum(np.abs(w) ** 2))(Z), 2 * numpy.conj(z))
    close(grad(lambda w: np.sum(np.real(w)))(Z), numpy.ones(2) + 0j)
    close(grad(lambda w: np.sum(np.imag(w)))(Z), -1j * numpy.ones(2))
    close(grad(lambda w: np.sum(np.angle(w)))(Z), numpy.conj(1j * z) / numpy.abs(z) ** 2)
    close(grad(lambda w: np.sum(np.abs(w)))(Z), numpy.conj(z) / numpy.abs(z))
    close(grad(lambda w: np.abs(w))(3.0 + 4.0j), 0.6 - 0.8j)
    close(grad(lambda w: np.real(np.sum(np.conj(w) * w)))(Z), 2 * numpy.conj(z))


def test_real_inputs_get_real_gradients_through_complex_work(policy):
    """A real function computed with complex intermediates (a circular convolution by FFT) gets the gradient a
    real implementation gives, in the input's dtype (the imaginary part dropped explicitly, not by a cast)."""
    x = rand(8)
    k = rand(8, seed=9)

    def by_fft(v):
        return np.sum(np.real(np.fft.ifft(np.fft.fft(v) * np.fft.fft(np.array(k)))) ** 2)

    def direct(v):
        rows = [np.sum(v * np.roll(np.array(k[::-1]), i + 1)) for i in range(8)]
        return np.sum(np.stack(rows) ** 2)
    g = grad(by_fft)(np.array(x))
    assert g.dtype == numpy.float64
    close(g, host(grad(direct)(np.array(x))), rtol=1e-9)
    g32 = grad(lambda v: np.sum(np.abs(np.fft.fft(v))))(np.array(x.astype(numpy.float32)))
    assert g32.dtype == numpy.float32


# -- extension API ---------------------------------------------------------------------------------------------------
def test_primitive_with_hips_forms(policy):
    from minpy.autograd.extend import defjvp, defvjp, primitive

    @primitive
    def cube(x):
        return numpy.asarray(x) ** 3

    defvjp(cube, lambda ans, x: lambda g: g * 3 * x ** 2)
    defjvp(cube, lambda g, ans, x: g * 3 * x ** 2)
    close(grad(lambda v: np.sum(cube(v)))(np.array([1.0, 2.0])), [3.0, 12.0])
    close(deriv(cube)(2.0), 12.0)
    assert cube.fun(2.0) == 8.0


def test_defvjp_argnum_forms_and_linear(policy):
    from minpy.autograd.extend import def_linear, defjvp_argnum, defvjp_argnum, defvjp_argnums, primitive

    @primitive
    def weighted(a, b):
        return 2.0 * numpy.asarray(a) + 3.0 * numpy.asarray(b)

    defvjp_argnum(weighted, lambda argnum, ans, args, kwargs: lambda g: g * (2.0 if argnum == 0 else 3.0))
    defjvp_argnum(weighted, lambda argnum, g, ans, args, kwargs: g * (2.0 if argnum == 0 else 3.0))
    close(grad(lambda a, b: weighted(a, b), (0, 1))(1.0, 1.0), (2.0, 3.0))
    close(make_jvp(weighted, (0, 1))(1.0, 1.0)((1.0, 1.0))[1], 5.0)
    defvjp_argnums(weighted, lambda argnums, ans, args, kwargs: lambda g: [g * (2.0 if i == 0 else 3.0)
                                                                           for i in argnums])
    close(grad(weighted, 1)(1.0, 1.0), 3.0)

    @primitive
    def scale(a, b):
        return numpy.asarray(a) * numpy.asarray(b)

    def_linear(scale)
    close(make_jvp(scale, (0, 1))(2.0, 3.0)((1.0, 1.0))[1], 5.0)


def test_defvjp_none_gives_zero_and_missing_rules_raise(policy):
    from minpy.autograd.extend import defvjp, primitive

    @primitive
    def pair(a, b):
        return numpy.asarray(a) * 2.0 + numpy.asarray(b)

    defvjp(pair, lambda ans, a, b: lambda g: g * 2.0, None)
    close(grad(pair, 1)(1.0, 1.0), 0.0)
    bare = primitive(lambda x: 2.0 * numpy.asarray(x))
    for op in (grad, deriv):
        with pytest.raises(NotImplementedError):
            op(bare)(1.0)
        with pytest.raises(NoRuleError):
            op(bare)(1.0)


def test_primitive_vjps_view(policy):
    from minpy.autograd.core import primitive_vjps

    rule = primitive_vjps.pop(np.sin)
    try:
        with pytest.raises(AutogradError):
            grad(lambda v: np.sin(v))(1.0)
        assert np.sin not in primitive_vjps
    finally:
        primitive_vjps[np.sin] = rule
    close(grad(lambda v: np.sin(v))(1.0), math.cos(1.0))
    assert primitive_vjps.pop(np.iscomplex, None) is None


def test_notrace_primitive_and_builtins(policy):
    from minpy.autograd.builtins import isinstance as ag_isinstance, type as ag_type
    from minpy.autograd.extend import notrace_primitive

    seen = []
    shape_of = notrace_primitive(lambda v: seen.append(type(v)) or v.shape)

    def f(v):
        assert ag_isinstance(v, np.ndarray) and ag_type(v) is np.ndarray
        assert shape_of(v) == (3,)
        return np.sum(v ** 2)
    close(grad(f)(np.array([1.0, 2.0, 3.0])), [2.0, 4.0, 6.0])
    assert seen == [Array]


# -- misc ------------------------------------------------------------------------------------------------------------
def test_flatten_round_trip(policy):
    from minpy.autograd.misc import flatten

    value = {"b": [np.array([1.0, 2.0]), 3.0], "a": (np.array([[4.0]]),)}
    flat, unflatten = flatten(value)
    close(flat, [4.0, 1.0, 2.0, 3.0])  # dict keys sorted
    back = unflatten(np.array([5.0, 6.0, 7.0, 8.0]))
    close(back["a"][0], [[5.0]])
    close(back["b"][0], [6.0, 7.0])
    close(back["b"][1], 8.0)


@pytest.mark.parametrize("name", ["sgd", "rmsprop", "adam"])
def test_optimizers_minimise_a_quadratic(policy, name):
    from minpy.autograd.misc import optimizers

    target = {"w": numpy.array([1.0, -2.0]), "b": 0.5}

    def loss(params, i):
        return np.sum((params["w"] - target["w"]) ** 2) + (params["b"] - target["b"]) ** 2
    seen = []

    def callback(params, i, g):
        seen.append((i, sorted(params), sorted(g)))
    settings = {"sgd": {"num_iters": 300, "step_size": 0.3}, "rmsprop": {"num_iters": 300, "step_size": 0.05},
                "adam": {"num_iters": 300, "step_size": 0.1}}[name]
    result = getattr(optimizers, name)(grad(loss), {"w": np.zeros(2), "b": 0.0}, callback=callback, **settings)
    close(result["w"], target["w"], atol=0.05)
    close(result["b"], target["b"], atol=0.05)
    assert seen[0] == (0, ["b", "w"], ["b", "w"]) and len(seen) == settings["num_iters"]


def test_fixed_point_gradient(policy):
    from minpy.autograd.misc.fixed_points import fixed_point

    def newton_sqrt(a):  # x* = sqrt(a): x = (x + a / x) / 2
        return lambda x: 0.5 * (x + a / x)

    def distance(x, y):
        return float(np.abs(x - y))

    def root(a):
        return fixed_point(newton_sqrt, a, 1.0, distance, 1e-12)
    close(root(2.0), math.sqrt(2.0))
    close(grad(root)(2.0), 0.5 / math.sqrt(2.0), rtol=1e-8)


# -- HIPS's check_grads: the checks can fail -------------------------------------------------------------------------
def test_hips_check_grads_catches_a_wrong_rule(policy):
    from minpy.autograd.extend import defjvp, defvjp, primitive
    from minpy.autograd.test_util import check_grads

    @primitive
    def wrong(x):
        return numpy.sin(numpy.asarray(x))

    defvjp(wrong, lambda ans, x: lambda g: g * np.cos(x) * 1.01)
    defjvp(wrong, lambda g, ans, x: g * np.cos(x))
    check_grads(wrong, modes=["fwd"], order=1)(np.array(rand(3)))
    with pytest.raises(AssertionError):
        check_grads(wrong, modes=["rev"], order=1)(np.array(rand(3)))
    check_grads(lambda v: np.sum(np.sin(v) * v), modes=["fwd", "rev"], order=2)(np.array(rand(3)))


# -- NumPy functions written for autograd.numpy ----------------------------------------------------------------------
def test_index_tricks_and_integer_casts(policy):
    x = rand(3)
    close(grad(lambda v: np.sum(np.r_[v, 2.0 * v, 0:2] ** 2))(np.array(x)), 2 * x + 8 * x)
    close(grad(lambda v: np.sum(np.c_[v, v * 3.0]))(np.array(x)), numpy.full(3, 4.0))
    close(np.r_["0,2", np.array([1.0, 2.0]), np.array([3.0, 4.0])], numpy.r_["0,2", [1.0, 2.0], [3.0, 4.0]])
    close(np.r_[1:2:3j], numpy.r_[1:2:3j])

    def f(w):
        idx = numpy.int64(w[:, -1])  # an integer cast of traced values: allowed, no gradient through it
        assert idx.dtype == numpy.int64
        return np.sum(w[idx, :-1])
    w = numpy.zeros((3, 3))
    w[:, -1] = [2.0, 0.0, 2.0]
    close(grad(f)(np.array(w)), [[1, 1, 0], [0, 0, 0], [2, 2, 0]])


def test_make_diagonal(policy):
    d = rand(2, 3)
    m = np.make_diagonal(np.array(d), axis1=-1, axis2=-2)
    close(m, numpy.stack([numpy.diag(r) for r in d]))
    close(grad(lambda v: np.sum(np.make_diagonal(v, axis1=-1, axis2=-2) * numpy.arange(9.0).reshape(3, 3)))(
        np.array(d)), numpy.tile([0.0, 4.0, 8.0], (2, 1)))
    with pytest.raises(NotImplementedError):
        np.make_diagonal(np.array(d))


def test_std_of_constant_groups_is_differentiable(policy):
    g = grad(lambda v: np.sum(np.std(v, axis=0)))(np.array(rand(1, 4)))
    close(g, numpy.zeros((1, 4)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        close(grad(lambda v: np.std(v))(np.array([2.0, 2.0])), [0.0, 0.0])


def test_nan_reductions_skip_nans(policy):
    x = numpy.array([1.0, numpy.nan, 3.0])
    close(grad(lambda v: np.nansum(v * 2.0))(np.array(x)), [2.0, 0.0, 2.0])
    close(grad(lambda v: np.nanmean(v))(np.array(x)), [0.5, 0.0, 0.5])
    close(grad(lambda v: np.sum(np.nan_to_num(v)))(np.array(x)), [1.0, 0.0, 1.0])


def test_pow_with_traced_arrays_on_both_sides(policy):
    x = numpy.array([1.5, 2.0, 0.5])
    y = numpy.array([2.0, -1.0, 0.0])
    gx, gy = grad(lambda a, b: np.sum(a ** b), (0, 1))(np.array(x), np.array(y))
    close(gx, y * x ** numpy.where(y != 0, y - 1, 0))
    close(gy, numpy.log(x) * x ** y)
    close(grad(lambda a: np.sum(a ** y))(np.array(x)), y * x ** numpy.where(y != 0, y - 1, 0))


def test_old_import_paths():
    from minpy.autograd import differential, primitives, tracer

    assert primitives.defvjp is ag.defvjp and primitives.Primitive is ag.Primitive
    assert callable(primitives.rule_for) and callable(primitives.check_rules_cover_table)
    assert differential.grad is ag.grad and tracer.AutogradError is AutogradError


# -- HIPS's helper modules: tracer names, wrap_util, util, core's deprecated rule forms, array vector spaces -----
def test_tracer_module_names_are_the_primitive_ones():
    from minpy.autograd import primitive as minpy_primitive
    from minpy.autograd.tracer import getval, isbox, primitive

    assert primitive is minpy_primitive
    seen = []

    def f(x):
        seen.append((isbox(x), getval(x)))
        return x * 2.0
    grad(f)(1.5)
    assert seen == [(True, 1.5)]
    assert not isbox(1.5) and getval([1.0, (2.0,)]) == [1.0, (2.0,)]


def test_unary_to_nary_builds_an_argnum_operator(policy):
    from minpy.autograd.core import make_vjp as unary_vjp
    from minpy.autograd.wrap_util import unary_to_nary

    @unary_to_nary
    def my_grad(fun, x, scale=1.0):
        vjp, _ = unary_vjp(fun, x)
        g = vjp(1.0)
        return tuple(scale * gi for gi in g) if type(g) is tuple else scale * g

    def f(a, b):
        return a * a * b

    assert my_grad.__name__ == "my_grad"
    close(my_grad(f)(3.0, 2.0), 12.0)
    close(my_grad(f, 1)(3.0, 2.0), 9.0)
    close(my_grad(f, 1, 2.0)(3.0, 2.0), 18.0)   # the operator's own arguments follow argnum
    ga, gb = my_grad(f, (0, 1))(3.0, 2.0)
    close(ga, 12.0)
    close(gb, 9.0)
    assert my_grad(f, 1).__name__ == "my_grad_of_f_wrt_argnum_1"
    with pytest.raises(TypeError, match="argnum"):
        my_grad(f, 1.0)


def test_operators_are_named_and_documented_as_hips_names_them():
    def foo(x):
        return x
    assert grad.__doc__.startswith("\n    Returns a function which computes the gradient")
    assert grad(foo, 1).__name__ == "grad_of_foo_wrt_argnum_1"
    assert grad(foo, 1).__doc__.startswith("    grad of function foo with respect to argument")


def test_subvals_and_toposort():
    from minpy.autograd.util import subval, subvals, toposort

    assert subvals([1, 2, 3], [(0, "a"), (2, "c")]) == ("a", 2, "c")
    assert subval((1, 2), 1, "b") == (1, "b")

    class N:
        def __init__(self, name, *parents):
            self.name, self.parents = name, list(parents)
    a = N("a")
    b = N("b", a)
    c = N("c", a)
    d = N("d", b, c, b)   # b twice: still yielded once, after d
    order = [n.name for n in toposort(d)]
    assert sorted(order) == ["a", "b", "c", "d"]
    # every node comes before its parents
    for n in (b, c, d):
        assert all(order.index(n.name) < order.index(p.name) for p in n.parents)


@contextlib.contextmanager
def deprecated(match):
    """Expects a DeprecationWarning matching ``match``; other warnings in the block (a backend loading for the
    first time) are dropped rather than re-raised, as ``pytest.warns`` would."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    assert any(issubclass(w.category, DeprecationWarning) and re.search(match, str(w.message)) for w in caught), \
        [str(w.message) for w in caught]


def test_core_primitive_takes_the_deprecated_rule_forms(policy):
    from minpy.autograd.core import primitive as core_primitive
    from minpy.autograd.test_util import check_grads as hips_check_grads

    x, y = rand(2, 2, seed=1), rand(2, 2, seed=2)

    @core_primitive
    def mul_a(a, b):
        return a * b
    with deprecated("defgrad"):
        mul_a.defgrad(lambda ans, a, b: lambda g: g * b)
    with deprecated("defgrad"):
        mul_a.defgrad(lambda ans, a, b: lambda g: g * a, argnum=1)
    hips_check_grads(mul_a, modes=["rev"], order=1)(x, y)
    hips_check_grads(mul_a, argnum=1, modes=["rev"], order=1)(x, y)

    @core_primitive
    def mul_b(a, b):
        return a * b
    spaces = []

    def vjp_a(g, ans, vs, gvs, a, b):
        spaces.append((vs.shape, gvs.shape))
        return g * b
    with deprecated("defvjp"):
        mul_b.defvjp(vjp_a)
    with deprecated("defvjp"):
        mul_b.defvjp(lambda g, ans, vs, gvs, a, b: g * a, argnum=1)
    close(grad(lambda a: np.sum(mul_b(a, y)))(x), y)
    close(grad(lambda b: np.sum(mul_b(x, b)))(y), x)
    assert spaces == [((2, 2), (2, 2))]

    @core_primitive
    def mul_zero(a, b):
        return 0.0 * a * b
    with deprecated("defvjp_is_zero"):
        mul_zero.defvjp_is_zero([0, 1])
    close(grad(lambda a, b: np.sum(mul_zero(a, b)), (0, 1))(x, y)[1], numpy.zeros((2, 2)))


def test_quick_grad_check_is_deprecated_and_checks():
    from minpy.autograd.core import primitive as core_primitive
    from minpy.autograd.util import quick_grad_check

    with deprecated("quick_grad_check"):
        quick_grad_check(lambda x, y: x ** 2 + y, 1.0, (2.0,))

    @core_primitive
    def twice(x):
        return 2.0 * x
    with deprecated("defgrad"):
        twice.defgrad(lambda ans, x: lambda g: 2.5 * g)   # wrong on purpose
    with deprecated("quick_grad_check"), pytest.raises(AssertionError, match="twice"):
        quick_grad_check(twice, 1.0)


@pytest.mark.parametrize("value", [numpy.zeros((3, 2)), 0.0, 1j * numpy.zeros((2, 1)), [1.0, numpy.zeros((2,))],
                                   {"a": (0.0, 1j), "b": numpy.zeros(2)}])
def test_array_vector_spaces_are_minpy_numpys(policy, value):
    import minpy.numpy.numpy_vspaces as nvs
    from minpy.autograd.vspace import vspace

    vs = vspace(value)
    if isinstance(value, (list, dict)):
        assert not isinstance(vs, nvs.ArrayVSpace)
    else:
        assert isinstance(vs, nvs.ArrayVSpace)
        assert isinstance(vs, nvs.ComplexArrayVSpace) == numpy.iscomplexobj(value)
    basis = list(vs.standard_basis())
    assert len(basis) == vs.size
    for i, u in enumerate(basis):   # orthonormal under the real inner product
        for j, w in enumerate(basis):
            assert abs(float(vs.inner_prod(u, w)) - (i == j)) < 1e-12
    numpy.random.seed(0)
    x, y = vs.randn(), vs.randn()
    assert vspace(vs.add(x, y)) == vs
    lhs = float(vs.inner_prod(vs.scalar_mul(vs.add(x, y), 2.0), x))
    rhs = 2.0 * (float(vs.inner_prod(x, x)) + float(vs.inner_prod(y, x)))
    assert abs(lhs - rhs) < 1e-9
    assert abs(float(vs.inner_prod(vs.ones(), vs.ones())) - vs.size) < 1e-12


# -- the README's API table -------------------------------------------------------------------------------------------
def _readme_api_names():
    """The names in the first column of the API table of minpy-autograd's README, as dotted paths under
    ``minpy.autograd`` (``a.b.c``/``d`` names ``a.b.d`` too; ``.method`` after a name is skipped)."""
    import pathlib

    readme = pathlib.Path(__file__).resolve().parents[2] / "packages" / "minpy-autograd" / "README.md"
    text = readme.read_text()
    table = text[text.index("## Public API"):text.index("What each lacks")]
    names = []
    for row in table.splitlines():
        if not row.startswith("| `") or row.startswith("| `minpy.autograd` |"):
            continue
        cell = row.split("|")[1]
        prefix, end = "", 0
        for m in re.finditer(r"`([^`]+)`", cell):
            between, end = cell[end:m.start()], m.end()
            name = m.group(1).split("(")[0].strip()
            if name.startswith(".") or name.startswith("minpy.autograd"):
                continue
            if between.strip() == "/":
                name = prefix + name
            prefix = name.rpartition(".")[0] + "." if "." in name else ""
            names.append(name)
    return names


def test_readme_api_table_names_exist():
    import importlib

    names = _readme_api_names()
    assert len(names) > 50
    missing = []
    for name in names:
        obj = ag
        for part in name.split("."):
            if hasattr(obj, part):
                obj = getattr(obj, part)
            elif inspect.ismodule(obj):
                try:
                    obj = importlib.import_module(f"{obj.__name__}.{part}")
                except ImportError:
                    missing.append(name)
                    break
            else:
                missing.append(name)
                break
    assert not missing, f"the README's API table names what minpy.autograd does not have: {missing}"


def test_readme_api_table_lists_every_public_name():
    listed = {part for name in _readme_api_names() for part in name.split(".")}
    unlisted = sorted(set(ag.__all__) - listed - {"Tracer"})  # Tracer: listed as extend.Box, its HIPS name
    assert not unlisted, f"public names of minpy.autograd missing from its README's API table: {unlisted}"
