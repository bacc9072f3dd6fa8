"""``minpy.numpy.random``: the public callables of ``numpy.random``, generated from the operator table."""
import numpy as _np

from minpy.ops import mirror as _mirror
from minpy.ops import populate

populate(globals(), _np.random, "random")
__getattr__ = _mirror.module_getattr(_np.random, "random")  # NumPy's other attributes (submodules...), on first use
__dir__ = _mirror.module_dir(_np.random, globals())
