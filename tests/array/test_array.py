"""The Array type against NumPy's ndarray: attributes, operators, conversions, methods, pickling, copying.

Arrays live on NumPy or on MXNet (MXNet ones are marked `mxnet`); NumPy on the same data is the reference
for values, dtypes and exception types. Values stay small so no operator overflows or hits undefined
behaviour (shifts by negative or too large counts).
"""
import copy
import operator
import pickle

import numpy
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minpy
import minpy.numpy as np  # noqa: F401  (loads the operators behind Array's methods)
from minpy.array import Array
from array_support import BACKENDS, HAVE_MXNET, on

DTYPES = ["float64", "float32", "int64", "int32", "int8", "uint8", "bool"]
SHIFTS = {"lshift", "rshift", "ilshift", "irshift"}


@pytest.fixture(autouse=True)
def _default_policy():
    minpy.set_global_policy("prefer_mxnet")
    yield
    minpy.set_global_policy("prefer_mxnet")


def public_type(exc):
    """The first built-in exception class of ``exc`` (NumPy raises private subclasses of TypeError...)."""
    return next(c for c in type(exc).__mro__ if c.__module__ == "builtins")


def tolerance(dtype):
    return {"float32": 1e-5, "float16": 1e-3}.get(numpy.dtype(dtype).name, 1e-12)


def check_same(result, expected, exact=False):
    assert isinstance(result, Array), type(result)
    got = numpy.asarray(result)
    expected = numpy.asarray(expected)
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    assert got.shape == expected.shape
    if exact or expected.dtype.kind not in "fc":
        numpy.testing.assert_array_equal(got, expected)
    else:
        numpy.testing.assert_allclose(got, expected, rtol=tolerance(expected.dtype), atol=1e-300,
                                      equal_nan=True)


def elements(dtype, shift_count=False):
    dtype = numpy.dtype(dtype)
    if dtype.kind == "b":
        return st.booleans()
    if shift_count:
        return st.integers(0, 6)
    if dtype.kind == "u":
        return st.integers(0, 10)
    if dtype.kind == "i":
        return st.integers(-10, 10)
    return st.floats(-10, 10, width=dtype.itemsize * 8)


@st.composite
def array_of(draw, shape, shift_count=False, dtypes=DTYPES):
    dtype = draw(st.sampled_from(dtypes))
    return draw(hnp.arrays(dtype, shape, elements=elements(dtype, shift_count)))


@st.composite
def operand(draw, shape, shift_count=False):
    """The right-hand operand: a NumPy array, or a Python scalar (the test wraps arrays as it likes)."""
    if draw(st.booleans()):
        return draw(array_of(shape, shift_count))
    if shift_count:
        return draw(st.integers(0, 6))
    return draw(st.one_of(st.booleans(), st.integers(-10, 10), st.floats(-10, 10)))


def run_both(fn, ref_args, minpy_args, numpy_may_decide=False):
    """fn on NumPy values and on minpy values: the same result (Array), or the same kind of exception.
    ``numpy_may_decide``: an ndarray result from NumPy itself is fine (see test_reflected_operator)."""
    with numpy.errstate(all="ignore"):
        try:
            expected = fn(*ref_args)
        except Exception as exc:
            with pytest.raises(public_type(exc)):
                fn(*minpy_args)
            return
        result = fn(*minpy_args)
    if numpy_may_decide and isinstance(result, (numpy.ndarray, numpy.generic)):
        result = Array(numpy.asarray(result))
    if isinstance(expected, tuple):
        for r, e in zip(result, expected):
            check_same(r, e)
    else:
        check_same(result, expected)


BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
          "floordiv": operator.floordiv, "mod": operator.mod, "pow": operator.pow, "and": operator.and_,
          "or": operator.or_, "xor": operator.xor, "lshift": operator.lshift, "rshift": operator.rshift,
          "eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt,
          "ge": operator.ge, "divmod": divmod}
INPLACE = {"iadd": operator.iadd, "isub": operator.isub, "imul": operator.imul, "itruediv": operator.itruediv,
           "ifloordiv": operator.ifloordiv, "imod": operator.imod, "ipow": operator.ipow, "iand": operator.iand,
           "ior": operator.ior, "ixor": operator.ixor, "ilshift": operator.ilshift, "irshift": operator.irshift}


