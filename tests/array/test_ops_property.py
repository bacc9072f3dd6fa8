"""Property tests of the operator table against NumPy, generated from the table itself.

Every elementwise operator (declared or NumPy-only) and every declared reduction, shape, creation and
linear-algebra operator (plus the other declared operators that have test hints) is called on random
arguments under the prefer-MXNet and the only-NumPy policies, and must give NumPy's value, shape and dtype
(float values within the tolerances of ``strategies.TOLERANCES``), or raise NumPy's exception type when NumPy
raises. The arguments come from the record (kind, NumPy signature, ``table.TEST_HINTS``); nothing here lists
operators by hand. The array arguments are held by NumPy or MXNet, or given as Python values (lists, scalars:
``np.prod(shape_tuple)``), which every backend's argument checks must take. A second test checks that every operator with an MXNet implementation really runs on
MXNet for an ordinary float call, so that a silently broken MXNet route (a predicate that always refuses, an
adapter that raises and falls back) is caught.
"""
import importlib.util
import pathlib
import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import minpy.numpy  # noqa: F401  (builds the operator table)
from minpy import stats
from minpy.array import Array
from minpy.backends import get_backend
from minpy.context import current_context
from minpy.dispatch.policy import PreferMXNetPolicy, resolve_policy
from minpy.ops import table
from minpy.ops.operator import all_operators


