"""``minpy.numpy.linalg``: the public callables of ``numpy.linalg``, generated from the operator table."""
import numpy as _np

from minpy.ops import mirror as _mirror
from minpy.ops import populate

populate(globals(), _np.linalg, "linalg")
__getattr__ = _mirror.module_getattr(_np.linalg, "linalg")  # NumPy's other attributes (submodules...), on first use
__dir__ = _mirror.module_dir(_np.linalg, globals())
