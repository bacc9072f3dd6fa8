"""minpy.jit's mxnet engine: programs as MXNet symbol graphs give eager's results (within float tolerance),
guards split graphs, writes and random draws stay right, ineligible programs say why; engine="auto" measures."""
import re
import threading
import warnings

import numpy
import pytest
from hypothesis import given, strategies as st

import minpy.numpy as np
from minpy.autograd import grad
from minpy.backends import mxnet_backend
from minpy.dispatch.policy import resolve_policy
from minpy.jit import JitWarning, jit
from minpy.nn import layers
from minpy.ops import all_operators

from test_jit import BINARY, UNARY, _build, _small, _step, foo, programs

mxnet = pytest.mark.mxnet


def close(a, b, rtol=1e-10, atol=1e-12):
    if isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            close(x, y, rtol, atol)
        return
    x, y = numpy.asarray(a.asnumpy()), numpy.asarray(b.asnumpy())
    assert x.shape == y.shape and x.dtype == y.dtype, (x.shape, y.shape, x.dtype, y.dtype)
    numpy.testing.assert_allclose(x, y, rtol=rtol, atol=atol, equal_nan=True)


def signature(f):
    (sig,) = f.stats()["signatures"]
    return sig


@mxnet
@pytest.mark.parametrize("policy", ["auto", "only_numpy"])
def test_guards_split_graphs_in_either_order(policy):
    with resolve_policy(policy):
        g = jit(grad(foo), engine="mxnet")
        for _ in range(3):
            for v, want in ((-1.0, 2.0), (3.0, 1.0)):
                assert float(g(np.array(v))) == want
        sig = signature(g)
        assert sig["engine"] == "mxnet" and sig["mode"] == "graphs" and sig["paths"] == 2
        assert sig["graphs"] == 3  # the comparison, then each branch's gradient
        assert sig["replays"] == 4 and sig["misses"] == 1


@mxnet
def test_small_gradient_as_one_graph(policy):
    rng = numpy.random.default_rng(0)
    b = np.array(rng.standard_normal((4, 4)))
    g = jit(grad(_small(b)), engine="mxnet")
    for _ in range(3):
        a = np.array(rng.standard_normal((4, 4)))
        close(g(a), grad(_small(b))(a))
    sig = signature(g)
    assert sig["engine"] == "mxnet" and sig["graphs"] == 1 and sig["mxnet"] is None


@mxnet
@pytest.mark.parametrize("policy", ["auto", "prefer_mxnet", "only_numpy"])
def test_training_step_writes_back_into_the_parameters(policy):
    # under prefer_mxnet the trace takes transposes of the weights on MXNet (views of them that the writes
    # refresh): the graphs still write the parameters once per call
    with resolve_policy(policy):
        rng = numpy.random.default_rng(1)
        init = [rng.standard_normal((8, 5)) * 0.3, numpy.zeros(5), rng.standard_normal((5, 3)) * 0.3,
                numpy.zeros(3)]
        x = np.array(rng.standard_normal((6, 8)))
        onehot = np.array(numpy.eye(3)[rng.integers(0, 3, 6)])
        eager = [np.array(p) for p in init]
        jitted = [np.array(p) for p in init]
        homes = [p.backend for p in jitted]
        step = jit(_step, engine="mxnet")
        for _ in range(5):
            versions = [p.version for p in jitted]
            close(step(jitted, x, onehot), _step(eager, x, onehot))
            assert all(p.version > v for p, v in zip(jitted, versions))
            assert [p.backend for p in jitted] == homes  # written in place: the arrays stay where they were
        close(jitted, eager)
        assert signature(step)["replays"] == 4 and signature(step)["engine"] == "mxnet"


