"""(a) The operator property tests on gpu(0): every operator of tests/array/test_ops_property.py (the list is
generated from the operator table there) gives NumPy's value, shape and dtype under ``with gpu(0):``, within the
table's tolerances, with inputs on the host or already on the GPU; its Array results live on the GPU. A second
test checks that each operator CuPy is given (``cupy_backend.default_impl``) really runs on CuPy for an ordinary
float call, so that a broken CuPy route is seen."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpu_support import CUPY, EXAMPLES, load, on_gpu
from minpy import stats
from minpy.array import Array
from minpy.context import gpu
from minpy.dispatch.policy import PreferMXNetPolicy

P = load("array/test_ops_property.py", "minpy_gpu_ops_property")
S = P.S
OPS = P.OPS
ROUTE_KINDS = ("ufunc", "reduction", "linalg", "shape", "creation")


def _on_gpu(arrays_on_gpu):
    return on_gpu if arrays_on_gpu else (lambda a: Array(a.copy()))


def _results_on_gpu(got, where="result"):
    if isinstance(got, (list, tuple)):
        for i, g in enumerate(got):
            _results_on_gpu(g, f"{where}[{i}]")
    elif isinstance(got, Array):
        assert got.backend == "cupy", f"{where} lives on {got.backend}, not on the GPU"


def check_on_gpu(op, call, arrays_on_gpu, must_succeed=False):
    np_args, np_kwargs = call.numpy()
    try:
        expected = P._quietly(op.ref, np_args, np_kwargs)
    except Exception as exc:
        assert not must_succeed, f"NumPy raised {type(exc).__name__}: {exc} for the plain call {call}"
        mp_args, mp_kwargs = call.materialise(_on_gpu(arrays_on_gpu))
        with PreferMXNetPolicy():
            with pytest.raises(type(exc)):
                P._quietly(op.public, mp_args, mp_kwargs)
        return
    mp_args, mp_kwargs = call.materialise(_on_gpu(arrays_on_gpu))
    with PreferMXNetPolicy():
        got = P._quietly(op.public, mp_args, mp_kwargs)
    P.assert_same(op, expected, got, values=S.hints(op).get("values", True))
    if op.name != "getitem" or arrays_on_gpu:
        # indexing a host array keeps NumPy's view semantics (the view stays with its base, on the host; the
        # next operator moves it); every other result belongs to the context
        _results_on_gpu(got)


@pytest.mark.parametrize("name", P.VALUE_OPS)
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_operator_matches_numpy_on_gpu(name, data):
    op = OPS[name]
    call = data.draw(P._calls(op), label="call")
    with gpu(0):
        check_on_gpu(op, call, data.draw(st.booleans(), label="inputs on the GPU"))


def _cupy_ops():
    if not CUPY.available():
        return [n for n in P.VALUE_OPS if OPS[n].kind in ROUTE_KINDS]  # collected, then skipped
    return [n for n in P.VALUE_OPS if OPS[n].kind in ROUTE_KINDS and CUPY.default_impl(OPS[n]) is not None]


@pytest.mark.parametrize("name", _cupy_ops())
@settings(max_examples=max(1, EXAMPLES // 2))
@given(data=st.data())
def test_cupy_route_is_taken(name, data):
    op = OPS[name]
    call = data.draw(P._calls(op, plain=True), label="plain call")
    np_args, np_kwargs = call.numpy()
    try:
        P._quietly(op.ref, np_args, np_kwargs)
    except Exception:
        # the plain (float) call does not suit this operator (gcd wants integers, fliplr two axes): only
        # test_operator_matches_numpy_on_gpu, whose calls follow the table's hints, checks it
        return
    stats.reset_op_stat()
    with gpu(0):
        check_on_gpu(op, call, data.draw(st.booleans(), label="inputs on the GPU"), must_succeed=True)
    report = stats.op_stats()
    ran = report["calls"].get(name, {})
    assert "cupy" in ran, f"{name} ran on {sorted(ran)}; fallbacks: {report['fallbacks'].get(name)}"


def test_excluded_operators_are_documented():
    """Every exclusion has a reason, and every excluded operator of this NumPy is refused by the backend."""
    from minpy.backends.cupy_backend import EXCLUDED

    assert all(EXCLUDED.values())
    leaked = [n for n in EXCLUDED if n in OPS and CUPY.default_impl(OPS[n]) is not None]
    assert not leaked, leaked


def test_random_stays_numpy_stream(gpu0):
    """Random numbers come from NumPy's generator on the GPU too: a seed reproduces NumPy's stream."""
    import minpy.numpy as mnp

    mnp.random.seed(3)
    got = mnp.random.rand(3, 4)
    np.random.seed(3)
    np.testing.assert_array_equal(got.asnumpy(), np.random.rand(3, 4))
    assert got.backend == "cupy"
