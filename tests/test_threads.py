"""Per-thread state: policy, context, interceptors and traces belong to the thread that set them.

Each test runs its threads in lockstep through a barrier at every round, with the interpreter switching threads
every microsecond, so that the calls really interleave (otherwise the GIL could run one thread's whole call
before the other's starts, and a race would go unseen).
"""
import contextlib
import importlib.util
import sys
import threading

import numpy
import pytest

import minpy
import minpy.numpy as np
from minpy import extend, routing
from minpy.autograd import grad
from minpy.context import cpu, current_context
from minpy.dispatch.policy import OnlyNumPyPolicy, PreferMXNetPolicy, current_policy, resolve_policy

ROUNDS = 200
HAVE_MXNET = importlib.util.find_spec("mxnet") is not None


def run_in_threads(*bodies):
    """Run each ``body(barrier)`` in its own thread; re-raise the first exception any of them raised."""
    barrier = threading.Barrier(len(bodies))
    errors = []

    def wrap(body):
        try:
            body(barrier)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=wrap, args=(b,)) for b in bodies]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
            assert not t.is_alive(), "a thread hung"
    finally:
        sys.setswitchinterval(interval)
    if errors:
        raise errors[0]


def test_gradients_in_two_threads_at_once():
    def cube(x):
        return np.sum(x * x * x)

    def body(scale):
        def run(barrier):
            x = np.array([1.0, 2.0, 3.0]) * scale
            for _ in range(ROUNDS):
                barrier.wait()
                g = grad(cube)(x)
                numpy.testing.assert_allclose(g.asnumpy(), 3 * x.asnumpy() ** 2)
                # the second-order gradient interleaves two traces per thread with the other thread's
                gg = grad(lambda v: np.sum(grad(cube)(v)))(x)
                numpy.testing.assert_allclose(gg.asnumpy(), 6 * x.asnumpy())
        return run

    run_in_threads(body(1.0), body(-2.0))
    assert extend.get_interceptor() is None
    assert extend._interceptor[0] is None, "no thread intercepts any more: operators are back on the plain path"


def test_an_interceptor_sees_only_its_own_threads_calls():
    seen = []

    def recorder(op, args, kwargs):
        seen.append((threading.get_ident(), op.name))
        return op.invoke(args, kwargs)

    def watched(barrier):
        with extend.intercepting(recorder):
            for _ in range(ROUNDS):
                barrier.wait()
                np.exp(np.ones(3))

    def other(barrier):
        for _ in range(ROUNDS):
            barrier.wait()
            np.log(np.ones(3))

    run_in_threads(watched, other)
    names = {name for _, name in seen}
    assert names == {"ones", "exp"}, names
    assert len({ident for ident, _ in seen}) == 1


def test_interceptors_stack_and_invoke_passes_down():
    log = []

    def lower(op, args, kwargs):
        log.append("lower:" + op.name)
        return op.invoke(args, kwargs)

    def upper(op, args, kwargs):
        log.append("upper:" + op.name)
        return op.invoke(args, kwargs)

    with extend.intercepting(lower), extend.intercepting(upper):
        assert extend.interceptors() == [lower, upper]
        out = np.add(np.ones(2), 1.0)
    numpy.testing.assert_array_equal(out.asnumpy(), [2.0, 2.0])
    assert log == ["upper:ones", "lower:ones", "upper:add", "lower:add"]
    assert extend.get_interceptor() is None
    with pytest.raises(RuntimeError, match="no interceptor"):
        extend.pop_interceptor()


@pytest.mark.mxnet
def test_policies_are_per_thread_and_plans_follow_them():
    """One thread under only_numpy, another under prefer_mxnet, calling the same operator in turns: each call
    runs where its own thread's policy says (a plan built by one thread is not reused by the other)."""
    def under(policy_name, expected_backend):
        def run(barrier):
            a = np.ones((4, 4))
            with resolve_policy(policy_name):
                for _ in range(ROUNDS):
                    barrier.wait()
                    assert current_policy().name == policy_name
                    r = np.multiply(a, a)
                    assert r.backend == expected_backend, (policy_name, r.backend)
        return run

    run_in_threads(under("only_numpy", "numpy"), under("prefer_mxnet", "mxnet"))


def test_a_with_block_does_not_leak_into_other_threads():
    inside = threading.Event()
    release = threading.Event()
    seen = {}

    def holder():
        with OnlyNumPyPolicy(), cpu(0):
            inside.set()
            release.wait(30)

    t = threading.Thread(target=holder)
    t.start()
    assert inside.wait(30)
    seen["policy"] = current_policy()
    seen["context"] = current_context()
    release.set()
    t.join(30)
    assert seen["policy"].name == minpy.get_global_policy().name
    assert not isinstance(seen["policy"], OnlyNumPyPolicy) or seen["policy"] is minpy.get_global_policy()
    assert routing.thread.key is routing.DEFAULT_KEY


def test_new_threads_follow_the_process_default_policy():
    before = current_policy()
    try:
        minpy.set_global_policy("only_numpy")
        got = []
        t = threading.Thread(target=lambda: got.append(current_policy().name))
        t.start()
        t.join(30)
        assert got == ["only_numpy"]
        with PreferMXNetPolicy():
            got.clear()
            t = threading.Thread(target=lambda: got.append(current_policy().name))
            t.start()
            t.join(30)
            assert got == ["only_numpy"], "a with-block is the entering thread's own"
            assert current_policy().name == "prefer_mxnet"
        assert current_policy().name == "only_numpy"
    finally:
        minpy.set_global_policy(before)


