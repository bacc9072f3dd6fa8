"""Indexing of minpy Arrays against NumPy: getitem, setitem, views, index errors.

Arrays live on NumPy or on MXNet (MXNet ones are marked `mxnet`), each under the prefer-MXNet and the only-NumPy
policy. NumPy on a copy of the same data is the reference for values, dtypes, shapes and exception types.
"""
import numpy
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minpy
import minpy.numpy as np
from minpy.backends import get_backend
from minpy.context import cpu
from minpy.dispatch.policy import OnlyNumPyPolicy
from array_support import BACKENDS, HAVE_MXNET, on

DTYPES = ["float64", "float32", "int64", "int32", "bool"]
POLICIES = ["prefer_mxnet", "only_numpy"]


# Every (array backend, policy) pair; the policy is installed by the autouse fixture below.
each_backend_and_policy = pytest.mark.parametrize(
    "backend, policy",
    [pytest.param(*p, marks=getattr(b, "marks", ())) for b in BACKENDS for p in
     [(getattr(b, "values", (b,))[0], pol) for pol in POLICIES]])


@pytest.fixture(autouse=True)
def _install_policy(request):
    """Run each test under its `policy` parameter (prefer-MXNet when it has none); restore the default."""
    callspec = getattr(request.node, "callspec", None)
    minpy.set_global_policy(callspec.params.get("policy", "prefer_mxnet") if callspec else "prefer_mxnet")
    yield
    minpy.set_global_policy("prefer_mxnet")


@st.composite
def arrays(draw, min_dims=0, max_dims=4, min_side=0):
    dtype = numpy.dtype(draw(st.sampled_from(DTYPES)))
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=5))
    if dtype.kind == "b":
        elements = st.booleans()
    elif dtype.kind == "i":
        elements = st.integers(-50, 50)
    else:
        elements = st.floats(-100, 100, width=dtype.itemsize * 8)
    return draw(hnp.arrays(dtype, shape, elements=elements))


@st.composite
def array_and_basic_key(draw, min_dims=0):
    x = draw(arrays(min_dims=min_dims))
    key = draw(hnp.basic_indices(x.shape, min_dims=0, allow_newaxis=True, allow_ellipsis=True))
    return x, key


@st.composite
def array_and_advanced_key(draw):
    x = draw(arrays(min_dims=1))
    kind = draw(st.sampled_from(["int", "mask", "mask_prefix", "list"]))
    if kind == "int" and 0 not in x.shape:
        key = draw(hnp.integer_array_indices(x.shape, result_shape=hnp.array_shapes(min_dims=0, max_dims=2)))
    elif kind in ("mask", "int"):
        key = draw(hnp.arrays(bool, x.shape))
    elif kind == "mask_prefix":
        key = (draw(hnp.arrays(bool, x.shape[:1])),)
    else:
        assume(x.shape[0] > 0)
        key = draw(st.lists(st.integers(-x.shape[0], x.shape[0] - 1), max_size=4))
    return x, key


def value_for(draw, target_shape, dtype):
    """A value NumPy can assign to a region of ``target_shape``: a scalar or a broadcastable array."""
    kind = draw(st.sampled_from(["scalar", "array", "array_other_dtype"]))
    if kind == "scalar":
        if dtype.kind == "b":
            return draw(st.booleans())
        if dtype.kind == "i":
            return draw(st.integers(-9, 9))
        return draw(st.one_of(st.integers(-9, 9), st.floats(-9, 9)))
    ndim = draw(st.integers(0, len(target_shape)))
    vshape = tuple(draw(st.sampled_from([1, n])) for n in target_shape[len(target_shape) - ndim:])
    vdtype = dtype if kind == "array" else numpy.dtype(draw(st.sampled_from(DTYPES)))
    return draw(hnp.arrays(vdtype, vshape, elements=st.integers(0, 9).map(lambda v: vdtype.type(v))))


def check_same(result, expected):
    got = numpy.asarray(result)
    expected = numpy.asarray(expected)
    assert got.shape == expected.shape
    assert got.dtype == expected.dtype
    numpy.testing.assert_array_equal(got, expected)


def raises_like(fn_ref, fn_minpy):
    """Run both; when NumPy raises, minpy raises the same type. Returns (ref result, minpy result) or None."""
    try:
        ref = fn_ref()
    except Exception as exc:
        with pytest.raises(type(exc)):
            fn_minpy()
        return None
    return ref, fn_minpy()


