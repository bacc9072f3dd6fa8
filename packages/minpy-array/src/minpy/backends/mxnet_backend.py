"""MXNet 1.9 (``mxnet.numpy``/``npx`` and legacy ``mx.nd``), on CPU and on GPU when MXNet is a GPU build.

Importing mxnet costs about a second, so it happens on first use. MXNet's NumPy shape semantics (zero-size
and 0-d arrays) are switched on at load time with ``mx.util.set_np_shape(True)``, the same switch
``npx.set_np()`` throws; without it ``mx.np.zeros((0, 3))`` and any 0-d arithmetic fail in shape inference.
The switch is per thread in MXNet, so the backend re-checks it when an operator fails in shape inference.

Quiet by default: MXNet prints "Subgraph backend MKLDNN is activated." on every executor bind unless
``MXNET_SUBGRAPH_VERBOSE`` is 0, which loading sets unless the user set it (a user's value is kept); and
MXNet's ``set_np_shape`` logs through the root logger, whose first use configures it (``logging.basicConfig``),
after which a user's own ``basicConfig(...)`` would do nothing: loading takes that handler away again.

MXNet installed but not importable (MXNet 1.9.1 under NumPy >= 1.24 fails with ``module 'numpy' has no
attribute 'bool'``) is reported once, with the cause and the fix, the first time a policy that would run
operators on MXNet plans one (:meth:`MXNetBackend.report_unusable`), and in ``show_op_stat()``.
"""
import importlib.util
import logging
import os

import numpy as np

from minpy import stats
from minpy.backends.base import LazyBackend
from minpy.context import Context

_log = logging.getLogger("minpy.backends")

# Dtypes MXNet 1.9's numpy operators accept. No int16, unsigned wider than 8 bits, or complex types.
_MX_DTYPES = frozenset(np.dtype(t) for t in
                       ("float16", "float32", "float64", "int8", "int32", "int64", "uint8", "bool"))
_MX_SCALAR_TYPES = frozenset(d.type for d in _MX_DTYPES)
_BASIC_KEY_TYPES = (int, slice, type(Ellipsis), type(None))


class MXNetBackend(LazyBackend):
    name = "mxnet"
    device_types = ("cpu", "gpu")

    def __init__(self):
        self.mx = None
        self.native_type = ()
        #: installed but failed to import: the cause and the fix (None when MXNet loads or is not installed)
        self.broken = None
        self._reported = False

    # -- loading ------------------------------------------------------------------------------------
    def _load(self):
        if importlib.util.find_spec("mxnet") is None:
            self._state = "the mxnet package is not installed (pip install 'minpy-array[mxnet]')"
            return self._state
        os.environ.setdefault("MXNET_SUBGRAPH_VERBOSE", "0")   # read at each bind; the user's value wins
        try:
            import mxnet as mx
            import mxnet.numpy  # noqa: F401
        except Exception as exc:  # e.g. AttributeError: numpy.bool under NumPy >= 1.24
            self._state = self.broken = _import_failure(exc)
            stats.note_backend_problem(self.name, self.broken)
            return self._state
        _without_root_handlers_added(mx.util.set_np_shape, True)
        self.mx = mx
        # MXNet's errors: MXNetError from the C++ library, and whatever its Python layer raises for input it
        # rejects (ValueError, TypeError, IndexError, NotImplementedError, AttributeError, KeyError...: read off
        # the traceback, see Backend.own_error)
        self.error_types = (mx.base.MXNetError,)
        self.packages = ("mxnet",)
        self.native_type = mx.np.ndarray
        self._state = True
        return True

    def report_unusable(self, policy_name):
        """Say once per process, on the ``minpy.backends`` logger, that MXNet is installed but cannot be
        imported, so ``policy_name`` (a policy that would use it) runs everything on NumPy."""
        if self.broken is None or self._reported:
            return
        self._reported = True
        _log.warning("minpy: %s. Until then the %s policy runs every operator on NumPy.", self.broken, policy_name)

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
        c = data.ctx
        return Context("gpu" if c.device_type == "gpu" else "cpu", c.device_id if c.device_type == "gpu" else 0)

    def mx_context(self, ctx):
        mx = self.mx
        return mx.gpu(ctx.device_id) if ctx.device_type == "gpu" else mx.cpu()

    def to_numpy(self, data):
        return data.asnumpy()

    def from_numpy(self, array, ctx):
        # MXNet looks dtypes up by their scalar type, and knows only one type per kind and size: NumPy's
        # aliases of it (numpy.longlong beside numpy.int64 on Linux) would raise KeyError.
        dtype = array.dtype
        if dtype.type not in _MX_SCALAR_TYPES:
            dtype = np.dtype(dtype.str)
            array = array.view(dtype)
        return self.mx.np.array(array, dtype=dtype, ctx=self.mx_context(ctx))

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
        if 0 in data.shape:
            return False  # nothing to write; MXNet's checks fail on some empty arrays where NumPy's pass
        if not data.shape:
            # MXNet indexes a 0-d array only with (); NumPy's a[...] = v and a[()] = v mean the same
            if any(k is not Ellipsis for k in keys):
                return False
            key = ()
        dt = np.dtype(data.dtype)
        if isinstance(value, self.native_type):
            if value.dtype != dt:
                return False
            if dt == np.bool_ and (value.shape != data.shape or any(k is not Ellipsis for k in keys)):
                return False  # MXNet's slice assignment has no bool kernel ("Unknown type enum 7")
        elif isinstance(value, bool):
            if dt != np.bool_:
                return False
        elif isinstance(value, int):
            if dt.kind not in "fi" or dt.itemsize < 4 or not -2 ** 31 <= value < 2 ** 31:
                return False  # MXNet parses scalars as doubles; NumPy decides about overflow
        elif isinstance(value, float):
            if dt.kind != "f":
                return False
            if dt == np.float64:
                # MXNet's scalar parameter parsing can be 1 ulp off in float64: store an exact array
                value = self.mx.np.array(value, dtype=dt)
        else:
            return False
        try:
            if any(k is None for k in keys):
                key, value = self._without_new_axes(data, keys, value)
            data[key] = value
        except Exception as exc:  # MXNet's own checks (shapes, bounds, empty arrays): NumPy on the host decides
            if not self.own_error(exc):
                raise
            return False
        return True

    def reshape_shared(self, data, shape):
        # the legacy NDArray's reshape shares the chunk (mx.np's copies); arrays are dense in C order, so any
        # shape of the same size is the same memory
        try:
            return data.as_nd_ndarray().reshape(shape).as_np_ndarray()
        except Exception as exc:
            if not self.own_error(exc):
                raise
            return None

    def _without_new_axes(self, data, keys, value):
        """The same write without ``None`` in the key. MXNet drops new axes from a key and broadcasts the
        value against what is left; NumPy broadcasts it against ``a[key]`` with the new (length-1) axes."""
        stand_in = np.broadcast_to(np.empty((), dtype=np.float32), data.shape)  # shapes only, no memory
        plain = tuple(k for k in keys if k is not None)
        if isinstance(value, self.native_type):
            value = self.mx.np.broadcast_to(value, stand_in[keys].shape).reshape(stand_in[plain].shape)
        return plain, value

    def basic_index(self, data, keys):
        shape = data.shape
        if not shape or 0 in shape:
            return None  # MXNet indexes a 0-d array only with (), and fails on some empty ones: NumPy does those
        for k in keys:
            if type(k) is slice and k.step is not None and k.step < 0:
                return None  # MXNet's slicing with negative steps differs from NumPy's
        try:
            # a lone int or slice takes MXNet's fast path (~10 us); any tuple its general one (~100 us)
            result = data[keys[0] if len(keys) == 1 else keys]
        except Exception as exc:  # e.g. an index out of range: NumPy on the host gives the answer or its error
            if not self.own_error(exc):
                raise
            return None
        if len(keys) == len(shape) and all(type(k) is int for k in keys):
            return result.copy(), False  # NumPy gives a scalar, MXNet a 0-d view: copy it
        return result, _shares_memory(keys, shape)

    def astype(self, data, dtype):
        return data.astype(dtype)

    def wait(self, data):
        data.wait_to_read()