@mxnet
def test_a_write_the_graph_cannot_make_leaves_the_arguments_unwritten_for_the_replay():
    # The second write goes into a view (NumPy's slice of another array), which the graph cannot write: the call
    # goes to the replay engine, which must find the first argument as it was given (written once, not twice).
    def step(a, b):
        a -= 1.0
        b -= 2.0
        return np.sum(a) + np.sum(b)

    base = np.array(numpy.arange(12.0).reshape(3, 4))
    a, b = np.array(numpy.ones(4)), base[1]
    ea, ebase = np.array(numpy.ones(4)), np.array(numpy.arange(12.0).reshape(3, 4))
    eb = ebase[1]
    f = jit(step, engine="mxnet")
    for _ in range(3):
        close(f(a, b), step(ea, eb))
        close(a, ea)
        close(base, ebase)
    assert signature(f)["fallbacks"] == 2  # the two replays went to the replay engine


@mxnet
def test_lstm_gradient_with_writes_into_parts_of_intermediates():
    rng = numpy.random.default_rng(2)
    args = [np.array(rng.standard_normal(s)) for s in [(3, 4, 5), (3, 6), (5, 24), (6, 24), (24,)]]
    f = grad(lambda *a: np.sum(layers.lstm_temporal(*a)), argnum=(0, 1, 2, 3, 4))
    g = jit(f, engine="mxnet")
    for _ in range(2):
        close(g(*args), f(*args), rtol=1e-9)
    assert signature(g)["engine"] == "mxnet"


@mxnet
def test_random_draws_come_from_numpys_generator_between_graphs():
    g = jit(lambda x: np.tanh(x) * np.random.normal(size=(50,)) + x, engine="mxnet")
    x = np.linspace(-1.0, 1.0, 50)
    g(x)
    a, b = g(x), g(x)
    assert not numpy.array_equal(a.asnumpy(), b.asnumpy())
    np.random.seed(5)
    got = g(x)
    np.random.seed(5)
    close(got, np.tanh(x) * np.random.normal(size=(50,)) + x)
    assert signature(g)["engine"] == "mxnet"


@mxnet
def test_a_guard_miss_undoes_the_writes_back():
    def f(x, w):
        w += 1.0
        if np.sum(x) > 0:
            return w * 2.0
        return w * 3.0

    g = jit(f, engine="mxnet")
    w_eager, w_jit = np.zeros(3), np.zeros(3)
    for v in [1.0, 1.0, -1.0, -1.0, 1.0, -1.0]:
        x = np.full(3, v)
        close(g(x, w_jit), f(x, w_eager))
        close(w_jit, w_eager)
    sig = signature(g)
    assert sig["paths"] == 2 and sig["engine"] == "mxnet"


@mxnet
def test_closure_arrays_are_read_live():
    w = np.ones(3)
    g = jit(lambda x: x * w + 1.0, engine="mxnet")
    x = np.array([1.0, 2.0, 3.0])
    g(x)
    w[1] = 10.0
    close(g(x), np.array([2.0, 21.0, 4.0]))
    assert signature(g)["engine"] == "mxnet"


def _ineligible(f, make, match):
    g = jit(f, engine="mxnet")
    with pytest.warns(JitWarning, match=match):
        first = g(*make())
    close(first, f(*make()))
    close(g(*make()), f(*make()))
    sig = signature(g)
    assert sig["engine"] == "replay" and match in sig["mxnet"]


@mxnet
def test_ineligible_programs_run_on_replay_and_say_why():
    def x():
        return (np.array([3.0, -4.5, 7.0]),)
    # an operator MXNet does not implement (the operator table has no MXNet entry for it)
    _ineligible(lambda a: np.floor_divide(a, 2.0) + 1.0, x, "floor_divide")
    # a view read after a write into what it views (a graph has no aliasing)
    def view_then_write(a):
        v = a[1:]
        a *= 2.0
        return v + 0.0
    _ineligible(view_then_write, x, "view")
    # an operator whose result is a Python value
    _ineligible(lambda a: a * 2.0 if np.allclose(a, 0.0) else a + 1.0, x, "Python value")


def test_engine_mxnet_without_mxnet_falls_back_with_a_warning(have_mxnet):
    if have_mxnet:
        pytest.skip("MXNet is installed here; the fallback is for environments without it")
    g = jit(lambda a: a * 2.0, engine="mxnet")
    with pytest.warns(JitWarning, match="MXNet"):
        g(np.ones(2))
    assert float(np.sum(g(np.ones(2)))) == 4.0
    assert signature(g)["engine"] == "replay"


