"""``minpy.numpy.random``: the public callables of ``numpy.random``, generated from the operator table."""
import numpy as _np

from minpy.numpy import _populate

_populate(globals(), _np.random, "random")
