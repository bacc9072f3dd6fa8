"""minpy.jit: replays equal eager runs (bit for bit on NumPy), guards, writes, captures, threads, errors."""
import threading
import warnings

import numpy
import pytest

import minpy.numpy as np
from minpy import extend
from minpy.array import Array
from minpy.autograd import grad, grad_and_loss, value_and_grad
from minpy.dispatch.policy import OnlyNumPyPolicy, resolve_policy
from minpy.jit import JitWarning, clear, jit, stats


def same(a, b):
    """Bit-for-bit equality of (trees of) results."""
    if isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            same(x, y)
        return
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            same(a[k], b[k])
        return
    if isinstance(a, Array):
        assert isinstance(b, Array)
        x, y = a.asnumpy(), b.asnumpy()
        assert x.shape == y.shape and x.dtype == y.dtype
        assert x.tobytes() == y.tobytes(), (x, y)
        return
    assert a == b


def numpy_policy(name):
    return name in ("only_numpy", "auto")


def foo(x):
    if x >= 0:
        return x
    else:
        return 2 * x


@pytest.mark.parametrize("order", [(3.0, -1.0), (-1.0, 3.0)])
def test_the_seed_example_in_either_order(order, policy):
    g = jit(grad(foo), engine="replay")
    expected = {3.0: 1.0, -1.0: 2.0}
    for _ in range(3):
        for v in order:
            assert float(g(np.array(v))) == expected[v]
    (sig,) = g.stats()["signatures"]
    assert sig["paths"] == 2 and sig["traces"] == 2 and sig["misses"] == 1 and sig["replays"] == 4
    assert sig["engine"] == "replay"


def _small(b):
    return lambda a: np.sum(np.tanh(np.dot(a, b) + a))


def test_small_gradient_replays_bit_for_bit(policy):
    rng = numpy.random.default_rng(0)
    b = np.array(rng.standard_normal((4, 4)))
    g = jit(grad(_small(b)), engine="replay")  # (engine="auto" may choose MXNet graphs: see test_mxgraph.py)
    for _ in range(3):
        a = np.array(rng.standard_normal((4, 4)))
        expected = grad(_small(b))(a)
        got = g(a)
        if numpy_policy(policy):
            same(got, expected)
        else:
            numpy.testing.assert_allclose(got.asnumpy(), expected.asnumpy(), rtol=1e-6)
    assert extend.interceptors() == [] and extend.readers() == []
    (sig,) = g.stats()["signatures"]
    assert sig["replays"] == 2 and sig["eager"] is None
    assert sig["engine"] == "replay"


def _two_layer_loss(w1, b1, w2, b2, x, onehot):
    h = np.maximum(np.dot(x, w1) + b1, 0)
    s = np.dot(h, w2) + b2
    s = s - np.max(s, axis=1, keepdims=True)
    logp = s - np.log(np.sum(np.exp(s), axis=1, keepdims=True))
    return -np.sum(logp * onehot) / x.shape[0]


def _step(params, x, onehot):
    grads, loss = grad_and_loss(_two_layer_loss, argnum=(0, 1, 2, 3))(*params, x, onehot)
    for p, g in zip(params, grads):
        p -= 0.1 * g
    return loss


def test_training_step_with_inplace_updates_matches_eager():
    rng = numpy.random.default_rng(1)
    init = [rng.standard_normal((8, 5)) * 0.3, numpy.zeros(5), rng.standard_normal((5, 3)) * 0.3, numpy.zeros(3)]
    x = np.array(rng.standard_normal((6, 8)))
    onehot = np.array(numpy.eye(3)[rng.integers(0, 3, 6)])
    eager = [np.array(p) for p in init]
    jitted = [np.array(p) for p in init]
    step = jit(_step, engine="replay")
    for _ in range(5):
        versions = [p.version for p in jitted]
        same(step(jitted, x, onehot), _step(eager, x, onehot))
        assert all(p.version > v for p, v in zip(jitted, versions))  # writes bump the counters, as eagerly
    same(jitted, eager)
    assert step.stats()["signatures"][0]["replays"] == 4


