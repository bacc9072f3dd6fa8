"""Every attribute of the installed NumPy is in minpy.numpy, and NumPy's submodules work on minpy Arrays:
``dir()`` of numpy and of its submodules against minpy.numpy's, the deprecated aliases NumPy still keeps (with
NumPy's own warnings, or NumPy's AttributeError where it has dropped them), the functions of ``lib``, ``emath``,
``ma``, ``testing``, ``polynomial``, ``char``, ``ctypeslib`` on minpy Arrays, views from ``as_strided``, imports of
``minpy.numpy.<submodule>``, and NumPy functions reaching minpy through ``__array_function__``."""
import ctypes
import importlib
import types
import warnings

import numpy
import pytest

import minpy.numpy as np
from minpy.dispatch.policy import resolve_policy
from minpy.array import Array
from minpy.backends import get_backend
from minpy.context import current_context


def _public(module):
    return sorted(n for n in dir(module) if not n.startswith("_"))


def _submodules(module):
    for name in _public(module):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = getattr(module, name, None)
        if isinstance(value, types.ModuleType) and value.__name__.startswith("numpy."):
            yield name, value


def _quiet_getattr(module, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(module, name)


def _missing(numpy_module, mirror):
    missing = [n for n in _public(numpy_module) if n not in dir(mirror)]
    absent = []
    for n in _public(numpy_module):
        try:
            _quiet_getattr(mirror, n)
        except AttributeError:
            absent.append(n)
    return missing, absent


def test_dir_of_numpy_is_in_minpy_numpy():
    missing, absent = _missing(numpy, np)
    assert missing == [] and absent == [], (missing, absent)
    assert np.__version__ == numpy.__version__
    assert len(_public(numpy)) > 400


def test_dir_of_every_submodule_is_mirrored():
    """The submodules of numpy and theirs, one level down (numpy.lib.stride_tricks, numpy.polynomial.polynomial,
    numpy.random.mtrand...)."""
    checked = 0
    for name, module in _submodules(numpy):
        mirror = getattr(np, name)
        assert isinstance(mirror, types.ModuleType), name
        missing, absent = _missing(module, mirror)
        assert missing == [] and absent == [], (name, missing, absent)
        checked += 1
        for sub, submodule in _submodules(module):
            if not submodule.__name__.startswith(module.__name__ + "."):
                continue  # a module imported there from elsewhere
            missing, absent = _missing(submodule, getattr(mirror, sub))
            assert missing == [] and absent == [], (f"{name}.{sub}", missing, absent)
            checked += 1
    for name in ("lib", "emath", "ma", "testing", "polynomial", "char", "rec", "ctypeslib", "random", "linalg",
                 "fft"):
        assert isinstance(getattr(np, name), types.ModuleType), name
    for name in ("dtypes", "exceptions"):
        assert hasattr(np, name) == hasattr(numpy, name)
    assert checked > 20


def _access(module, name):
    """(what ``module.name`` gives: ('value', v) or ('error', type, message), [(category, message), ...],
    whether every warning points at this file)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            got = ("value", getattr(module, name))
        except AttributeError as exc:
            got = ("error", type(exc), str(exc).replace("minpy.numpy", "numpy"))
    return got, [(w.category, str(w.message)) for w in caught], all(w.filename == __file__ for w in caught)


@pytest.mark.parametrize("name", ["int", "float", "bool", "object", "str", "long", "unicode", "complex", "ulong",
                                  "typeDict", "MachAr", "float_", "round_", "product", "cumproduct", "alltrue",
                                  "sometrue", "asfarray", "Inf", "NaN", "infty"])
def test_deprecated_aliases_behave_as_in_numpy(name):
    """np.int in NumPy 1.23 is int with NumPy's DeprecationWarning (raised at the caller's line); in NumPy 2 it
    is NumPy's AttributeError. minpy.numpy gives exactly what the installed NumPy gives."""
    expected, expected_warnings, _ = _access(numpy, name)
    got, got_warnings, at_caller = _access(np, name)
    if expected[0] == "value" and callable(expected[1]) and not isinstance(expected[1], type):
        assert got[0] == "value" and callable(got[1]), got  # a function: minpy's version of it
    else:
        assert got == expected
    assert got_warnings == expected_warnings
    assert at_caller, "the warning should point at the line that used the alias"


def test_np_int_in_numpy_1():
    if not hasattr(numpy, "__deprecated_attrs__") or "int" not in numpy.__deprecated_attrs__:
        pytest.skip(f"NumPy {numpy.__version__} has no np.int")
    with pytest.warns(DeprecationWarning):
        assert np.int is int
    with pytest.warns(DeprecationWarning):
        assert np.zeros(3).astype(np.int).dtype == numpy.zeros(3).astype(int).dtype


