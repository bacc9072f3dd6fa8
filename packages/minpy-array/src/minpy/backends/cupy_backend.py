"""CuPy: NumPy's API on NVIDIA GPUs, the backend of ``gpu(i)`` where no MXNet GPU build runs.

CuPy mirrors NumPy's API by name, so the operator table declares nothing for it: :meth:`CuPyBackend.default_impl`
gives each operator ``cupy.<name>`` when CuPy has it, except the operators listed in :data:`EXCLUDED` (CuPy's
semantics differ from NumPy's there) and the operators that run on NumPy by design (``numpy_reason``: random
numbers come from NumPy's generator; creation from host data is moved to the GPU afterwards).

Keywords (``Impl.kwargs``): the keywords that NumPy's and CuPy's signatures of the function both name, less
``out`` (the dispatcher writes ``out=`` itself), ``like`` and ``device`` (NumPy-only meanings) and the ones in
:data:`DENIED_KEYWORDS`. CuPy's ufuncs take no keyword from NumPy's set that the dispatcher does not already
handle (``dtype=``/``casting=`` would change the dtype the dispatcher casts to), so an elementwise call with a
keyword runs on NumPy. Positional arguments: at most as many as both signatures take. When either signature
cannot be read, no keyword is taken and CuPy itself refuses extra positional arguments (the call then reruns on
NumPy). An exception raised by CuPy always reruns the call on NumPy, which gives NumPy's answer or error.

Devices. CuPy runs kernels on its *current* device. With one visible GPU (the common case) nothing is done per
call. With several, every resolved function is wrapped to make the device of the current minpy context current
for the call (``cupy.cuda.Device(i)``); data is created on the context's device. Nothing here synchronises the
device except :meth:`to_numpy` (a value is read), the linear-algebra calls that must raise NumPy's
``LinAlgError`` (``cupyx.errstate(linalg="raise")`` reads cuSOLVER's status), ``allclose``-like functions that
return a Python bool, and what CuPy itself does for data-dependent shapes (``nonzero``, boolean masks, ``unique``).

``cupy`` is imported on the first :meth:`available` call (it costs ~0.5 s and initialises CUDA), never by
``import minpy``.
"""
import importlib.util
import inspect
import operator as _operator

import numpy as np

from minpy.backends.base import Impl, LazyBackend, element_strides
from minpy.context import Context, current_context

_NUMPY2 = np.lib.NumpyVersion(np.__version__) >= "2.0.0"

# Dtypes CuPy arrays hold: no float128/complex256 (long double), strings, objects, datetimes or structures.
_CUPY_DTYPES = frozenset(np.dtype(t) for t in
                         ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                          "float16", "float32", "float64", "complex64", "complex128"))
_BASIC_KEY_TYPES = (int, slice, type(Ellipsis), type(None))
_MISSING = object()

_OUT_OF_RANGE = "CuPy wraps out-of-range indices around where NumPy raises IndexError (no bounds check on the GPU)"
_CALLBACK = "calls a Python function with CuPy arrays, not minpy Arrays"

#: Operators that CuPy has but must not run: operator name -> why (shown in the fallback statistics as
#: "no mxnet/cupy implementation" and documented here). Random operators (``kind == "random"``) and operators
#: with a ``numpy_reason`` never run on CuPy either: NumPy's random stream is the reference.
EXCLUDED = {
    "take": _OUT_OF_RANGE,
    "take_along_axis": _OUT_OF_RANGE,
    "choose": _OUT_OF_RANGE,
    "put": _OUT_OF_RANGE,
    "put_along_axis": _OUT_OF_RANGE,
    "linalg.eig": "NumPy returns real eigenvalues when all are real (a data-dependent dtype); CuPy always complex",
    "linalg.eigvals": "NumPy returns real eigenvalues when all are real (a data-dependent dtype); CuPy always complex",
    "linalg.lstsq": "NumPy returns the rank as a Python int and warns about rcond; CuPy returns a device array",
    "unique_all": "CuPy's result tuple types and inverse shapes differ from NumPy 2's",
    "unique_inverse": "CuPy's result tuple types and inverse shapes differ from NumPy 2's",
    "unique_counts": "CuPy's result tuple type differs from NumPy 2's",
    "apply_along_axis": _CALLBACK,
    "apply_over_axes": _CALLBACK,
    "piecewise": _CALLBACK,
    "vectorize": _CALLBACK,
    "frompyfunc": _CALLBACK,
    "fromfunction": _CALLBACK,
    "nditer": "an iterator over host memory",
    "ndenumerate": "an iterator over host memory",
    "ndindex": "an iterator of Python tuples",
}

