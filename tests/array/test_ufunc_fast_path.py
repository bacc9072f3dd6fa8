"""The ufuncs' own call path (``a + b``, ``np.exp(a)``): a plain call on NumPy-held operands is run and wrapped
in the operator's public function itself. Whatever path a call takes, it gives NumPy's answer (values, dtype,
shape, errors), counts once, and leaves the result tied to nothing."""
import numpy
import pytest
from hypothesis import given, strategies as st

import minpy.numpy as np
from minpy.array import Array
from minpy.dispatch.policy import resolve_policy
from minpy.ops import all_operators

from array_support import HAVE_MXNET, on

POLICIES = ["only_numpy", "prefer_mxnet", pytest.param("auto", marks=pytest.mark.mxnet)]
BINARY = ["add", "subtract", "multiply", "true_divide", "power", "maximum", "less", "equal", "arctan2",
          "bitwise_and", "floor_divide", "remainder", "logaddexp"]
UNARY = ["negative", "exp", "sqrt", "absolute", "tanh", "logical_not", "sign", "floor", "invert", "isnan"]
DTYPES = ["float64", "float32", "int64", "int32", "bool"]


def operand(draw, shape):
    """An operand as a user passes one: an Array (on NumPy, or on MXNet where it is installed), a Python or
    NumPy scalar, a NumPy array."""
    kind = draw(st.sampled_from(["array", "array", "mxnet", "float", "int", "numpy scalar", "ndarray"]))
    if kind == "float":
        return draw(st.floats(-3, 3, allow_nan=False))
    if kind == "int":
        return draw(st.integers(-3, 3))
    dtype = draw(st.sampled_from(DTYPES))
    values = numpy.asarray(draw(st.lists(st.integers(-3, 3), min_size=int(numpy.prod(shape)),
                                         max_size=int(numpy.prod(shape))))).reshape(shape).astype(dtype)
    if kind == "numpy scalar":
        return values.reshape(-1)[0] if values.size else numpy.float64(1.5)
    if kind == "ndarray":
        return values
    if kind == "mxnet" and HAVE_MXNET and values.dtype != numpy.bool_:
        return on("mxnet", values)
    return np.array(values)


def host(x):
    return x.asnumpy() if isinstance(x, Array) else x


@st.composite
def calls(draw):
    name = draw(st.sampled_from(BINARY + UNARY))
    shape = draw(st.sampled_from([(), (1,), (3,), (2, 3), (4, 4)]))
    nin = 2 if name in BINARY else 1
    other = draw(st.sampled_from([shape, shape[-1:], ()]))
    args = [operand(draw, shape)] + ([operand(draw, other)] if nin == 2 else [])
    return name, args


def expect(name, args):
    with numpy.errstate(all="ignore"):
        try:
            return getattr(numpy, name)(*[host(a) for a in args]), None
        except Exception as exc:  # noqa: BLE001  (NumPy's own error is the expected answer)
            return None, exc


@pytest.mark.parametrize("policy", POLICIES)
@given(call=calls())
def test_plain_calls_give_numpys_answer(policy, call):
    name, args = call
    want, error = expect(name, args)
    with resolve_policy(policy), numpy.errstate(all="ignore"):
        for _ in range(3):  # the first call plans (and, under auto, measures); later ones take the short path
            if error is not None:
                with pytest.raises(type(error)) as info:
                    getattr(np, name)(*args)
                # in the message, or in a note where NumPy's error type takes no message (UFuncTypeError)
                said = str(info.value) + " ".join(getattr(info.value, "__notes__", []))
                assert f"minpy.numpy.{name}" in said
                continue
            got = getattr(np, name)(*args)
            assert isinstance(got, Array)
            out = got.asnumpy()
            assert out.dtype == numpy.asarray(want).dtype and out.shape == numpy.shape(want)
            numpy.testing.assert_allclose(out, want, rtol=1e-5 if out.dtype.kind == "f" else 0, equal_nan=True)


OPERATORS = {"add": "+", "subtract": "-", "multiply": "*", "true_divide": "/", "floor_divide": "//",
             "remainder": "%", "less": "<", "bitwise_and": "&"}


@pytest.mark.parametrize("policy", POLICIES)
@given(call=calls(), reflected=st.booleans())
def test_python_operators_give_numpys_answer(policy, call, reflected):
    """``a + b``, ``2 - a``, ``-a``: the operand-only entry points give what NumPy's operators give."""
    name, args = call
    if name not in OPERATORS and name != "negative":
        name, args = "add", args + [1.5] if len(args) == 1 else args
    if name == "negative":
        args = args[:1]
        expr = "-x"
    else:
        expr = f"x {OPERATORS[name]} y"
        if reflected and not isinstance(args[1], Array):
            args = [args[1], args[0]]  # a scalar or ndarray on the left: the Array's reflected method runs
    if not any(isinstance(a, Array) for a in args):
        args[0] = np.array(args[0])
    values = dict(zip("xy", args))
    hosts = {k: host(v) for k, v in values.items()}
    with numpy.errstate(all="ignore"):
        try:
            want, error = eval(expr, {}, hosts), None
        except Exception as exc:  # noqa: BLE001
            want, error = None, exc
    with resolve_policy(policy), numpy.errstate(all="ignore"):
        for _ in range(3):
            if error is not None:
                with pytest.raises(type(error)):
                    eval(expr, {}, values)
                continue
            got = eval(expr, {}, values)
            if not isinstance(got, Array):  # an ndarray on the left whose operator took the call
                got = np.array(got)
            out = got.asnumpy()
            assert out.dtype == numpy.asarray(want).dtype and out.shape == numpy.shape(want)
            numpy.testing.assert_allclose(out, want, rtol=1e-5 if out.dtype.kind == "f" else 0, equal_nan=True)


