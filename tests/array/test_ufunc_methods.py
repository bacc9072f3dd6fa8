"""NumPy's ufuncs in minpy.numpy behave as ufuncs: attributes and the methods reduce, accumulate, reduceat, outer
and at, against NumPy's own, under every policy, with inputs held by NumPy or MXNet, plain NumPy arrays and Python
lists. Generated from NumPy's ufuncs and the operator table (minpy.ops.table.UFUNC_METHODS and UFUNC_METHOD_AS).
"""
import types
import warnings

import numpy
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minpy.numpy as np
from minpy import stats
from minpy.array import Array
from minpy.backends import get_backend
from minpy.context import current_context
from minpy.dispatch.policy import resolve_policy
from minpy.ops import table
from minpy.ops import ufuncs as mufuncs
from minpy.ops.operator import all_operators

UFUNCS = mufuncs.numpy_ufuncs()
WITH = {m: sorted(n for n, u in UFUNCS.items() if m in mufuncs.methods_of(u)) for m in table.UFUNC_METHODS}
POLICIES = [pytest.param("prefer_mxnet", marks=pytest.mark.mxnet), "only_numpy",
            pytest.param("auto", marks=pytest.mark.mxnet)]
DTYPES = [numpy.dtype(t) for t in ("float64", "float32", "float16", "int64", "int32", "int8", "uint8", "bool")]
TOL = {"float16": (1e-3, 1e-5), "float32": (1e-5, 1e-6), "float64": (1e-10, 1e-12)}


def _loop_dtypes(ufunc):
    """The dtypes among DTYPES that the ufunc has a loop for (its inputs all of that dtype)."""
    chars = {t.split("->")[0] for t in ufunc.types}
    return [d for d in DTYPES if d.char * ufunc.nin in chars] or [numpy.dtype("float64")]


def _values(dtype):
    # halves in [-4, 4] for floats (exact in every float dtype: reductions agree whatever the order of operations);
    # small integers, non-negative for unsigned dtypes and shift counts
    if dtype.kind == "b":
        return st.booleans()
    if dtype.kind == "f":
        return st.integers(-8, 8).map(lambda k: k / 2)
    return st.integers(0 if dtype.kind == "u" else -4, 4)


def _array(draw, dtype, min_dims=0, max_dims=3, min_side=0):
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=4))
    return draw(hnp.arrays(dtype, shape, elements=_values(dtype)))


@st.composite
def method_calls(draw, method):
    """(ufunc name, args, kwargs) of a call of ``method``: NumPy arrays where the call takes arrays."""
    uname = draw(st.sampled_from(WITH[method]))
    ufunc = UFUNCS[uname]
    dtype = draw(st.sampled_from(_loop_dtypes(ufunc)))
    kwargs = {}
    if method == "reduce":
        a = _array(draw, dtype)
        nd = a.ndim
        kwargs["axis"] = draw(st.one_of(st.integers(-nd, nd - 1) if nd else st.just(0), st.none(),
                                        hnp.valid_tuple_axes(nd), st.just(nd)))
        if draw(st.booleans()):
            kwargs["keepdims"] = True
        if draw(st.integers(0, 3)) == 0:
            kwargs["initial"] = draw(_values(dtype))
        if draw(st.integers(0, 4)) == 0:
            kwargs["where"] = draw(hnp.arrays(numpy.bool_, a.shape, elements=st.booleans()))
        if draw(st.integers(0, 4)) == 0:
            kwargs["dtype"] = draw(st.sampled_from(DTYPES[:5]))
        return uname, [a], kwargs
    if method == "accumulate":
        a = _array(draw, dtype)
        nd = a.ndim
        kwargs["axis"] = draw(st.one_of(st.integers(-nd, nd - 1) if nd else st.just(0), st.none()))
        if draw(st.integers(0, 4)) == 0:
            kwargs["dtype"] = draw(st.sampled_from(DTYPES[:5]))
        return uname, [a], kwargs
    if method == "reduceat":
        a = _array(draw, dtype, min_dims=1)
        axis = draw(st.integers(-a.ndim, a.ndim - 1))
        n = a.shape[axis]
        indices = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=4)) if n else [0]
        return uname, [a, indices], {"axis": axis}
    if method == "outer":
        a = _array(draw, dtype, max_dims=2)
        b = _array(draw, dtype, max_dims=2)
        return uname, [a, b], kwargs
    # at: indices along axis 0 (repeats included) or a tuple of an index array and a slice; b broadcasts
    a = _array(draw, dtype, min_dims=1, min_side=1)
    idx = draw(hnp.arrays(numpy.intp, draw(st.integers(0, 5)), elements=st.integers(-a.shape[0], a.shape[0] - 1)))
    key = idx if a.ndim == 1 or draw(st.booleans()) else (idx, slice(None, None, draw(st.sampled_from([1, 2]))))
    args = [a, key]
    if ufunc.nin == 2:
        target = a[key].shape
        shape = target[draw(st.integers(0, len(target))):] if draw(st.booleans()) else target
        args.append(draw(hnp.arrays(dtype, shape, elements=_values(dtype))) if shape or draw(st.booleans())
                    else draw(_values(dtype)))
    return uname, args, kwargs


