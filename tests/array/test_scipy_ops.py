"""Property tests of ``minpy.scipy`` against SciPy, generated from its operator table (``minpy.scipy._table``).

Every declared operator is called on random arguments drawn from its test hints (``scipy_strategies.py``) under
each dispatch policy, with inputs held by NumPy or by MXNet, and must give SciPy's value, shape and dtype
(within the table's tolerances where another backend ran it), or raise SciPy's exception type. Every other
elementwise function of ``scipy.special`` (mirrored from SciPy, without a gradient) is checked the same way on
arguments read off its loops. Operators with an MXNet implementation must really run on MXNet for a plain call.
Without SciPy, ``minpy.scipy`` imports and its functions say what to install (a fresh interpreter, SciPy hidden).
"""
import importlib.util
import inspect
import pathlib
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

pytest.importorskip("scipy")
import scipy.linalg  # noqa: E402
import scipy.signal  # noqa: E402
import scipy.special  # noqa: E402
import scipy.stats  # noqa: E402

import minpy.scipy  # noqa: E402
import minpy.scipy.integrate  # noqa: E402,F401
import minpy.scipy.linalg  # noqa: E402,F401
import minpy.scipy.misc  # noqa: E402
import minpy.scipy.signal  # noqa: E402,F401
import minpy.scipy.special as msp  # noqa: E402
import minpy.scipy.stats  # noqa: E402,F401
from minpy import stats  # noqa: E402
from minpy.array import Array  # noqa: E402
from minpy.backends import get_backend  # noqa: E402
from minpy.context import current_context  # noqa: E402
from minpy.dispatch.policy import PreferMXNetPolicy, resolve_policy  # noqa: E402
from minpy.ops.operator import all_operators  # noqa: E402
from minpy.scipy import _table  # noqa: E402