def _load_strategies():
    # Loaded by path under a unique name: this folder is not a package (``tests/array`` would shadow the
    # standard library's ``array`` module), and a bare ``strategies`` could collide with other test folders.
    path = pathlib.Path(__file__).with_name("strategies.py")
    spec = importlib.util.spec_from_file_location("minpy_array_test_strategies", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


S = _load_strategies()

OPS = all_operators()
VALUE_KINDS = ("ufunc", "reduction", "shape", "creation", "linalg")
# declared in the table (or a NumPy alias of a declared function), and every elementwise operator
VALUE_OPS = sorted(name for name, op in OPS.items()
                   if op.kind == "ufunc" or (S.record_name(op) is not None
                                             and (op.kind in VALUE_KINDS or S.hints(op))))
MXNET_OPS = sorted(name for name in VALUE_OPS if "mxnet" in OPS[name].impls)
POLICIES = [pytest.param("prefer_mxnet", marks=pytest.mark.mxnet), "only_numpy",
            pytest.param("auto", marks=pytest.mark.mxnet)]

_STRATEGIES = {}


def _calls(op, plain=False):
    key = (op.name, plain)
    strategy = _STRATEGIES.get(key)
    if strategy is None:
        strategy = _STRATEGIES[key] = S.calls(op, plain)
    return strategy


def _policy(name):
    return resolve_policy(name)


def _to_minpy(on_mxnet):
    if on_mxnet == "python":
        return _to_python
    if on_mxnet:
        backend = get_backend("mxnet")
        assert backend.available(), backend.unavailable_reason()
        ctx = current_context()
        return lambda a: Array(backend.from_numpy(a, ctx), backend)
    numpy_backend = get_backend("numpy")
    return lambda a: Array(a.copy(), numpy_backend)  # minpy's own (Array(x) alone wraps the caller's buffer)


def _to_python(a):
    """An array argument as the Python value a user may pass instead (a nested list, or a scalar for 0-d):
    np.prod(shape_tuple), np.sum([1, 2]). NumPy gets the same value."""
    return a.tolist()


#: where the array arguments of a call live: NumPy, MXNet, or Python values in place of arrays
INPUTS = ("numpy", "mxnet", "python")


def _quietly(fn, args, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)


def assert_same(op, expected, got, values=True, where="result"):
    """minpy's result ``got`` has NumPy's container type, dtype, shape and (within tolerance) values."""
    if isinstance(expected, (list, tuple)):
        assert type(got) is type(expected), f"{where}: minpy gave {type(got).__name__}, NumPy " \
                                            f"{type(expected).__name__}"
        assert len(got) == len(expected), f"{where}: {len(got)} items, NumPy has {len(expected)}"
        for i, (e, g) in enumerate(zip(expected, got)):
            assert_same(op, e, g, values, f"{where}[{i}]")
        return
    if isinstance(expected, (np.ndarray, np.generic)):
        assert isinstance(got, Array), f"{where}: minpy gave {type(got).__name__}, NumPy " \
                                       f"{type(expected).__name__}"
        g = got.asnumpy()
    else:
        assert type(got) is type(expected), f"{where}: minpy gave {got!r}, NumPy {expected!r}"
        g = np.asarray(got)
    e = np.asarray(expected)
    assert g.dtype == e.dtype, f"{where}: dtype {g.dtype}, NumPy's is {e.dtype}"
    assert g.shape == e.shape, f"{where}: shape {g.shape}, NumPy's is {e.shape}"
    if not values or e.size == 0:
        return
    if e.dtype.kind in "fc":
        rtol, atol = S.tolerance(op, e.dtype)
        wide = np.complex128 if e.dtype.kind == "c" else np.float64
        # NumPy's comparison multiplies infinite complex values (fft of large inputs) by ones and takes
        # absolute values of huge differences: quiet, as the comparison itself says whether they agree
        with np.errstate(invalid="ignore", over="ignore"):
            np.testing.assert_allclose(g.astype(wide), e.astype(wide), rtol=rtol, atol=atol, equal_nan=True,
                                       err_msg=f"{where} ({e.dtype})")
    else:
        np.testing.assert_array_equal(g, e, err_msg=f"{where} ({e.dtype})")


def check_call(op, call, policy, on_mxnet=False, must_succeed=False):
    """Run ``call`` with NumPy (``op.ref``) and with minpy under ``policy``; compare. ``on_mxnet``: the minpy
    arrays are held by MXNet; ``"python"``: both NumPy and minpy get Python values in place of arrays."""
    np_args, np_kwargs = call.materialise(_to_python) if on_mxnet == "python" else call.numpy()
    try:
        expected = _quietly(op.ref, np_args, np_kwargs)
    except Exception as exc:  # NumPy rejects these arguments: minpy must raise the same type
        assert not must_succeed, f"NumPy raised {type(exc).__name__}: {exc} for the plain call {call}"
        mp_args, mp_kwargs = call.materialise(_to_minpy(on_mxnet))
        with policy:
            try:
                _quietly(op.public, mp_args, mp_kwargs)
            except Exception as got:
                assert type(got) is type(exc), (f"minpy raised {type(got).__name__}: {got}; NumPy raised "
                                                f"{type(exc).__name__}: {exc}")
            else:
                pytest.fail(f"minpy returned a result; NumPy raised {type(exc).__name__}: {exc}")
        return
    mp_args, mp_kwargs = call.materialise(_to_minpy(on_mxnet))
    with policy:
        got = _quietly(op.public, mp_args, mp_kwargs)
    assert_same(op, expected, got, values=S.hints(op).get("values", True))


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("name", VALUE_OPS)
@given(data=st.data())
def test_operator_matches_numpy(name, policy, data):
    op = OPS[name]
    call = data.draw(_calls(op), label="call")
    inputs = data.draw(st.sampled_from(INPUTS if policy != "only_numpy" else ("numpy", "python")), label="inputs")
    check_call(op, call, _policy(policy), {"numpy": False, "mxnet": True, "python": "python"}[inputs])


@pytest.mark.mxnet
@pytest.mark.parametrize("name", MXNET_OPS)
@given(data=st.data())
def test_mxnet_route_is_taken(name, data):
    op = OPS[name]
    call = data.draw(_calls(op, plain=True), label="plain call")
    if name == "getitem":
        # MXNet fails on some selections of nothing (x[1:0]): its backend hands empty ones to NumPy by design
        np_args, np_kwargs = call.numpy()
        assume(np.size(_quietly(op.ref, np_args, np_kwargs)) > 0)
    if S.hints(op).get("plain", {}).get("inputs") == "mxnet":
        on_mxnet = True
    else:
        on_mxnet = data.draw(st.booleans(), label="inputs held by MXNet")
    stats.reset_op_stat()
    check_call(op, call, PreferMXNetPolicy(), on_mxnet, must_succeed=True)
    report = stats.op_stats()
    ran = report["calls"].get(name, {})
    assert "mxnet" in ran, (f"{name} ran on {sorted(ran)} for a plain call; fallbacks: "
                            f"{report['fallbacks'].get(name)}")


@pytest.mark.mxnet
@pytest.mark.parametrize("name", ["sum", "mean"])
# the outcome may not depend on the order of the additions (NumPy sums pairwise, MXNet in sequence): infinities
# of either sign with small numbers, or an overflow of numbers of one sign
@given(values=st.one_of(st.lists(st.sampled_from([np.inf, -np.inf, -1.5, 0.0, 2.0, 3.25]), min_size=1, max_size=12),
                        st.lists(st.sampled_from([1e308, 0.0, 2.0, 3.25]), min_size=1, max_size=12)),
       cols=st.integers(1, 3), axis=st.sampled_from([None, 0, 1, -1, (0, 1)]), keepdims=st.booleans(),
       dtype=st.sampled_from(["float64", "float32"]))
def test_sums_on_mxnet_keep_infinities(name, values, cols, axis, keepdims, dtype):
    # mx.np.sum and mx.np.mean turn an infinity (or an overflow before the last element) into NaN: the
    # MXNet route must give NumPy's inf, -inf or NaN all the same
    host = np.resize(np.array(values), (len(values), cols)).astype(dtype)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        want = getattr(np, name)(host, axis=axis, keepdims=keepdims)
        with PreferMXNetPolicy():
            got = getattr(minpy.numpy, name)(minpy.numpy.array(host), axis=axis, keepdims=keepdims)
            assert got.backend == "mxnet"
            got = got.asnumpy()
    assert got.shape == want.shape and got.dtype == want.dtype
    finite = np.isfinite(want)
    assert np.array_equal(np.isnan(got), np.isnan(want)) and np.array_equal(got[~finite & ~np.isnan(want)],
                                                                            want[~finite & ~np.isnan(want)])
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-5 if dtype == "float32" else 1e-12)


def test_every_tested_operator_has_arguments():
    """The table gives every operator under test an argument strategy (hints name known argument kinds)."""
    assert len(VALUE_OPS) > 150
    for name in VALUE_OPS:
        op = OPS[name]
        if op.kind != "ufunc":
            S.call_kinds(op)
    unknown = set(table.TEST_HINTS) - set(OPS)
    assert not unknown, f"test hints for operators that do not exist: {sorted(unknown)}"


@pytest.mark.mxnet
@pytest.mark.parametrize("name", sorted(name for name, op in OPS.items() if "mxnet" in op.impls))
def test_mxnet_spec_resolves(name):
    """Every MXNet implementation named in the table exists in this MXNet (mx.np 1.9 lacks e.g. triu and
    floor_divide; a missing one would fail every call of the operator)."""
    backend = get_backend("mxnet")
    assert backend.available(), backend.unavailable_reason()
    assert callable(backend.resolve(OPS[name].impls["mxnet"].spec))
