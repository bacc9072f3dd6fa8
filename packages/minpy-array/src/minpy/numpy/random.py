"""``minpy.numpy.random``: the public callables of ``numpy.random``, generated from the operator table."""
import numpy as _np

from minpy.ops import populate

populate(globals(), _np.random, "random")