# -- statistics -------------------------------------------------------------------------------------------------------
def test_no_operator_call_is_lost_from_the_statistics():
    """Threads calling operators at once each count into their own counters; op_stats adds them up (threads that
    have ended included), and reset_op_stat forgets every thread's."""
    from minpy import stats

    stats.reset_op_stat()
    rounds = 300

    def body(barrier):
        a = np.ones(2)
        with OnlyNumPyPolicy():
            for _ in range(rounds):
                barrier.wait()
                np.add(a, a)
                np.negative(a)

    run_in_threads(body, body, body)
    calls = stats.op_stats()["calls"]
    assert calls["add"] == {"numpy": 3 * rounds}
    assert calls["negative"] == {"numpy": 3 * rounds}
    stats.reset_op_stat()
    assert "add" not in stats.op_stats()["calls"]


# -- stress: gradients, plain operators and training, under different policies and contexts at once ---------------
def _writes_and_views(x):
    """A traced program with views, aliases and writes (see tests/autograd/test_writes.py)."""
    a = np.reshape(x, (3, 4))
    col = a[:, 1]
    t = a.T
    x[2] = x[0] * 2
    a[1] *= a[0]
    t[3] += col
    y = a
    y -= 0.5
    return np.sum(col * col) + np.sum(np.tanh(a)) + np.sum(t[1:] * 0.25)


def _plain_program(seed):
    rng = numpy.random.RandomState(seed)
    a = np.array(rng.randn(6, 5))
    v = a[::2, 1:]
    r = np.reshape(a, (5, 6)).T
    v += 1
    a[0] = np.exp(r[0, :5])
    buf = numpy.arange(30.0).reshape(6, 5)
    b = np.asarray(buf)
    buf[0, 0] = -7  # a write into a buffer minpy does not own
    out = np.dot(a, b.T) + np.sum(v) + np.sum(r * r)
    return out.asnumpy()


def _train(steps, seed):
    from minpy.autograd import grad_and_loss
    from minpy.nn import layers, optim

    rng = numpy.random.RandomState(seed)
    x = np.array(rng.randn(16, 8))
    y = np.array(rng.randint(0, 3, 16))
    params = [np.array(rng.randn(8, 10) * 0.1), np.zeros(10), np.array(rng.randn(10, 3) * 0.1), np.zeros(3)]

    def loss(w1, b1, w2, b2):
        h = layers.relu(layers.affine(x, w1, b1))
        return layers.softmax_loss(layers.affine(h, w2, b2), y)

    configs = [None] * 4
    for _ in range(steps):
        grads, value = grad_and_loss(loss, argnum=(0, 1, 2, 3))(*params)
        for i, (w, dw) in enumerate(zip(params, grads)):
            params[i], configs[i] = optim.sgd_momentum(w, dw, configs[i])
    return [p.asnumpy().copy() for p in params] + [numpy.asarray(float(value))]


def _conv_grad():
    from minpy.nn import layers

    rng = numpy.random.RandomState(7)
    x = np.array(rng.randn(2, 3, 6, 6))
    b = np.zeros(4)
    return grad(lambda w: np.sum(layers.conv(x, w, b, stride=1, pad=1) ** 2))(
        np.array(rng.randn(4, 3, 3, 3))).asnumpy()


STRESS_ROUNDS = 12


def test_stress_grad_plain_and_training_threads_under_different_policies():
    """Threads at once: gradients through views and writes, plain operators with views and user buffers, and
    minpy.nn training, each under its own policy and context; every result equals the single-threaded one."""
    from minpy import stats

    policies = ["only_numpy", "prefer_mxnet", "auto"] if HAVE_MXNET else ["only_numpy", "prefer_mxnet"]
    x0 = numpy.linspace(-1.0, 1.0, 12)
    jobs = []
    for pol in policies:
        jobs.append((pol, "grad", lambda: grad(_writes_and_views)(np.array(x0)).asnumpy()))
        jobs.append((pol, "plain", lambda: _plain_program(3)))
        jobs.append((pol, "train", lambda: _train(4, 5)))
    if HAVE_MXNET:  # a convolution: minpy-nn's cached symbol Functions and their executors, shared by threads
        jobs.append(("prefer_mxnet", "conv", lambda: _conv_grad()))
    expected = {}
    for pol, kind, job in jobs:
        with resolve_policy(pol):
            expected[(pol, kind)] = job()
    for (pol, kind), value in expected.items():  # and every policy gives NumPy's answer (only_numpy's)
        reference = expected[("only_numpy", kind)] if ("only_numpy", kind) in expected else value
        for g, e in zip(value if kind == "train" else [value], reference if kind == "train" else [reference]):
            numpy.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-12, err_msg=f"{pol} {kind}")
    stats.reset_op_stat()

    def body(pol, kind, job, ctx):
        def run(barrier):
            with resolve_policy(pol), ctx:
                for _ in range(STRESS_ROUNDS):
                    barrier.wait()
                    got = job()
                    for g, e in zip(got if kind == "train" else [got], expected[(pol, kind)] if kind == "train"
                                    else [expected[(pol, kind)]]):
                        numpy.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-12, err_msg=f"{pol} {kind}")
        return run

    run_in_threads(*[body(pol, kind, job, cpu(0) if k % 2 else contextlib.nullcontext())
                     for k, (pol, kind, job) in enumerate(jobs)])
    assert extend._interceptor[0] is None
    assert sum(n for per in stats.op_stats()["calls"].values() for n in per.values()) > 0