def _load(name):
    path = pathlib.Path(__file__).with_name(name + ".py")
    spec = importlib.util.spec_from_file_location("minpy_array_test_" + name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


S = _load("scipy_strategies")

OPS = all_operators("scipy")
DECLARED = sorted(r["name"] for r in _table.RECORDS)
MXNET_OPS = sorted(name for name in DECLARED if "mxnet" in OPS[name].impls)
POLICIES = [pytest.param("prefer_mxnet", marks=pytest.mark.mxnet), "only_numpy",
            pytest.param("auto", marks=pytest.mark.mxnet)]


def _loop(ufunc):
    """The input types of a loop of ``ufunc`` taking only float64 (``d``) and integers (``l``/``i``), most
    floats first; None when it has none (complex-only or other loops)."""
    loops = [t.split("->")[0] for t in ufunc.types]
    loops = [ins for ins in loops if set(ins) <= set("dli")]
    return max(loops, key=lambda ins: ins.count("d")) if loops else None


# SciPy's own kernels that crash the interpreter on some arguments: SciPy 1.15's Mathieu functions (Fortran
# specfun) segfault for some orders and parameters, and the spheroidal wave functions share that code. They are
# mirrored like the others but never called with random arguments here.
CRASHING_PREFIXES = ("scipy.special.mathieu_", "scipy.special.pro_", "scipy.special.obl_")
# the other elementwise functions of scipy.special (no gradient; arguments read off their loops)
MIRRORED_UFUNCS = sorted(name for name, op in OPS.items()
                         if name.startswith("scipy.special.") and name not in _table.TEST_HINTS
                         and not name.startswith(CRASHING_PREFIXES) and isinstance(op.ref, np.ufunc) and _loop(op.ref) is not None)


def _to_minpy(on_mxnet):
    if on_mxnet:
        backend = get_backend("mxnet")
        assert backend.available(), backend.unavailable_reason()
        ctx = current_context()
        return lambda a: Array(backend.from_numpy(a, ctx), backend) if a.dtype.kind == "f" else Array(a.copy())
    return lambda a: Array(a.copy())


def _quietly(fn, args, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)


def assert_same(op, expected, got, where="result"):
    """minpy's result ``got`` has SciPy's container type, dtype, shape and (within tolerance) values."""
    if isinstance(expected, (list, tuple)):
        assert type(got) is type(expected), f"{where}: minpy gave {type(got).__name__}, SciPy " \
                                            f"{type(expected).__name__}"
        assert len(got) == len(expected)
        for i, (e, g) in enumerate(zip(expected, got)):
            assert_same(op, e, g, f"{where}[{i}]")
        return
    if isinstance(expected, (np.ndarray, np.generic)):
        assert isinstance(got, Array), f"{where}: minpy gave {type(got).__name__}, SciPy {type(expected).__name__}"
        g = got.asnumpy()
    else:
        assert type(got) is type(expected), f"{where}: minpy gave {got!r}, SciPy {expected!r}"
        g = np.asarray(got)
    e = np.asarray(expected)
    assert g.dtype == e.dtype, f"{where}: dtype {g.dtype}, SciPy's is {e.dtype}"
    assert g.shape == e.shape, f"{where}: shape {g.shape}, SciPy's is {e.shape}"
    if e.size == 0:
        return
    if e.dtype.kind in "fc":
        rtol, atol = S.tolerance(op, e.dtype)
        wide = np.complex128 if e.dtype.kind == "c" else np.float64
        np.testing.assert_allclose(g.astype(wide), e.astype(wide), rtol=rtol, atol=atol, equal_nan=True,
                                   err_msg=f"{where} ({e.dtype})")
    else:
        np.testing.assert_array_equal(g, e, err_msg=f"{where} ({e.dtype})")


def reference(op):
    """What minpy's result is compared with: SciPy's function (for ``convolve``, SciPy's own ``convolve``
    when the call is SciPy's kind)."""
    if op.name == "scipy.signal.convolve":
        return scipy.signal.convolve
    return op.ref


def check_call(op, call, policy, on_mxnet=False, must_succeed=False):
    np_args, np_kwargs = call.numpy()
    try:
        expected = _quietly(reference(op), np_args, np_kwargs)
    except Exception as exc:  # SciPy rejects these arguments: minpy must raise the same type
        assert not must_succeed, f"SciPy raised {type(exc).__name__}: {exc} for the plain call {call}"
        mp_args, mp_kwargs = call.materialise(_to_minpy(on_mxnet))
        with policy:
            with pytest.raises(Exception) as info:
                _quietly(op.public, mp_args, mp_kwargs)
        assert isinstance(info.value, type(exc)), (f"minpy raised {type(info.value).__name__}: {info.value}; "
                                                   f"SciPy raised {type(exc).__name__}: {exc}")
        return
    mp_args, mp_kwargs = call.materialise(_to_minpy(on_mxnet))
    with policy:
        got = _quietly(op.public, mp_args, mp_kwargs)
    assert_same(op, expected, got)


_CALLS = {}


def _calls(op, mode="value"):
    key = (op.name, mode)
    if key not in _CALLS:
        _CALLS[key] = S.calls(op, mode)
    return _CALLS[key]


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("name", DECLARED)
@settings(max_examples=max(1, settings.default.max_examples * 2 // 5))
@given(data=st.data())
def test_declared_operator_matches_scipy(name, policy, data):
    op = OPS[name]
    call = data.draw(_calls(op), label="call")
    on_mxnet = policy != "only_numpy" and data.draw(st.booleans(), label="inputs held by MXNet")
    check_call(op, call, resolve_policy(policy), on_mxnet)


@st.composite
def _ufunc_call(draw, op):
    """Arguments for a mirrored ufunc: float64 arrays in (0.2, 3) (and NaN), small integers where its loop
    takes integers."""
    loop = _loop(op.ref)
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=len(loop), max_dims=2, max_side=3)).input_shapes
    args = []
    for code, shape in zip(loop, shapes):
        if code == "d":
            elements = st.one_of(st.floats(0.2, 3.0), st.just(np.nan))
            args.append(draw(hnp.arrays(np.float64, shape, elements=elements)))
        else:
            args.append(draw(hnp.arrays(np.int64, shape, elements=st.integers(0, 3))))
    return S.Call(args, {})


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("name", MIRRORED_UFUNCS)
@settings(max_examples=3)
@given(data=st.data())
def test_mirrored_ufunc_matches_scipy(name, policy, data):
    op = OPS[name]
    call = data.draw(_ufunc_call(op), label="call")
    check_call(op, call, resolve_policy(policy))


@pytest.mark.mxnet
@pytest.mark.parametrize("name", MXNET_OPS)
@given(data=st.data())
def test_mxnet_route_is_taken(name, data):
    op = OPS[name]
    call = data.draw(_calls(op, "plain"), label="plain call")
    if S.hints(op).get("plain", {}).get("axis"):
        call.kwargs["axis"] = data.draw(st.integers(-1, np.ndim(call.args[0]) - 1), label="axis")
    stats.reset_op_stat()
    check_call(op, call, PreferMXNetPolicy(), on_mxnet=data.draw(st.booleans()), must_succeed=True)
    ran = stats.op_stats()["calls"].get(name, {})
    assert "mxnet" in ran, f"{name} ran on {sorted(ran)}; fallbacks: {stats.op_stats()['fallbacks'].get(name)}"


@pytest.mark.mxnet
@pytest.mark.parametrize("name", MXNET_OPS)
def test_mxnet_spec_resolves(name):
    backend = get_backend("mxnet")
    assert backend.available(), backend.unavailable_reason()
    assert callable(backend.resolve(OPS[name].impls["mxnet"].spec))


# -- the namespaces --------------------------------------------------------------------------------------------
def test_table_and_hints_agree():
    """Every record has test hints naming known argument kinds, and every declared name exists in SciPy."""
    assert len(DECLARED) > 100
    assert set(_table.TEST_HINTS) == set(DECLARED)
    for name in DECLARED:
        h = _table.TEST_HINTS[name]
        for k in list(h.get("args", ())) + list(h.get("kwargs", {}).values()):
            assert k in S.KINDS or S.is_elementwise(k), f"{name}: unknown argument kind {k!r}"
        assert name in OPS, f"{name} is declared but not registered"


@pytest.mark.parametrize("module, source", [("special", scipy.special), ("linalg", scipy.linalg)])
def test_every_public_callable_is_mirrored(module, source):
    namespace = getattr(minpy.scipy, module)
    missing = [attr for attr in dir(source) if not attr.startswith("_") and attr != "test"
               and callable(getattr(source, attr)) and not isinstance(getattr(source, attr), type)
               and not inspect.ismodule(getattr(source, attr)) and not hasattr(namespace, attr)]
    assert missing == []
    # operators, not SciPy's functions themselves
    assert namespace.airy is not scipy.special.airy if module == "special" else True
    assert getattr(namespace, "errstate" if module == "special" else "LinAlgError") is \
        getattr(source, "errstate" if module == "special" else "LinAlgError")


@pytest.mark.parametrize("dist", sorted(list(_table.DISTRIBUTIONS) + list(_table.MULTIVARIATE)))
def test_distribution_modules_have_every_method(dist):
    module = getattr(minpy.scipy.stats, dist)
    source = getattr(scipy.stats, dist)
    methods = [m for m in dir(source) if not m.startswith("_") and callable(getattr(source, m))
               and not isinstance(getattr(source, m), type)]
    assert methods and all(hasattr(module, m) for m in methods)
    assert all(f"scipy.stats.{dist}.{m}" in OPS for m in methods)


def test_names_and_signatures():
    assert minpy.scipy.misc.logsumexp is msp.logsumexp
    assert msp.erf.__module__ == "minpy.scipy.special" and msp.erf.__name__ == "erf"
    assert inspect.signature(msp.logsumexp) == inspect.signature(scipy.special.logsumexp)
    assert inspect.signature(minpy.scipy.stats.norm.pdf) == inspect.signature(scipy.stats.norm.pdf)
    assert OPS["scipy.special.erf"].differentiable and OPS["scipy.special.airy"].differentiable is None
    assert OPS["scipy.special.gammasgn"].differentiable is False
    # scipy.special.sinc is numpy.sinc: the same record (and gradient) as minpy.numpy.sinc
    assert OPS["scipy.special.sinc"].ref is np.sinc
    assert OPS["scipy.stats.norm.rvs"].kind == "random"
    assert not any(name.startswith("scipy.") for name in all_operators())


def test_errors_name_the_operator():
    with pytest.raises(TypeError, match=r"minpy\.scipy\.special\.erf\("):
        msp.erf("a")
    with pytest.raises(np.linalg.LinAlgError, match=r"minpy\.scipy\.linalg\.cholesky"):
        minpy.scipy.linalg.cholesky(-np.eye(2))


def test_results_are_arrays_and_feed_minpy():
    import minpy.numpy as mnp

    x = mnp.linspace(-2.0, 2.0, 7)
    y = msp.expit(x) * 2.0 + minpy.scipy.stats.norm.logpdf(x, loc=0.5, scale=2.0)
    assert isinstance(y, Array) and y.shape == (7,)
    expected = scipy.special.expit(np.linspace(-2, 2, 7)) * 2 + scipy.stats.norm.logpdf(np.linspace(-2, 2, 7),
                                                                                          loc=0.5, scale=2.0)
    np.testing.assert_allclose(y.asnumpy(), expected, rtol=1e-12)
    assert isinstance(msp.logsumexp(x), Array) and msp.logsumexp(x).shape == ()


# -- HIPS autograd's convolve: the general case ----------------------------------------------------------------
@pytest.mark.parametrize("mode", ["full", "valid"])
def test_general_convolve_matches_slices(mode):
    """Convolving along some axes and contracting others equals SciPy's convolve of the slices, summed."""
    conv = minpy.scipy.signal.convolve
    rng = np.random.default_rng(0)
    a35, a34, a342 = rng.standard_normal((3, 5)), rng.standard_normal((3, 4)), rng.standard_normal((3, 4, 2))
    a2543, a24232 = rng.standard_normal((2, 5, 4, 3)), rng.standard_normal((2, 4, 2, 3, 2))

    def close(got, expected):
        np.testing.assert_allclose(np.asarray(got.asnumpy() if isinstance(got, Array) else got), expected,
                                   rtol=1e-10, atol=1e-12)
    close(conv(a35, a34, axes=([1], [0]), mode=mode)[1, 2], scipy.signal.convolve(a35[1], a34[:, 2], mode))
    close(conv(a35, a34, axes=([], []), dot_axes=([0], [0]), mode=mode), np.tensordot(a35, a34, axes=([0], [0])))
    close(conv(a35, a342, axes=([1], [2]), dot_axes=([0], [0]), mode=mode)[2],
          sum(scipy.signal.convolve(a35[i], a342[i, 2], mode) for i in range(3)))
    close(conv(a2543, a24232, axes=([1, 2], [2, 4]), dot_axes=([0, 3], [0, 3]), mode=mode)[2],
          sum(scipy.signal.convolve(a2543[i, :, :, j], a24232[i, 2, :, j, :], mode)
              for i in range(2) for j in range(3)))
    # SciPy's positional mode and HIPS's keyword spelling are the same call
    close(conv(a35, a34, mode), scipy.signal.convolve(a35, a34, mode))


def test_general_convolve_rejects_bad_axes():
    conv = minpy.scipy.signal.convolve
    a = np.ones((3, 4))
    with pytest.raises(ValueError, match="valid"):
        conv(a, np.ones((4, 3)), mode="valid")
    with pytest.raises(ValueError, match="mode"):
        conv(a, a, mode="circular")
    with pytest.raises(ValueError, match="pair"):
        conv(a, a, axes=([0], [0, 1]))


# -- without SciPy -----------------------------------------------------------------------------------------------
_WITHOUT_SCIPY = r"""
import sys
sys.modules["scipy"] = None  # as if SciPy were not installed: `import scipy` raises ModuleNotFoundError
import minpy.scipy
import minpy.scipy.special as sp
from minpy.scipy.special import logsumexp
from minpy.scipy.stats import norm, multivariate_normal
import minpy.scipy.linalg, minpy.scipy.signal, minpy.scipy.integrate, minpy.scipy.misc
import minpy.numpy as np
assert not minpy.scipy.available()
for call in (lambda: sp.erf(np.ones(2)), lambda: logsumexp(np.ones(2)), lambda: norm.logpdf(0.0),
             lambda: minpy.scipy.integrate.odeint(None, 0.0, [0.0]), lambda: minpy.scipy.signal.convolve(1, 1)):
    try:
        call()
    except ModuleNotFoundError as exc:
        assert "pip install scipy" in str(exc), exc
        print("raised:", exc)
    else:
        raise AssertionError("no error without SciPy")
try:
    sp.airy
except AttributeError as exc:
    assert "pip install scipy" in str(exc), exc
else:
    raise AssertionError("sp.airy exists without SciPy")
assert np.exp(np.zeros(2)).shape == (2,)  # minpy.numpy is unaffected
print("ok")
"""


def test_without_scipy_the_functions_say_what_to_install():
    proc = subprocess.run([sys.executable, "-c", _WITHOUT_SCIPY], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("ok")
    assert "minpy.scipy.special.erf needs SciPy, which is not installed: pip install scipy" in proc.stdout