# -- getitem ------------------------------------------------------------------------------------------
@each_backend_and_policy
@given(data=array_and_basic_key())
def test_getitem_basic(backend, policy, data):
    x, key = data
    a = on(backend, x)
    check_same(a[key], x[key])


@each_backend_and_policy
@given(data=array_and_advanced_key())
def test_getitem_advanced(backend, policy, data):
    x, key = data
    a = on(backend, x)
    out = raises_like(lambda: x[key], lambda: a[key])
    if out is not None:
        check_same(out[1], out[0])


@each_backend_and_policy
@given(data=array_and_advanced_key())
def test_getitem_with_index_arrays(backend, policy, data):
    """Index arrays given as minpy Arrays (on either backend) index like the NumPy arrays they hold."""
    x, key = data
    assume(not isinstance(key, list))
    a = on(backend, x)
    mkey = tuple(on(backend, k) for k in key) if isinstance(key, tuple) else on(backend, key)
    out = raises_like(lambda: x[key], lambda: a[mkey])
    if out is not None:
        check_same(out[1], out[0])


@each_backend_and_policy
@given(x=arrays(min_dims=1), data=st.data())
def test_getitem_out_of_range_raises_index_error_naming_op(backend, policy, x, data):
    n = x.shape[0]
    i = data.draw(st.one_of(st.integers(n, n + 5), st.integers(-n - 5, -n - 1)))
    a = on(backend, x)
    with pytest.raises(IndexError):
        x[i]
    with pytest.raises(IndexError, match="getitem"):
        a[i]
    with pytest.raises(IndexError, match="setitem"):
        a[i] = 1


@each_backend_and_policy
def test_getitem_too_many_indices(backend, policy):
    a = on(backend, numpy.zeros((2, 3)))
    with pytest.raises(IndexError, match="getitem"):
        a[0, 0, 0]


@each_backend_and_policy
def test_getitem_on_0d(backend, policy):
    x = numpy.array(3.5)
    a = on(backend, x)
    check_same(a[()], x[()])
    check_same(a[...], x[...])
    check_same(a[None], x[None])
    with pytest.raises(IndexError):
        a[0]


# -- setitem ------------------------------------------------------------------------------------------
@each_backend_and_policy
@given(data=st.data())
def test_setitem_basic(backend, policy, data):
    x, key = data.draw(array_and_basic_key())
    value = value_for(data.draw, numpy.shape(x[key]), x.dtype)
    ref = x.copy()
    a = on(backend, x)

    def assign_ref():
        ref[key] = value

    def assign_minpy():
        a[key] = value

    if raises_like(assign_ref, assign_minpy) is not None:
        check_same(a, ref)


@each_backend_and_policy
@given(data=st.data())
def test_setitem_advanced(backend, policy, data):
    x, key = data.draw(array_and_advanced_key())
    try:
        target_shape = x[key].shape
    except IndexError:
        target_shape = ()
    value = value_for(data.draw, target_shape, x.dtype)
    ref = x.copy()
    a = on(backend, x)

    def assign_ref():
        ref[key] = value

    def assign_minpy():
        a[key] = value

    if raises_like(assign_ref, assign_minpy) is not None:
        check_same(a, ref)


@each_backend_and_policy
@given(data=st.data(), value_backend=st.sampled_from(["numpy", "mxnet"]))
def test_setitem_value_is_minpy_array(backend, policy, data, value_backend):
    assume(HAVE_MXNET or value_backend == "numpy")
    x, key = data.draw(array_and_basic_key())
    value = value_for(data.draw, numpy.shape(x[key]), x.dtype)
    assume(isinstance(value, numpy.ndarray))
    ref = x.copy()
    a = on(backend, x)

    def assign_ref():
        ref[key] = value

    def assign_minpy():
        a[key] = on(value_backend, value)

    if raises_like(assign_ref, assign_minpy) is not None:
        check_same(a, ref)


