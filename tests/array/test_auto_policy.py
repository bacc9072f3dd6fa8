"""The cost-aware ``auto`` policy: decisions from measured times and copy costs, overrides, the on-disk table,
measuring once, and NumPy's answers whatever it chooses."""
import json

import numpy
import pytest

import minpy
import minpy.numpy as np
from minpy import stats
from minpy.array import Array
from minpy.backends import get_backend
from minpy.dispatch import AutoPolicy
from minpy.dispatch import auto as auto_module
from minpy.dispatch.auto import CostModel

HAVE_MXNET = get_backend("mxnet").available()
needs_mxnet = pytest.mark.mxnet


@pytest.fixture(autouse=True)
def _clean_stats():
    stats.reset_op_stat()
    yield
    stats.reset_op_stat()


def ran_on(name):
    return sorted(stats.op_stats()["calls"].get(name, {}))


def model_with(times, copy=(0.0, 0.0)):
    """An in-memory model holding given compute times for 4x4 float64 operators (size class 5) and copy costs."""
    model = CostModel(path=None)
    for op_name, (t_numpy, t_mxnet) in times.items():
        model.put(f"{op_name}|<f8|5", {"numpy": t_numpy, "mxnet": t_mxnet})
    for pair in ("numpy>mxnet", "mxnet>numpy"):
        model.put(f"copy|{pair}", list(copy))
    return model


def host(shape=(4, 4), seed=0):
    return Array(numpy.random.default_rng(seed).standard_normal(shape))


def on_mxnet(value):
    backend = get_backend("mxnet")
    return Array(backend.from_numpy(numpy.asarray(value), minpy.context.cpu()), backend)


@needs_mxnet
def test_measured_faster_backend_runs_the_call():
    a, b = host(), host(seed=1)
    with AutoPolicy(cost_model=model_with({"add": (1e-6, 1e-3), "multiply": (1e-3, 1e-6)})):
        added = a + b
        multiplied = a * b
    assert ran_on("add") == ["numpy"] and added.backend == "numpy"
    assert ran_on("multiply") == ["mxnet"] and multiplied.backend == "mxnet"
    numpy.testing.assert_allclose(multiplied.asnumpy(), a.asnumpy() * b.asnumpy())
    assert not stats.op_stats()["fallbacks"], "choosing NumPy for speed is not a fallback"


@needs_mxnet
def test_copies_are_priced():
    """Data held by MXNet stays there when copying it to NumPy costs more than NumPy saves."""
    x = on_mxnet(numpy.ones((4, 4)))
    slow_copies = model_with({"add": (1e-5, 2e-5)}, copy=(1e-3, 0.0))
    with AutoPolicy(cost_model=slow_copies):
        assert (x + x).backend == "mxnet"
    free_copies = model_with({"add": (1e-5, 2e-5)}, copy=(0.0, 0.0))
    y = on_mxnet(numpy.ones((4, 4)))
    with AutoPolicy(cost_model=free_copies):
        assert (y + y).backend == "numpy"


@needs_mxnet
def test_overrides_win_over_measurements():
    a = host()
    policy = AutoPolicy(overrides={"add": "mxnet"}, cost_model=model_with({"add": (1e-6, 1.0)}))
    with policy:
        assert (a + a).backend == "mxnet"
        policy.override("add", None)
        assert (a + a).backend == "numpy"
        policy.override("add", "numpy")
        assert (on_mxnet(numpy.ones((4, 4))) + 1.0).backend == "numpy"


@needs_mxnet
def test_first_call_measures_once_and_keeps_the_table(tmp_path, monkeypatch):
    path = tmp_path / "auto.json"
    model = CostModel(path=str(path))
    measured = []
    real_measure = auto_module.measure_each

    def counting(candidates):
        measured.append(sorted(candidates))
        return real_measure(candidates)
    monkeypatch.setattr(auto_module, "measure_each", counting)
    a = host((8, 8))
    with AutoPolicy(cost_model=model):
        first = np.tanh(a)
        again = np.tanh(host((8, 8), seed=3))  # same operator, dtype and size class: decided, not measured
    assert measured == [["mxnet", "numpy"]], "one measurement, of both backends"
    numpy.testing.assert_allclose(first.asnumpy(), numpy.tanh(a.asnumpy()))
    numpy.testing.assert_allclose(again.asnumpy(), numpy.tanh(host((8, 8), seed=3).asnumpy()))
    entry = model.get("tanh|<f8|7")
    assert set(entry) == {"numpy", "mxnet"} and all(t > 0 for t in entry.values())
    model.save()
    saved = json.loads(path.read_text())
    assert saved["entries"]["tanh|<f8|7"] == entry
    assert saved["fingerprint"] == auto_module.fingerprint()
    # a new process (a new model on the same file) measures nothing
    measured.clear()
    with AutoPolicy(cost_model=CostModel(path=str(path))):
        np.tanh(a)
    assert not measured


def test_damaged_table_is_ignored(tmp_path, caplog):
    path = tmp_path / "auto.json"
    path.write_text("{not json")
    model = CostModel(path=str(path))
    assert model.entries == {}
    assert "ignoring the measurements" in caplog.text
    model.put("add|<f8|5", {"numpy": 1.0, "mxnet": 2.0})
    model.save()
    assert CostModel(path=str(path)).get("add|<f8|5") == {"numpy": 1.0, "mxnet": 2.0}
    model.clear()
    assert not path.exists() and CostModel(path=str(path)).entries == {}