def test_inplace_updates_compute_into_the_arrays():
    # `p -= 0.1 * g` is recorded as a subtraction and a write-back; the compiled replay subtracts into p
    rng = numpy.random.default_rng(7)
    init = [rng.standard_normal((8, 5)), numpy.zeros(5), rng.standard_normal((5, 3)), numpy.zeros(3)]
    x = np.array(rng.standard_normal((6, 8)))
    onehot = np.array(numpy.eye(3)[rng.integers(0, 3, 6)])
    with resolve_policy("only_numpy"):
        eager = [np.array(p) for p in init]
        jitted = [np.array(p) for p in init]
        step = jit(_step, engine="replay")
        buffers = [p._data for p in jitted]
        for _ in range(4):
            same(step(jitted, x, onehot), _step(eager, x, onehot))
        same(jitted, eager)
        assert all(p._data is b for p, b in zip(jitted, buffers))  # the same buffers, written in place
        (entry,) = step._entries.values()
        assert entry.compiled.mode == "compiled" and entry.compiled.source.count(", out=s") == 4


def test_guard_miss_after_a_write_does_not_apply_it_twice():
    def f(x, w):
        w += 1.0
        if np.sum(x) > 0:
            return w * 2.0
        return w * 3.0

    g = jit(f)
    w_eager, w_jit = np.zeros(3), np.zeros(3)
    for v in [1.0, 1.0, -1.0, -1.0, 1.0, -1.0]:
        x = np.full(3, v)
        same(g(x, w_jit), f(x, w_eager))
        same(w_jit, w_eager)
    assert g.stats()["signatures"][0]["paths"] == 2


def test_several_paths_and_the_cache_bound():
    def f(x):
        n = int(np.sum(x > 0))
        out = x
        for _ in range(n):
            out = out * 2.0
        return out

    g = jit(f, max_paths=2)
    for values in ([1.0, -1.0, -1.0], [1.0, 1.0, -1.0], [1.0, 1.0, 1.0], [-1.0, 1.0, -2.0], [5.0, 5.0, 5.0]):
        x = np.array(values)
        same(g(x), f(x))
    (sig,) = g.stats()["signatures"]
    assert sig["paths"] == 2 and sig["eager_calls"] >= 1


def test_closure_arrays_are_read_live_and_rebinding_retraces():
    w = np.ones(3)

    def f(x):
        return x * w

    g = jit(f)
    x = np.array([1.0, 2.0, 3.0])
    same(g(x), f(x))
    w[1] = 10.0  # an in-place write between calls is seen
    same(g(x), x * np.array([1.0, 10.0, 1.0]))
    assert g.stats()["signatures"][0]["replays"] == 1


W_GLOBAL = np.ones(2)


def test_a_rebound_global_is_seen():
    global W_GLOBAL

    def f(x):
        return x + W_GLOBAL

    g = jit(f)
    x = np.zeros(2)
    same(g(x), np.ones(2))
    same(g(x), np.ones(2))
    W_GLOBAL = np.full(2, 7.0)
    same(g(x), np.full(2, 7.0))
    assert g.stats()["signatures"][0]["traces"] == 2


def test_random_operators_draw_fresh_numbers():
    g = jit(lambda x: x + np.random.normal(size=(100,)))
    x = np.zeros(100)
    a, b, c = g(x), g(x), g(x)
    assert not numpy.array_equal(a.asnumpy(), b.asnumpy()) and not numpy.array_equal(b.asnumpy(), c.asnumpy())
    np.random.seed(3)
    d = g(x)
    np.random.seed(3)
    e = x + np.random.normal(size=(100,))
    same(d, e)  # replays use NumPy's global generator as eager calls do


def test_inplace_writes_inside_the_function_are_replayed():
    def f(x, out):
        y = x * 2.0
        y[0] = 100.0
        out[1:] = y[:2]
        np.copyto(out[:1], y[2:3])
        out *= 2.0
        return y

    g = jit(f)
    for k in range(3):
        x = np.array([1.0, 2.0, 3.0]) + k
        o1, o2 = np.zeros(3), np.zeros(3)
        same(g(x, o1), f(x, o2))
        same(o1, o2)