def test_setitem_broadcasting_value():
    x = numpy.arange(24.0).reshape(2, 3, 4)
    for backend in ["numpy"] + (["mxnet"] if HAVE_MXNET else []):
        a = on(backend, x)
        ref = x.copy()
        a[:, 1:] = numpy.array([1.0, 2.0, 3.0, 4.0])
        ref[:, 1:] = numpy.array([1.0, 2.0, 3.0, 4.0])
        a[0] = np.ones((3, 1))
        ref[0] = numpy.ones((3, 1))
        check_same(a, ref)
        with pytest.raises(ValueError, match="setitem"):
            a[0] = np.ones((2, 4))


# -- views --------------------------------------------------------------------------------------------
@each_backend_and_policy
def test_view_write_changes_base(backend, policy):
    x = numpy.arange(12.0).reshape(4, 3)
    a = on(backend, x)
    b = a[1:]
    b[0] = 5
    ref = x.copy()
    ref[1:][0] = 5
    check_same(a, ref)
    a[2, 2] = -1
    ref[2, 2] = -1
    check_same(b, ref[1:])


@each_backend_and_policy
def test_view_of_column_and_steps(backend, policy):
    x = numpy.arange(20.0).reshape(4, 5)
    a = on(backend, x)
    col = a[:, 1]
    ev = a[::2, 1::2]
    col[...] = 7
    ev += 100
    ref = x.copy()
    ref[:, 1] = 7
    ref[::2, 1::2] += 100
    check_same(a, ref)
    a[...] = 0
    check_same(col, numpy.zeros(4))
    check_same(ev, numpy.zeros((2, 2)))


@each_backend_and_policy
def test_scalar_index_is_a_copy(backend, policy):
    """``a[i, j]`` is a scalar in NumPy: writing into the minpy result never changes ``a``."""
    x = numpy.arange(6.0).reshape(2, 3)
    a = on(backend, x)
    s = a[1, 2]
    s += 10
    check_same(a, x)
    assert float(s) == 15.0


@each_backend_and_policy
@given(data=st.data())
def test_views_follow_numpy(backend, policy, data):
    """A view, and a view of a view, see writes to the base and write into it, like NumPy's views."""
    x, key = data.draw(array_and_basic_key(min_dims=1))
    ref = x.copy()
    ref_view = ref[key]
    assume(isinstance(ref_view, numpy.ndarray))
    key2 = data.draw(hnp.basic_indices(ref_view.shape, allow_newaxis=True, allow_ellipsis=True))
    ref_view2 = ref_view[key2]
    a = on(backend, x)
    view = a[key]
    view2 = view[key2]
    fill = numpy.array(1, dtype=x.dtype)

    # write into the view of the view: the view and the base see it
    if isinstance(ref_view2, numpy.ndarray):
        ref_view2[...] = fill
        view2[...] = fill
    check_same(a, ref)
    check_same(view, ref_view)

    # write into the base: both views see it
    other = value_for(data.draw, x.shape, x.dtype)
    ref[...] = other
    a[...] = other
    check_same(view, ref_view)
    if isinstance(ref_view2, numpy.ndarray):
        check_same(view2, ref_view2)

    # an in-place operator on the view
    if x.dtype.kind != "b":
        ref_view += fill
        view += fill
        check_same(a, ref)
        if isinstance(ref_view2, numpy.ndarray):
            check_same(view2, ref_view2)


def test_view_of_array_built_under_other_policy():
    """Arrays made under prefer-MXNet and sliced under only-NumPy (and back) still give views."""
    a = np.zeros((3, 4))
    with OnlyNumPyPolicy():
        v = a[1]
        v[2] = 3.0
    w = a[:, 2]
    w[0] = 1.0
    expected = numpy.zeros((3, 4))
    expected[1, 2] = 3.0
    expected[0, 2] = 1.0
    check_same(a, expected)
    check_same(v, expected[1])


@pytest.mark.mxnet
@given(data=array_and_basic_key(min_dims=1))
def test_mxnet_views_share_memory_only_where_minpy_says_so(data):
    """minpy treats an MXNet slice as a view only where MXNet really shares memory (else it keeps a copy
    in step with the base): the rule in the MXNet backend must never claim sharing that is not there."""
    import mxnet as mx

    x, key = data
    b = get_backend("mxnet")
    native = b.from_numpy(x, cpu())
    got = b.basic_index(native, key if isinstance(key, tuple) else (key,))
    if got is not None and got[1] and got[0].size > 0:
        assert mx.np.shares_memory(native, got[0])