# -- attributes and conversion -------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@given(x=hnp.arrays(st.sampled_from(DTYPES), hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)))
def test_attributes(backend, x):
    a = on(backend, x)
    assert a.shape == x.shape
    assert a.dtype == x.dtype
    assert a.ndim == x.ndim
    assert a.size == x.size
    assert a.itemsize == x.itemsize
    assert a.nbytes == x.nbytes
    check_same(a.T, x.T, exact=True)
    assert len(a) == len(x) if x.ndim else True
    converted = numpy.asarray(a)
    assert type(converted) is numpy.ndarray
    numpy.testing.assert_array_equal(converted, x)
    assert converted.dtype == x.dtype
    assert numpy.asarray(a, dtype="float64").dtype == numpy.float64
    assert repr(a) == repr(x)
    assert str(a) == str(x)
    assert repr(a.tolist()) == repr(x.tolist())


# -- operators -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_operator(backend, name, data):
    fn = BINARY[name]
    shape_a, shape_b = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3)).input_shapes
    x = data.draw(array_of(shape_a))
    y = data.draw(operand(shape_b, shift_count=name in SHIFTS))
    a = on(backend, x)
    wrap = data.draw(st.sampled_from(["array", "numpy", "other_backend"])) if isinstance(y, numpy.ndarray) else None
    if wrap == "array":
        b = on(backend, y)
    elif wrap == "other_backend":
        b = on("mxnet" if backend == "numpy" and HAVE_MXNET else "numpy", y)
    else:
        b = y
    run_both(fn, (x, y), (a, b))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_reflected_operator(backend, name, data):
    """``scalar op Array`` and ``ndarray op Array``: the Array's reflected operator, an Array result."""
    fn = BINARY[name]
    shape_a, shape_b = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3)).input_shapes
    y = data.draw(array_of(shape_b, shift_count=name in SHIFTS))
    x = data.draw(operand(shape_a))
    # ndarray ** Array: NumPy's ndarray.__pow__ reads a 0-d integer Array (it has __index__) as a Python int
    # exponent and computes the answer itself, as it does for a 0-d integer ndarray
    numpy_may_decide = name == "pow" and isinstance(x, numpy.ndarray) and y.ndim == 0 and y.dtype.kind in "iub"
    run_both(fn, (x, y), (x, on(backend, y)), numpy_may_decide)


@pytest.mark.filterwarnings("ignore:Applying '\\+' to a non-numerical array:DeprecationWarning")  # NumPy 1.x, +bool
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["neg", "pos", "abs", "invert"])
@given(x=array_of(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)))
def test_unary_operator(backend, name, x):
    fn = {"neg": operator.neg, "pos": operator.pos, "abs": abs, "invert": operator.invert}[name]
    run_both(fn, (x,), (on(backend, x),))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(INPLACE))
@given(data=st.data())
def test_inplace_operator(backend, name, data):
    """``a op= b`` keeps ``a`` (identity and buffer) and casts like NumPy: an error leaves ``a`` unchanged."""
    fn = INPLACE[name]
    shape_a, shape_b = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3)).input_shapes
    x = data.draw(array_of(shape_a))
    y = data.draw(operand(shape_b, shift_count=name in SHIFTS))
    ref = x.copy()
    a = on(backend, x)
    view = a[...]
    b = on(backend, y) if isinstance(y, numpy.ndarray) and data.draw(st.booleans()) else y
    with numpy.errstate(all="ignore"):
        try:
            expected = fn(ref, y)
        except Exception as exc:
            with pytest.raises(public_type(exc)):
                fn(a, b)
            if numpy.array_equal(ref, x, equal_nan=True):  # NumPy may write part of ref before raising
                check_same(a, x)
            return
        result = fn(a, b)
    assert expected is ref
    assert result is a
    check_same(a, ref)
    check_same(view, ref)  # the buffer was written, not replaced


@pytest.mark.parametrize("backend", BACKENDS)
def test_inplace_casting_errors(backend):
    a = on(backend, numpy.arange(3))
    with pytest.raises(TypeError):
        a += 1.5
    with pytest.raises(TypeError):
        a /= 2
    with pytest.raises(ValueError):
        a += numpy.ones((2, 3), dtype=int)
    check_same(a, numpy.arange(3))
    f = on(backend, numpy.zeros(3, dtype="float32"))
    f += numpy.ones(3)  # float64 into float32 is same-kind: allowed
    check_same(f, numpy.ones(3, dtype="float32"))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
