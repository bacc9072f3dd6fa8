"""Adapters that give MXNet operators NumPy's semantics where a plain ``mx.np`` call would differ.

Each takes native MXNet arrays (and Python values) in the positions and keywords of the NumPy function it
stands for. The operator table names them as ``"adapter:<name>"``; they are imported only with MXNet.
"""
import math

import numpy as np
from mxnet import nd as mnd
from mxnet import np as mnp
from mxnet import npx

from minpy.backends.base import NativeUnsupported

_INT64 = np.dtype(np.int64)
_F64 = np.dtype(np.float64)


def _default_float():
    from minpy.config import settings

    return settings.default_float if settings.default_float is not None else _F64


def _creation_dtype(dtype):
    return _default_float() if dtype is None else np.dtype(dtype)


def zeros(shape, dtype=None, order="C"):
    return mnp.zeros(shape, dtype=_creation_dtype(dtype))


def ones(shape, dtype=None, order="C"):
    return mnp.ones(shape, dtype=_creation_dtype(dtype))


def empty(shape, dtype=None, order="C"):
    return mnp.zeros(shape, dtype=_creation_dtype(dtype))


def full(shape, fill_value, dtype=None, order="C"):
    if dtype is None:
        dtype = np.array(fill_value).dtype
        if dtype == _F64:
            dtype = _default_float()
    return mnp.full(shape, fill_value, dtype=np.dtype(dtype))


def zeros_like(a, dtype=None, order="K", subok=True, shape=None):
    return mnp.zeros(a.shape if shape is None else shape, dtype=np.dtype(a.dtype if dtype is None else dtype))


def ones_like(a, dtype=None, order="K", subok=True, shape=None):
    return mnp.ones(a.shape if shape is None else shape, dtype=np.dtype(a.dtype if dtype is None else dtype))


def empty_like(a, dtype=None, order="K", subok=True, shape=None):
    return zeros_like(a, dtype, shape=shape)


def full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None):
    return mnp.full(a.shape if shape is None else shape, fill_value,
                    dtype=np.dtype(a.dtype if dtype is None else dtype))


def eye(N, M=None, k=0, dtype=None, order="C"):
    return mnp.eye(N, M, k=k, dtype=_creation_dtype(dtype))


def identity(n, dtype=None):
    return mnp.eye(n, dtype=_creation_dtype(dtype))


def _accumulate_in(a, dtype):
    """``a`` in the dtype NumPy accumulates in. NumPy casts the elements first (sum(float [.5, .5],
    dtype=int8) is 0), and MXNet's prod multiplies in the input's dtype (prod of sixteen int8 fours with
    dtype=int64 wraps at 2**32), so the cast comes before the reduction."""
    if dtype is None and a.dtype in (np.int8, np.int32, np.bool_, np.uint8):
        dtype = _INT64  # NumPy accumulates small integers in the platform integer
    if dtype is not None and np.dtype(dtype) != a.dtype:
        a = a.astype(dtype)
    return a


def _plain(reduce, a, axis, keepdims):
    """A float sum or mean by MXNet's legacy operator (``mnd.sum``/``mnd.mean``). mx.np's sum and mean carry a
    compensation term that turns an infinity into NaN (``mx.np.sum([inf, 1.0])`` is nan, as is the sum of a
    row that overflows before its last element); the legacy operators add the same way but keep infinities.
    Not needed when nothing is added (a 0-d array, ``axis=()``)."""
    if a.ndim == 0 or axis == ():
        return getattr(mnp, reduce)(a, axis=axis, keepdims=keepdims)
    out = getattr(mnd, reduce)(a.as_nd_ndarray(), axis=() if axis is None else axis, keepdims=keepdims).as_np_ndarray()
    if not keepdims and (axis is None or len(axis if isinstance(axis, (tuple, list)) else (axis,)) == a.ndim):
        out = out.reshape(())  # the legacy operators give shape (1,) where every axis is reduced
    return out


def sum(a, axis=None, dtype=None, keepdims=False):
    a = _accumulate_in(a, dtype)
    if a.dtype.kind == "f":
        return _plain("sum", a, axis, keepdims)
    return mnp.sum(a, axis=axis, keepdims=keepdims)


def mean(a, axis=None, keepdims=False):
    return _plain("mean", a, axis, keepdims)


def prod(a, axis=None, dtype=None, keepdims=False):
    return mnp.prod(_accumulate_in(a, dtype), axis=axis, keepdims=keepdims)


def _axis(axis, ndim):
    """A non-negative axis: several MXNet operators fail (asynchronously) on negative ones."""
    if axis is None:
        return None
    if isinstance(axis, (tuple, list)):
        return tuple(_axis(x, ndim) for x in axis)
    return axis + ndim if -ndim <= axis < 0 else axis


def cumsum(a, axis=None, dtype=None):
    return mnp.cumsum(_accumulate_in(a, dtype), axis=_axis(axis, a.ndim))


def flip(m, axis=None):
    return mnp.flip(m, axis=_axis(axis, m.ndim))


