"""Dispatch policies (by name, class and instance; global, `with`, decorator), the auto-blacklist and its
file, fallback actions, and the default float dtype."""
import logging
import warnings

import numpy
import pytest

import minpy
import minpy.numpy as np
from minpy import config, stats
from minpy.backends import get_backend
from minpy.config import FallbackError, FallbackWarning
from minpy.dispatch import (AutoBlacklistPolicy, OnlyMXNetPolicy, OnlyNumPyPolicy, Policy, PolicyError,
                            PreferMXNetPolicy)
from minpy.ops.operator import get_operator

HAVE_MXNET = get_backend("mxnet").available()
NATIVE = "mxnet" if HAVE_MXNET else "numpy"  # where prefer-MXNet puts an array
POLICIES = {"prefer_mxnet": PreferMXNetPolicy, "only_numpy": OnlyNumPyPolicy, "only_mxnet": OnlyMXNetPolicy,
            "auto_blacklist": AutoBlacklistPolicy}


@pytest.fixture(autouse=True)
def _defaults():
    minpy.set_global_policy("prefer_mxnet")
    action = config.get_fallback_action()
    stats.reset_op_stat()
    yield
    config.set_fallback_action(action)
    config.set_default_float("float64")
    minpy.set_global_policy("prefer_mxnet")


@pytest.fixture
def float32_default():
    config.set_default_float("float32")
    yield
    config.set_default_float("float64")


def expected_backend(policy_name):
    if policy_name == "only_numpy":
        return "numpy"
    return NATIVE


def run_simple_op():
    a = np.ones((2, 3))
    return (a + a) * 2


# -- selecting a policy ---------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["name", "class", "instance"])
@pytest.mark.parametrize("name", sorted(POLICIES))
def test_global_policy_by_name_class_instance(name, how):
    if name == "only_mxnet" and not HAVE_MXNET:
        pytest.skip("only_mxnet without MXNet refuses every operator (test_only_mxnet_without_mxnet)")
    spec = {"name": name, "class": POLICIES[name], "instance": POLICIES[name]()}[how]
    minpy.set_global_policy(spec)
    policy = minpy.get_global_policy()
    assert isinstance(policy, POLICIES[name]) and policy.name == name
    if how == "instance":
        assert policy is spec
    r = run_simple_op()
    assert r.backend == expected_backend(name)
    numpy.testing.assert_array_equal(r.asnumpy(), numpy.full((2, 3), 4.0))
    assert stats.op_stats()["calls"]["add"] == {expected_backend(name): 1}


def test_bad_policy_specs():
    with pytest.raises(ValueError, match="only_numpy"):
        minpy.set_global_policy("only_nump")
    with pytest.raises(TypeError):
        minpy.set_global_policy(3)
    with pytest.raises(TypeError):
        minpy.set_global_policy(dict)
    assert minpy.get_global_policy().name == "prefer_mxnet"


def test_with_blocks_nest_and_restore():
    minpy.set_global_policy("auto_blacklist")
    outer = minpy.get_global_policy()
    with OnlyNumPyPolicy() as p:
        assert minpy.get_global_policy() is p
        assert run_simple_op().backend == "numpy"
        with PreferMXNetPolicy():
            assert run_simple_op().backend == NATIVE
        assert minpy.get_global_policy() is p
        with pytest.raises(RuntimeError):
            with PreferMXNetPolicy():
                raise RuntimeError("leaves the block")
        assert minpy.get_global_policy() is p
    assert minpy.get_global_policy() is outer


@pytest.mark.parametrize("spec", ["only_numpy", OnlyNumPyPolicy, OnlyNumPyPolicy()], ids=["name", "class", "instance"])
def test_wrap_policy(spec):
    seen = []

    @minpy.wrap_policy(spec)
    def f(x, scale=1):
        """Doc."""
        seen.append(minpy.get_global_policy().name)
        return x * scale

    r = f(np.ones(3), scale=3)
    assert r.backend == "numpy" and seen == ["only_numpy"]
    assert f.__name__ == "f" and f.__doc__ == "Doc."
    assert minpy.get_global_policy().name == "prefer_mxnet"
    assert run_simple_op().backend == NATIVE


def test_policy_subclass():
    class NumpyFirst(Policy):
        name = "numpy_first"
        preference = ()

    minpy.set_global_policy(NumpyFirst)
    assert run_simple_op().backend == "numpy"


# -- only_mxnet ---------------------------------------------------------------------------------------------
@pytest.mark.mxnet
def test_only_mxnet_refuses_op_without_mxnet_impl():
    x = np.zeros((2, 3))
    with OnlyMXNetPolicy():
        assert (x + 1).backend == "mxnet"
        with pytest.raises(PolicyError, match=r"logaddexp.*only_mxnet|only_mxnet.*logaddexp") as info:
            np.logaddexp(x, x)
    assert "no mxnet implementation" in str(info.value)
    assert isinstance(info.value, NotImplementedError)


