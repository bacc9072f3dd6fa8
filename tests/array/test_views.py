"""Views, aliases and buffers minpy does not own give NumPy's answers on every backend, under every policy.

NumPy is the oracle: the same calls on NumPy arrays (and ``numpy.shares_memory`` on NumPy's results) say what is
a view, what a write through it changes, and what a later read must see. Arrays start on NumPy or on MXNet.
"""
import gc

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minpy.array as marray
import minpy.numpy as np
from minpy import config
from minpy.array import Array
from minpy.dispatch.policy import resolve_policy
from array_support import BACKENDS, on

# (name, function of (numpy module, array)) - each is a view in NumPy unless the name says copy
VIEW_CALLS = [
    ("reshape", lambda m, a: m.reshape(a, (4, 3))),
    ("reshape_method", lambda m, a: a.reshape(2, 6)),
    ("ravel", lambda m, a: m.ravel(a)),
    ("T", lambda m, a: a.T),
    ("transpose", lambda m, a: m.transpose(a)),
    ("swapaxes", lambda m, a: m.swapaxes(a, 0, 1)),
    ("moveaxis", lambda m, a: m.moveaxis(a, 0, 1)),
    ("expand_dims", lambda m, a: m.expand_dims(a, 1)),
    ("squeeze", lambda m, a: m.squeeze(m.expand_dims(a, 0))),
    ("flip", lambda m, a: m.flip(a, 1)),
    ("fliplr", lambda m, a: m.fliplr(a)),
    ("rot90", lambda m, a: m.rot90(a)),
    ("split_rows", lambda m, a: m.split(a, 3)[1]),
    ("split_cols", lambda m, a: m.split(a, 2, axis=1)[1]),
    ("atleast_3d", lambda m, a: m.atleast_3d(a)),
    ("strided_slice", lambda m, a: a[::2, 1:]),
    ("column", lambda m, a: a[:, 1]),
    ("row", lambda m, a: a[1]),
    ("ellipsis_0d", lambda m, a: a[1, 2, ...]),
    ("T_then_slice", lambda m, a: a.T[1:, ::2]),
    ("slice_then_T", lambda m, a: a[:, 1:].T),
    ("reshape_T_slice", lambda m, a: m.reshape(a, (2, 6)).T[::2]),
    ("column_then_reshape", lambda m, a: m.reshape(a[:, 1:3], (6,))),  # a copy in NumPy
    ("T_then_reshape", lambda m, a: a.T.reshape(12)),  # a copy in NumPy
    ("asarray", lambda m, a: m.asarray(a)),  # the array itself
    ("astype_no_copy", lambda m, a: a.astype(a.dtype, copy=False)),  # the array itself
    ("diagonal", lambda m, a: m.diagonal(a)),  # read-only in NumPy
    ("broadcast_to", lambda m, a: m.broadcast_to(a, (2, 3, 4))),  # read-only in NumPy
]
POLICIES = ["only_numpy", "prefer_mxnet", pytest.param("auto", marks=pytest.mark.mxnet)]


def start(backend, x):
    return on(backend, x.copy())


def same(got, expected):
    got = got.asnumpy() if isinstance(got, Array) else numpy.asarray(got)
    assert got.shape == numpy.shape(expected)
    numpy.testing.assert_array_equal(got, expected)


def check_view_call(call, x, a, pol):
    """Run ``call`` on NumPy's ``x`` and on minpy's ``a`` (same values) and check both ways of writing."""
    ref = call(numpy, x)
    view = call(np, a)
    same(view, ref)
    assert (view is a) == (ref is x)
    writeable = ref.flags.writeable
    if writeable:
        ref[...] = ref * 10 + 1
        view[...] = view * 10 + 1
    else:  # NumPy's read-only views refuse writes, on every backend
        with pytest.raises(ValueError, match="read-only"):
            view[...] = 0
        with pytest.raises(ValueError, match="read-only"):
            view += 1
    same(a, x)  # a write through a view reaches its base (a copy in NumPy changes nothing)
    x[0, 0], x[2, 3], x[1, 1] = 100, -100, 55
    a[0, 0], a[2, 3], a[1, 1] = 100, -100, 55
    same(view, ref)  # a write to the base reaches the view (or not, where NumPy copied)
    if writeable:
        ref += 1
        view += 1
        same(a, x)
        same(view, ref)
        view.fill(3)
        ref.fill(3)
        same(a, x)
    same(np.sum(view * 2), numpy.sum(ref * 2))  # operators read what NumPy would


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("name", [name for name, _ in VIEW_CALLS])
def test_view_calls_follow_numpy(name, policy, backend):
    call = dict(VIEW_CALLS)[name]
    x = numpy.arange(12.0).reshape(3, 4)
    with resolve_policy(policy):
        check_view_call(call, x.copy(), start(backend, x), policy)


