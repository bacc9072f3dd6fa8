"""Hypothesis state machine: views, aliases, in-place writes and writes into user buffers, against NumPy.

The machine keeps every array twice: a minpy Array and the NumPy array the same NumPy program would hold.
Rules take views (NumPy's own rule says what is one), alias names, write in place (``setitem``, augmented
assignment, ``out=``, ``fill``), write directly into NumPy buffers handed to ``np.asarray``, switch the thread's
policy (so an array made on MXNet is viewed and written under only_numpy, and back), and read through
operators; every read must equal NumPy's. Run under each policy as the starting one.
"""
import numpy
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (Bundle, RuleBasedStateMachine, initialize, invariant, precondition, rule,
                                 run_state_machine_as_test)

import minpy.numpy as np
from minpy.array import Array
from minpy.dispatch.policy import resolve_policy
from array_support import HAVE_MXNET

POLICY_NAMES = ["only_numpy", "prefer_mxnet"] + (["auto"] if HAVE_MXNET else [])

# view operations: (name, function of (numpy module, array, k)); each returns a view in NumPy or the array
VIEWS = {
    "T": lambda m, a, k: a.T,
    "reshape": lambda m, a, k: m.reshape(a, _reshape_to(a.shape, k)),
    "slice": lambda m, a, k: a[(slice(k % 2, None, 1 + k % 3),) * min(a.ndim, 2)],
    "row": lambda m, a, k: a[k % a.shape[0]] if a.ndim > 1 and a.shape[0] else a,
    "column": lambda m, a, k: a[..., k % a.shape[-1]] if a.ndim > 1 and a.shape[-1] else a,
    "swapaxes": lambda m, a, k: m.swapaxes(a, 0, -1) if a.ndim else a,
    "expand_dims": lambda m, a, k: m.expand_dims(a, 0) if a.ndim < 4 else a,
    "squeeze": lambda m, a, k: m.squeeze(a),
    "ravel": lambda m, a, k: m.ravel(a),
    "flip": lambda m, a, k: m.flip(a, -1) if a.ndim else a,
    "split": lambda m, a, k: m.split(a, a.shape[0])[k % a.shape[0]] if a.ndim and a.shape[0] else a,
    "asarray": lambda m, a, k: m.asarray(a),
    "ellipsis": lambda m, a, k: a[...],
}
AUGMENTED = ["__iadd__", "__isub__", "__imul__"]