@given(data=st.data())
def test_matmul(backend, dtype, data):
    n, m, k = data.draw(st.tuples(*[st.integers(1, 4)] * 3))
    batch = data.draw(st.sampled_from([(), (2,)]))
    left = data.draw(st.sampled_from([(n, m), (m,), batch + (n, m)]))
    right = data.draw(st.sampled_from([(m, k), (m,), batch + (m, k)]))
    ints = st.integers(-10, 10)  # integer values: sums of products are exact, whatever the summation order
    x = data.draw(hnp.arrays(dtype, left, elements=ints))
    y = data.draw(hnp.arrays(dtype, right, elements=ints))
    a, b = on(backend, x), on(backend, y)
    run_both(operator.matmul, (x, y), (a, b))
    run_both(operator.matmul, (x, y), (x, b))  # ndarray @ Array


@pytest.mark.parametrize("backend", BACKENDS)
def test_inplace_matmul(backend):
    x = numpy.arange(9.0).reshape(3, 3)
    y = numpy.eye(3) * 2
    ref = x.copy()
    a = on(backend, x)
    try:
        ref @= y
    except TypeError:  # NumPy < 1.25 has no in-place matmul; minpy has NumPy 2's, which gives a @ b
        ref = x @ y
    same = a
    a @= on(backend, y)
    assert a is same
    check_same(a, ref)


@pytest.mark.parametrize("backend", BACKENDS)
def test_ndarray_on_the_left_gives_array(backend):
    x = numpy.arange(6.0).reshape(2, 3)
    a = on(backend, numpy.ones((2, 3)))
    for fn in [operator.add, operator.sub, operator.mul, operator.truediv, operator.lt, operator.eq]:
        r = fn(x, a)
        assert isinstance(r, Array)
        check_same(r, fn(x, numpy.ones((2, 3))))
    r = numpy.exp(a)
    assert isinstance(r, Array)
    check_same(r, numpy.exp(numpy.ones((2, 3))))


# -- Python protocols ------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_iteration_and_len(backend):
    x = numpy.arange(12).reshape(3, 4)
    a = on(backend, x)
    assert len(a) == 3
    rows = list(a)
    assert len(rows) == 3
    for r, e in zip(rows, x):
        check_same(r, e)
    assert [float(v) for v in on(backend, numpy.array([1.5, 2.5]))] == [1.5, 2.5]
    with pytest.raises(TypeError):
        len(on(backend, numpy.array(1.0)))
    with pytest.raises(TypeError):
        iter(on(backend, numpy.array(1.0)))
    assert list(on(backend, numpy.zeros((0, 2)))) == []


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("value", [numpy.array(2.5), numpy.array([3]), numpy.array([[True]]), numpy.array(0, "int32")])
def test_scalar_conversions(backend, value):
    """Any size-1 Array converts (MinPy code does float(loss) on shape-(1,) arrays, which recent NumPy refuses
    for n-d arrays), to the value NumPy's item() gives."""
    a = on(backend, value)
    v = value.item()
    assert float(a) == float(v)
    assert int(a) == int(v)
    assert bool(a) == bool(v)
    assert complex(a) == complex(v)
    assert type(float(a)) is float and type(int(a)) is int and type(bool(a)) is bool


@pytest.mark.parametrize("backend", BACKENDS)
def test_scalar_conversion_errors(backend):
    a = on(backend, numpy.arange(3.0))
    for fn in (float, int):
        with pytest.raises(TypeError):
            fn(a)
    with pytest.raises(ValueError):
        bool(a)
    assert operator.index(on(backend, numpy.array(4))) == 4
    with pytest.raises(TypeError):
        operator.index(on(backend, numpy.array(4.0)))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("x", [numpy.arange(6.0).reshape(2, 3) / 7, numpy.array(3, "int32"), numpy.zeros((2, 0)),
                               numpy.array([True, False]), numpy.linspace(0, 1e6, 2000).astype("float32")])
def test_repr_and_str_match_numpy(backend, x):
    a = on(backend, x)
    assert repr(a) == repr(x)
    assert str(a) == str(x)
    assert f"{on(backend, numpy.array(2.5)):.3f}" == "2.500"


