"""MXNet 1.9 (``mxnet.numpy``/``npx`` and legacy ``mx.nd``), on CPU and on GPU when MXNet is a GPU build.

Importing mxnet costs about a second, so it happens on first use. MXNet's NumPy shape semantics (zero-size
and 0-d arrays) are switched on at load time with ``mx.util.set_np_shape(True)``, the same switch
``npx.set_np()`` throws; without it ``mx.np.zeros((0, 3))`` and any 0-d arithmetic fail in shape inference.
The switch is per thread in MXNet, so the backend re-checks it when an operator fails in shape inference.
"""
import importlib.util

import numpy as np

from minpy.backends.base import Backend

# Dtypes MXNet 1.9's numpy operators accept. No int16, unsigned wider than 8 bits, or complex types.
_MX_DTYPES = frozenset(np.dtype(t) for t in
                       ("float16", "float32", "float64", "int8", "int32", "int64", "uint8", "bool"))
_BASIC_KEY_TYPES = (int, slice, type(Ellipsis), type(None))


class MXNetBackend(Backend):
    name = "mxnet"
    device_types = ("cpu", "gpu")

    def __init__(self):
        self._state = None  # None: not tried; True: loaded; str: why it is unavailable
        self.mx = None
        self.native_type = ()

    # -- loading ------------------------------------------------------------------------------------
    def available(self):
        state = self._state
        if state is None:
            state = self._load()
        return state is True

    def _load(self):
        if importlib.util.find_spec("mxnet") is None:
            self._state = "the mxnet package is not installed (pip install 'minpy-array[mxnet]')"
            return self._state
        try:
            import mxnet as mx
            import mxnet.numpy  # noqa: F401
        except Exception as exc:  # e.g. AttributeError: numpy.bool under NumPy >= 1.24
            self._state = (f"importing mxnet failed ({type(exc).__name__}: {exc}); MXNet 1.9.1 needs "
                           f"NumPy < 1.24, this is NumPy {np.__version__}")
            return self._state
        mx.util.set_np_shape(True)
        self.mx = mx
        self.native_type = mx.np.ndarray
        self._state = True
        return True

    def unavailable_reason(self):
        self.available()
        return "" if self._state is True else self._state

    def gpu_unavailable_reason(self):
        if not self.available():
            return self._state
        return "this MXNet build sees no GPU (the PyPI 'mxnet' wheel is CPU-only)"

    def ensure_np_shape(self):
        """Turn MXNet's NumPy shape semantics on for this thread; True if it was off."""
        if not self.mx.util.is_np_shape():
            self.mx.util.set_np_shape(True)
            return True
        return False

    # -- protocol -----------------------------------------------------------------------------------
    def supports_context(self, ctx):
        if ctx.device_type == "cpu":
            return self.available()
        return self.available() and ctx.device_id < self.mx.context.num_gpus()

    def supports_dtype(self, dtype):
        return dtype in _MX_DTYPES

    def is_native(self, obj):
        return self._state is True and isinstance(obj, (self.native_type, self.mx.nd.NDArray))

    def dtype(self, data):
        return np.dtype(data.dtype)

    def context_of(self, data):
        from minpy.context import Context

        c = data.ctx
        return Context("gpu" if c.device_type == "gpu" else "cpu", c.device_id if c.device_type == "gpu" else 0)

    def mx_context(self, ctx):
        mx = self.mx
        return mx.gpu(ctx.device_id) if ctx.device_type == "gpu" else mx.cpu()

    def to_numpy(self, data):
        return data.asnumpy()

    def from_numpy(self, array, ctx):
        return self.mx.np.array(array, dtype=array.dtype, ctx=self.mx_context(ctx))

    def adopt(self, data):
        """Native data from a legacy ``mx.nd.NDArray`` or an ``mx.np.ndarray``."""
        if isinstance(data, self.mx.nd.NDArray) and not isinstance(data, self.native_type):
            return data.as_np_ndarray()
        return data

    def resolve(self, spec):
        if callable(spec):
            return spec
        if spec.startswith("adapter:"):
            from minpy.backends import mxnet_ops

            return getattr(mxnet_ops, spec[len("adapter:"):])
        module, _, attr = spec.partition(".")
        root = {"np": self.mx.np, "npx": self.mx.npx, "nd": self.mx.nd}[module]
        for part in attr.split("."):
            root = getattr(root, part)
        return root

    def setitem(self, data, key, value):
        # Only writes whose NumPy semantics MXNet reproduces: basic keys, values of the same dtype or
        # Python scalars of a kind that needs no narrowing.
        keys = key if type(key) is tuple else (key,)
        for k in keys:
            if not isinstance(k, _BASIC_KEY_TYPES) or isinstance(k, bool):
                return False
            if type(k) is slice and k.step is not None and k.step < 0:
                return False
        dt = data.dtype
        if isinstance(value, self.native_type):
            if value.dtype != dt:
                return False
        elif isinstance(value, bool):
            if dt != np.bool_:
                return False
        elif isinstance(value, int):
            if np.dtype(dt).kind not in "fi" or np.dtype(dt).itemsize < 4:
                return False
        elif isinstance(value, float):
            if np.dtype(dt).kind != "f":
                return False
        else:
            return False
        data[key] = value
        return True

    def astype(self, data, dtype):
        return data.astype(dtype)