def test_values_that_leave_minpy_and_come_back_are_guarded():
    def f(x):
        host = x.asnumpy() * 2.0  # NumPy code on the value read
        return np.array(host) + x

    g = jit(f)
    for v in ([1.0, 2.0], [1.0, 2.0], [3.0, 4.0]):
        x = np.array(v)
        same(g(x), f(x))
    (sig,) = g.stats()["signatures"]
    assert sig["paths"] == 2 and sig["replays"] == 1


def test_results_that_are_inputs_or_views_keep_identity():
    def f(x):
        return x, x[1:], x * 1.0

    g = jit(f)
    x = np.arange(4.0)
    g(x)
    a, v, c = g(x)
    assert a is x and v.base is x
    v[0] = 9.0
    assert float(x[1]) == 9.0


def test_errors_surface_as_eager_ones():
    g = jit(lambda a, b: a + b)
    with pytest.raises(ValueError) as eager:
        np.ones(3) + np.ones(4)
    with pytest.raises(ValueError) as jitted:
        g(np.ones(3), np.ones(4))
    assert type(eager.value) is type(jitted.value)
    inv = jit(lambda a: np.linalg.inv(a) * 1.0)
    with OnlyNumPyPolicy():  # (MXNet's inv reports a singular matrix asynchronously, eagerly too)
        inv(np.eye(2))
        inv(np.eye(2))
        with pytest.raises(numpy.linalg.LinAlgError, match="linalg.inv"):
            inv(np.zeros((2, 2)))  # raised while replaying


def test_policy_and_context_changes_and_clear_retrace():
    g = jit(lambda x: x * 2.0)
    x = np.ones(2)
    g(x)
    g(x)
    with OnlyNumPyPolicy():
        g(x)
    assert len(g.stats()["signatures"]) == 2
    clear()
    g(x)
    assert sum(s["traces"] for s in g.stats()["signatures"]) == 1
    assert any(s["function"].endswith("<lambda>") for s in stats())


def test_traces_survive_switching_the_default_policy_back_and_forth():
    from minpy.dispatch.policy import current_policy, set_global_policy

    g = jit(lambda x: x * 2.0, engine="replay")
    x = np.ones(2)
    before, numpy_only = current_policy(), OnlyNumPyPolicy()
    try:
        for _ in range(3):
            set_global_policy(numpy_only)
            same(g(x), np.full(2, 2.0))
            set_global_policy(before)
            same(g(x), np.full(2, 2.0))
    finally:
        set_global_policy(before)
    assert sum(s["traces"] for s in g.stats()["signatures"]) <= 2  # one per policy, none after switching back


def test_python_scalars_are_static_and_structures_are_part_of_the_signature():
    g = jit(lambda d, k: d["a"] * k + d["b"][0])
    d = {"a": np.ones(2), "b": [np.ones(2)]}
    same(g(d, 2.0), np.full(2, 3.0))
    same(g(d, 3.0), np.full(2, 4.0))
    same(g(d, 3.0), np.full(2, 4.0))
    assert len(g.stats()["signatures"]) == 2


def test_numpy_arguments_are_wrapped():
    g = jit(lambda a: a * 2.0)
    same(g(numpy.ones(2)), np.full(2, 2.0))
    same(g(numpy.ones(2)), np.full(2, 2.0))


def test_grad_of_jit_and_jit_inside_jit():
    f = jit(lambda x: np.sum(np.sin(x) * x))
    x = np.array([0.3, 0.7])
    same(grad(f)(x), grad(lambda v: np.sum(np.sin(v) * v))(x))
    outer = jit(lambda v: f(v) * 2.0)
    same(outer(x), f(x) * 2.0)
    same(outer(x), f(x) * 2.0)
    value, gr = jit(value_and_grad(lambda v: np.sum(v * v)))(x)
    same(gr, 2.0 * x)


