"""Lazy conversion between backends: no copies in a chain of ops on one backend, one copy per array and
backend until the array is written, and never a stale copy read after an in-place write (views included).

Reads "through NumPy" use ``np.fmin(a, a)`` (no MXNet implementation: it runs on NumPy from the cached host
copy); reads "through MXNet" use ``np.maximum(a, a)`` (MXNet implements it). Both equal ``a``.
"""
import numpy
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, rule

import minpy
import minpy.numpy as np
from minpy import config, stats
from array_support import BACKENDS, HAVE_MXNET, on


@pytest.fixture(autouse=True)
def _quiet_defaults():
    minpy.set_global_policy("prefer_mxnet")
    action = config.get_fallback_action()
    config.set_fallback_action("none")
    stats.reset_op_stat()
    yield
    config.set_fallback_action(action)
    minpy.set_global_policy("prefer_mxnet")


def via_numpy(a):
    return numpy.array(np.fmin(a, a).asnumpy())


def via_mxnet(a):
    return numpy.array(np.maximum(a, a).asnumpy())


def check(a, expected):
    """Every way of reading ``a`` gives ``expected``: the host copy, a NumPy op and an MXNet op."""
    expected = numpy.asarray(expected)
    numpy.testing.assert_array_equal(a.asnumpy(), expected)
    numpy.testing.assert_array_equal(via_numpy(a), expected)
    numpy.testing.assert_array_equal(via_mxnet(a), expected)


def copies():
    return stats.op_stats()["copies"]


def copy_count(route):
    return copies().get(route, {}).get("count", 0)


# -- no copies, and one copy per array --------------------------------------------------------------------
@pytest.mark.mxnet
def test_chain_on_mxnet_makes_no_copies():
    x = np.zeros((3, 4))
    y = np.ones((3, 4))
    assert x.backend == y.backend == "mxnet"
    z = (x + y) * 2 - y / 4
    z = np.exp(z).reshape(4, 3).T
    z = np.maximum(z, 0.5)[1:, ::2]
    w = np.dot(z.T, z) + z.sum(axis=0)
    w[0, 0] = 3.0
    w += 1
    assert w.backend == "mxnet"
    assert copies() == {}
    assert stats.op_stats()["fallbacks"] == {}


@pytest.mark.mxnet
def test_conversion_is_cached_until_written():
    a = np.ones((2, 3))  # on MXNet
    np.fmin(a, a)
    assert copy_count("mxnet->numpy") == 1
    np.fmin(a, 2.0)
    np.logaddexp(a, a)
    a.asnumpy()
    assert copy_count("mxnet->numpy") == 1
    a[0, 0] = 5.0
    np.fmin(a, a)
    assert copy_count("mxnet->numpy") == 2

    h = np.array([[1.0, 2.0], [3.0, 4.0]])  # on NumPy
    assert h.backend == "numpy"
    np.maximum(h, h)
    np.dot(h, h)
    assert copy_count("numpy->mxnet") == 1
    assert copies()["numpy->mxnet"]["bytes"] == h.nbytes


@pytest.mark.mxnet
def test_views_convert_once_too():
    a = np.ones((4, 3))
    v = a[1:]
    np.fmin(v, v)
    np.fmin(v, v)
    assert copy_count("mxnet->numpy") == 1


# -- writes make cached copies stale --------------------------------------------------------------------
def _writes():
    """(name, write(a), the same write on a NumPy array)."""
    def copyto(a):
        np.copyto(a, numpy.full(a.shape, 4.0))

    def copyto_ref(x):
        numpy.copyto(x, numpy.full(x.shape, 4.0))

    def shuffle(a):
        numpy.random.seed(3)
        np.random.shuffle(a)

    def shuffle_ref(x):
        numpy.random.seed(3)
        numpy.random.shuffle(x)

    def iadd(a):
        a += 1.5

    def setitem(a):
        a[1] = 7.0

    def setitem_ref(x):
        x[1] = 7.0

    return [("setitem", setitem, setitem_ref), ("iadd", iadd, iadd), ("fill", lambda a: a.fill(2.5),
            lambda x: x.fill(2.5)), ("copyto", copyto, copyto_ref), ("shuffle", shuffle, shuffle_ref),
            ("sort", lambda a: a.sort(axis=0), lambda x: x.sort(axis=0))]


WRITES = _writes()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("write", WRITES, ids=[w[0] for w in WRITES])
def test_write_after_cached_copies(backend, write):
    _, fn, ref_fn = write
    x = numpy.arange(12.0).reshape(4, 3)[::-1].copy()
    a = on(backend, x)
    check(a, x)  # caches a copy on the other backend
    fn(a)
    ref_fn(x)
    check(a, x)
    fn(a)  # again, with the caches made by the reads above
    ref_fn(x)
    check(a, x)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("key", [(slice(1, None),), (slice(None), 1), (slice(None, None, 2), slice(1, None)),
                                 (slice(None, None, -1),)], ids=["rows", "column", "steps", "reversed"])
