"""``import minpy.numpy as np``: NumPy's namespace, run on MXNet where it can and on NumPy otherwise.

Every public callable of ``numpy`` (and of ``numpy.random``, ``numpy.linalg``, ``numpy.fft``) is here under
the same name, generated from the operator table (:mod:`minpy.ops.table`). Constants, dtype objects and
classes are NumPy's own; ``ndarray`` is :class:`minpy.array.Array`.
"""
import numpy as _np

from minpy.array import Array as ndarray  # already bound, so populate keeps it over numpy.ndarray
from minpy.numpy import fft, linalg, random  # noqa: F401
from minpy.ops import populate as _populate  # (importing minpy.ops builds the operator table)
from minpy.stats import (format_op_stat, op_stats, record_op_stat, reset_op_stat,  # noqa: F401
                         show_op_stat)

_populate(globals(), _np, "")

from minpy.numpy._index_tricks import c_, r_  # noqa: E402,F401  (index tricks built from the operators)
from minpy.ops.operator import get_operator as _get_operator  # noqa: E402

# HIPS autograd's extension of NumPy's namespace, for code written against autograd.numpy
make_diagonal = _get_operator("make_diagonal").public

testing = _np.testing
newaxis = None