#: Keywords of NumPy that CuPy's function of the same name has with another meaning (sent to NumPy).
DENIED_KEYWORDS = {
    "unique": ("return_inverse",),  # NumPy 2.x changed the inverse's shape (and changed it back for axis=None)
}
_NEVER_KEYWORDS = frozenset(("out", "like", "device"))

#: ``kind == "info"`` operators that run on CuPy: they read metadata (no copy of the array to the host).
INFO_ON_GPU = frozenset(("shape", "ndim", "size", "iscomplexobj", "isrealobj", "result_type", "common_type",
                         "may_share_memory", "shares_memory"))

#: Functions whose NumPy result is a Python bool and CuPy's a 0-d device array: converted (reads one value).
BOOL_RESULTS = frozenset(("allclose", "array_equal", "array_equiv"))

#: Linear algebra that NumPy refuses with LinAlgError (singular, not positive definite, no convergence) and CuPy
#: by default answers with NaN: run under ``cupyx.errstate(linalg="raise")``.
CHECKED_LINALG = frozenset(("linalg.inv", "linalg.solve", "linalg.cholesky", "linalg.tensorinv",
                            "linalg.tensorsolve", "linalg.matrix_power", "linalg.pinv", "linalg.svd",
                            "linalg.eigh", "linalg.eigvalsh", "linalg.qr", "linalg.det", "linalg.slogdet",
                            "linalg.matrix_rank", "linalg.norm", "linalg.cond", "linalg.multi_dot"))


def _stand_ins():
    """Arguments for which NumPy's function returns its sequence result type (namedtuple, tuple or list)."""
    v, m = np.zeros(2), np.eye(2)
    return {
        "meshgrid": (v, v), "broadcast_arrays": (v, v), "atleast_1d": (v, v), "atleast_2d": (v, v),
        "atleast_3d": (v, v), "ix_": (v, v), "split": (v, 2), "array_split": (v, 2), "hsplit": (v, 2),
        "vsplit": (m, 2), "dsplit": (np.zeros((1, 1, 2)), 2), "unstack": (m,), "nonzero": (m,),
        "where": (m,), "divmod": (v, v), "modf": (v,), "frexp": (v,),
        "linalg.svd": (m,), "linalg.qr": (m,), "linalg.eigh": (m,), "linalg.slogdet": (m,),
    }


_STAND_INS = _stand_ins()


def _astype(a, dtype, order="K", casting="unsafe", copy=True):
    return a.astype(dtype, order=order, casting=casting, copy=copy)


def _flatten(a, order="C"):
    return a.flatten(order)


_METHOD_IMPLS = {"astype": _astype, "flatten": _flatten}


