"""``import minpy.numpy as np``: NumPy's namespace, run on MXNet where it can and on NumPy otherwise.

Every public callable of ``numpy`` (and of ``numpy.random``, ``numpy.linalg``, ``numpy.fft``) is here under
the same name, generated from the operator table (:mod:`minpy.ops.table`); ufuncs carry NumPy's ufunc
attributes and methods (:mod:`minpy.ops.ufuncs`). Constants, dtype objects and classes are NumPy's own;
``ndarray`` is :class:`minpy.array.Array`, ``nditer`` writes into minpy Arrays (:mod:`minpy.ops.nditer`).
Every other attribute of NumPy (``lib``, ``emath``, ``ma``, ``testing``... and the deprecated aliases NumPy still
keeps) is served on first use by :mod:`minpy.ops.mirror`.
"""
import numpy as _np

from minpy.array import Array as ndarray  # already bound, so populate keeps it over numpy.ndarray
from minpy.numpy import fft, linalg, random  # noqa: F401
from minpy.ops import mirror as _mirror
from minpy.ops import populate as _populate  # (importing minpy.ops builds the operator table)
from minpy.ops.nditer import nditer  # noqa: F401  (over numpy.nditer: it writes into minpy Arrays)
from minpy.stats import (format_op_stat, op_stats, record_op_stat, reset_op_stat,  # noqa: F401
                         show_op_stat)

_populate(globals(), _np, "")

from minpy.numpy._index_tricks import c_, r_  # noqa: E402,F401  (index tricks built from the operators)
from minpy.ops.operator import get_operator as _get_operator  # noqa: E402

# HIPS autograd's extension of NumPy's namespace, for code written against autograd.numpy
make_diagonal = _get_operator("make_diagonal").public
newaxis = None
__version__ = _np.__version__
# Everything else NumPy has: submodules (lib, emath, ma, testing...), attributes NumPy serves lazily and the
# deprecated aliases it keeps (np.int in NumPy 1.x, with NumPy's own warning), mirrored on first use.
__getattr__ = _mirror.module_getattr(_np, "")
__dir__ = _mirror.module_dir(_np, globals())
_mirror.install_finder()