def test_as_strided_views_like_numpy():
    """as_strided on an Array held by NumPy is a view: writes through either are seen by the other, and each
    write is recorded on the base (the same buffer, one version counter)."""
    x = np.arange(12.0)
    expected = numpy.lib.stride_tricks.as_strided(numpy.arange(12.0), shape=(5, 4), strides=(16, 8))
    v = np.lib.stride_tricks.as_strided(x, shape=(5, 4), strides=(16, 8))
    assert isinstance(v, Array)
    numpy.testing.assert_array_equal(v.asnumpy(), expected)
    version = x.version
    v[1, 0] = -1.0
    assert float(x[2]) == -1.0 and x.version > version
    x[3] = 7.0
    assert float(v[1, 1]) == 7.0 and float(v[0, 3]) == 7.0
    windows = np.lib.stride_tricks.sliding_window_view(x, 3)
    numpy.testing.assert_array_equal(windows.asnumpy(),
                                     numpy.lib.stride_tricks.sliding_window_view(x.asnumpy(), 3))
    with pytest.raises(ValueError):  # read-only, as NumPy's is
        windows[0, 0] = 1.0


@pytest.mark.mxnet
@pytest.mark.parametrize("policy", ["only_numpy", "prefer_mxnet", "auto"])
def test_as_strided_of_an_array_held_elsewhere_is_a_view(policy):
    """An Array held by MXNet has no host buffer to view: as_strided gives a detached view, kept in step both ways
    as NumPy's view is (overlapping windows included)."""
    backend = get_backend("mxnet")
    assert backend.available(), backend.unavailable_reason()
    ref = numpy.arange(6.0)
    x = Array(backend.from_numpy(ref.copy(), current_context()), backend)
    with resolve_policy(policy):
        windows = np.lib.stride_tricks.as_strided(x, shape=(4, 3), strides=(8, 8))  # overlapping rows
        ref_windows = numpy.lib.stride_tricks.as_strided(ref, shape=(4, 3), strides=(8, 8))
        numpy.testing.assert_array_equal(windows.asnumpy(), ref_windows)
        windows[1, 1] = 50.0
        ref_windows[1, 1] = 50.0
        numpy.testing.assert_array_equal(x.asnumpy(), ref)
        numpy.testing.assert_array_equal(windows.asnumpy(), ref_windows)
        x[3] = -1.0
        ref[3] = -1.0
        numpy.testing.assert_array_equal(windows.asnumpy(), ref_windows)
        numpy.testing.assert_array_equal(np.sum(windows, axis=1).asnumpy(), ref_windows.sum(axis=1))


def test_submodule_functions_take_and_give_minpy_arrays():
    x = np.array([-4.0, 1.0, 9.0])
    r = np.emath.sqrt(x)
    assert isinstance(r, Array)
    numpy.testing.assert_allclose(r.asnumpy(), numpy.emath.sqrt(numpy.array([-4.0, 1.0, 9.0])))
    c = np.polynomial.polynomial.polyval(np.array([0.0, 1.0, 2.0]), np.array([1.0, 2.0, 3.0]))
    assert isinstance(c, Array)
    numpy.testing.assert_allclose(c.asnumpy(), [1.0, 6.0, 17.0])
    p = np.polynomial.Polynomial([1.0, 2.0])  # a class: NumPy's own
    assert p is not None and isinstance(p, numpy.polynomial.Polynomial)
    assert np.lib.NumpyVersion("1.22.0") < "1.23.0"
    np.testing.assert_allclose(x, x.asnumpy())
    np.testing.assert_equal(x, x)
    with pytest.raises(AssertionError):
        np.testing.assert_array_equal(x, x + 1)
    m = np.ma.masked_array(x, mask=[False, True, False])  # the class: NumPy's, reading x through __array__
    assert isinstance(m, numpy.ma.MaskedArray) and float(m.sum()) == 5.0
    m = np.ma.array(x, mask=[False, True, False])
    m[0] = 100.0  # NumPy's masked array, on a copy of x's data (see the README)
    assert float(x[0]) == -4.0 and float(m[0]) == 100.0
    s = np.char.upper(numpy.array(["a", "b"]))
    assert list(s) == ["A", "B"]
    buf = (ctypes.c_double * 3)(1.0, 2.0, 3.0)
    a = np.ctypeslib.as_array(buf)
    assert isinstance(a, Array)
    a[0] = 10.0  # a view of the ctypes buffer, as in NumPy
    assert buf[0] == 10.0


def test_import_submodules_of_minpy_numpy():
    stride_tricks = importlib.import_module("minpy.numpy.lib.stride_tricks")
    assert stride_tricks is np.lib.stride_tricks
    from minpy.numpy.lib.stride_tricks import as_strided
    assert as_strided is np.lib.stride_tricks.as_strided
    poly = importlib.import_module("minpy.numpy.polynomial.polynomial")
    assert poly.polyval is np.polynomial.polynomial.polyval
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("minpy.numpy.no_such_module")


def test_numpy_functions_on_minpy_arrays_return_minpy_arrays():
    """NumPy's own functions called with minpy Arrays (__array_function__): minpy's operator, or for a function
    minpy has no operator for, NumPy's function on the data; minpy Arrays come back, views included."""
    x = np.arange(6.0)
    m = numpy.mean(x)
    assert isinstance(m, Array) and float(m) == 2.5
    w = numpy.lib.stride_tricks.sliding_window_view(x, 2)
    assert isinstance(w, Array) and w.shape == (5, 2)
    v = x.version
    numpy.copyto(x, 1.0)
    assert x.version > v and float(np.sum(x)) == 6.0
    numpy.put(x, [0], 5.0)
    assert float(x[0]) == 5.0