def test_unknown_engine_is_an_error():
    with pytest.raises(ValueError, match="xla"):
        jit(lambda a: a, engine="xla")


@mxnet
def test_auto_measures_the_engines_and_keeps_the_faster():
    rng = numpy.random.default_rng(3)
    assert mxnet_backend.available()  # MXNet loaded: engine="auto" considers the mxnet engine
    with resolve_policy("only_numpy"):  # the data stays on NumPy: the replay engine runs generated code
        small = jit(lambda a: a * 2.0 + 1.0)
        big = jit(lambda a, b: np.sum(np.tanh(np.dot(np.dot(a, b), b)) * a))
        a, b = np.array(rng.standard_normal((300, 300))), np.array(rng.standard_normal((300, 300)))
        tiny = np.arange(4.0)
        # the trace, then three timed calls per engine
        for _ in range(8):
            close(small(tiny), tiny * 2.0 + 1.0)
            close(big(a, b), np.sum(np.tanh(np.dot(np.dot(a, b), b)) * a), rtol=1e-9)
        s = signature(small)
        assert s["engine"] == "replay" and (s["mxnet"] or "").startswith("not tried"), s
        s = signature(big)
        assert s["engine"] in ("replay", "mxnet") and set(s["timings_us"]) == {"replay", "mxnet"}
        faster = min(s["timings_us"], key=s["timings_us"].get)
        assert s["engine"] == faster


@mxnet
def test_threads_run_one_program_at_once():
    g = jit(grad(foo), engine="mxnet")
    h = jit(_small(np.ones((3, 3))), engine="mxnet")
    errors = []
    barrier = threading.Barrier(3)

    def work(sign):
        try:
            barrier.wait()
            for i in range(15):
                v = sign * (i + 1.0)
                assert float(g(np.array(v))) == (1.0 if v >= 0 else 2.0)
                a = np.full((3, 3), v / 10)
                assert abs(float(h(a)) - float(_small(np.ones((3, 3)))(a))) < 1e-9
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in (1.0, -1.0, 1.0)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


@mxnet
@given(steps=programs(), seeds=st.lists(st.integers(0, 2**16), min_size=2, max_size=2))
def test_random_programs_from_the_table_as_graphs(steps, seeds):
    """Random programs over the table's elementwise operators (with branches): the mxnet engine's results
    and gradients equal eager ones within float64 tolerance, or the program is ineligible because of one of
    its operators, named in stats()."""
    f = _build(steps)
    with numpy.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        jf, jg = jit(f, engine="mxnet"), jit(grad(f, argnum=(0, 1)), engine="mxnet")
        for seed in seeds:
            rng = numpy.random.default_rng(seed)
            x, y = np.array(rng.standard_normal((3, 2))), np.array(rng.standard_normal((3, 2)))
            for _ in range(2):  # the first call of a path traces; the second runs the graphs
                close(jf(x, y), f(x, y), rtol=1e-7, atol=1e-9)
                close(jg(x, y), grad(f, argnum=(0, 1))(x, y), rtol=1e-7, atol=1e-9)
    ops = all_operators()
    for jitted in (jf, jg):
        for sig in jitted.stats()["signatures"]:
            if sig["engine"] != "mxnet":  # ineligible: the reason names the operator that does not translate
                named = re.match(r"minpy\.numpy\.([\w.]+)\(", sig["mxnet"] or "")
                assert named and named.group(1) in ops, sig
    assert UNARY and BINARY


