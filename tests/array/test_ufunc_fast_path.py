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


def test_operators_and_functions_take_the_same_path():
    a, b = np.ones((4, 4)), np.full((4, 4), 2.0)
    for name in ("add", "multiply", "less"):
        op_fn = getattr(np, name)
        assert op_fn.op is all_operators()[name]
    assert Array.__add__ is np.add and Array.__neg__ is np.negative
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