@pytest.mark.mxnet
def test_only_mxnet_refuses_dtype_mxnet_lacks():
    x = np.array([1, 2], dtype="int16")
    with OnlyMXNetPolicy():
        with pytest.raises(PolicyError, match="add"):
            x + x


@pytest.mark.mxnet
@pytest.mark.parametrize("alias", ["longlong", "intc", "single", "double"])
def test_numpy_dtype_aliases_run_on_mxnet(alias):
    """NumPy arrays whose dtype is an alias of a dtype MXNet has (numpy.longlong beside numpy.int64) move to MXNet
    like any other: MXNet looks dtypes up by scalar type, and the alias used to raise KeyError (a fallback)."""
    data = numpy.arange(6).astype(getattr(numpy, alias)).reshape(2, 3)
    with OnlyMXNetPolicy():
        got = np.add(data, data)
    assert got.backend == "mxnet" and got.dtype == data.dtype
    numpy.testing.assert_array_equal(got.asnumpy(), data + data)
    assert stats.op_stats()["fallbacks"] == {}


def test_only_mxnet_without_mxnet(monkeypatch):
    """Where MXNet cannot be used, only_mxnet refuses operators instead of quietly running NumPy."""
    mx = get_backend("mxnet")
    monkeypatch.setattr(mx, "available", lambda: False)
    monkeypatch.setattr(mx, "unavailable_reason", lambda: "the mxnet package is not installed")
    with OnlyMXNetPolicy():
        with pytest.raises(PolicyError, match=r"minpy.numpy.add .*only_mxnet.*not installed"):
            np.add(numpy.ones(2), numpy.ones(2))
    with PreferMXNetPolicy():  # prefer-MXNet just runs NumPy, with no fallback reported
        assert np.add(numpy.ones(2), numpy.ones(2)).backend == "numpy"
    assert stats.op_stats()["fallbacks"] == {}


# -- auto_blacklist -------------------------------------------------------------------------------------------
@pytest.fixture
def failing_mxnet_add(monkeypatch):
    """MXNet's add raises (as an MXNet kernel can for inputs NumPy takes); counts its calls."""
    calls = []
    impl = get_operator("add").impls["mxnet"]
    get_operator("add").routes()  # resolve the implementation before replacing it

    import mxnet

    def broken(*args, **kwargs):
        calls.append(1)
        raise mxnet.base.MXNetError("simulated MXNet failure")

    monkeypatch.setattr(impl, "fn", broken)
    return calls


@pytest.mark.mxnet
def test_auto_blacklist_routes_failing_op_to_numpy(failing_mxnet_add, tmp_path):
    config.set_fallback_action("none")
    policy = AutoBlacklistPolicy()
    x = np.ones((2, 2))
    with policy:
        for _ in range(3):
            numpy.testing.assert_array_equal((x + x).asnumpy(), numpy.full((2, 2), 2.0))
        assert (x * x).backend == "mxnet"  # other operators still run on MXNet
    assert len(failing_mxnet_add) == 1  # tried once, then blacklisted
    assert policy.blacklist == {"add"}
    assert stats.op_stats()["calls"]["add"] == {"numpy": 3}
    reasons = stats.op_stats()["fallbacks"]["add"]
    assert any("simulated MXNet failure" in r for r in reasons)
    assert any("blacklisted" in r for r in reasons)

    path = tmp_path / "blacklist.json"
    policy.save(path)
    fresh = AutoBlacklistPolicy()
    fresh.load(path)
    assert fresh.blacklist == {"add"}
    with fresh:
        x + x
    assert len(failing_mxnet_add) == 1  # the loaded list sends add to NumPy without trying MXNet
    assert AutoBlacklistPolicy(["add"]).blocked("add") and not AutoBlacklistPolicy().blocked("add")


@pytest.mark.mxnet
def test_prefer_mxnet_retries_failing_op_every_time(failing_mxnet_add):
    config.set_fallback_action("none")
    x = np.ones((2, 2))
    for _ in range(3):
        x + x
    assert len(failing_mxnet_add) == 3
    assert stats.op_stats()["calls"]["add"] == {"numpy": 3}


@pytest.mark.mxnet
def test_only_mxnet_reports_mxnet_failure(failing_mxnet_add):
    with OnlyMXNetPolicy():
        with pytest.raises(PolicyError, match="simulated MXNet failure"):
            np.ones(2) + np.ones(2)


def test_blacklist_file_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"add": 1}')
    with pytest.raises(ValueError, match="bad.json"):
        AutoBlacklistPolicy().load(bad)
    with pytest.raises(FileNotFoundError):
        AutoBlacklistPolicy().load(tmp_path / "missing.json")


