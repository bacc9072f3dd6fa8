"""Helpers shared by the tests in tests/array (imported as a top-level module: pytest puts this folder on
sys.path, since tests/array has no __init__.py)."""
import pathlib
import sys
import warnings

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


CS231N_STYLE = pathlib.Path(__file__).with_name("cs231n_style.py")


def load_cs231n_style(minpy):
    """The CS231n-style program (cs231n_style.py) as a module; ``minpy``: with ``import numpy as np`` replaced
    by ``import minpy.numpy as np``, as a student would switch."""
    text = CS231N_STYLE.read_text()
    name = "cs231n_style_" + ("minpy" if minpy else "numpy")
    if minpy:
        assert text.count("\nimport numpy as np\n") == 1
        text = text.replace("\nimport numpy as np\n", "\nimport minpy.numpy as np\n")
    module = type(sys)(name)
    module.__file__ = str(CS231N_STYLE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        exec(compile(text, str(CS231N_STYLE), "exec"), module.__dict__)
    return module