def _reshape_to(shape, k):
    size = int(numpy.prod(shape))
    divisors = [d for d in range(1, size + 1) if size % d == 0] or [1]
    d = divisors[k % len(divisors)]
    return (d, size // d) if k % 3 else (size // d, d)


class Pair:
    """A minpy array and the NumPy array that NumPy's run of the same program holds."""

    def __init__(self, mine, ref):
        self.mine = mine
        self.ref = ref


class ViewsAndWrites(RuleBasedStateMachine):
    start_policy = "only_numpy"

    def __init__(self):
        super().__init__()
        self.policy = resolve_policy(self.start_policy)
        self.policy.__enter__()
        self.pairs = []
        self.buffers = []  # (the user's buffer as minpy sees it, the same buffer in the NumPy run)

    pairs_bundle = Bundle("pairs")

    def teardown(self):
        try:
            self.check_all()
        finally:
            self.policy.__exit__(None, None, None)

    def _add(self, mine, ref):
        pair = Pair(mine, ref)
        self.pairs.append(pair)
        return pair

    def check(self, pair):
        mine = pair.mine.asnumpy() if isinstance(pair.mine, Array) else numpy.asarray(pair.mine)
        assert mine.shape == pair.ref.shape
        numpy.testing.assert_array_equal(mine, pair.ref)

    def check_all(self):
        for pair in self.pairs:
            self.check(pair)

    # -- arrays -----------------------------------------------------------------------------------------------
    @initialize(target=pairs_bundle, shape=st.sampled_from([(3, 4), (2, 3, 2), (6,), (4, 1, 3)]),
                where=st.sampled_from(["array", "operator"]))
    def first(self, shape, where):
        return self.new(shape, where)

    @initialize(target=pairs_bundle, shape=st.sampled_from([(3, 4), (2, 3)]))
    def first_user_buffer(self, shape):
        return self.new(shape, "user buffer")

    @rule(target=pairs_bundle, shape=st.sampled_from([(3, 4), (2, 2), (5,)]),
          where=st.sampled_from(["array", "operator", "user buffer"]))
    def another(self, shape, where):
        return self.new(shape, where)

    def new(self, shape, where):
        values = numpy.arange(float(numpy.prod(shape))).reshape(shape) - 3
        if where == "user buffer":
            buf_mine, buf_ref = values.copy(), values.copy()
            self.buffers.append((buf_mine, buf_ref))
            return self._add(np.asarray(buf_mine), numpy.asarray(buf_ref))
        if where == "operator":  # where the policy puts a result (MXNet under prefer_mxnet)
            return self._add(np.array(values) + 0, values + 0)
        return self._add(np.array(values), values.copy())

    @rule(target=pairs_bundle, pair=pairs_bundle, name=st.sampled_from(sorted(VIEWS)), k=st.integers(0, 11))
    def view(self, pair, name, k):
        ref = VIEWS[name](numpy, pair.ref, k)
        mine = VIEWS[name](np, pair.mine, k)
        assert (mine is pair.mine) == (ref is pair.ref)
        return self._add(mine, ref)

    @rule(target=pairs_bundle, pair=pairs_bundle)
    def alias(self, pair):
        return self._add(pair.mine, pair.ref)  # a second name for the same object

    @rule(target=pairs_bundle, pair=pairs_bundle)
    def copy(self, pair):
        return self._add(pair.mine.copy(), pair.ref.copy())

    @rule(pair=pairs_bundle, k=st.integers(0, 11))
    def set_shape(self, pair, k):
        """``a.shape = ...`` in place: allowed exactly where NumPy allows it, and views keep following."""
        if not isinstance(pair.mine, Array):
            return
        shape = _reshape_to(pair.ref.shape, k)
        try:
            pair.ref.shape = shape
        except AttributeError:
            with pytest.raises(AttributeError):
                pair.mine.shape = shape
            return
        pair.mine.shape = shape

    # -- writes -----------------------------------------------------------------------------------------------
    @rule(pair=pairs_bundle, k=st.integers(0, 99), value=st.integers(-9, 9))
    def setitem_basic(self, pair, k, value):
        if pair.ref.ndim == 0:
            key = ...
        else:
            n = pair.ref.shape[0]
            key = (k % n,) if k % 2 else (slice(k % n, None, 1 + k % 2),)
        pair.ref[key] = value
        pair.mine[key] = value

    @rule(pair=pairs_bundle, k=st.integers(0, 99))
    def setitem_advanced(self, pair, k):
        if pair.ref.ndim == 0 or pair.ref.size == 0:
            return
        mask = (numpy.arange(pair.ref.size).reshape(pair.ref.shape) % (2 + k % 3)) == 0
        pair.ref[mask] = k
        pair.mine[np.array(mask)] = k

    @rule(pair=pairs_bundle, other=pairs_bundle, method=st.sampled_from(AUGMENTED), scalar=st.booleans())
    def augmented(self, pair, other, method, scalar):
        if scalar or other.ref.shape != pair.ref.shape:
            operand_ref = operand_mine = 2.0
        else:
            operand_ref, operand_mine = other.ref.copy(), other.mine.copy()  # NumPy reads overlaps as a copy
        getattr(pair.ref, method)(operand_ref)
        result = getattr(pair.mine, method)(operand_mine)
        assert result is pair.mine

    @rule(pair=pairs_bundle, value=st.integers(-5, 5))
    def fill(self, pair, value):
        pair.ref.fill(value)
        pair.mine.fill(value)

    @rule(pair=pairs_bundle, other=pairs_bundle)
    def out_write(self, pair, other):
        if other.ref.shape != pair.ref.shape:
            other = pair
        numpy.multiply(other.ref.copy(), 3.0, out=pair.ref)
        np.multiply(other.mine.copy(), 3.0, out=pair.mine)

    @precondition(lambda self: self.buffers)
    @rule(i=st.integers(0, 99), value=st.integers(-20, 20))
    def write_user_buffer(self, i, value):
        buf_mine, buf_ref = self.buffers[i % len(self.buffers)]
        index = i % buf_ref.size
        buf_mine.reshape(-1)[index] = value  # the user writes their own array, outside minpy
        buf_ref.reshape(-1)[index] = value
        for pair in self.pairs:  # every array, read by an operator where the policy runs it
            numpy.testing.assert_array_equal((pair.mine * 1.0).asnumpy(), pair.ref * 1.0)

    # -- reads and routing ----------------------------------------------------------------------------------------
    @rule(pair=pairs_bundle, how=st.sampled_from(["sum", "exp", "matmul", "index"]))
    def read_through_operator(self, pair, how):
        if how == "sum":
            numpy.testing.assert_allclose(float(np.sum(pair.mine * 2)), numpy.sum(pair.ref * 2))
        elif how == "exp":
            numpy.testing.assert_allclose(np.exp(pair.mine / 10).asnumpy(), numpy.exp(pair.ref / 10))
        elif how == "matmul" and pair.ref.ndim == 2:
            numpy.testing.assert_allclose(np.dot(pair.mine, pair.mine.T).asnumpy(), pair.ref @ pair.ref.T)
        elif pair.ref.ndim and pair.ref.shape[0]:
            numpy.testing.assert_array_equal(numpy.asarray(pair.mine[0]), pair.ref[0])

    @rule(pair=pairs_bundle)
    def read(self, pair):
        self.check(pair)

    @rule(name=st.sampled_from(POLICY_NAMES))
    def switch_policy(self, name):
        self.policy.__exit__(None, None, None)
        self.policy = resolve_policy(name)
        self.policy.__enter__()

    @invariant()
    def shapes_agree(self):
        for pair in self.pairs:
            assert tuple(pair.mine.shape) == pair.ref.shape


@pytest.mark.parametrize("policy", POLICY_NAMES)
def test_views_and_writes_state_machine(policy):
    machine = type(f"ViewsAndWrites_{policy}", (ViewsAndWrites,), {"start_policy": policy})
    run_state_machine_as_test(machine, settings=settings(max_examples=12, stateful_step_count=25))
