"""``minpy.numpy.fft``: the public callables of ``numpy.fft``, generated from the operator table."""
import numpy as _np

from minpy.ops import mirror as _mirror
from minpy.ops import populate

populate(globals(), _np.fft, "fft")
__getattr__ = _mirror.module_getattr(_np.fft, "fft")  # NumPy's other attributes (submodules...), on first use
__dir__ = _mirror.module_dir(_np.fft, globals())