def test_blacklist_round_trip_without_mxnet(tmp_path):
    policy = AutoBlacklistPolicy(["logaddexp", "add"])
    policy.save(tmp_path / "b.json")
    other = AutoBlacklistPolicy(["sum"])
    other.load(tmp_path / "b.json")
    assert other.blacklist == {"sum", "add", "logaddexp"}
    with other:
        assert (np.ones(2) + np.ones(2)).backend == "numpy"


# -- the seed example --------------------------------------------------------------------------------------------
def test_seed_example_fallback_result_feeds_mxnet_op():
    config.set_fallback_action("none")
    x = np.zeros((2, 3))
    y = np.ones((2, 3))
    z = np.logaddexp(x, y)
    assert z.backend == "numpy"
    w = z * y + x  # MXNet ops take the NumPy result (one conversion)
    assert w.backend == NATIVE
    expected = numpy.logaddexp(numpy.zeros((2, 3)), numpy.ones((2, 3)))
    numpy.testing.assert_allclose(w.asnumpy(), expected, rtol=1e-12)
    assert w.dtype == numpy.float64
    if HAVE_MXNET:
        assert stats.op_stats()["fallbacks"] == {"logaddexp": {"no mxnet implementation": 1}}
        assert stats.op_stats()["copies"]["numpy->mxnet"]["count"] == 1


# -- fallback actions ---------------------------------------------------------------------------------------------
@pytest.mark.mxnet
def test_fallback_action_none(caplog):
    config.set_fallback_action("none")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with caplog.at_level(logging.DEBUG, logger="minpy.fallback"):
            np.logaddexp(np.zeros(2), np.zeros(2))
    assert caplog.records == []
    assert stats.op_stats()["fallbacks"]["logaddexp"] == {"no mxnet implementation": 1}


@pytest.mark.mxnet
def test_fallback_action_log_once_per_reason(caplog):
    config.set_fallback_action("log")
    with caplog.at_level(logging.WARNING, logger="minpy.fallback"):
        np.logaddexp(np.zeros(2), np.zeros(2))
        np.logaddexp(np.zeros(2), np.zeros(2))
    messages = [r.getMessage() for r in caplog.records if r.name == "minpy.fallback"]
    assert len(messages) == 1
    assert "logaddexp" in messages[0] and "no mxnet implementation" in messages[0]
    assert stats.op_stats()["fallbacks"]["logaddexp"] == {"no mxnet implementation": 2}


@pytest.mark.mxnet
def test_fallback_action_warn():
    config.set_fallback_action("warn")
    with pytest.warns(FallbackWarning, match="logaddexp"):
        np.logaddexp(np.zeros(2), np.zeros(2))


@pytest.mark.mxnet
def test_fallback_action_raise():
    config.set_fallback_action("raise")
    with pytest.raises(FallbackError, match="logaddexp"):
        np.logaddexp(np.zeros(2), np.zeros(2))
    assert (np.zeros(2) + 1).backend == "mxnet"  # operators MXNet runs are unaffected


def test_fallback_action_validation():
    with pytest.raises(ValueError, match="warn"):
        config.set_fallback_action("loud")
    assert config.get_fallback_action() in ("none", "log", "warn", "raise")


def test_no_fallbacks_reported_under_only_numpy(caplog):
    config.set_fallback_action("raise")
    with OnlyNumPyPolicy():
        np.logaddexp(np.zeros(2), np.zeros(2))
    assert stats.op_stats()["fallbacks"] == {}


# -- default float dtype ------------------------------------------------------------------------------------------
def test_default_float_float32(float32_default):
    assert config.get_default_float() == numpy.float32
    for make in (lambda: np.zeros((2, 3)), lambda: np.ones(4), lambda: np.empty((1,)), lambda: np.full(3, 0.5),
                 lambda: np.eye(2), lambda: np.random.rand(3), lambda: np.random.randn(2, 2),
                 lambda: np.random.uniform(size=3), lambda: np.random.normal(size=(2,))):
        assert make().dtype == numpy.float32
    assert np.zeros(2, dtype="float64").dtype == numpy.float64  # an explicit dtype wins
    assert np.zeros(2, dtype=int).dtype == numpy.dtype(int)
    assert np.ones(2, dtype="int32").dtype == numpy.int32
    with OnlyNumPyPolicy():
        assert np.zeros(3).dtype == numpy.float32


def test_default_float_reset_restores_float64(float32_default):
    config.set_default_float("float64")
    assert config.get_default_float() == numpy.float64
    assert np.zeros(2).dtype == numpy.float64
    assert np.random.rand(2).dtype == numpy.float64
    assert np.ones(2).dtype == numpy.float64


def test_default_float_validation():
    with pytest.raises(ValueError):
        config.set_default_float("int32")
    with pytest.raises(TypeError):
        config.set_default_float("floot")
    assert config.get_default_float() == numpy.float64
