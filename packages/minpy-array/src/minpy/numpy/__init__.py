"""``import minpy.numpy as np``: NumPy's namespace, run on MXNet where it can and on NumPy otherwise.

Every public callable of ``numpy`` (and of ``numpy.random``, ``numpy.linalg``, ``numpy.fft``) is here under
the same name, generated from the operator table (:mod:`minpy.ops.table`). Constants, dtype objects and
classes are NumPy's own; ``ndarray`` is :class:`minpy.array.Array`.
"""
import numpy as _np

from minpy import ops as _ops  # noqa: F401  (builds the operator table)
from minpy.array import Array as ndarray  # already bound, so _populate keeps it over numpy.ndarray
from minpy.ops.operator import all_operators as _all_operators
from minpy.stats import (format_op_stat, op_stats, record_op_stat, reset_op_stat,  # noqa: F401
                         show_op_stat)


def _populate(namespace, numpy_module, prefix):
    operators = _all_operators()
    for attr in dir(numpy_module):
        if attr.startswith("_"):
            continue
        full = f"{prefix}.{attr}" if prefix else attr
        op = operators.get(full)
        if op is not None:
            namespace[attr] = op.public
        elif attr not in namespace:
            value = getattr(numpy_module, attr)
            if not isinstance(value, type(_np)):
                namespace[attr] = value  # constants, dtypes, classes


_populate(globals(), _np, "")

from minpy.numpy import fft, linalg, random  # noqa: E402,F401

testing = _np.testing
newaxis = None
