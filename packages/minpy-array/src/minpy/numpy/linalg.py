"""``minpy.numpy.linalg``: the public callables of ``numpy.linalg``, generated from the operator table."""
import numpy as _np

from minpy.numpy import _populate

_populate(globals(), _np.linalg, "linalg")