# -- methods ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@given(x=hnp.arrays(st.sampled_from(["float64", "float32", "int64", "int32"]),
                    hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
                    elements=st.integers(-20, 20)),
       data=st.data())
def test_reductions_and_shape_methods(backend, x, data):
    a = on(backend, x)
    axis = data.draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
    keepdims = data.draw(st.booleans())
    check_same(a.sum(axis=axis, keepdims=keepdims), x.sum(axis=axis, keepdims=keepdims))
    check_same(a.mean(axis=axis), x.mean(axis=axis))
    check_same(a.max(axis=axis), x.max(axis=axis))
    check_same(a.min(axis=axis, keepdims=keepdims), x.min(axis=axis, keepdims=keepdims))
    check_same(a.argmax(axis=axis), x.argmax(axis=axis))
    check_same(a.reshape(-1), x.reshape(-1))
    check_same(a.reshape((x.size, 1)), x.reshape((x.size, 1)))
    check_same(a.reshape(1, x.size), x.reshape(1, x.size))
    perm = data.draw(st.permutations(range(x.ndim)))
    check_same(a.transpose(*perm), x.transpose(*perm))
    check_same(a.transpose(perm), x.transpose(perm))
    check_same(a.transpose(), x.transpose())
    check_same(a.astype("float32"), x.astype("float32"))
    check_same(a.astype(numpy.int8), x.astype(numpy.int8))
    check_same(a.flatten(), x.flatten())
    check_same(a.ravel(), x.ravel())
    check_same(a.clip(-3, 5), x.clip(-3, 5))
    check_same(a.clip(-3.5, None), x.clip(-3.5, None))
    run_both(lambda u, v: u.dot(v), (x, x.T), (a, a.T))
    c = a.copy()
    c.fill(7)
    check_same(c, numpy.full_like(x, 7))
    check_same(a, x)  # the copy is independent
    assert repr(a.tolist()) == repr(x.tolist())
    assert a.item(0) == x.item(0)
    assert type(a.item(0)) is type(x.item(0))


@pytest.mark.parametrize("backend", BACKENDS)
@given(x=hnp.arrays(st.sampled_from(["float64", "float32", "int64", "int32"]),
                    hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=5),
                    elements=st.integers(-20, 20)),
       axis=st.sampled_from([-1, 0, None]))
def test_sort_in_place(backend, x, axis):
    a = on(backend, x)
    same = a
    view = a[...]
    ref = x.copy()
    if axis is None:
        with pytest.raises(Exception):
            ref.sort(axis=axis)
        return
    ref.sort(axis=axis)
    assert a.sort(axis=axis) is None
    assert a is same
    check_same(a, ref)
    check_same(view, ref)


@pytest.mark.parametrize("backend", BACKENDS)
def test_item_and_astype_no_copy(backend):
    x = numpy.array([[1.5, 2.5], [3.5, 4.5]])
    a = on(backend, x)
    assert a.item(1, 0) == 3.5
    assert on(backend, numpy.array(2.0)).item() == 2.0
    with pytest.raises(ValueError):
        a.item()
    same = a.astype("float64", copy=False)
    same[0, 0] = -1.0
    assert float(a[0, 0]) == -1.0  # NumPy gives the array itself: writes are shared
    other = a.astype("float64")
    other[0, 0] = 9.0
    assert float(a[0, 0]) == -1.0


# -- pickling and copying ------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@given(x=hnp.arrays(st.sampled_from(DTYPES), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)))
def test_pickle_round_trip(backend, x):
    a = on(backend, x)
    b = pickle.loads(pickle.dumps(a))
    assert isinstance(b, Array)
    check_same(b, x, exact=True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_copy_and_deepcopy_are_independent(backend):
    x = numpy.arange(6.0).reshape(2, 3)
    a = on(backend, x)
    view = a[1:]
    for b in (copy.copy(a), copy.deepcopy(a), copy.deepcopy({"k": [a]})["k"][0], copy.copy(view)):
        assert isinstance(b, Array) and b is not a
        b[...] = -1
        check_same(a, x)
    nested = copy.deepcopy([a, a])
    assert nested[0] is nested[1]  # deepcopy's memo keeps shared references shared