def _arg_reduce(fn, a, axis, keepdims):
    out = fn(a, axis=axis)
    if keepdims:
        out = out.reshape((1,) * a.ndim if axis is None else
                          tuple(1 if i == _axis(axis, a.ndim) else s for i, s in enumerate(a.shape)))
    return out


def argmax(a, axis=None, keepdims=False):
    return _arg_reduce(mnp.argmax, a, axis, keepdims)


def argmin(a, axis=None, keepdims=False):
    return _arg_reduce(mnp.argmin, a, axis, keepdims)


# -- elementwise operators whose MXNet kernels differ from NumPy's -------------------------------------------------
_DEG_PER_RAD = 180.0 / math.pi
_RAD_PER_DEG = math.pi / 180.0


def degrees(x):
    # mx.np.degrees multiplies by a float32 constant, also for float64 data; NumPy uses the double 180/pi
    return x * _DEG_PER_RAD


def radians(x):
    return x * _RAD_PER_DEG


def rint(x):
    # mx.np.rint rounds halves down (rint(1.5) == 1); mx.np.round rounds them to even, as NumPy's rint does
    return mnp.round(x)


def sign(x):
    # mx.np.sign(nan) is 0; NumPy's is nan
    return _where(mnp.isnan(x), x, mnp.sign(x)) if x.dtype.kind == "f" else mnp.sign(x)


def copysign(x1, x2):
    # mx.np.copysign ignores the sign of -0.0 (copysign(1, -0.0) == 1); signbit reads it, also NaN's
    if not isinstance(x2, mnp.ndarray):
        negative = math.copysign(1.0, x2) < 0
        magnitude = mnp.abs(x1) if isinstance(x1, mnp.ndarray) else abs(x1)
        return -magnitude if negative else magnitude
    if not isinstance(x1, mnp.ndarray):
        x1 = mnp.full(x2.shape, x1, dtype=x2.dtype)
    magnitude = mnp.abs(x1)
    return _where(mnp.signbit(x2), -magnitude, magnitude)


def remainder(x1, x2):
    # mx.np.mod(x, 0) is 0; NumPy's is nan. Everything else (signs, infinities) agrees.
    out = mnp.mod(x1, x2)
    if isinstance(x2, mnp.ndarray):
        return _where(x2 == 0, mnp.full(out.shape, math.nan, dtype=out.dtype), out)
    zero = np.array(x2).astype(out.dtype) == 0  # a tiny float is 0 in the dtype MXNet computes in
    return mnp.full(out.shape, math.nan, dtype=out.dtype) if zero else out


def clip(a, a_min, a_max):
    # NumPy's clip is minimum(maximum(a, a_min), a_max): a_max wins when the bounds cross; MXNet's a_min does
    if a_min is not None and a_max is not None and a_min > a_max:
        a_min = a_max
    if a.dtype == _F64:  # mx.np.clip rounds its bounds to float32; scalar maximum/minimum keep doubles
        if a_min is not None:
            a = mnp.maximum(a, a_min)
        return a if a_max is None else mnp.minimum(a, a_max)
    return mnp.clip(a, a_min, a_max)


def reshape(a, newshape=None, order="C", shape=None):
    return mnp.reshape(a, newshape if shape is None else shape)


def transpose(a, axes=None):
    return mnp.transpose(a, axes)


def concatenate(arrays, axis=0, dtype=None):
    out = mnp.concatenate(list(arrays), axis=axis)
    return out if dtype is None else out.astype(dtype)


def stack(arrays, axis=0):
    arrays = list(arrays)
    if any(a.shape != arrays[0].shape for a in arrays):
        # MXNet 1.9 stacks arrays of equal size but different shapes without complaint (a wrong answer):
        # NumPy raises its own error
        raise NativeUnsupported("all input arrays must have the same shape")
    return mnp.stack(arrays, axis=axis)


def getitem(a, key):
    return a[key]


def astype(a, dtype, order="K", casting="unsafe", copy=True):
    dtype = np.dtype(dtype)
    if not copy and dtype == a.dtype:
        return a
    return a.astype(dtype)


def copy(a, order="K"):
    return a.copy()


def flatten(a, order="C"):
    return a.reshape(-1).copy()


def ravel(a, order="C"):
    return a.reshape(-1)


def where(condition, x, y):
    return _where(condition, x, y)


def _where(condition, x, y):
    """mx.np.where, except that MXNet 1.9 kills the process (std::terminate) when broadcasting gives an empty
    result from operands of different shapes: that result is made directly."""
    try:
        shape = np.broadcast_shapes(*(v.shape for v in (condition, x, y) if isinstance(v, mnp.ndarray)))
    except ValueError as exc:  # shapes that do not broadcast: NumPy raises its own error
        raise NativeUnsupported(str(exc)) from None
    if 0 in shape:
        dtype = x.dtype if isinstance(x, mnp.ndarray) else y.dtype
        return mnp.zeros(shape, dtype=dtype)
    return mnp.where(condition, x, y)


def relu(x):
    return npx.relu(x)
