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
from minpy.autograd import registry  # noqa: E402
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


def _problem(op, call, complex_=False):
    """``(f, x)``: the operator as a function of the differentiated arguments (a tuple), and their values."""
    hints = S.hints(op)
    wrt = [w for w in S.wrt(op) if (type(w) is tuple or type(w) is int and w < len(call.args)
                                    or type(w) is str and call.kwargs.get(w) is not None)]
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
        return op.public(*a, **k)
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
    with resolve_policy(policy):
        with onp.errstate(all="ignore"):
            check_grads(f, modes=("fwd", "rev"), order=order)(x)


@pytest.mark.parametrize("name", DIFFERENTIABLE)
@settings(max_examples=FIRST_EXAMPLES)
@given(data=st.data())
def test_first_order(name, data):
    _check(name, data, 1)


@pytest.mark.parametrize("name", SECOND_ORDER)
@settings(max_examples=SECOND_EXAMPLES)
@given(data=st.data())
def test_second_order(name, data):
    _check(name, data, 2)


@pytest.mark.parametrize("name", COMPLEX)
@settings(max_examples=SECOND_EXAMPLES)
@given(data=st.data())
def test_complex(name, data):
    _check(name, data, 2, complex_=True)


@pytest.mark.mxnet
@pytest.mark.parametrize("name", MXNET)
@settings(max_examples=SECOND_EXAMPLES)
@given(data=st.data())
def test_mxnet_routes(name, data):
    _check(name, data, 2, policy="prefer_mxnet")


def test_every_differentiable_operator_has_rules():
    missing = [n for n in DIFFERENTIABLE
               if registry.rule_for_safe(OPS[n]) is None or registry.jvp_for(OPS[n]) is None]
    assert not missing, f"declared differentiable without a VJP and a JVP rule: {missing}"


def test_non_differentiable_arguments_raise():
    from minpy.autograd import grad
    from minpy.autograd.errors import AutogradError

    with pytest.raises(AutogradError, match="minpy.scipy.special.jv"):
        grad(lambda v: np.sum(minpy.scipy.special.jv(v, 2.0)))(1.5)


def test_odeint_second_order_says_it_is_missing():
    from minpy.autograd import grad
    from minpy.autograd.errors import AutogradError

    def final(y0):
        ys = minpy.scipy.integrate.odeint(lambda y, t: -y, y0, onp.array([0.0, 0.5]))
        return np.sum(ys[-1])
    assert abs(float(grad(final)(np.array([1.0]))) - onp.exp(-0.5)) < 1e-6
    with pytest.raises(AutogradError, match="first derivatives only"):
        grad(grad(final))(np.array([1.0]))