@pytest.mark.parametrize("write", WRITES, ids=[w[0] for w in WRITES])
def test_writes_through_views_and_to_bases(backend, key, write):
    _, fn, ref_fn = write
    x = numpy.arange(20.0).reshape(5, 4)
    a = on(backend, x)
    v = a[key]
    xv = x[key]
    check(a, x)
    check(v, xv)
    fn(v)  # write into the view: the base's cached copies are stale
    ref_fn(xv)
    check(a, x)
    check(v, xv)
    fn(a)  # write into the base: the view's cached copies are stale
    ref_fn(x)
    check(v, xv)
    check(a, x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_numpy_views_from_functions_stay_consistent(backend):
    """Results of NumPy functions that are views of an argument (reshape, transpose, split, asarray under
    the only-NumPy policy) are views of the Array: a write through them reaches every reader of the base."""
    x = numpy.arange(12.0).reshape(3, 4)
    a = on(backend, x)
    check(a, x)
    with minpy.dispatch.OnlyNumPyPolicy():
        parts = [a.reshape(12), a.T, np.split(a, 2, axis=1)[1], np.asarray(a), np.atleast_2d(a)]
    for i, part in enumerate(parts):
        part[...] = part + 100 * (i + 1)
        expected = numpy.asarray(a.asnumpy())
        check(a, expected)
        numpy.testing.assert_array_equal(via_numpy(part), via_mxnet(part))


# -- random sequences ---------------------------------------------------------------------------------------
KEYS = [(slice(1, None),), (0,), (slice(None), 2), (slice(None, None, 2),), (slice(None, None, -1), slice(1, 3)),
        (Ellipsis, slice(None, None, 3)), (1, slice(None, None, 2)), (None, slice(0, 2))]


class LazyMachine(RuleBasedStateMachine):
    """Arrays on both backends, views of them and views of views, random writes and reads; a NumPy array
    (with real NumPy views) is the model."""

    arrays = Bundle("arrays")

    @initialize(target=arrays, backend=st.sampled_from(["numpy", "mxnet"] if HAVE_MXNET else ["numpy"]),
                dtype=st.sampled_from(["float64", "int64", "float32"]))
    def make(self, backend, dtype):
        minpy.set_global_policy("prefer_mxnet")
        model = numpy.arange(20).reshape(4, 5).astype(dtype)
        return on(backend, model), model

    @rule(target=arrays, pair=arrays, key=st.sampled_from(KEYS))
    def view(self, pair, key):
        a, model = pair
        try:
            mv = model[key]
        except IndexError:
            return pair
        if not isinstance(mv, numpy.ndarray) or mv.ndim == 0:
            return pair
        return a[key], mv

    @rule(pair=arrays, value=st.integers(-5, 5), where=st.integers(0, 3))
    def setitem(self, pair, value, where):
        a, model = pair
        key = where % model.shape[0] if model.ndim and model.shape[0] else ...
        model[key] = value
        a[key] = value

    @rule(pair=arrays, value=st.integers(-3, 3))
    def iadd(self, pair, value):
        a, model = pair
        model += value
        a += value

    @rule(pair=arrays, value=st.integers(-3, 3))
    def fill(self, pair, value):
        a, model = pair
        model.fill(value)
        a.fill(value)

    @rule(pair=arrays, seed=st.integers(0, 3))
    def shuffle(self, pair, seed):
        a, model = pair
        numpy.random.seed(seed)
        numpy.random.shuffle(model)
        numpy.random.seed(seed)
        np.random.shuffle(a)

    @rule(pair=arrays)
    def copyto(self, pair):
        a, model = pair
        numpy.copyto(model, model[..., ::-1].copy())
        np.copyto(a, numpy.array(a.asnumpy()[..., ::-1]))

    @rule(pair=arrays, policy=st.sampled_from(["prefer_mxnet", "only_numpy"]))
    def read(self, pair, policy):
        a, model = pair
        numpy.testing.assert_array_equal(a.asnumpy(), model)
        with minpy.dispatch.policy.resolve_policy(policy):
            numpy.testing.assert_array_equal(via_numpy(a), model)
            numpy.testing.assert_array_equal(via_mxnet(a), model)


LazyMachine.TestCase.settings = settings(stateful_step_count=30)  # the rest from the profile (conftest.py)
test_lazy_state_machine = LazyMachine.TestCase


@pytest.mark.mxnet
def test_dtype_cache_stays_bounded_with_changing_0d_values():
    """The dispatcher caches NumPy's dtype rules per argument signature; 0-d arrays whose values change (a
    loss in a training loop) must not add an entry per value."""
    from minpy.ops import operator as dispatcher

    w = np.ones((3,), dtype="float32")
    for i in range(5):  # warm up
        w * np.array(0.5 + i)
    before = len(dispatcher._cast_cache)
    for i in range(50):
        loss = np.array(1.0 + i * 0.37)  # float64 0-d
        w = w * loss
    assert len(dispatcher._cast_cache) <= before + 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_numpy_asarray_cannot_write_behind_the_arrays_back(backend):
    x = numpy.arange(6.0)
    a = on(backend, x)
    check(a, x)
    host = numpy.asarray(a)
    numpy.testing.assert_array_equal(host, x)
    with pytest.raises(ValueError, match="read-only"):
        host[0] = 100.0
    check(a, x)
    own = numpy.array(a)  # a copy is the caller's to write
    own[0] = 100.0
    check(a, x)