@pytest.mark.parametrize("policy", POLICIES)
def test_views_taken_under_one_policy_and_written_under_another(policy):
    x = numpy.arange(12.0).reshape(3, 4)
    ref = x.copy()
    with resolve_policy("prefer_mxnet"):
        a = np.array(x) + 0  # on MXNet where it is installed
        t = a.T
        r = np.reshape(a, (12,))
    with resolve_policy(policy):
        t[1] = 7
        ref.T[1] = 7
        same(a, ref)
        same(r, ref.reshape(12))
        r[::5] = -1
        ref.reshape(12)[::5] = -1
        same(t, ref.T)
        same(a, ref)


# -- chains of views (Hypothesis) -------------------------------------------------------------------------------
STEPS = {
    "T": lambda m, a, k: a.T,
    "reshape": lambda m, a, k: m.reshape(a, _reshape_target(a.shape, k)),
    "slice": lambda m, a, k: a[tuple(slice(None, None, 1 + (k + i) % 2) for i in range(min(a.ndim, 2)))],
    "row": lambda m, a, k: a[k % a.shape[0]] if a.ndim > 1 and a.shape[0] else a,
    "swapaxes": lambda m, a, k: m.swapaxes(a, 0, -1) if a.ndim else a,
    "expand_dims": lambda m, a, k: m.expand_dims(a, 0),
    "squeeze": lambda m, a, k: m.squeeze(a),
    "ravel": lambda m, a, k: m.ravel(a),
    "flip": lambda m, a, k: m.flip(a, 0) if a.ndim else a,
}