@mxnet
def test_programs_of_common_operators_all_translate():
    def f(x, y):
        z = np.tanh(np.dot(x, y.T)) * np.exp(-np.abs(x[:, :1])) + np.maximum(x[:, :1], 0.0)
        if np.sum(z) > 0:
            z = np.sqrt(z * z + 1.0) / np.mean(z, axis=0, keepdims=True)
        else:
            z = np.log1p(z * z) - np.max(z, axis=1, keepdims=True)
        return np.sum(z * np.sin(x[:, 1:2]))

    rng = numpy.random.default_rng(4)
    jf, jg = jit(f, engine="mxnet"), jit(grad(f, argnum=(0, 1)), engine="mxnet")
    for seed in range(4):
        x, y = np.array(rng.standard_normal((3, 2)) + seed - 2), np.array(rng.standard_normal((3, 2)))
        for _ in range(2):
            close(jf(x, y), f(x, y), rtol=1e-9)
            close(jg(x, y), grad(f, argnum=(0, 1))(x, y), rtol=1e-9)
    for jitted in (jf, jg):
        sig = signature(jitted)
        assert sig["engine"] == "mxnet" and sig["paths"] == 2, sig


# -- symbol Functions (MXNet's convolution) are recorded as opaque calls ------------------------------------------
def _conv_fwd_bwd(x, w, b, g):
    from minpy.autograd import vjp
    return vjp(lambda x2, w2, b2: layers.conv(x2, w2, b2, pad=1), x, w, b, argnum=(0, 1, 2))[1](g)


@mxnet
@pytest.mark.parametrize("engine", ["replay", "mxnet"])
def test_a_convolution_through_a_symbol_function_compiles(engine):
    rng = numpy.random.default_rng(6)
    with resolve_policy("prefer_mxnet"):  # layers.conv runs MXNet's Convolution through a symbol Function
        x = np.array(rng.standard_normal((2, 3, 6, 6)).astype("float32"))
        w = np.array((rng.standard_normal((4, 3, 3, 3)) * 0.1).astype("float32"))
        b = np.array(numpy.zeros(4, "float32"))
        g = np.array(rng.standard_normal((2, 4, 6, 6)).astype("float32"))
        with warnings.catch_warnings():
            warnings.simplefilter("error", JitWarning)  # no signature runs eagerly
            step = jit(_conv_fwd_bwd, engine=engine)
            for _ in range(4):
                close(step(x, w, b, g), _conv_fwd_bwd(x, w, b, g), rtol=1e-5, atol=1e-6)
            loss = lambda x_, w_, b_: np.sum(layers.relu(layers.conv(x_, w_, b_, pad=1)) * x_[:, :1])
            jg = jit(grad(loss, argnum=(0, 1, 2)), engine=engine)
            for k in range(3):
                x2 = x * (k + 1.0)
                close(jg(x2, w, b), grad(loss, argnum=(0, 1, 2))(x2, w, b), rtol=1e-5, atol=1e-6)
        for f in (step, jg):
            sig = signature(f)
            assert sig["engine"] == engine and sig["eager"] is None and sig["replays"] >= 2, sig
        assert signature(jg)["graphs"] in (None, 2)  # mxnet: the graphs around the opaque passes
        (fn,) = [f for f in layers._FUNCTIONS.values() if f.input_shapes.get("x") == (2, 3, 6, 6)]
        binds = fn.num_binds
        step(x, w, b, g)
        jg(x, w, b)
        assert fn.num_binds == binds  # replays reuse the Function's executors
        # the vjp's forward output is read by nothing in step's program: its pass hands out the executor's
        # buffer instead of a copy; jg reads the forward output (relu): copied
        program = _entry(step).mx if engine == "mxnet" else _entry(step).compiled
        assert len(program.unread) == 1
        for entry in jg._entries.values():
            assert not (entry.mx if engine == "mxnet" else entry.compiled).unread


def _entry(f):
    (entry,) = f._entries.values()
    return entry


def _conv_args(rng, n=2):
    x = np.array(rng.standard_normal((n, 3, 6, 6)).astype("float32"))
    w = np.array((rng.standard_normal((4, 3, 3, 3)) * 0.1).astype("float32"))
    b = np.array(rng.standard_normal(4).astype("float32"))
    g = np.array(rng.standard_normal((n, 4, 6, 6)).astype("float32"))
    return x, w, b, g


