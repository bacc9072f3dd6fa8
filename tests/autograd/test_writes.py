"""Writes under ``grad``: aliases and views of traced arrays see every write, as in NumPy, and gradients follow.

A write into a traced array (``x[k] = v``, ``x += y``, ``fill``, ``out=``, ``copyto``, ``put``) updates the traced
array itself (so every name bound to it sees it) and every view taken of it (and, through a view, its base). A
write that cannot be carried raises AutogradError naming the line that wrote. The state machine at the end
builds random programs of views, aliases and writes and checks their value against NumPy's run and their
gradient against central differences of NumPy's run, under every policy.
"""
import numpy
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

import minpy.numpy as np
from minpy.autograd import AutogradError, grad, value_and_grad
from minpy.dispatch.policy import resolve_policy

POLICIES = ["only_numpy", "prefer_mxnet", pytest.param("auto", marks=pytest.mark.mxnet)]
POLICY_NAMES = ["only_numpy", "prefer_mxnet", "auto"]


def numeric_grad(f, x, h=1e-6):
    """Central differences of ``f`` (a NumPy program that may write into its argument) at ``x``."""
    g = numpy.zeros_like(x)
    for i in range(x.size):
        up, down = x.copy(), x.copy()
        up.flat[i] += h
        down.flat[i] -= h
        g.flat[i] = (f(up) - f(down)) / (2 * h)
    return g


def check(program, x, policy, rtol=1e-5):
    """``program(np, x)`` under grad gives NumPy's value, and the gradient central differences give."""
    expected = program(numpy, x.copy())
    with resolve_policy(policy):
        plain = program(np, np.array(x.copy()))
        value, g = value_and_grad(lambda v: program(np, v))(np.array(x.copy()))
    numpy.testing.assert_allclose(float(plain), expected, rtol=1e-12)
    numpy.testing.assert_allclose(float(value), expected, rtol=1e-12)
    numpy.testing.assert_allclose(g.asnumpy(), numeric_grad(lambda v: program(numpy, v), x), rtol=rtol,
                                  atol=1e-6 * (1 + abs(expected)))
    return g.asnumpy()


# -- the cases of issue 12 and their neighbours -------------------------------------------------------------------
def view_then_write_base(m, x):
    v = x[0:2]
    x[0] = 0
    return m.sum(v)


def alias_then_augmented(m, x):
    y = x
    y += 1
    return m.sum(x * x)


def write_through_view(m, x):
    v = x[1:]
    v *= 3
    return m.sum(x * x)


def views_of_views(m, x):
    t = m.reshape(x, (3, 2)).T
    t[0] = 10 * t[1]
    row = t[1]
    row += 1
    return m.sum(x * m.arange(6.0)) + m.sum(t * t)


def out_argument(m, x):
    w = x * 1.0
    m.multiply(w, x, out=w)
    m.add(x, 1.0, out=x)
    return m.sum(w * x)


def fill_and_sort(m, x):
    v = x[::2]
    v.fill(0.5)
    y = x * x  # no ties between traced values: sort's gradient is defined
    y.sort()
    return m.sum(y * m.arange(4.0)) + m.sum(x)


def put_and_copyto(m, x):
    y = x * 1.0
    m.put(y, [0, 2], [5.0, -1.0])
    z = x * 0.0
    m.copyto(z, y * x)
    return m.sum(z * z) + m.sum(y)


def view_read_after_several_writes(m, x):
    a = x.reshape(2, 3)
    col = a[:, 1]
    x[1] = x[0] * 2
    a[1] *= a[0]
    x[2:4] += col
    return m.sum(col * col) + m.sum(a) + m.sum(x)


CASES = [view_then_write_base, alias_then_augmented, write_through_view, views_of_views, out_argument,
         fill_and_sort, put_and_copyto, view_read_after_several_writes]
SIZES = {views_of_views: 6, fill_and_sort: 4, view_read_after_several_writes: 6}


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("program", CASES, ids=lambda f: f.__name__)
def test_writes_under_grad_follow_numpy(program, policy):
    n = SIZES.get(program, 3)
    check(program, numpy.linspace(-1.0, 2.0, n), policy)


@pytest.mark.parametrize("policy", POLICIES)
def test_the_issue_cases_give_numpys_values_and_gradients(policy):
    x = 2 * numpy.ones(3)
    numpy.testing.assert_array_equal(check(view_then_write_base, x, policy), [0.0, 1.0, 0.0])
    numpy.testing.assert_array_equal(check(alias_then_augmented, x, policy), [6.0, 6.0, 6.0])


