"""Gradient property tests of ``minpy.scipy``, generated from its operator table (``minpy.scipy._table``).

Every operator the table declares differentiable is called on random float64 arguments drawn from its test
hints (``tests/array/scipy_strategies.py``, mode ``grad``), and its derivatives with respect to the hinted
arguments (``wrt``) are checked against central finite differences with ``minpy.autograd.test_util``'s
``check_grads``: forward mode (JVP rules) and reverse mode (VJP rules), to second order (derivatives of the
derivatives, the modes mixed) unless the hints say ``order: 1``. Matrices a function reads as symmetric are
differentiated as functions of ``(a + a.T) / 2``; a point of a simplex (``dirichlet``) as a function of its
free coordinates (the last is one minus the others), so that finite differences stay on the simplex. Functions
with the ``complex`` hint are checked on complex arguments too (HIPS autograd's convention).
"""
import contextlib
import importlib.util
import pathlib

import numpy as onp
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

pytest.importorskip("scipy")
import minpy.numpy as np  # noqa: E402
import minpy.scipy.integrate  # noqa: E402,F401
import minpy.scipy.linalg  # noqa: E402,F401
import minpy.scipy.signal  # noqa: E402,F401
import minpy.scipy.special  # noqa: E402,F401
import minpy.scipy.stats  # noqa: E402,F401
from minpy.autograd import registry, test_util  # noqa: E402
from minpy.autograd.test_util import check_grads  # noqa: E402
from minpy.dispatch.policy import resolve_policy  # noqa: E402
from minpy.ops.operator import all_operators  # noqa: E402
from minpy.scipy import _table  # noqa: E402