DAMAGED = {
    "a list": "[1, 2]",
    "null": "null",
    "no entries": json.dumps({"format": 1, "entries": [1]}),
    "another format": json.dumps({"format": 99, "entries": {}}),
    "binary": b"\xff\xfe\x00garbage",
    "truncated": json.dumps({"format": 1, "entries": {"tanh|<f8|5": {"numpy": 1e-6, "mxnet": 2e-6}}})[:40],
}


@pytest.mark.parametrize("damage", sorted(DAMAGED))
def test_a_damaged_table_file_is_remeasured(tmp_path, caplog, damage):
    """Whatever is in the file, operators give NumPy's answers, the warning names the file (once), and the next
    save writes a sound table over it."""
    path = tmp_path / "auto.json"
    content = DAMAGED[damage]
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    model = CostModel(path=str(path))
    with AutoPolicy(cost_model=model):
        a = host((8, 8))
        out = np.tanh(a) + a
    numpy.testing.assert_allclose(out.asnumpy(), numpy.tanh(a.asnumpy()) + a.asnumpy())
    model.put("add|<f8|5", {"numpy": 1.0, "mxnet": 2.0})
    model.save()   # reads the file again (to merge): still said once
    assert caplog.text.count(f"ignoring the measurements in {path}") == 1, caplog.text
    assert json.loads(path.read_text())["entries"]["add|<f8|5"] == {"numpy": 1.0, "mxnet": 2.0}


def test_malformed_entries_are_dropped_and_the_rest_kept(tmp_path, caplog):
    """Entries of the wrong shape (a string, a negative or NaN time, a copy cost that is not a pair) would make
    the policy fail inside a user's call; they are remeasured, the sound ones kept."""
    path = tmp_path / "auto.json"
    entries = {"add|<f8|5": "fast", "dot|<f8|7": {"numpy": -1.0}, "exp|<f8|7": {"numpy": float("nan")},
               "copy|numpy>mxnet": [1e-6], "copy|mxnet>numpy": [1e-6, 1e-9], "tanh|<f8|7": {"numpy": 1e-6},
               "sum|<f8|7": {}}
    path.write_text(json.dumps({"format": 1, "entries": entries}))
    model = CostModel(path=str(path))
    assert model.entries == {"copy|mxnet>numpy": [1e-6, 1e-9], "tanh|<f8|7": {"numpy": 1e-6}}
    assert "5 malformed entries" in caplog.text and str(path) in caplog.text
    with AutoPolicy(cost_model=model):
        a = host((8, 8))
        numpy.testing.assert_allclose((np.exp(a) + a).asnumpy(), numpy.exp(a.asnumpy()) + a.asnumpy())


def test_cache_location(monkeypatch, tmp_path):
    monkeypatch.setenv("MINPY_AUTO_CACHE", "off")
    assert auto_module.default_path() is None
    monkeypatch.setenv("MINPY_AUTO_CACHE", str(tmp_path / "mine.json"))
    assert auto_module.default_path() == str(tmp_path / "mine.json")
    monkeypatch.delenv("MINPY_AUTO_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert auto_module.default_path() == str(tmp_path / "minpy" / f"auto-{auto_module.fingerprint()}.json")


def test_auto_by_name_and_without_mxnet_numbers():
    """``auto`` is a policy name; where MXNet is missing it runs NumPy and reports no fallback."""
    with minpy.dispatch.policy.resolve_policy("auto"):
        got = np.exp(np.arange(5.0)) + 1
    numpy.testing.assert_allclose(got.asnumpy(), numpy.exp(numpy.arange(5.0)) + 1)
    if not HAVE_MXNET:
        assert ran_on("exp") == ["numpy"] and not stats.op_stats()["fallbacks"]


@needs_mxnet
def test_creation_stays_on_the_host():
    with AutoPolicy(cost_model=CostModel(path=None)):
        assert np.ones((3, 3)).backend == "numpy"
        assert np.arange(10).backend == "numpy"


@needs_mxnet
def test_measured_call_gives_numpy_answers_for_bad_input():
    """The measuring call is the first call: NumPy's error for bad input, named, as under every policy."""
    with AutoPolicy(cost_model=CostModel(path=None)):
        with pytest.raises(ValueError, match="minpy.numpy.matmul"):
            np.matmul(host((3, 4)), host((3, 4)))


@needs_mxnet
def test_later_override_and_cleared_model_are_obeyed():
    """Decisions already taken (and the fast path's table) give way to an override made later, and a cleared
    model is measured afresh."""
    model = model_with({"add": (1e-6, 1.0)})
    policy = AutoPolicy(cost_model=model)
    a = host()
    with policy:
        assert (a + a).backend == "numpy"
        assert (a + a).backend == "numpy"  # now decided by the fast path's table
        policy.override("add", "mxnet")
        assert (a + a).backend == "mxnet"
        policy.override("add", None)
        assert (a + a).backend == "numpy"
        model.clear()
        model.put("add|<f8|5", {"numpy": 1.0, "mxnet": 1e-6})
        assert (a + a).backend == "mxnet"
