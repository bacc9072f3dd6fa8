"""Adapters that give MXNet operators NumPy's semantics where a plain ``mx.np`` call would differ.

Each takes native MXNet arrays (and Python values) in the positions and keywords of the NumPy function it
stands for. The operator table names them as ``"adapter:<name>"``; they are imported only with MXNet.
"""
import numpy as np
from mxnet import np as mnp
from mxnet import npx

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


def sum(a, axis=None, dtype=None, keepdims=False):
    if dtype is None and a.dtype in (np.int8, np.int32, np.bool_, np.uint8):
        dtype = _INT64  # NumPy accumulates small integers in the platform integer
    return mnp.sum(a, axis=axis, dtype=dtype, keepdims=keepdims)


def prod(a, axis=None, dtype=None, keepdims=False):
    if dtype is None and a.dtype in (np.int8, np.int32, np.bool_, np.uint8):
        dtype = _INT64
    return mnp.prod(a, axis=axis, dtype=dtype, keepdims=keepdims)


def cumsum(a, axis=None, dtype=None):
    if dtype is None and a.dtype in (np.int8, np.int32, np.bool_, np.uint8):
        dtype = _INT64
    return mnp.cumsum(a, axis=axis, dtype=dtype)


def reshape(a, newshape=None, order="C", shape=None):
    return mnp.reshape(a, newshape if shape is None else shape)


def transpose(a, axes=None):
    return mnp.transpose(a, axes)


def concatenate(arrays, axis=0, dtype=None):
    out = mnp.concatenate(list(arrays), axis=axis)
    return out if dtype is None else out.astype(dtype)


def stack(arrays, axis=0):
    return mnp.stack(list(arrays), axis=axis)


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


def clip(a, a_min, a_max):
    return mnp.clip(a, a_min, a_max)


def where(condition, x, y):
    return mnp.where(condition, x, y)


def relu(x):
    return npx.relu(x)