def _load(name):
    path = pathlib.Path(__file__).parents[1] / "array" / (name + ".py")
    spec = importlib.util.spec_from_file_location("minpy_autograd_test_" + name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


S = _load("scipy_strategies")
OPS = all_operators("scipy")
DIFFERENTIABLE = sorted(r["name"] for r in _table.RECORDS if r["differentiable"] is True)
SECOND_ORDER = [n for n in DIFFERENTIABLE if S.hints(OPS[n]).get("order", 2) > 1]
COMPLEX = [n for n in DIFFERENTIABLE if S.hints(OPS[n]).get("complex")]
MXNET = [n for n in DIFFERENTIABLE if "mxnet" in OPS[n].impls]
FIRST_EXAMPLES = max(1, settings.default.max_examples // 5)
SECOND_EXAMPLES = max(1, settings.default.max_examples // 12)
# The rules are minpy.numpy code, so a policy decides where their operators run (MXNet under prefer_mxnet and
# auto): every test runs under each policy, the MXNet ones (which need MXNet) with a smaller budget.
POLICIES = ["only_numpy", pytest.param("prefer_mxnet", marks=pytest.mark.mxnet),
            pytest.param("auto", marks=pytest.mark.mxnet)]
MXNET_EXAMPLES = max(1, settings.default.max_examples // 25)


def _examples(policy, budget):
    return budget if policy == "only_numpy" else min(budget, MXNET_EXAMPLES)


def _get(call, where):
    if type(where) is tuple:
        return _get(call, where[0])[where[1]]
    return call.args[where] if type(where) is int else call.kwargs[where]


def _with(args, kwargs, where, value):
    if type(where) is tuple:
        outer = _get_from(args, kwargs, where[0])
        inner = list(outer)
        inner[where[1]] = value
        return _with(args, kwargs, where[0], type(outer)(inner))
    if type(where) is int:
        args = list(args)
        args[where] = value
    else:
        kwargs = dict(kwargs)
        kwargs[where] = value
    return args, kwargs


def _get_from(args, kwargs, where):
    return args[where] if type(where) is int else kwargs[where]


def _is_float(a):
    return type(a) is float or isinstance(a, onp.ndarray) and a.dtype.kind == "f"


def _problem(op, call, complex_=False):
    """``(f, x)``: the operator as a function of the differentiated arguments (a tuple), and their values."""
    hints = S.hints(op)
    if "wrt" in hints:
        wrt = [w for w in S.wrt(op) if (type(w) is tuple or type(w) is int and w < len(call.args)
                                        or type(w) is str and call.kwargs.get(w) is not None)]
    else:  # the table's default: every float argument
        wrt = [i for i, a in enumerate(call.args) if _is_float(a)]
    symmetric = set(hints.get("symmetric", ()))
    simplex = {i for i, k in enumerate(hints.get("args", ())) if k == "simplex"}
    args, kwargs = call.materialise(lambda a: a)
    free = []
    for w in wrt:
        value = _get_from(args, kwargs, w) if type(w) is not tuple else _get_from(args, kwargs, w[0])[w[1]]
        if w in simplex:
            value = value[:-1]
        if complex_:
            value = onp.asarray(value) + 0.3j * onp.cos(onp.asarray(value) * 3.0)
        free.append(value)

    def f(xs):
        a, k = list(args), dict(kwargs)
        for w, x in zip(wrt, xs):
            if w in symmetric:
                x = (x + np.swapaxes(x, -1, -2)) / 2.0
            if w in simplex:
                x = np.concatenate([x, 1.0 - np.sum(x, axis=0, keepdims=True)], axis=0)
            a, k = _with(a, k, w, x)
        out = op.public(*a, **k)
        if type(out) is tuple:  # cho_factor's (c, lower): the flag is not differentiated
            out = tuple(o for o in out if type(o) is not bool)
        return out
    f.__name__ = op.name
    return f, tuple(free)


def _check(name, data, order, policy="only_numpy", complex_=False):
    op = OPS[name]
    call = data.draw(S.calls(op, "grad"), label="call")
    f, x = _problem(op, call, complex_)
    if not x:
        return
    try:  # arguments SciPy rejects (convolve's 'valid' mode of crossed shapes) have no derivative to check
        with onp.errstate(all="ignore"):
            f(x)
    except ValueError:
        assume(False)
    onp.random.seed(0)
    rtol = S.hints(op).get("grad_rtol")  # the table's documented exceptions (SciPy's own accuracy)
    with resolve_policy(policy), _finite_difference_rtol(rtol):
        with onp.errstate(all="ignore"):
            check_grads(f, modes=("fwd", "rev"), order=order)(x)


@contextlib.contextmanager
def _finite_difference_rtol(rtol):
    if rtol is None:
        yield
        return
    saved = test_util.RTOL
    test_util.RTOL = rtol
    try:
        yield
    finally:
        test_util.RTOL = saved


def _run(name, policy, order, budget, complex_=False):
    @settings(max_examples=_examples(policy, budget))
    @given(data=st.data())
    def run(data):
        _check(name, data, order, policy=policy, complex_=complex_)
    run()


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_first_order(name, policy):
    _run(name, policy, 1, FIRST_EXAMPLES)


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("name", SECOND_ORDER)
def test_second_order(name, policy):
    _run(name, policy, 2, SECOND_EXAMPLES)


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("name", COMPLEX)
def test_complex(name, policy):
    _run(name, policy, 2, SECOND_EXAMPLES, complex_=True)


@pytest.mark.mxnet
@pytest.mark.parametrize("name", MXNET)
def test_mxnet_routes(name):
    # the operators with MXNet kernels of their own, under prefer_mxnet with the full second-order budget
    _run(name, "prefer_mxnet", 2, SECOND_EXAMPLES)


def test_every_differentiable_operator_has_rules():
    missing = [n for n in DIFFERENTIABLE
               if registry.rule_for_safe(OPS[n]) is None or registry.jvp_for(OPS[n]) is None]
    assert not missing, f"declared differentiable without a VJP and a JVP rule: {missing}"


def test_non_differentiable_arguments_raise():
    from minpy.autograd import grad
    from minpy.autograd.errors import AutogradError

    with pytest.raises(AutogradError, match="minpy.scipy.special.jv"):
        grad(lambda v: np.sum(minpy.scipy.special.jv(v, 2.0)))(1.5)


def test_odeint_second_derivative_of_a_linear_system():
    # y' = -k y: y(t) = y0 exp(-k t), so d2 y(t)/dk2 = y0 t^2 exp(-k t), reverse over reverse and forward over reverse
    from minpy.autograd import deriv, grad

    def final(k):
        ys = minpy.scipy.integrate.odeint(lambda y, t, kk: -kk * y, np.array([2.0]), onp.array([0.0, 0.5]),
                                          args=(k,), rtol=1e-11, atol=1e-11)
        return np.sum(ys[-1])
    k = 0.8
    assert abs(float(grad(final)(k)) + 2.0 * 0.5 * onp.exp(-0.4)) < 1e-7
    want = 2.0 * 0.25 * onp.exp(-0.4)
    assert abs(float(grad(grad(final))(k)) - want) < 1e-6
    assert abs(float(deriv(grad(final))(k)) - want) < 1e-6


# -- cases the generated tests do not reach -----------------------------------------------------------------------
def test_mvn_singular_covariance_matches_scipy_and_differentiates():
    import scipy.stats as ss
    from minpy.autograd import grad

    mvn = minpy.scipy.stats.multivariate_normal
    rng = onp.random.default_rng(3)
    basis = onp.linalg.qr(rng.standard_normal((4, 4)))[0]
    cov = basis[:, :2] @ onp.diag([1.5, 0.7]) @ basis[:, :2].T   # rank 2, not axis-aligned
    mean = rng.standard_normal(4)
    inside = mean + basis[:, :2] @ onp.array([0.3, -0.8])
    outside = inside + 0.5 * basis[:, 3]
    points = onp.stack([inside, outside])
    for fn in ("logpdf", "pdf"):
        got = onp.asarray(getattr(mvn, fn)(points, mean, cov, allow_singular=True).asnumpy())
        want = getattr(ss.multivariate_normal, fn)(points, mean, cov, allow_singular=True)
        onp.testing.assert_allclose(got, want, rtol=1e-10)
    with pytest.raises(onp.linalg.LinAlgError):
        mvn.logpdf(inside, mean, cov)   # as SciPy: singular without allow_singular
    # along the support, the derivative in x is -pinv(cov) (x - mean) (finite differences stay on the support)
    g = grad(lambda x: mvn.logpdf(x, mean, cov, allow_singular=True))(inside)
    onp.testing.assert_allclose(onp.asarray(g.asnumpy()), -onp.linalg.pinv(cov) @ (inside - mean), atol=1e-10)

    def along_support(c, d):   # x and the mean moved inside the support only
        return mvn.logpdf(mean + np.dot(basis[:, :2], c), mean + np.dot(basis[:, :2], d), cov, allow_singular=True)
    onp.random.seed(0)
    check_grads(along_support, argnum=(0, 1), modes=("fwd", "rev"), order=2)(onp.array([0.3, -0.8]),
                                                                            onp.array([0.1, 0.2]))


def test_sqrtm_of_a_matrix_with_negative_eigenvalues():
    # a real symmetric matrix with a negative eigenvalue has a complex square root; both modes to second order
    rng = onp.random.default_rng(5)
    q = onp.linalg.qr(rng.standard_normal((3, 3)))[0]
    a = q @ onp.diag([2.0, 0.7, -0.6]) @ q.T

    def symmetric_sqrtm(x):
        return minpy.scipy.linalg.sqrtm((x + np.swapaxes(x, -1, -2)) / 2.0)
    onp.random.seed(0)
    check_grads(symmetric_sqrtm, modes=("fwd", "rev"), order=2)(a)


@pytest.mark.parametrize("fn", ["sqrtm", "expm", "logm"])
def test_matrix_functions_of_complex_matrices_are_holomorphic(fn):
    # HIPS autograd's convention for a holomorphic function: the VJP is the transposed derivative, unconjugated
    rng = onp.random.default_rng(6)
    a = onp.eye(3) * 2.0 + 0.3 * (rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3)))
    f = getattr(minpy.scipy.linalg, fn)
    onp.random.seed(0)
    check_grads(f, modes=("fwd", "rev"), order=2)(a)
