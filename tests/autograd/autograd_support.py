"""Helpers shared by the tests in tests/autograd (imported as a top-level module: pytest puts this folder on
sys.path, since tests/autograd has no __init__.py)."""
import numpy

from minpy.array import Array


def host(x):
    """A NumPy copy of an Array, NumPy array or scalar (dtype kept)."""
    if isinstance(x, Array):
        return numpy.array(x.asnumpy())
    return numpy.asarray(x)


def close(actual, expected, rtol=1e-7, atol=1e-12):
    """``actual`` (an Array, NumPy array or scalar) matches ``expected`` in value and shape."""
    actual = host(actual)
    expected = numpy.asarray(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    numpy.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def rand(*shape, seed=0):
    """Standard normal values of ``shape``, the same for the same ``seed``."""
    return numpy.random.default_rng(seed).standard_normal(shape)
