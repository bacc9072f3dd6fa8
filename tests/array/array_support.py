"""Helpers shared by the tests in tests/array (imported as a top-level module: pytest puts this folder on
sys.path, since tests/array has no __init__.py)."""
import numpy
import pytest

from minpy.array import Array
from minpy.backends import get_backend
from minpy.context import cpu

HAVE_MXNET = get_backend("mxnet").available()
BACKENDS = ["numpy", pytest.param("mxnet", marks=pytest.mark.mxnet)]


def on(backend, x):
    """An Array whose authoritative data is a copy of ``x`` on ``backend``."""
    x = numpy.array(x)
    b = get_backend(backend)
    if backend == "numpy":
        return Array(x, b)
    assert b.available()
    return Array(b.from_numpy(x, cpu()), b)