def test_operators_and_functions_take_the_same_path():
    a, b = np.ones((4, 4)), np.full((4, 4), 2.0)
    for name in ("add", "multiply", "less"):
        op_fn = getattr(np, name)
        assert op_fn.op is all_operators()[name]
    # the dunders are the ufuncs' operand-only entry points, the reflected ones swap the operands
    assert Array.__add__ is np.add.operands and Array.__neg__ is np.negative.operands
    assert Array.__radd__ is np.add.reflected and Array.__rsub__ is np.subtract.reflected
    with resolve_policy("only_numpy"):
        np.reset_op_stat()
        for _ in range(5):
            r = a + b
        r = np.exp(r)
        calls = np.op_stats()["calls"]
        assert calls["add"] == {"numpy": 5} and calls["exp"] == {"numpy": 1}
    # the result owns new memory: writing it leaves the operands alone, and it is a view of nothing
    r[0, 0] = 7.0
    assert float(a[0, 0]) == 1.0 and float(b[0, 0]) == 2.0
    assert r._root is None and r._link is None and r.version == 1


def test_keywords_and_other_operands_take_the_general_path():
    a = np.arange(6.0).reshape(2, 3)
    out = np.zeros((2, 3))
    with resolve_policy("only_numpy"):
        assert np.add(a, 1.0, out=out) is out
        numpy.testing.assert_array_equal(out.asnumpy(), numpy.arange(6.0).reshape(2, 3) + 1)
        assert np.add(a, [1.0, 2.0, 3.0]).shape == (2, 3)
        assert np.add(a, a, dtype="float32").dtype == numpy.float32
        assert np.add(True, a).dtype == numpy.float64


def test_a_plan_is_per_thread_policy():
    import threading

    a = np.ones((4, 4))
    seen = {}

    def other():
        with resolve_policy("only_numpy"):
            for _ in range(3):
                seen["other"] = (a + a).backend

    with resolve_policy("prefer_mxnet"):
        mine = (a + a).backend
        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert (a + a).backend == mine
    assert seen["other"] == "numpy"


def test_fast_counts_are_merged_reset_and_grow():
    """The hot path counts into a per-thread list by slot; op_stats adds it in, reset_op_stat empties it, and
    slots handed out past the lists' length grow every thread's list."""
    from minpy import stats
    a = np.ones((3,))
    with resolve_policy("only_numpy"):
        np.reset_op_stat()
        for _ in range(4):
            a * a
        np.multiply(a, a)
        assert np.op_stats()["calls"]["multiply"] == {"numpy": 5}
        assert stats.recorder.calls[("multiply", "numpy")] == 5
        np.reset_op_stat()
        assert "multiply" not in np.op_stats()["calls"]
        before = stats._fast_capacity[0]
        extra = [stats.fast_slot((f"test-slot-{i}", "numpy")) for i in range(before + 1)]
        assert stats._fast_capacity[0] > before and len(stats._local.counts.fast) == stats._fast_capacity[0]
        stats._local.counts.fast[extra[-1]] += 2
        assert np.op_stats()["calls"][f"test-slot-{before}"] == {"numpy": 2}
        a * a
        assert np.op_stats()["calls"]["multiply"] == {"numpy": 1}
        np.reset_op_stat()


def test_thread_keys_are_counted_while_a_block_runs():
    """While no thread runs a with-block of its own, the hot paths check plans against the default key
    without reading the thread's; a block counts its thread in and out."""
    from minpy import routing
    start = routing.own_keys[0]
    with resolve_policy("only_numpy"):
        assert routing.own_keys[0] == start + 1
        with resolve_policy("auto"):
            assert routing.own_keys[0] == start + 1
    assert routing.own_keys[0] == start


@pytest.mark.mxnet
def test_the_auto_shortcut_forgets_when_the_table_changes():
    """The ufuncs' path remembers the (dtype, size) the auto table last sent to NumPy; a new decision written
    to the table forgets it, and a call the table does not send to NumPy never takes the shortcut."""
    with resolve_policy("auto"):
        a = np.array(numpy.ones((4, 4)))
        assert a.backend == "numpy"
        for _ in range(3):
            a + a
        plan = np.add.op._plan
        key = (a.dtype.char, a.size.bit_length())
        assert plan.auto.get(key) is True and plan.auto_seen == (a.dtype, a.size)
        big = np.ones((3, 1000))  # a size class not measured yet: the policy measures and writes the table
        big + big
        assert np.add.op._plan is plan and (a.dtype.char, big.size.bit_length()) in plan.auto
        assert plan.auto_seen is None
        plan.auto[key] = False  # the table no longer sends (4, 4) to NumPy: the call asks the general path
        a + a
        assert plan.auto_seen is None  # the shortcut, had it been taken, would have remembered (4, 4)