class CuPyBackend(LazyBackend):
    name = "cupy"
    device_types = ("gpu",)

    def __init__(self):
        self.cp = None
        self.native_type = ()
        self.device_count = 0
        self._impls = {}
        self._result_types = {}

    # -- loading ------------------------------------------------------------------------------------
    def _load(self):
        if importlib.util.find_spec("cupy") is None:
            self._state = ("the cupy package is not installed (pip install 'minpy-array[cuda]', or "
                           "'minpy-array[cuda12]' for CUDA 12)")
            return self._state
        try:
            import cupy
        except Exception as exc:  # a wheel for another CUDA version, missing CUDA libraries
            self._state = f"importing cupy failed ({type(exc).__name__}: {_first_line(exc)})"
            return self._state
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:  # CUDARuntimeError: no driver, no device, driver older than the CUDA runtime
            self._state = (f"CuPy {cupy.__version__} finds no usable CUDA device "
                           f"({type(exc).__name__}: {_first_line(exc)})")
            return self._state
        if count < 1:
            self._state = f"CuPy {cupy.__version__} finds no CUDA device"
            return self._state
        self.cp = cupy
        self.native_type = cupy.ndarray
        # CuPy's errors: raised in (or below) its Python or Cython modules, read off the traceback
        self.packages = ("cupy", "cupy_backends")
        self.device_count = count
        self._state = True
        return True

    def gpu_unavailable_reason(self):
        if not self.available():
            return self._state
        return f"CuPy sees {self.device_count} CUDA device(s)"

    # -- protocol -----------------------------------------------------------------------------------
    def supports_context(self, ctx):
        if ctx.device_type != "gpu":
            return False  # checked before loading: CPU contexts never import cupy
        return self.available() and 0 <= ctx.device_id < self.device_count

    def supports_dtype(self, dtype):
        return dtype in _CUPY_DTYPES

    def is_native(self, obj):
        if self._state is True:
            return isinstance(obj, self.native_type)
        # an array made by CuPy before minpy loaded the backend: load it now
        return type(obj).__module__.startswith("cupy") and self.available() and isinstance(obj, self.native_type)

    def dtype(self, data):
        return data.dtype

    def context_of(self, data):
        return Context("gpu", data.device.id)

    def adopt(self, data):
        return data

    def to_numpy(self, data):
        return self.cp.asnumpy(data)  # waits for the kernels that write ``data``: the only synchronisation

    def _device_for(self, ctx):
        if ctx is not None and ctx.device_type == "gpu":
            return ctx.device_id
        cur = current_context()
        return cur.device_id if cur.device_type == "gpu" else self.cp.cuda.runtime.getDevice()

    def from_numpy(self, array, ctx):
        cp = self.cp
        if self.device_count == 1:
            return cp.array(array, copy=True)
        device = self._device_for(ctx)
        if device == cp.cuda.runtime.getDevice():
            return cp.array(array, copy=True)
        with cp.cuda.Device(device):
            return cp.array(array, copy=True)

    def resolve(self, spec):
        if callable(spec):
            fn = spec
        else:
            head, _, name = spec.partition(":")
            if not name:
                head, name = "", head
            module, _, attr = name.partition(".")
            if module != "cupy":
                raise AttributeError(f"not a CuPy spec: {spec!r}")
            fn = self.cp
            for part in attr.split("."):
                fn = getattr(fn, part)  # AttributeError: this CuPy lacks it; the dispatcher uses NumPy
            if head == "linalg":
                fn = _raising_linalg(fn)
            elif head == "bool":
                fn = _bool_result(fn)
            elif head == "seq":
                fn = _sequence_result(fn, self._result_types[attr])
        if self.device_count > 1:
            fn = _on_context_device(fn, self.cp)
        return fn

    def setitem(self, data, key, value):
        keys = key if type(key) is tuple else (key,)
        for k in keys:
            if not (type(k) in _BASIC_KEY_TYPES or (isinstance(k, np.integer) and not isinstance(k, np.bool_))):
                return False
        dt = data.dtype
        if isinstance(value, self.native_type):
            if value.dtype != dt and not np.can_cast(value.dtype, dt, "same_kind"):
                return False  # e.g. float into int: NumPy's rounding of out-of-range values differs from CUDA's
            if self.device_count > 1 and value.device.id != data.device.id:
                return False
        elif isinstance(value, bool):
            pass  # True/False convert to every dtype as in NumPy
        elif isinstance(value, int):
            if dt.kind in "iu":
                info = np.iinfo(dt)
                if not info.min <= value <= info.max:
                    return False  # NumPy raises OverflowError (2.x) or wraps with a warning (1.x)
            elif dt.kind not in "fc" or abs(value) >= 2 ** 63:
                return False
        elif isinstance(value, float):
            if dt.kind not in "fc":
                return False
        elif isinstance(value, complex):
            if dt.kind != "c":
                return False
        else:
            return False
        try:
            if self.device_count > 1:
                with data.device:
                    data[key] = value
            else:
                data[key] = value
        except Exception as exc:  # CuPy's checks (bounds, shapes): NumPy on the host gives the answer or its error
            if not self.own_error(exc):
                raise
            return False
        return True

    def basic_index(self, data, keys):
        try:
            result = data[keys[0] if len(keys) == 1 else keys]
        except Exception as exc:  # e.g. an index out of range: NumPy on the host gives the answer or its error
            if not self.own_error(exc):
                raise
            return None
        if len(keys) == len(data.shape) and all(type(k) is int for k in keys):
            return result.copy(), False  # NumPy gives a scalar, CuPy a 0-d view: copy it
        return result, True  # CuPy's basic indexing gives views, as NumPy's does

    def astype(self, data, dtype):
        if self.device_count > 1:
            with data.device:
                return data.astype(dtype)
        return data.astype(dtype)

    # -- operators not declared in the table --------------------------------------------------------
    ties_views = True  # reshape, transpose, ravel, squeeze... return views, as NumPy's do

    def shares_memory(self, result, data):
        # a view holds a pointer into the same allocation (the same Memory object): no kernel, no sync
        # (cupy.shares_memory may launch one)
        try:
            return result.data.mem is data.data.mem and result.data.mem is not None
        except AttributeError:
            return False

    def reshape_shared(self, data, shape):
        view = data.reshape(shape)
        return view if self.shares_memory(view, data) else None

    strided = True

    def memory_layout(self, data):
        strides = element_strides(data)
        return None if strides is None else (data.data.ptr, strides)

    def wait(self, data):
        # kernels run in stream order: waiting for the stream that produced ``data`` waits for ``data``
        with data.device:
            self.cp.cuda.get_current_stream().synchronize()

    def default_impl(self, op):
        """``cupy.<op.name>`` as an :class:`~minpy.ops.operator.Impl`, or None (see the module docstring)."""
        impl = self._impls.get(op.name, _MISSING)
        if impl is _MISSING:
            if not self.available():
                return None
            impl = self._impls[op.name] = self._make_impl(op)
        return impl

    def exclusion_reason(self, op):
        """Why ``op`` never runs on CuPy (None when it may)."""
        if op.numpy_reason is not None:
            return op.numpy_reason
        if op.kind == "random":
            return "NumPy's random stream is the reference"
        if op.kind == "info" and op.name not in INFO_ON_GPU and op.name not in BOOL_RESULTS:
            return "returns host values (formatting, dtype queries, I/O)"
        if op.custom is not None and op.name != "getitem":
            return "writes into its argument (minpy's own dispatch)"
        return EXCLUDED.get(op.name)

    def _make_impl(self, op):
        if self.exclusion_reason(op) is not None:
            return None
        name = op.name
        if name == "getitem":
            return Impl(_operator.getitem, accepts=_boolean_mask_only, note="boolean masks only")
        if name in _METHOD_IMPLS:
            fn = _METHOD_IMPLS[name]
            return Impl(fn, kwargs=_keywords(op.ref, fn), note="the ndarray method")
        fn = self.cp
        for part in name.split("."):
            fn = getattr(fn, part, None)
            if fn is None:
                return None
        if not callable(fn) or isinstance(fn, type):
            return None
        spec = "cupy." + name
        if name in CHECKED_LINALG:
            spec = "linalg:" + spec
        elif name in BOOL_RESULTS:
            spec = "bool:" + spec
        elif name in _STAND_INS:
            wanted = _numpy_result_type(op, _STAND_INS[name])
            if wanted is not None:
                self._result_types[name] = wanted
                spec = "seq:" + spec
        if op.kind == "ufunc":
            nin = getattr(op.ref, "nin", None)
            accepts = _positional_limit(nin) if nin else None
            kwargs = ()
        else:
            kwargs = _keywords(op.ref, fn) - frozenset(DENIED_KEYWORDS.get(name, ()))
            accepts = _positional_limit(_positional_count(op.ref, fn))
        if name == "power":
            accepts = _both(accepts, _power_ok)
        elif name.startswith("fft."):
            accepts = _both(accepts, _fft_ok)
        return Impl(spec, kwargs=kwargs, accepts=accepts, note="cupy." + name)