def _reshape_target(shape, k):
    size = int(numpy.prod(shape))
    divisors = [d for d in range(1, size + 1) if size % d == 0] or [1]
    d = divisors[k % len(divisors)]
    return (d, size // d)


@pytest.mark.parametrize("policy", POLICIES)
@settings(max_examples=15)
@given(chain=st.lists(st.tuples(st.sampled_from(sorted(STEPS)), st.integers(0, 7)), min_size=1, max_size=4),
       start_on=st.sampled_from(["numpy", "op"]), write_at=st.integers(0, 4))
def test_chains_of_views_follow_numpy(policy, chain, start_on, write_at):
    """Views of views of views (transposes, reshapes, slices...), written at one level and read at all."""
    x = numpy.arange(24.0).reshape(2, 3, 4)
    with resolve_policy(policy):
        a = np.array(x.copy())
        if start_on == "op":
            a = a + 0  # where the policy puts an operator's result
        refs, views = [x], [a]
        for name, k in chain:
            refs.append(STEPS[name](numpy, refs[-1], k))
            views.append(STEPS[name](np, views[-1], k))
        level = write_at % len(refs)
        if refs[level].flags.writeable:
            refs[level][...] = refs[level] * 3 - 1
            views[level][...] = views[level] * 3 - 1
        for ref, view in zip(refs, views):
            same(view, ref)
        refs[0][...] = -refs[0]
        views[0][...] = -views[0]
        for ref, view in zip(refs, views):
            same(view, ref)


# -- detached views: refreshed lazily, bounded -----------------------------------------------------------------------
@pytest.mark.mxnet
def test_a_write_marks_detached_views_stale_instead_of_copying_into_each(monkeypatch):
    refreshed = []
    original = marray._resync
    monkeypatch.setattr(marray, "_resync", lambda view: (refreshed.append(view), original(view)))
    x = numpy.arange(60.0).reshape(6, 10)
    with resolve_policy("prefer_mxnet"):
        a = on("mxnet", x)
        columns = [a[:, j] for j in range(10)]  # MXNet copies strided slices: detached views
        assert all(c._link is not None and c._link.detached for c in columns)
        for i in range(50):
            a[i % 6, 0] = i
            x[i % 6, 0] = i
        assert refreshed == []  # nothing read them: no copies
        same(columns[0], x[:, 0])
        assert len(refreshed) == 1
        same(columns[3], x[:, 3])
        assert len(refreshed) == 2
        family = a._views
        assert len(family.fresh) <= 3  # only the views read since the last write are tracked as current


@pytest.mark.mxnet
def test_live_view_list_stays_bounded():
    with resolve_policy("prefer_mxnet"):
        a = on("mxnet", numpy.zeros((4, 8)))
        for i in range(2000):
            v = a[:, i % 8]
            v[0] = i  # fresh (the writer) every time
            del v
        gc.collect()
        assert len(a._views.fresh) <= 32


# -- buffers minpy does not own ----------------------------------------------------------------------------------
@pytest.mark.parametrize("policy", POLICIES)
def test_writes_into_a_buffer_passed_to_asarray_are_seen(policy):
    host = numpy.arange(6.0).reshape(2, 3)
    with resolve_policy(policy):
        a = np.asarray(host)
        v = a.T
        for round_ in range(3):
            assert float(np.sum(a * 2)) == float(numpy.sum(host * 2))
            same(np.exp(a), numpy.exp(host))
            same(v, host.T)
            host[...] = host * 2 + round_  # the user writes their own array
        a[0, 0] = -5  # and minpy's writes reach it
        assert host[0, 0] == -5
        same(v, host.T)


@pytest.mark.mxnet
def test_a_buffer_minpy_does_not_own_is_never_trusted_on_mxnet():
    host = numpy.ones(5)
    with resolve_policy("prefer_mxnet"):
        a = Array(host)  # wraps the user's array, as np.asarray does
        assert (a + 1).backend == "mxnet"
        host[2] = 10
        same(a + 1, host + 1)
        same(np.reshape(a, (5, 1))[2], [10.0])
    owned = np.array(numpy.ones(5))
    assert not marray.is_foreign(owned) and marray.is_foreign(a)


def test_asarray_of_an_array_keeps_its_dtype_and_memory_under_a_default_float():
    config.set_default_float("float32")
    try:
        a = np.array(numpy.arange(3.0))  # from an ndarray: float64 kept
        assert a.dtype == numpy.float64
        assert np.asarray(a) is a
        assert np.array([1.0, 2.0]).dtype == numpy.float32  # from Python numbers: the default float
        assert np.asarray([a, a]).dtype == numpy.float64
        assert np.zeros(2).dtype == numpy.float32
    finally:
        config.set_default_float("float64")


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("start_on", ["array", "operator"])
def test_shape_set_in_place_keeps_every_view_in_step(policy, start_on):
    """``a.shape = ...`` on an array with views, and on a view with views of its own: the array keeps its memory
    (on MXNet too, whose contiguous slices share it), so writes through old and new views agree with NumPy."""
    with resolve_policy(policy):
        ref = numpy.arange(24.0).reshape(4, 6)
        a = np.array(ref) + 0 if start_on == "operator" else np.array(ref)
        ref = ref.copy()
        pairs = [(a, ref)]

        def take(make):
            pairs.append((make(pairs[0][0]), make(pairs[0][1])))
            return pairs[-1]

        row, row_ref = take(lambda x: x[1])
        take(lambda x: x.T)
        take(lambda x: x[::2, 1:])
        part, part_ref = row[2:], row_ref[2:]  # a view of a view
        pairs.append((part, part_ref))
        a.shape = ref.shape = (2, 12)
        row.shape = row_ref.shape = (3, 2)  # a view changes shape too; its own view (part) follows
        pairs.append((a[1, ::3], ref[1, ::3]))
        pairs.append((row[1:], row_ref[1:]))
        for k, (mine, theirs) in enumerate(list(pairs)):
            mine[(0,) * (mine.ndim - 1) + (slice(None, 1),)] = -(k + 1)
            theirs[(0,) * (theirs.ndim - 1) + (slice(None, 1),)] = -(k + 1)
            part += 0.5
            part_ref += 0.5
            for m, t in pairs:
                numpy.testing.assert_array_equal(numpy.asarray(m), t)


@pytest.mark.parametrize("policy", POLICIES)
def test_shape_set_in_place_that_needs_a_copy_is_refused_like_numpy(policy):
    with resolve_policy(policy):
        ref = numpy.arange(12.0).reshape(3, 4)
        a = np.array(ref)
        t = a.T
        with pytest.raises(AttributeError):
            ref.T.shape = (12,)
        with pytest.raises(AttributeError):
            t.shape = (12,)
        b = np.array(ref)
        b.shape = (2, 6)  # an array without views may change shape: no copy is needed
        assert b.shape == (2, 6)
        numpy.testing.assert_array_equal(b.asnumpy(), ref.reshape(2, 6))
