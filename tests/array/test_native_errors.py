"""Only the backend's own errors send a call to NumPy; a bug in minpy's glue code surfaces.

MXNet rejects some calls NumPy accepts (its checks, its Python layer's ValueError/TypeError/AssertionError...):
those are rerun on NumPy and counted as fallbacks. An exception raised by minpy's own adapters or backend code
(NameError, AttributeError, a TypeError of a wrong call) is a bug: rerunning on NumPy would hide it, and the
auto_blacklist policy would then keep the operator off MXNet for good.
"""
import numpy
import pytest

import minpy.numpy as np
from minpy import config, stats
from minpy.backends import get_backend
from minpy.backends.base import NativeUnsupported
from minpy.dispatch.policy import AutoBlacklistPolicy, PreferMXNetPolicy
from minpy.ops.operator import get_operator
from array_support import on

pytestmark = pytest.mark.mxnet


@pytest.fixture
def replace_impl(monkeypatch):
    """Replace an operator's MXNet implementation for the test."""
    def replace(name, fn):
        op = get_operator(name)
        op.routes()  # resolve the implementation first
        monkeypatch.setattr(op.impls["mxnet"], "fn", fn)
    return replace


def _buggy_adapter(a, *args, **kwargs):
    return a.no_such_attribute  # a bug in minpy's adapter code


@pytest.mark.parametrize("policy", [PreferMXNetPolicy, AutoBlacklistPolicy])
def test_a_bug_in_an_adapter_surfaces(replace_impl, policy):
    replace_impl("reshape", _buggy_adapter)
    pol = policy()
    a = on("mxnet", numpy.arange(6.0))
    with pol:
        with pytest.raises(AttributeError, match="no_such_attribute"):
            np.reshape(a, (2, 3))
        with pytest.raises(AttributeError):  # and again: nothing was blacklisted
            np.reshape(a, (2, 3))
    assert "reshape" not in getattr(pol, "blacklist", set())
    assert "reshape" not in stats.op_stats()["fallbacks"]


def test_a_wrong_call_from_an_adapter_surfaces(replace_impl):
    import mxnet

    # too many arguments: Python refuses the call in the adapter's own frame, before MXNet's code runs (an
    # adapter's wrong keyword that MXNet itself rejects is MXNet's error: it cannot be told from bad input)
    replace_impl("sum", lambda a, **kwargs: mxnet.np.sum(*[a] * 20))
    with PreferMXNetPolicy():
        with pytest.raises(TypeError, match="positional"):
            np.sum(on("mxnet", numpy.ones(3)))


def test_mxnets_own_errors_rerun_on_numpy(replace_impl):
    import mxnet

    stats.reset_op_stat()
    config.set_fallback_action("none")
    try:
        # MXNet's Python layer rejects the call (its own check raises inside mxnet's code)
        replace_impl("reshape", lambda a, newshape=None, **kw: mxnet.np.reshape(a, (7, 7)))
        with PreferMXNetPolicy():
            got = np.reshape(on("mxnet", numpy.arange(6.0)), (2, 3))
        numpy.testing.assert_array_equal(got.asnumpy(), numpy.arange(6.0).reshape(2, 3))
        assert any("mxnet raised" in r for r in stats.op_stats()["fallbacks"]["reshape"])

        def refuse(*args, **kwargs):
            raise NativeUnsupported("a documented difference from NumPy")  # an adapter's own refusal
        replace_impl("negative", refuse)
        with PreferMXNetPolicy():
            numpy.testing.assert_array_equal(np.negative(on("mxnet", numpy.ones(2))).asnumpy(), -numpy.ones(2))
    finally:
        config.set_fallback_action("log")


def test_a_bug_in_the_backends_write_path_surfaces(monkeypatch):
    backend = get_backend("mxnet")

    def broken(data, keys, value):
        raise NameError("bug in minpy's MXNet backend")
    monkeypatch.setattr(backend, "_without_new_axes", broken)
    a = on("mxnet", numpy.zeros((2, 3)))
    with PreferMXNetPolicy():
        with pytest.raises(NameError, match="bug in minpy"):
            a[None, 0] = on("mxnet", numpy.ones(3))


def test_own_error_reads_the_traceback():
    import mxnet

    backend = get_backend("mxnet")
    assert backend.own_error(mxnet.base.MXNetError("engine"))
    try:
        mxnet.np.zeros((2, 3)).reshape((4, 4))
    except Exception as exc:  # raised in (or below) mxnet's own Python code
        assert backend.own_error(exc)
    try:
        _buggy_adapter(object())
    except AttributeError as exc:
        assert not backend.own_error(exc)
    assert backend.own_error(NativeUnsupported("refused"))


@pytest.mark.parametrize("value", [2.5, 3, (2, 3), [[1.0, 2.0]]])
def test_a_call_holding_no_array_runs_on_numpy_without_a_fallback(value):
    """``np.sum(2.5)``, ``np.prod(shape)``: Python values, which only NumPy takes, are not a fallback."""
    stats.reset_op_stat()
    with PreferMXNetPolicy():
        got = np.sum(value)
        prod = np.prod(value)
    assert float(got) == numpy.sum(value)
    assert float(prod) == numpy.prod(value)
    assert stats.op_stats()["calls"]["sum"] == {"numpy": 1}
    assert "sum" not in stats.op_stats().get("fallbacks", {})