def _hosts(arrays):
    return [numpy.array(a.asnumpy()) for a in arrays]


@mxnet
@pytest.mark.parametrize("engine", ["replay", "mxnet"])
def test_replayed_symbol_passes_hand_out_arrays_of_their_own(engine):
    # a replay runs the Function's passes without an executor (MXNet's CachedOp and autograd): the gradients
    # are new arrays at every call, not buffers that the next call overwrites
    rng = numpy.random.default_rng(11)
    with resolve_policy("prefer_mxnet"):
        x, w, b, g = _conv_args(rng)
        step = jit(_conv_fwd_bwd, engine=engine)
        eager = _hosts(_conv_fwd_bwd(x, w, b, g))
        kept = [step(x, w, b, g) for _ in range(3)]  # the trace, then replays
        later = step(x, w, b, np.array(g.asnumpy() * 2.0))  # (on NumPy, as g: the same signature)
        for result in kept:
            for got, want in zip(_hosts(result), eager):
                numpy.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        dx, dw, db = _hosts(later)
        numpy.testing.assert_allclose(dx, 2 * eager[0], rtol=1e-5, atol=1e-6)
        numpy.testing.assert_allclose(dw, 2 * eager[1], rtol=1e-5, atol=1e-5)
        numpy.testing.assert_allclose(db, 2 * eager[2], rtol=1e-5, atol=1e-5)
        assert signature(step)["replays"] >= 3
        (fn,) = [f for f in layers._FUNCTIONS.values() if f.input_shapes.get("x") == (2, 3, 6, 6)]
        binds = fn.num_binds
        step(x, w, b, g)
        assert fn._cached_op is not None and fn.num_binds == binds  # replayed without an executor


@mxnet
def test_a_replayed_pass_goes_backward_twice():
    # one forward pass, two backward passes (a vjp's function called twice), then the pass's input, which
    # lives on MXNet, is written in place: each backward pass gives arrays of its own, and the write leaves the
    # gradients already given alone
    from minpy.autograd import vjp

    def f(x, w, b, g):
        xm = x * 1.0  # lives on MXNet under prefer_mxnet
        _, back = vjp(lambda x_, w_: layers.conv(x_, w_, b, pad=1), xm, w, argnum=(0, 1))
        first = back(g)
        second = back(g * 3.0)
        xm[...] = 0.0
        return first, second, xm

    rng = numpy.random.default_rng(12)
    with resolve_policy("prefer_mxnet"):
        x, w, b, g = _conv_args(rng)
        assert f(x, w, b, g)[2].backend == "mxnet"
        step = jit(f, engine="replay")
        for k in range(4):
            xk = np.array(x.asnumpy() * (1.0 + k))
            want = f(xk, w, b, g)
            got = step(xk, w, b, g)
            for a, e in zip(got[0] + got[1], want[0] + want[1]):
                numpy.testing.assert_allclose(a.asnumpy(), e.asnumpy(), rtol=1e-5, atol=1e-5)
            numpy.testing.assert_allclose(got[1][1].asnumpy(), 3 * got[0][1].asnumpy(), rtol=1e-5, atol=1e-5)
            assert float(numpy.abs(got[0][1].asnumpy()).max()) > 0  # the weight gradient saw x, not zeros
            assert not got[2].asnumpy().any()
        assert signature(step)["replays"] >= 2


@mxnet
def test_threads_replay_one_jitted_convolution_at_once():
    from test_threads import run_in_threads  # (tests/, on the path through its conftest)

    with resolve_policy("prefer_mxnet"):
        step = jit(_conv_fwd_bwd, engine="replay")
        rng = numpy.random.default_rng(13)
        inputs = [_conv_args(rng) for _ in range(2)]
        wanted = [_hosts(_conv_fwd_bwd(*a)) for a in inputs]

    def work(i):
        def body(barrier):
            with resolve_policy("prefer_mxnet"):
                barrier.wait()
                for _ in range(15):
                    for got, want in zip(_hosts(step(*inputs[i])), wanted[i]):
                        numpy.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        return body

    run_in_threads(work(0), work(1))
    assert sum(sig["replays"] for sig in step.stats()["signatures"]) >= 20


