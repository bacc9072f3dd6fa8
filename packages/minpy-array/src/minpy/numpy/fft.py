"""``minpy.numpy.fft``: the public callables of ``numpy.fft``, generated from the operator table."""
import numpy as _np

from minpy.ops import populate

populate(globals(), _np.fft, "fft")