@pytest.mark.parametrize("policy", POLICIES)
def test_second_order_through_writes(policy):
    def f(x):
        v = x[1:]
        v *= x[0]
        return np.sum(x * x * x)

    with resolve_policy(policy):
        x = np.array([1.5, -2.0, 0.5])
        hess_row = grad(lambda x: grad(f)(x)[0])(x).asnumpy()

    def g(x):
        y = x.copy()
        y[1:] *= y[0]
        return numpy.sum(y ** 3)
    fd = numeric_grad(lambda v: numeric_grad(g, v, 1e-4)[0], numpy.array([1.5, -2.0, 0.5]), 1e-4)
    numpy.testing.assert_allclose(hess_row, fd, rtol=1e-4, atol=1e-5)


def test_in_place_operator_keeps_the_object_and_dtype():
    def f(x):
        y = x
        y *= 2
        assert y is x
        with pytest.raises(TypeError, match="same_kind"):
            n = np.arange(3)
            n_traced = x.astype("int64")
            n_traced += x  # float into int: NumPy's casting error
        return np.sum(x) + np.sum(n)
    numpy.testing.assert_allclose(grad(f)(np.ones(3)).asnumpy(), [2.0, 2.0, 2.0])


# -- writes that cannot be carried: AutogradError naming the user's line ----------------------------------------------
def test_views_leave_no_reference_cycle():
    # The graph of a gradient call with views is freed when the call ends, by reference counting: a cycle would
    # leave it (and the MXNet executors a symbol Function holds in it) to the cyclic collector.
    import gc
    import weakref

    seen = []

    def f(x):
        v = x[0:2]
        w = np.reshape(v, (2, 1))
        x[0] = 3.0  # views taken again
        seen.extend(weakref.ref(t) for t in (x, v, w))
        return np.sum(w * w) + np.sum(x)

    enabled = gc.isenabled()
    gc.disable()
    try:
        g = grad(f)(np.array([1.0, 2.0, 4.0]))
        assert [r() for r in seen] == [None, None, None]
    finally:
        if enabled:
            gc.enable()
    numpy.testing.assert_allclose(g.asnumpy(), [0.0, 5.0, 1.0])


def test_traced_value_into_an_untraced_array_names_the_line():
    w = np.zeros(3)

    def f(x):
        w[0] = x[0]  # the line the error must name
        return np.sum(w)
    with pytest.raises(AutogradError, match=r"test_writes\.py:\d+"):
        grad(f)(np.ones(3))


def test_numpy_functions_that_write_in_place_are_refused_before_writing():
    def f(x):
        np.putmask(x, x > 0, 0.0)
        return np.sum(x)
    x = np.ones(3)
    with pytest.raises(AutogradError, match=r"putmask.*test_writes\.py:\d+"):
        grad(f)(x)
    numpy.testing.assert_array_equal(x.asnumpy(), numpy.ones(3))  # nothing was written


def test_copyto_into_an_untraced_array_is_refused():
    z = np.zeros(3)
    with pytest.raises(AutogradError, match=r"copyto.*test_writes\.py:\d+"):
        grad(lambda x: np.sum(np.copyto(z, x) or z))(np.ones(3))


def test_out_into_an_untraced_array_is_refused():
    out = np.zeros(3)
    with pytest.raises(AutogradError, match="out="):
        grad(lambda x: np.sum(np.multiply(x, 2.0, out=out)))(np.ones(3))


def test_inner_traced_value_into_outer_array_is_refused():
    def outer(x):
        def inner(y):
            x[0] = y[0] * 2  # writes a value of the inner trace into the outer trace's array
            return np.sum(y)
        grad(inner)(x * 1.0)
        return np.sum(x)
    with pytest.raises(AutogradError, match=r"inner gradient call.*test_writes\.py:\d+"):
        grad(outer)(np.ones(3))


def test_read_only_views_refuse_writes_under_grad():
    def f(x):
        b = np.broadcast_to(x, (2, 3))
        b[0, 0] = 1.0
        return np.sum(b)
    with pytest.raises(ValueError, match="read-only"):
        grad(f)(np.ones(3))


# -- random programs (Hypothesis state machine) ----------------------------------------------------------------------
VIEWS = {
    "T": lambda m, a, k: a.T,
    "reshape": lambda m, a, k: m.reshape(a, (2, 3) if k % 2 else (3, 2)) if a.size == 6 else m.ravel(a),
    "slice": lambda m, a, k: a[k % 2::1 + k % 2],
    "row": lambda m, a, k: a[k % a.shape[0]] if a.ndim > 1 else a,
    "column": lambda m, a, k: a[:, k % a.shape[1]] if a.ndim > 1 else a,
    "ravel": lambda m, a, k: m.ravel(a),
    "flip": lambda m, a, k: m.flip(a, 0),
    "expand": lambda m, a, k: m.expand_dims(a, 0)[0],
}