# -- helpers --------------------------------------------------------------------------------------------
def _first_line(exc):
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


def _signature(fn):
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _keywords(ref, fn):
    """Keywords both NumPy's ``ref`` and CuPy's ``fn`` name (empty when either signature is unreadable)."""
    a, b = _signature(ref), _signature(fn)
    if a is None or b is None:
        return frozenset()
    named = [{p.name for p in s.parameters.values() if p.kind in _NAMED} for s in (a, b)]
    return frozenset(named[0] & named[1]) - _NEVER_KEYWORDS


def _positional_count(ref, fn):
    """How many positional arguments both signatures take (None: no limit or unknown)."""
    counts = []
    for s in (_signature(ref), _signature(fn)):
        if s is None:
            continue
        params = list(s.parameters.values())
        if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
            continue
        counts.append(sum(p.kind in _POSITIONAL for p in params))
    return min(counts) if counts else None


def _positional_limit(n):
    if n is None:
        return None

    def accepts(args, kwargs):
        if len(args) > n:
            return f"CuPy's function takes {n} positional arguments"
        return None
    return accepts


def _both(first, second):
    if first is None or second is None:
        return first or second

    def accepts(args, kwargs):
        return first(args, kwargs) or second(args, kwargs)
    return accepts


def _is_int_array(x):
    dtype = getattr(x, "dtype", None)
    return dtype is not None and getattr(x, "shape", None) is not None and dtype.kind in "iu"


