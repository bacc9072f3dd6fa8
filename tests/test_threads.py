"""Per-thread state: policy, context, interceptors and traces belong to the thread that set them.

Each test runs its threads in lockstep through a barrier at every round, with the interpreter switching threads
every microsecond, so that the calls really interleave (otherwise the GIL could run one thread's whole call
before the other's starts, and a race would go unseen).
"""
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