_ALL = slice(None)


def _shares_memory(keys, shape):
    """Whether MXNet 1.9's basic indexing ``data[keys]`` returns a view of ``data``'s memory.

    MXNet makes a view only when the selected elements are one contiguous block of the buffer and copies
    otherwise (numpy.ndarray._get_np_basic_indexing). The rule read here, from the last axis back: whole
    axes, then at most one axis taken in part with step 1, then axes that select one element. It is a
    conservative reading of MXNet's rule: an answer of False for a view costs a refresh, never a wrong value.
    """
    items = [k for k in keys if k is not None]
    for i, k in enumerate(items):
        if k is Ellipsis:
            items[i:i + 1] = [_ALL] * (len(shape) - len(items) + 1)
            break
    items += [_ALL] * (len(shape) - len(items))
    partial = False
    for k, n in zip(reversed(items), reversed(shape)):
        if type(k) is int:
            partial = True
            continue
        start, stop, step = k.indices(n)
        count = len(range(start, stop, step))
        if partial:
            if count > 1:
                return False
        elif count < n:
            if step != 1 and count > 1:
                return False
            partial = True
    return True


def _import_failure(exc):
    """What went wrong importing an installed MXNet, and the fix."""
    cause = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    if np.lib.NumpyVersion(np.__version__) >= "1.24.0":
        fix = (f"MXNet 1.9.1 needs NumPy < 1.24 and this is NumPy {np.__version__}: pip install 'numpy<1.24' "
               f"(or install minpy with its [mxnet] extra, which pins both: pip install './packages/minpy[mxnet]')")
    else:
        fix = "run `python -c 'import mxnet'` to see the whole error; reinstall with pip install 'mxnet==1.9.1'"
    return f"MXNet is installed but cannot be imported ({cause}); {fix}"


def _without_root_handlers_added(fn, *args):
    """Call ``fn``; if the root logger had no handler and has one afterwards (the module-level
    ``logging.info`` that MXNet's ``set_np_shape`` calls runs ``logging.basicConfig()``), take it away again, so
    the user's logging configuration, and a later ``basicConfig(...)`` of theirs, stay theirs."""
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        return fn(*args)
    finally:
        if not before:
            for handler in [h for h in root.handlers if h not in before]:
                root.removeHandler(handler)