def _power_ok(args, kwargs):
    """NumPy raises for integers to negative integer powers; CuPy computes something. Integer bases go to
    NumPy unless the exponent is a non-negative Python int."""
    if len(args) >= 2 and (_is_int_array(args[0]) or _is_int_array(args[1])):
        e = args[1]
        if not (type(e) is int and e >= 0):
            return "integer power with an exponent that may be negative (NumPy raises, CuPy does not check)"
    return None


def _fft_ok(args, kwargs):
    """NumPy 1.x computes every FFT in double precision; CuPy keeps single precision (as NumPy 2 does)."""
    if _NUMPY2 or not args:
        return None
    dtype = getattr(args[0], "dtype", None)
    if dtype is not None and dtype.kind in "fc" and dtype.itemsize < (8 if dtype.kind == "f" else 16):
        return "NumPy 1.x's FFT of single precision gives double precision"
    return None


def _boolean_mask_only(args, kwargs):
    """Advanced indexing on CuPy only with boolean masks: CuPy wraps out-of-range integer indices around."""
    key = args[1] if len(args) > 1 else None
    keys = key if type(key) is tuple else (key,)
    mask = False
    for k in keys:
        dtype = getattr(k, "dtype", None)
        if dtype is not None and getattr(k, "shape", None) is not None:
            if dtype.kind != "b":
                return _OUT_OF_RANGE
            mask = True
        elif not isinstance(k, _BASIC_KEY_TYPES) or isinstance(k, bool):
            return "CuPy runs advanced indexing with boolean masks only"
    return None if mask else "CuPy runs advanced indexing with boolean masks only"


def _numpy_result_type(op, stand_in):
    """NumPy's sequence type (list, tuple or a namedtuple class) for this operator, from a tiny call."""
    try:
        with np.errstate(all="ignore"):
            result = op.ref(*stand_in)
    except Exception:
        return None
    t = type(result)
    return t if t is list or issubclass(t, tuple) else None


def _sequence_result(fn, wanted):
    named = hasattr(wanted, "_fields")

    def call(*args, **kwargs):
        r = fn(*args, **kwargs)
        if type(r) is not wanted and type(r) in (list, tuple):
            return wanted(*r) if named else wanted(r)
        return r
    return call


def _raising_linalg(fn):
    import cupyx

    errstate = cupyx.errstate

    def call(*args, **kwargs):
        with errstate(linalg="raise"):
            return fn(*args, **kwargs)
    return call


def _bool_result(fn):
    def call(*args, **kwargs):
        return bool(fn(*args, **kwargs))
    return call


def _on_context_device(fn, cp):
    """``fn`` run on the device of the current minpy context (only wrapped when several GPUs are visible)."""
    get_device = cp.cuda.runtime.getDevice
    device = cp.cuda.Device

    def call(*args, **kwargs):
        want = current_context().device_id
        if want == get_device():
            return fn(*args, **kwargs)
        with device(want):
            return fn(*args, **kwargs)
    return call