def test_untraceable_arrays_run_eagerly_with_a_warning():
    def f(x):
        made = Array(numpy.ones(2) * float(np.sum(x) > 100))  # an Array made outside minpy's operators
        return x + made

    g = jit(f)
    with pytest.warns(JitWarning, match="test_jit.py"):
        same(g(np.ones(2)), np.ones(2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same(g(np.full(2, 200.0)), np.full(2, 201.0))
    assert g.stats()["signatures"][0]["eager"]


def test_threads_trace_and_replay_at_once():
    g = jit(grad(foo), engine="replay")
    h = jit(_small(np.ones((3, 3))), engine="replay")
    errors = []
    barrier = threading.Barrier(4)

    def work(sign, policy):
        try:
            with resolve_policy(policy):
                barrier.wait()
                for i in range(20):
                    v = sign * (i + 1.0)
                    assert float(g(np.array(v))) == (1.0 if v >= 0 else 2.0)
                    a = np.full((3, 3), v / 10)
                    assert float(h(a)) == float(_small(np.ones((3, 3)))(a))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s, p)) for s in (1.0, -1.0) for p in ("only_numpy", "auto")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert extend.interceptors() == []


# -- random programs from the operator table ----------------------------------------------------------------------------
from hypothesis import given, strategies as st  # noqa: E402

from minpy.ops import all_operators  # noqa: E402
from minpy.ops.table import TEST_HINTS  # noqa: E402


def _table_ufuncs(nin):
    """Differentiable elementwise operators of the table taking ``nin`` arrays, whose inputs may be any real
    (no domain hint): their gradients are defined everywhere the property tests look."""
    ops = all_operators()
    names = []
    for name, op in sorted(ops.items()):
        ref = op.ref
        if op.kind != "ufunc" or not op.differentiable or getattr(ref, "nin", 0) != nin or ref.nout != 1:
            continue
        if name != ref.__name__ or TEST_HINTS.get(name, {}).get("domain") or name in ("power", "float_power",
                                                                                    "fmod", "remainder", "mod"):
            continue
        names.append(name)
    return names


UNARY = _table_ufuncs(1)
BINARY = _table_ufuncs(2)


@st.composite
def programs(draw):
    """A list of steps: (unary name), (binary name, operand index), ("branch", unary name, unary name): an ``if``
    on the sign of the sum of the current value, each side a different operator."""
    steps = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["unary", "binary", "branch", "reduce"]))
        if kind == "unary":
            steps.append(("unary", draw(st.sampled_from(UNARY))))
        elif kind == "binary":
            steps.append(("binary", draw(st.sampled_from(BINARY)), draw(st.integers(0, 1))))
        elif kind == "branch":
            steps.append(("branch", draw(st.sampled_from(UNARY)), draw(st.sampled_from(UNARY))))
        else:
            steps.append(("reduce", draw(st.sampled_from(["sum", "mean", "max"]))))
    return steps


def _build(steps):
    def f(x, y):
        value = x
        for step in steps:
            if step[0] == "unary":
                value = getattr(np, step[1])(value)
            elif step[0] == "binary":
                other = (x, y)[step[2]]
                value = getattr(np, step[1])(value, other) + 0.5 * other
            elif step[0] == "branch":
                value = getattr(np, step[1] if np.sum(value) > 0 else step[2])(value)
            else:
                value = getattr(np, step[1])(value, axis=0, keepdims=True) * y
        return np.sum(value * x)
    return f


def _same_or_nan(a, b):
    x, y = a.asnumpy(), b.asnumpy()
    assert x.shape == y.shape and x.dtype == y.dtype
    # bit for bit, but for the sign of NaN (NumPy's SIMD and scalar loops, picked by alignment, differ there)
    real = ~numpy.isnan(x)
    assert numpy.array_equal(x, y, equal_nan=True) and numpy.array_equal(numpy.signbit(x)[real], numpy.signbit(y)[real])


