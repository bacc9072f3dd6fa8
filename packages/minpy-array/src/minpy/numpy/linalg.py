"""``minpy.numpy.linalg``: the public callables of ``numpy.linalg``, generated from the operator table."""
import numpy as _np

from minpy.ops import populate

populate(globals(), _np.linalg, "linalg")