@mxnet
def test_auto_measures_the_trace_with_its_mxnet_calls_moved_to_numpy():
    # the policy sends dot to MXNet (as auto's measurements may): the traced program copies between the
    # backends at every call; engine="auto" also measures it with those calls on NumPy and keeps the faster
    from minpy.dispatch.auto import CostModel
    from minpy.dispatch.policy import AutoPolicy, OnlyNumPyPolicy
    rng = numpy.random.default_rng(4)
    init = [rng.standard_normal((8, 5)) * 0.3, numpy.zeros(5), rng.standard_normal((5, 3)) * 0.3, numpy.zeros(3)]
    x = np.array(rng.standard_normal((6, 8)))
    onehot = np.array(numpy.eye(3)[rng.integers(0, 3, 6)])
    with AutoPolicy(overrides={"dot": "mxnet"}, cost_model=CostModel(path=None)):
        eager = [np.array(p) for p in init]
        jitted = [np.array(p) for p in init]
        step = jit(_step)
        for _ in range(12):  # the trace, then three timed calls for each of up to three engines
            close(step(jitted, x, onehot), _step(eager, x, onehot))
            assert all(p.backend == "numpy" for p in jitted)
        close(jitted, eager)
        sig = signature(step)
        assert {"replay", "replay-numpy"} <= set(sig["timings_us"]), sig
        fastest = min(sig["timings_us"], key=sig["timings_us"].get)
        assert sig["engine"] == ("replay" if fastest.startswith("replay") else "mxnet")
        assert sig["moved_to_numpy"] == (_entry(step).moved if fastest == "replay-numpy" else 0) and \
            _entry(step).moved == 3  # the dots: two forward, one backward (the weight gradients are matmuls,
        # and x is not differentiated)
        assert sig["mode"] == ("compiled" if fastest == "replay-numpy" else
                               "arrays" if fastest == "replay" else "graphs")
        # the moved program is the program only_numpy traces: bit for bit its eager results
        g = jit(grad(_small(np.array(rng.standard_normal((4, 4))))))
        a = np.array(rng.standard_normal((4, 4)))
        g(a)
        entry = _entry(g)
        assert entry.compiled.mode == "arrays" and entry.rerouted.mode == "compiled" and entry.moved == 2
        got = entry.rerouted.run([a], (a,), {})
    with OnlyNumPyPolicy():
        want = g.fn(a)
    assert got.backend == "numpy"
    assert got.asnumpy().tobytes() == want.asnumpy().tobytes()


@mxnet
def test_no_reroute_for_arrays_that_come_in_on_mxnet():
    from minpy.dispatch.auto import CostModel
    from minpy.dispatch.policy import AutoPolicy
    with resolve_policy("prefer_mxnet"):
        a = np.array(numpy.arange(16.0).reshape(4, 4)) * 1.0
    assert a.backend == "mxnet"
    with AutoPolicy(overrides={"dot": "mxnet"}, cost_model=CostModel(path=None)):
        g = jit(lambda u: np.dot(u, u) + 1.0)
        for _ in range(6):
            close(g(a), np.dot(a, a) + 1.0)
        entry = _entry(g)
        assert entry.rerouted is None and signature(g)["reroute"] == "an array that comes in on mxnet"
        assert "replay-numpy" not in signature(g)["timings_us"]


@mxnet
def test_replay_with_arrays_skips_calls_nothing_reads():
    # (a trace made while the auto policy measured a layer on both backends holds both; one result is used)
    rng = numpy.random.default_rng(8)
    with resolve_policy("prefer_mxnet"):
        x = np.array(rng.standard_normal((5, 5)))

        def f(a):
            np.dot(a, a)  # read by nothing
            return np.tanh(a) * 2.0
        g = jit(f, engine="replay")
        for _ in range(3):
            close(g(x), f(x))
        program = _entry(g).compiled
        assert program.mode == "arrays" and len(program.dead) == 1