@given(steps=programs(), seeds=st.lists(st.integers(0, 2**16), min_size=3, max_size=3),
       policy=st.sampled_from(["only_numpy", "auto"]))
def test_random_programs_replay_as_eager(steps, seeds, policy):
    f = _build(steps)
    with resolve_policy(policy), numpy.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        jf, jg = jit(f, engine="replay"), jit(grad(f, argnum=(0, 1)), engine="replay")
        for seed in seeds:  # fresh inputs of one signature: replays, misses on new branches, retraces
            rng = numpy.random.default_rng(seed)
            x, y = np.array(rng.standard_normal((3, 2))), np.array(rng.standard_normal((3, 2)))
            _same_or_nan(jf(x, y), f(x, y))
            for a, b in zip(jg(x, y), grad(f, argnum=(0, 1))(x, y)):
                _same_or_nan(a, b)


# -- the Solver's jit=True ------------------------------------------------------------------------------------------------
from minpy.nn import layers  # noqa: E402
from minpy.nn.io import NDArrayIter  # noqa: E402
from minpy.nn.model import ModelBase  # noqa: E402
from minpy.nn.solver import Solver  # noqa: E402


class _Net(ModelBase):
    def __init__(self, batchnorm=False):
        super().__init__()
        self.batchnorm = batchnorm
        self.add_param("w1", (12, 16)).add_param("b1", (16,), init_rule="constant")
        self.add_param("w2", (16, 4)).add_param("b2", (4,), init_rule="constant")
        if batchnorm:
            self.add_param("gamma", (16,), init_rule="constant", init_config={"value": 1.0})
            self.add_param("beta", (16,), init_rule="constant")
            self.add_aux_param("running_mean", np.zeros(16)).add_aux_param("running_var", np.ones(16))

    def forward(self, X, mode):
        h = layers.affine(X, self.params["w1"], self.params["b1"])
        if self.batchnorm:
            h, self.aux_params["running_mean"], self.aux_params["running_var"] = layers.batchnorm(
                h, self.params["gamma"], self.params["beta"], mode=mode,
                running_mean=self.aux_params["running_mean"], running_var=self.aux_params["running_var"])
        h = layers.relu(h)
        return layers.affine(h, self.params["w2"], self.params["b2"])

    def loss(self, predict, y):
        return layers.softmax_loss(predict, y)


@pytest.mark.parametrize("rule,batchnorm,engine,atol", [
    ("sgd_momentum", False, "replay", 1e-12), ("adam", False, "replay", 1e-12), ("sgd_momentum", True, "replay", 1e-12),
    ("adam", True, "replay", 1e-12), ("adam", True, True, 1e-9),
    pytest.param("sgd_momentum", True, "mxnet", 1e-9, marks=pytest.mark.mxnet)])
def test_solver_jit_trains_to_the_same_weights(rule, batchnorm, engine, atol):
    rng = numpy.random.RandomState(0)
    x, y = rng.randn(45, 12), rng.randint(0, 4, 45)  # 45 = two batches of 20 and a padded one
    results = []
    for use_jit in (False, True):
        numpy.random.seed(0)
        np.random.seed(0)
        model = _Net(batchnorm)
        solver = Solver(model, NDArrayIter(x, y, batch_size=20, shuffle=True, seed=0), NDArrayIter(x, y, batch_size=20),
                        update_rule=rule, optim_config={"learning_rate": 1e-2}, lr_decay=0.9, num_epochs=3,
                        verbose=False, jit=engine if use_jit else False)
        solver.init()
        solver.train()
        results.append((model.params, model.aux_params, solver.loss_history))
    (p0, a0, l0), (p1, a1, l1) = results
    for k in p0:
        numpy.testing.assert_allclose(p1[k].asnumpy(), p0[k].asnumpy(), rtol=0, atol=atol)
    for k in a0:
        numpy.testing.assert_allclose(numpy.asarray(a1[k].asnumpy()), numpy.asarray(a0[k].asnumpy()), rtol=0, atol=atol)
    numpy.testing.assert_allclose(l1, l0, rtol=0, atol=atol)