def _as(where, x):
    """A NumPy array argument as minpy's call gets it: an Array on NumPy or MXNet, the NumPy array itself, or a
    Python list."""
    if not isinstance(x, numpy.ndarray):
        return x
    if where == "mxnet" and get_backend("mxnet").available() and get_backend("mxnet").supports_dtype(x.dtype):
        backend = get_backend("mxnet")
        return Array(backend.from_numpy(x, current_context()), backend)
    if where == "ndarray":
        return x.copy()
    if where == "list":
        return x.tolist()
    return Array(x.copy())


def _convert(where, args, kwargs):
    def one(x):
        if type(x) is tuple:
            return tuple(one(v) for v in x)
        return _as(where, x)
    return [one(a) for a in args], {k: one(v) for k, v in kwargs.items()}


def assert_same(expected, got, where="result"):
    if isinstance(expected, tuple):
        assert isinstance(got, tuple) and len(got) == len(expected), f"{where}: {got!r}"
        for i, (e, g) in enumerate(zip(expected, got)):
            assert_same(e, g, f"{where}[{i}]")
        return
    assert isinstance(got, Array), f"{where}: minpy gave {type(got).__name__}, NumPy {type(expected).__name__}"
    e = numpy.asarray(expected)
    g = got.asnumpy()
    assert g.dtype == e.dtype and g.shape == e.shape, f"{where}: {g.dtype}{g.shape}, NumPy's {e.dtype}{e.shape}"
    if e.dtype.kind == "f":
        rtol, atol = TOL[e.dtype.name]
        numpy.testing.assert_allclose(g, e, rtol=rtol, atol=atol, equal_nan=True, err_msg=where)
    else:
        numpy.testing.assert_array_equal(g, e, err_msg=where)