class TracedWrites(RuleBasedStateMachine):
    """Records a program (views, aliases, writes) on handles; teardown runs it traced and checks it."""

    policy = "only_numpy"
    handles = Bundle("handles")

    def __init__(self):
        super().__init__()
        self.steps = []
        self.count = 0
        self.shapes = []

    def _new(self, shape):
        self.shapes.append(shape)
        self.count += 1
        return self.count - 1

    @initialize(target=handles, shape=st.sampled_from([(6,), (2, 3), (3, 2)]))
    def input(self, shape):
        self.steps.append(("input", shape))
        return self._new(shape)

    @rule(target=handles, h=handles, name=st.sampled_from(sorted(VIEWS)), k=st.integers(0, 5))
    def view(self, h, name, k):
        shape = VIEWS[name](numpy, numpy.zeros(self.shapes[h]), k).shape
        self.steps.append(("view", h, name, k))
        return self._new(shape)

    @rule(target=handles, h=handles)
    def alias(self, h):
        self.steps.append(("alias", h))
        return self._new(self.shapes[h])

    @rule(target=handles, h=handles)
    def fresh(self, h):
        self.steps.append(("fresh", h))
        return self._new(self.shapes[h])

    @rule(h=handles, src=handles, k=st.integers(0, 5), traced=st.booleans())
    def setitem(self, h, src, k, traced):
        self.steps.append(("setitem", h, src, k, traced))

    @rule(h=handles, src=handles, method=st.sampled_from(["__iadd__", "__isub__", "__imul__"]))
    def augmented(self, h, src, method):
        self.steps.append(("augmented", h, src, method))

    @rule(h=handles, value=st.integers(-2, 2))
    def fill(self, h, value):
        self.steps.append(("fill", h, value))

    @rule(h=handles, src=handles)
    def out(self, h, src):
        self.steps.append(("out", h, src))

    def program(self, m, x):
        handles = []
        for step in self.steps:
            kind = step[0]
            if kind == "input":
                handles.append(m.reshape(x, step[1]) if x.shape != step[1] else x)
            elif kind == "view":
                _, h, name, k = step
                handles.append(VIEWS[name](m, handles[h], k))
            elif kind == "alias":
                handles.append(handles[step[1]])
            elif kind == "fresh":
                handles.append(handles[step[1]] * 0.5 + 1.0)
            elif kind == "setitem":
                _, h, src, k, traced = step
                target = handles[h]
                key = (k % target.shape[0],) if target.ndim else ...
                value = m.sum(handles[src]) * 0.25 if traced else float(k)
                target[key] = value
            elif kind == "augmented":
                _, h, src, method = step
                target, other = handles[h], handles[src]
                operand = other * 0.5 if other.shape == target.shape else m.mean(other) * 0.5
                getattr(target, method)(operand)
            elif kind == "fill":
                handles[step[1]].fill(step[2])
            elif kind == "out":
                _, h, src = step
                target, other = handles[h], handles[src]
                operand = other if other.shape == target.shape else target
                m.multiply(operand * 1.0, 0.75, out=target)
        total = 0.0
        for i, hnd in enumerate(handles):
            weights = numpy.cos(numpy.arange(hnd.size) + i).reshape(hnd.shape)
            total = total + m.sum(hnd * (weights if m is numpy else m.array(weights)))
        return total

    def teardown(self):
        if not self.steps:
            return
        x = numpy.linspace(-1.0, 1.5, 6).reshape(self.steps[0][1])
        expected = self.program(numpy, x.copy())
        with resolve_policy(self.policy):
            plain = self.program(np, np.array(x.copy()))
            value, g = value_and_grad(lambda v: self.program(np, v))(np.array(x.copy()))
        numpy.testing.assert_allclose(float(plain), expected, rtol=1e-9, atol=1e-9)
        numpy.testing.assert_allclose(float(value), expected, rtol=1e-9, atol=1e-9)
        fd = numeric_grad(lambda v: self.program(numpy, v), x)
        numpy.testing.assert_allclose(g.asnumpy(), fd, rtol=1e-4, atol=1e-5 * (1 + abs(expected)))


@pytest.mark.parametrize("policy", POLICIES)
def test_traced_writes_state_machine(policy):
    machine = type(f"TracedWrites_{policy}", (TracedWrites,), {"policy": policy})
    run_state_machine_as_test(machine, settings=settings(max_examples=10, stateful_step_count=12))
