"""The minpy.numpy namespace mirrors NumPy's: names, signatures, constants, dtypes, random streams; and the
interceptor hook that extensions (autograd) use."""
import inspect

import numpy
import pytest

import minpy
import minpy.numpy as np
from minpy import extend
from minpy.array import Array

MODULES = [("numpy", numpy, np), ("numpy.random", numpy.random, np.random), ("numpy.linalg", numpy.linalg, np.linalg),
           ("numpy.fft", numpy.fft, np.fft)]


def public_callables(module):
    for attr in dir(module):
        if attr.startswith("_"):
            continue
        try:
            obj = getattr(module, attr)
        except AttributeError:  # NumPy's lazily deprecated attributes
            continue
        if callable(obj):
            yield attr, obj


@pytest.fixture(autouse=True)
def _no_interceptor():
    previous = extend.get_interceptor()
    extend.set_interceptor(None)
    yield
    extend.set_interceptor(previous)
    minpy.set_global_policy("prefer_mxnet")


@pytest.mark.parametrize("label, module, mirror", MODULES, ids=[m[0] for m in MODULES])
def test_every_public_callable_is_mirrored(label, module, mirror):
    missing = [attr for attr, _ in public_callables(module) if not hasattr(mirror, attr)]
    assert missing == [], f"{label}: {missing}"
    assert sum(1 for _ in public_callables(module)) > 10


@pytest.mark.parametrize("label, module, mirror", MODULES, ids=[m[0] for m in MODULES])
def test_signatures_of_python_functions_match(label, module, mirror):
    checked, different = 0, []
    for attr, obj in public_callables(module):
        if not inspect.isfunction(obj):
            continue
        try:
            expected = inspect.signature(obj)
        except (TypeError, ValueError):
            continue
        checked += 1
        if inspect.signature(getattr(mirror, attr)) != expected:
            different.append(attr)
    assert different == [], f"{label}: {different}"
    assert checked > 0 or label != "numpy"


def test_operators_are_minpy_functions_with_numpys_docs():
    for name in ["add", "sum", "reshape", "zeros", "logaddexp", "concatenate"]:
        fn = getattr(np, name)
        assert fn is not getattr(numpy, name)
        assert fn.__name__ == name
        assert fn.__doc__ == getattr(numpy, name).__doc__
    assert np.linalg.inv.__name__ == "inv" and np.random.randn.__name__ == "randn"
    assert isinstance(np.add(numpy.ones(2), 1), Array)
    assert isinstance(np.fft.fft(numpy.ones(4)), Array)
    assert isinstance(np.linalg.norm(numpy.ones(4)), Array)


def test_constants_dtypes_and_classes_are_numpys():
    for name in ["pi", "e", "inf", "euler_gamma"]:
        assert getattr(np, name) == getattr(numpy, name)
    assert numpy.isnan(np.nan)
    assert np.newaxis is None and numpy.newaxis is None
    for name in ["float32", "float64", "int64", "int32", "uint8", "bool_", "dtype", "generic", "finfo", "iinfo",
                 "errstate"]:
        assert getattr(np, name) is getattr(numpy, name)
    assert np.ndarray is Array
    # NumPy's submodules are mirrored: their functions take minpy Arrays (tests/array/test_surface.py)
    assert np.testing.assert_allclose is not numpy.testing.assert_allclose
    np.testing.assert_array_equal(np.ones(2), numpy.ones(2))
    a = np.ones((2, 2), dtype=np.float32)
    assert a.dtype == numpy.float32 and isinstance(a, np.ndarray)
    assert np.zeros(3)[np.newaxis].shape == (1, 3)


def test_info_functions_return_plain_values():
    assert np.shape(np.ones((2, 3))) == (2, 3)
    assert np.ndim(np.ones((2, 3))) == 2
    assert np.result_type(np.ones(2, dtype="int32"), 1.5) == numpy.result_type(numpy.ones(2, dtype="int32"), 1.5)
    assert np.allclose(np.ones(3), numpy.ones(3)) is True


def test_random_stream_equals_numpys():
    np.random.seed(0)
    a = np.random.randn(3)
    numpy.random.seed(0)
    expected = numpy.random.randn(3)
    numpy.testing.assert_array_equal(a.asnumpy(), expected)
    assert isinstance(a, Array) and a.dtype == numpy.float64

    np.random.seed(7)
    first = [np.random.rand(2, 2).asnumpy(), np.random.randint(0, 10, size=5).asnumpy(),
             np.random.normal(1.0, 2.0, size=3).asnumpy(), np.random.permutation(6).asnumpy()]
    np.random.seed(7)
    again = [np.random.rand(2, 2).asnumpy(), np.random.randint(0, 10, size=5).asnumpy(),
             np.random.normal(1.0, 2.0, size=3).asnumpy(), np.random.permutation(6).asnumpy()]
    for x, y in zip(first, again):
        numpy.testing.assert_array_equal(x, y)
    numpy.random.seed(7)
    numpy.testing.assert_array_equal(first[0], numpy.random.rand(2, 2))


def test_random_shuffle_writes_in_place_like_numpy():
    a = np.arange(10)
    np.random.seed(1)
    assert np.random.shuffle(a) is None
    expected = numpy.arange(10)
    numpy.random.seed(1)
    numpy.random.shuffle(expected)
    numpy.testing.assert_array_equal(a.asnumpy(), expected)


def test_interceptor_sees_calls_and_can_be_removed():
    seen = []

    def interceptor(op, args, kwargs):
        seen.append((op.name, len(args), sorted(kwargs)))
        return op.invoke(args, kwargs)

    assert extend.set_interceptor(interceptor) is None
    assert extend.get_interceptor() is interceptor
    a = np.ones((2, 2))
    b = a + a
    c = np.sum(b, axis=0)
    d = b[0]
    numpy.testing.assert_array_equal(c.asnumpy(), [4.0, 4.0])
    numpy.testing.assert_array_equal(d.asnumpy(), [2.0, 2.0])
    names = [name for name, _, _ in seen]
    assert names == ["ones", "add", "sum", "getitem"]
    assert seen[2] == ("sum", 1, ["axis"])

    assert extend.set_interceptor(None) is interceptor
    seen.clear()
    a + a
    np.exp(a)
    assert seen == []


def test_interceptors_nest_and_can_replace_results():
    log = []

    def outer(op, args, kwargs):
        log.append("outer:" + op.name)
        return op.invoke(args, kwargs)

    def inner(op, args, kwargs):
        log.append("inner:" + op.name)
        if op.name == "multiply":
            return "replaced"
        return previous(op, args, kwargs)

    extend.set_interceptor(outer)
    previous = extend.set_interceptor(inner)
    assert previous is outer
    a = np.ones(2)
    assert a * a == "replaced"
    a += 1  # in-place operators go through the interceptor too
    assert "inner:add" in log and "outer:add" in log
    numpy.testing.assert_array_equal(a.asnumpy(), [2.0, 2.0])
    assert extend.set_interceptor(previous) is inner
    extend.set_interceptor(None)