def _quietly(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with numpy.errstate(all="ignore"):
            return fn(*args, **kwargs)


def check_method(uname, method, args, kwargs, policy, where):
    if where == "list":  # NumPy gets the same Python values
        args, kwargs = _convert("list", args, kwargs)
    np_args = [a.copy() if isinstance(a, numpy.ndarray) else a for a in args]
    try:
        expected = _quietly(getattr(UFUNCS[uname], method), *np_args, **kwargs)
    except Exception as exc:
        mp_args, mp_kwargs = _convert(where, args, kwargs)
        with resolve_policy(policy):
            with pytest.raises(Exception) as got:
                _quietly(getattr(getattr(np, uname), method), *mp_args, **mp_kwargs)
        assert isinstance(got.value, type(exc)), f"minpy raised {got.value!r}; NumPy raised {exc!r}"
        return
    mp_args, mp_kwargs = _convert(where, args, kwargs)
    target = mp_args[0] if method == "at" else None
    version = target.version if isinstance(target, Array) else None
    if isinstance(target, Array) and target.backend != "numpy":
        target.asnumpy()  # a cached host copy, which the write must invalidate
    with resolve_policy(policy):
        got = _quietly(getattr(getattr(np, uname), method), *mp_args, **mp_kwargs)
    if method != "at":
        assert_same(expected, got)
        return
    assert got is None
    if isinstance(target, Array):
        assert target.version > version, "ufunc.at did not record its write"
        numpy.testing.assert_array_equal(target.asnumpy(), np_args[0], err_msg="the array written by at")
    elif isinstance(target, numpy.ndarray):
        numpy.testing.assert_array_equal(target, np_args[0], err_msg="the NumPy array written by at")


WHERE = st.sampled_from(["numpy", "mxnet", "ndarray", "list"])


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("method", table.UFUNC_METHODS)
@given(data=st.data())
def test_method_matches_numpy(method, policy, data):
    uname, args, kwargs = data.draw(method_calls(method), label="call")
    where = data.draw(WHERE if policy != "only_numpy" else st.sampled_from(["numpy", "ndarray", "list"]),
                      label="inputs")
    if method == "at" and where == "list":
        where = "numpy"  # at writes into an array (NumPy refuses a list)
    check_method(uname, method, args, kwargs, policy, where)


def _sample_args(ufunc, method):
    dtype = _loop_dtypes(ufunc)[0]
    a = numpy.arange(1, 7).reshape(2, 3).astype(dtype) if dtype.kind != "b" else numpy.array([[1, 0, 1], [0, 1, 1]],
                                                                                             bool)
    if method in ("reduce", "accumulate"):
        return [a], {"axis": 1}
    if method == "reduceat":
        return [a, [0, 2, 1]], {"axis": 1}
    if method == "outer":
        return [a[0], a[1]], {}
    return ([a, ([0, 1, 0], [2, 2, 2])] + ([a[0, 0]] if ufunc.nin == 2 else [])), {}


@pytest.mark.parametrize("policy", ["only_numpy", pytest.param("prefer_mxnet", marks=pytest.mark.mxnet)])
def test_every_ufunc_every_method(policy):
    """Each method NumPy defines for a ufunc, on one ordinary call, gives NumPy's answer; the others raise
    NumPy's error type, as NumPy's do."""
    checked = 0
    for uname, ufunc in sorted(UFUNCS.items()):
        for method in table.UFUNC_METHODS:
            if method in mufuncs.methods_of(ufunc):
                args, kwargs = _sample_args(ufunc, method)
                for where in ("numpy", "mxnet") if policy == "prefer_mxnet" else ("numpy",):
                    check_method(uname, method, args, kwargs, policy, where)
                checked += 1
            else:
                a = numpy.ones((2, 2))
                with pytest.raises(Exception) as expected:
                    getattr(ufunc, method)(a, a)
                with pytest.raises(type(expected.value)):
                    getattr(getattr(np, uname), method)(np.ones((2, 2)), np.ones((2, 2)))
    assert checked > 150


def test_every_ufunc_has_numpys_attributes():
    for name in dir(numpy):
        ufunc = getattr(numpy, name, None)
        if not isinstance(ufunc, numpy.ufunc):
            continue
        fn = getattr(np, name)
        for attr in mufuncs.ATTRIBUTES + ("__name__",):
            assert getattr(fn, attr) == getattr(ufunc, attr), f"np.{name}.{attr}"
        for method in table.UFUNC_METHODS:
            assert callable(getattr(fn, method)), f"np.{name}.{method}"
            assert getattr(fn, method).__doc__ == getattr(ufunc, method).__doc__
        # NumPy's aliases share their original's methods (np.mod.reduce is np.remainder.reduce)
        assert fn.reduce is getattr(np, ufunc.__name__).reduce
    assert not isinstance(np.add, numpy.ufunc)  # documented: a Python object cannot be a numpy.ufunc


def test_ufunc_call_is_a_plain_function():
    """np.add is the operator's function itself (no object whose __call__ adds a Python call); a + b calls
    its operand-only entry, which np.add(a, b) calls too."""
    assert type(np.add) is types.FunctionType
    assert Array.__add__ is np.add.operands  # the operator is the ufunc's operand-only entry
    assert np.add.op.name == "add"


@pytest.mark.mxnet
def test_methods_run_where_their_operator_runs():
    """np.add.reduce is np.sum: under prefer_mxnet an MXNet-held array's reduction runs on MXNet; outer runs the
    ufunc itself there."""
    backend = get_backend("mxnet")
    assert backend.available(), backend.unavailable_reason()
    a = Array(backend.from_numpy(numpy.arange(6.0).reshape(2, 3), current_context()), backend)
    stats.reset_op_stat()
    with resolve_policy("prefer_mxnet"):
        r = np.add.reduce(a)
        m = np.maximum.reduce(a, axis=1)
        c = np.add.accumulate(a, axis=1)
        o = np.multiply.outer(a, a)
    calls = stats.op_stats()["calls"]
    for name in ("sum", "amax", "cumsum", "multiply"):
        assert "mxnet" in calls.get(name, {}), (name, calls)
    numpy.testing.assert_array_equal(r.asnumpy(), [3.0, 5.0, 7.0])
    numpy.testing.assert_array_equal(m.asnumpy(), [2.0, 5.0])
    numpy.testing.assert_array_equal(c.asnumpy(), numpy.add.accumulate(numpy.arange(6.0).reshape(2, 3), axis=1))
    assert o.shape == (2, 3, 2, 3)


def test_numpys_ufunc_methods_on_minpy_arrays():
    """numpy.add.reduce(minpy_array) and numpy.add.at(minpy_array, ...) go to minpy's (__array_ufunc__): a
    minpy result, and a write into the minpy Array recorded."""
    a = np.arange(6.0).reshape(2, 3)
    r = numpy.add.reduce(a)
    assert isinstance(r, Array)
    numpy.testing.assert_array_equal(r.asnumpy(), [3.0, 5.0, 7.0])
    v = a.version
    numpy.add.at(a, ([0, 0], [1, 1]), 10.0)
    assert a.version > v and float(a[0, 1]) == 21.0
    out = np.zeros(3)
    got = numpy.add(numpy.ones(3), 2.0, out=out)
    assert got is out
    numpy.testing.assert_array_equal(out.asnumpy(), [3.0, 3.0, 3.0])


def test_method_operators_are_in_the_table():
    ops = all_operators()
    for uname, ufunc in UFUNCS.items():
        for method in mufuncs.methods_of(ufunc):
            op = ops[f"{uname}.{method}"]
            assert op.kind == "ufunc_method"
            assert getattr(np, uname).__dict__[method].__name__ == method
