"""Every cache has a bound: a program whose shapes, dtypes or failures keep changing never grows one forever.

Each test drives one cache past its bound (lowered where the real one is large) and checks its size.
"""
import gc
import importlib.util
import json

import numpy
import pytest

import minpy.numpy as np
from minpy import config, stats
from minpy.autograd import grad
from minpy.dispatch import auto
from minpy.dispatch.policy import AutoPolicy, PreferMXNetPolicy
from minpy.ops import operator as dispatcher

HAVE_MXNET = importlib.util.find_spec("mxnet") is not None
mxnet_only = pytest.mark.skipif(not HAVE_MXNET, reason="MXNet is not installed in this environment (the numpy2 "
                                                       "env runs without it)")


def test_auto_measurements_are_bounded_in_memory_and_on_disk(tmp_path, monkeypatch):
    monkeypatch.setattr(auto, "MAX_ENTRIES", 50)
    path = tmp_path / "auto.json"
    model = auto.CostModel(str(path))
    for i in range(200):
        model.put(f"nn.conv|<f4|({i}, 3)", {"numpy": 1.0, "mxnet": 2.0})
    assert len(model.entries) == 50
    assert "nn.conv|<f4|(199, 3)" in model.entries and "nn.conv|<f4|(0, 3)" not in model.entries
    model.save()
    other = auto.CostModel(str(path))  # another process measured other shapes meanwhile
    for i in range(1000, 1030):
        other.put(f"nn.conv|<f4|({i}, 3)", {"numpy": 1.0})
    other.save()
    on_disk = json.loads(path.read_text())["entries"]
    assert len(on_disk) == 50
    assert "nn.conv|<f4|(1029, 3)" in on_disk  # the newest are kept
    assert len(auto.CostModel(str(path)).entries) == 50


def test_auto_choose_decisions_are_bounded():
    policy = AutoPolicy(cost_model=auto.CostModel(None))
    policy.max_decisions = 20
    for i in range(100):
        assert auto.choose(policy, f"layer|{i}", {"numpy": lambda: 1, "mxnet": lambda: 2}) in (1, 2)
    assert len(policy.decisions) <= 20


def test_dtype_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(dispatcher, "_CAST_CACHE_MAX", 8)
    dispatcher._cast_cache.clear()
    for dt in ("int8", "int16", "int32", "float16", "float32", "float64", "uint8", "bool"):
        for scalar in (1, 1.5, 300, -70000, True):
            dispatcher._cast_for_native(dispatcher.get_operator("add"), dispatcher._NUMPY,
                                        [np.ones(2, dtype=dt), scalar], None)
    assert len(dispatcher._cast_cache) <= 8


def test_fallback_reasons_per_operator_are_bounded():
    stats.reset_op_stat()
    config.set_fallback_action("none")
    try:
        for i in range(2000):
            stats.count_fallback("add", f"mxnet raised MXNetError: shape ({i}, 3) is not supported")
        reasons = stats.op_stats()["fallbacks"]["add"]
        assert len(reasons) <= stats._MAX_FALLBACK_REASONS + 1
        assert sum(reasons.values()) == 2000  # every fallback still counted
    finally:
        config.set_fallback_action("log")
        stats.reset_op_stat()


@mxnet_only
def test_layer_functions_are_bounded(monkeypatch):
    from minpy.nn import layers

    monkeypatch.setattr(layers, "MAX_FUNCTIONS", 3)
    layers._FUNCTIONS.clear()
    w, b = np.ones((2, 1, 3, 3)), np.zeros(2)
    with PreferMXNetPolicy():
        for n in range(1, 7):  # a new batch size each time: a new Function
            layers.conv(np.ones((n, 1, 5, 5)), w, b, pad=1)
    assert len(layers._FUNCTIONS) == 3
    newest = list(layers._FUNCTIONS)
    with PreferMXNetPolicy():
        layers.conv(np.ones((6, 1, 5, 5)), w, b, pad=1)  # the most recent one is still cached
    assert list(layers._FUNCTIONS) == newest


@mxnet_only
def test_symbol_executor_pools_are_bounded():
    import mxnet as mx
    from minpy.symbol import Function

    fc = Function(mx.sym.FullyConnected(mx.sym.Variable("x"), name="fc", num_hidden=2), {"x": (4, 3)})
    fc.max_signatures = 3
    w, b = np.ones((2, 3)), np.zeros(2)
    for n in range(1, 10):
        fc(x=np.ones((n, 3)), fc_weight=w, fc_bias=b)
    assert len(fc._free) == 3
    # many overlapping calls of one signature: idle executors kept are bounded too
    results = [grad(lambda x: np.sum(fc(x=x, fc_weight=w, fc_bias=b)) * k)(np.ones((2, 3))) for k in range(2)]
    held = [fc._run({"x": np.ones((2, 3)), "fc_weight": w, "fc_bias": b})[0] for _ in range(8)]
    for bound in held:
        fc._release(bound)
    assert all(len(pool) <= fc.max_free_per_signature for pool in fc._free.values())
    assert results[1].shape == (2, 3)


def test_views_of_traced_arrays_are_bounded():
    """Views taken of a traced array in a loop and dropped do not pile up in its family."""
    def f(x):
        kept = x[0]  # a view that lives on keeps the family (the root holds it weakly)
        for i in range(300):
            row = x[i % 3]  # a view (x is 2-d)
            row += 0.0
            del row
        gc.collect()
        family = x._family[0]()
        assert family is not None and len(family.members) <= 32
        return np.sum(x * x) + 0.0 * np.sum(kept)

    numpy.testing.assert_allclose(grad(f)(np.ones((3, 2))).asnumpy(), numpy.full((3, 2), 2.0))
