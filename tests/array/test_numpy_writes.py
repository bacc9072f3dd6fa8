"""NumPy code that writes into an array writes into a minpy Array, and every later use sees the write: the
version counter is bumped and copies of the array on other backends are not used stale. Covered: ``np.nditer``
with ``readwrite``/``writeonly`` operands (CS231n's gradient check, ``it[0][...] = v``, the ``with`` form,
buffered and allocated operands), ``out=`` of every operator that takes it (generated from the table, against
NumPy, minpy Arrays held by NumPy or MXNet as outputs), the writing functions (``copyto``, ``put``, ``place``,
``putmask``, ``fill_diagonal``, ``put_along_axis``, ``random.shuffle``), the writing ndarray methods and
``a.flat``, and NumPy's own functions called with minpy Arrays."""
import importlib.util
import inspect
import pathlib
import re
import warnings

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minpy.numpy as np
from minpy.array import Array
from minpy.backends import get_backend
from minpy.context import current_context
from minpy.dispatch.policy import resolve_policy
from minpy.ops.operator import all_operators

from array_support import load_cs231n_style

POLICIES = [pytest.param("prefer_mxnet", marks=pytest.mark.mxnet), "only_numpy",
            pytest.param("auto", marks=pytest.mark.mxnet)]
HOLDERS = ["numpy", pytest.param("mxnet", marks=pytest.mark.mxnet)]


def _load_strategies():
    path = pathlib.Path(__file__).with_name("strategies.py")
    spec = importlib.util.spec_from_file_location("minpy_array_test_strategies_writes", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


S = _load_strategies()


def held(value, holder):
    """A minpy Array with ``value``, held by ``holder`` ("numpy" or "mxnet"), with a current cached copy on the
    other backend (so a write that is not recorded would leave a stale copy behind)."""
    value = numpy.array(value)
    if holder == "mxnet":
        backend = get_backend("mxnet")
        assert backend.available(), backend.unavailable_reason()
        a = Array(backend.from_numpy(value, current_context()), backend)
        a.asnumpy()
    else:
        a = Array(value.copy())
        mx = get_backend("mxnet")
        if mx.available() and mx.supports_dtype(a.dtype):
            a._get(mx, current_context())
    return a


def seen(a):
    """``a``'s value as every backend sees it (all must agree)."""
    host = numpy.array(a.asnumpy())
    mx = get_backend("mxnet")
    if mx.available() and mx.supports_dtype(a.dtype):
        numpy.testing.assert_array_equal(mx.to_numpy(a._get(mx, current_context())), host,
                                         err_msg="MXNet's copy is stale")
    return host


# -- nditer -------------------------------------------------------------------------------------------------------
def _numerical_gradient(np_, f, x):
    """CS231n's gradient check (the course's code, from cs231n_style.py) on NumPy or on minpy.numpy."""
    return _CS231N[np_ is not numpy].eval_numerical_gradient(f, x)


_CS231N = {False: load_cs231n_style(minpy=False), True: load_cs231n_style(minpy=True)}


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("holder", HOLDERS)
def test_nditer_gradient_check(policy, holder):
    start = numpy.random.default_rng(0).standard_normal((2, 3))
    expected = _numerical_gradient(numpy, lambda v: numpy.sum(numpy.tanh(v) * v), start.copy())
    x = held(start, holder)
    with resolve_policy(policy):
        got = _numerical_gradient(np, lambda v: np.sum(np.tanh(v) * v), x)
    numpy.testing.assert_allclose(got.asnumpy(), expected, rtol=1e-6, atol=1e-8)
    numpy.testing.assert_array_equal(seen(x), start)


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("holder", HOLDERS)
def test_nditer_writes_are_seen(policy, holder):
    start = numpy.arange(6.0).reshape(2, 3)
    with resolve_policy(policy):
        x = held(start, holder)
        with np.nditer(x, op_flags=["readwrite"]) as it:  # the with form
            for v in it:
                v[...] = 2 * v
        numpy.testing.assert_array_equal(seen(x), 2 * start)
        version = x.version
        it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
        it[0][...] = -1.0  # a write through the iterator, seen at once
        assert x.version > version
        assert float(np.sum(x)) == float(numpy.sum(2 * start)) - 1.0  # element 0 was 0
        assert float(x[0, 0]) == -1.0
        it.iternext()
        x[0, 1] = 50.0  # a write into the array during the iteration: the iterator sees it
        assert float(it[0]) == 50.0
        it.close()
        y = held(numpy.zeros(4), holder)
        for v in np.nditer(y, op_flags=["writeonly"]):
            v[...] = 3.0
        numpy.testing.assert_array_equal(seen(y), [3.0] * 4)


@pytest.mark.parametrize("holder", HOLDERS)
def test_nditer_flags_and_operands(holder):
    a = held(numpy.arange(6.0).reshape(2, 3), holder)
    it = np.nditer([a, None])  # an allocated output
    for x, y in it:
        y[...] = x * x
    out = it.operands[1]
    assert isinstance(out, Array)
    numpy.testing.assert_array_equal(out.asnumpy(), numpy.arange(6.0).reshape(2, 3) ** 2)
    b = held(numpy.arange(6.0), holder)
    with np.nditer(b, flags=["external_loop"], op_flags=["readwrite"]) as it:
        for chunk in it:
            chunk[...] = chunk + 1
    numpy.testing.assert_array_equal(seen(b), numpy.arange(6.0) + 1)
    c = held(numpy.arange(4, dtype=numpy.float32), holder)
    with np.nditer(c, flags=["buffered"], op_flags=["readwrite"], op_dtypes=["float64"], casting="same_kind") as it:
        for v in it:
            v[...] = v * 10
    numpy.testing.assert_array_equal(seen(c), numpy.arange(4, dtype=numpy.float32) * 10)
    values = [float(v) for v in np.nditer(np.arange(3.0))]
    assert values == [0.0, 1.0, 2.0]
    with pytest.raises(ValueError):  # NumPy's error for a write flag on a read-only operand
        np.nditer(_read_only(numpy.arange(3.0)), op_flags=["readwrite"])


def _read_only(a):
    a.flags.writeable = False
    return a


# -- out= -----------------------------------------------------------------------------------------------------------
def takes_out(op):
    if op.kind == "ufunc":
        return True
    try:
        return "out" in inspect.signature(op.ref).parameters
    except (TypeError, ValueError):
        doc = getattr(op.ref, "__doc__", None) or ""
        params = re.split(r"^\s*Returns\s*$", doc, maxsplit=1, flags=re.M)[0]
        return re.search(r"^\s*out\s*:", params, re.M) is not None


OPS = all_operators()
# operators the strategies build calls for (the property tests' set) that take out=
OUT_OPS = sorted(name for name, op in OPS.items()
                 if takes_out(op) and op.custom is None and (op.kind == "ufunc" or (
                     S.record_name(op) is not None and (op.kind in ("reduction", "linalg", "shape", "function")
                                                        or S.hints(op)))))


def _quietly(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with numpy.errstate(all="ignore"):
            return fn(*args, **kwargs)


@settings(max_examples=4)
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("name", OUT_OPS)
@given(data=st.data())
def test_out_matches_numpy(name, policy, data):
    """``op(..., out=o)`` writes NumPy's result into ``o`` (an Array held by NumPy or MXNet) in place, returns
    ``o`` itself, and the write is seen everywhere; NumPy's errors (casting, shapes) are NumPy's."""
    op = OPS[name]
    call = data.draw(S.calls(op), label="call")
    np_args, np_kwargs = call.numpy()
    try:
        result = _quietly(op.ref, *np_args, **np_kwargs)
    except Exception:
        return
    if not isinstance(result, (numpy.ndarray, numpy.generic)) or isinstance(result, tuple):
        return
    result = numpy.asarray(result)
    dtype = result.dtype if data.draw(st.integers(0, 3)) else data.draw(st.sampled_from(S.DTYPES))
    start = data.draw(S.hnp.arrays(dtype, result.shape, elements=S.elements(dtype, "general")), label="out")
    if op.kind == "ufunc" and data.draw(st.integers(0, 3)) == 0:
        np_kwargs["where"] = data.draw(S.hnp.arrays(numpy.bool_, result.shape, elements=st.booleans()))
    holder = data.draw(st.sampled_from(["numpy", "mxnet"] if policy != "only_numpy" else ["numpy"]), label="out on")
    if holder == "mxnet" and not get_backend("mxnet").supports_dtype(dtype):
        holder = "numpy"
    expected_out = start.copy()
    try:
        expected = _quietly(op.ref, *np_args, **{**np_kwargs, "out": expected_out})
    except Exception as exc:
        out = held(start, holder)
        mp_args, mp_kwargs = call.materialise(lambda a: Array(a.copy()))
        if "where" in np_kwargs:
            mp_kwargs["where"] = np_kwargs["where"]
        with resolve_policy(policy), pytest.raises(Exception) as got:
            _quietly(op.public, *mp_args, **{**mp_kwargs, "out": out})
        assert isinstance(got.value, type(exc)) or isinstance(exc, type(got.value)), (got.value, exc)
        return
    out = held(start, holder)
    version = out.version
    mp_args, mp_kwargs = call.materialise(lambda a: Array(a.copy()))
    if "where" in np_kwargs:
        mp_kwargs["where"] = np_kwargs["where"]
    with resolve_policy(policy):
        got = _quietly(op.public, *mp_args, **{**mp_kwargs, "out": out})
    if expected is expected_out:  # what NumPy returns: out itself (np.dot of 0-d arrays returns a scalar)
        assert got is out, f"{name}(..., out=o) returned {type(got).__name__}, not o"
    else:
        numpy.testing.assert_array_equal(numpy.asarray(got.asnumpy() if isinstance(got, Array) else got),
                                         numpy.asarray(expected))
    assert out.version > version
    value = seen(out)
    if dtype.kind in "fc":
        rtol, atol = S.tolerance(op, dtype)
        numpy.testing.assert_allclose(value, expected_out, rtol=rtol, atol=atol, equal_nan=True)
    else:
        numpy.testing.assert_array_equal(value, expected_out)


def test_out_ops_cover_the_table():
    assert len(OUT_OPS) > 90
    assert {"add", "sum", "dot", "clip", "cumsum", "mean", "maximum", "concatenate"} <= set(OUT_OPS)


def test_out_tuple_and_numpy_outputs():
    a = np.arange(4.0)
    o = np.zeros(4)
    assert np.add(a, 1, out=(o,)) is o  # a one-element tuple gives the array, as NumPy does
    q, r = np.zeros(4), np.zeros(4)
    got = np.divmod(a, 3, out=(q, r))
    assert got[0] is q and got[1] is r
    numpy.testing.assert_array_equal(r.asnumpy(), numpy.arange(4.0) % 3)
    plain = numpy.zeros(4)
    assert np.multiply(a, 2, out=plain) is plain  # a NumPy array as out: NumPy writes into it, returns it
    numpy.testing.assert_array_equal(plain, numpy.arange(4.0) * 2)


# -- writing functions and methods -------------------------------------------------------------------------------
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("holder", HOLDERS)
def test_writing_functions(policy, holder):
    cases = [
        ("copyto", numpy.arange(6.0), lambda m, a: m.copyto(a, 7.0)),
        ("put", numpy.arange(6.0), lambda m, a: m.put(a, [0, 5], [-1.0, -2.0])),
        ("place", numpy.arange(6.0), lambda m, a: m.place(a, a > 2, [10.0, 20.0])),
        ("putmask", numpy.arange(6.0), lambda m, a: m.putmask(a, a > 3, 0.5)),
        ("fill_diagonal", numpy.zeros((3, 3)), lambda m, a: m.fill_diagonal(a, 4.0)),
        ("put_along_axis", numpy.zeros((2, 3)),
         lambda m, a: m.put_along_axis(a, m_arr(m, [[0], [2]]), 1.0, axis=1)),
        ("shuffle", numpy.arange(8.0), lambda m, a: (m.random.seed(3), m.random.shuffle(a))),
        ("add.at", numpy.zeros(4), lambda m, a: m.add.at(a, m_arr(m, [0, 0, 3]), 1.5)),
        ("subtract.at", numpy.ones(4), lambda m, a: m.subtract.at(a, [1, 1], 2.0)),
        ("out=", numpy.ones(3), lambda m, a: m.multiply(a, 3.0, out=a)),
    ]
    with resolve_policy(policy):
        for label, start, write in cases:
            expected = start.copy()
            write(numpy, expected)
            a = held(start, holder)
            version = a.version
            write(np, a)
            assert a.version > version, label
            numpy.testing.assert_array_equal(seen(a), expected, err_msg=label)


def m_arr(m, value):
    return m.array(value)


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("holder", HOLDERS)
def test_writing_methods_and_flat(policy, holder):
    methods = [
        ("put", numpy.arange(5.0), lambda a: a.put([0, 2], [9.0, 8.0])),
        ("sort", numpy.array([3.0, 1.0, 2.0]), lambda a: a.sort()),
        ("partition", numpy.array([3.0, 1.0, 2.0, 0.0]), lambda a: a.partition(1)),
        ("fill", numpy.zeros(3), lambda a: a.fill(2.5)),
        ("flat", numpy.zeros(4), lambda a: a.flat.__setitem__(slice(1, 3), 6.0)),
        ("flat[i]", numpy.zeros((2, 2)), lambda a: a.flat.__setitem__(3, 1.0)),
    ]
    if hasattr(numpy.ndarray, "itemset"):
        methods.append(("itemset", numpy.zeros(3), lambda a: a.itemset(1, 4.0)))
    with resolve_policy(policy):
        for label, start, write in methods:
            expected = start.copy()
            write(expected)
            a = held(start, holder)
            version = a.version
            write(a)
            assert a.version > version, label
            numpy.testing.assert_array_equal(seen(a), expected, err_msg=label)
        a = held(numpy.arange(4.0), holder)
        a.resize((2, 3))
        expected = numpy.arange(4.0)
        expected.resize((2, 3))
        numpy.testing.assert_array_equal(seen(a), expected)
        v = a[0]
        with pytest.raises(ValueError):
            v.resize(5)  # a view does not own its data, as in NumPy
        assert float(a.flat[4]) == 0.0 and len(a.flat) == 6


def test_numpy_functions_write_into_minpy_arrays():
    a = np.zeros(3)
    v = a.version
    numpy.copyto(a, [1.0, 2.0, 3.0])
    assert a.version > v
    numpy.testing.assert_array_equal(a.asnumpy(), [1.0, 2.0, 3.0])
    numpy.add(numpy.ones(3), numpy.ones(3), out=a)
    numpy.testing.assert_array_equal(a.asnumpy(), [2.0, 2.0, 2.0])
    numpy.add.at(a, [0, 0], 1.0)
    numpy.testing.assert_array_equal(a.asnumpy(), [4.0, 2.0, 2.0])
    numpy.place(a, numpy.array([True, False, True]), [0.0])
    numpy.testing.assert_array_equal(a.asnumpy(), [0.0, 2.0, 0.0])
