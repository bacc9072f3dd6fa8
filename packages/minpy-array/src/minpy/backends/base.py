"""The backend protocol, and :class:`Impl`: how one backend implements one operator."""


class NativeUnsupported(Exception):
    """Raised by minpy's own adapters for a call the native library would get wrong (a documented
    difference from NumPy): like the library's own errors, it sends the call to NumPy."""


class Impl:
    """How one backend implements an operator (an entry of the operator table, :mod:`minpy.ops.table`).

    ``spec``: what the backend resolves to a callable (for MXNet: ``"np.add"``, ``"npx.relu"``,
    ``"adapter:name"`` for a function in :mod:`minpy.backends.mxnet_ops`). ``kwargs``: keyword names it
    accepts (others, unless None-valued, send the call to NumPy). ``dtypes``: dtype kinds it accepts
    (``"fiub"`` letters; None for all the backend supports). ``accepts(args, kwargs)``: returns None when the
    call can run here, else the reason it cannot. ``note``: documentation for the coverage report.
    """

    __slots__ = ("spec", "kwargs", "dtypes", "accepts", "note", "fn")

    def __init__(self, spec, kwargs=(), dtypes=None, accepts=None, note=""):
        self.spec = spec
        self.kwargs = frozenset(kwargs)
        self.dtypes = dtypes
        self.accepts = accepts
        self.note = note
        self.fn = None


class Backend:
    """Base class of backends. Subclasses set :attr:`name` and implement the methods below.

    Data held by a backend ("native" arrays) must expose ``.shape`` (a tuple) and ``.dtype``.
    """

    name = None
    #: the context kinds ("cpu", "gpu") this backend can ever serve
    device_types = ("cpu",)

    def available(self):
        """True when the backend can be used in this process (its library imports)."""
        raise NotImplementedError

    def unavailable_reason(self):
        return ""

    def gpu_unavailable_reason(self):
        return "CPU only"

    def supports_context(self, ctx):
        return ctx.device_type in self.device_types

    def supports_dtype(self, dtype):
        """Whether arrays of this NumPy dtype can live here."""
        raise NotImplementedError

    def is_native(self, obj):
        """Whether ``obj`` is an array of this backend."""
        raise NotImplementedError

    def dtype(self, data):
        """The NumPy dtype of native data."""
        return data.dtype

    def context_of(self, data):
        raise NotImplementedError

    def to_numpy(self, data):
        """A NumPy array with the value of ``data`` (may share memory when ``data`` is NumPy)."""
        raise NotImplementedError

    def from_numpy(self, array, ctx):
        """Native data on ``ctx`` with the value of the NumPy array ``array`` (a copy)."""
        raise NotImplementedError

    def resolve(self, spec):
        """Turn an implementation spec from the operator table into a callable."""
        raise NotImplementedError

    def default_impl(self, op):
        """An :class:`minpy.ops.operator.Impl` for an operator the table declares nothing for on this backend
        (a backend that mirrors NumPy's API by name, such as CuPy, implements most of them), or None."""
        return None

    def setitem(self, data, key, value):
        """Write ``value`` (native or a Python scalar) into ``data[key]`` in place; return False when this
        backend cannot do that write with NumPy's semantics (the Array then writes through NumPy)."""
        return False

    def basic_index(self, data, keys):
        """``data[keys]`` for a tuple of ints, slices, None and Ellipsis, as ``(result, shares)``: ``shares``
        says whether ``result`` is a view sharing ``data``'s memory. When ``keys`` gives an integer for every
        axis, ``result`` is a new 0-d array (NumPy gives a scalar, never a view) and ``shares`` is False.
        None when this backend cannot index so with NumPy's semantics (NumPy then indexes a host copy)."""
        return None

    def astype(self, data, dtype):
        raise NotImplementedError

    #: whether operators here can return views of their inputs that :meth:`shares_memory` recognises (the
    #: dispatcher then ties such a result to its input's write counter, as NumPy views are)
    ties_views = False

    def shares_memory(self, result, data):
        """Whether native ``result`` shares memory with native ``data`` (a view), judged without waiting for
        the device."""
        return False

    def reshape_shared(self, data, shape):
        """Native ``data`` in ``shape`` over the same memory (what ``a.shape = shape`` needs, since views may
        share that memory), or None where that takes a copy or the backend cannot."""
        return None

    def wait(self, data):
        """Block until asynchronous work producing ``data`` is done (MXNet's engine, a GPU stream)."""

    #: whether arrays here are strided views of memory, whose elements :meth:`memory_layout` can place
    strided = False

    def memory_layout(self, data):
        """``(address, element strides)`` of native ``data`` for a backend whose arrays are strided views of
        memory (NumPy, CuPy), or None for one whose arrays are dense in C order (MXNet). Minpy uses it to tell
        which elements of its base a view of ``data`` holds, without reading the data."""
        return None

    #: the library's top-level package names (``("mxnet",)``): an exception raised in, or below, a frame of
    #: their code is the library's own
    packages = ()
    #: the library's own exception classes (MXNetError...), whichever code raised them
    error_types = ()

    def own_error(self, exc):
        """Whether ``exc`` is this backend's own error (its library rejected the call, or an adapter refused
        it with :class:`NativeUnsupported`), which sends the call to NumPy. Anything else is a bug in minpy's
        glue code and must surface, not be hidden by a NumPy rerun."""
        if isinstance(exc, NativeUnsupported) or (self.error_types and isinstance(exc, self.error_types)):
            return True
        packages = self.packages
        if packages:
            tb = exc.__traceback__
            while tb is not None:
                # the frame's module, not its file: MXNet runs operator wrappers it generates with exec()
                module = tb.tb_frame.f_globals.get("__name__") or ""
                if module.partition(".")[0] in packages:
                    return True
                tb = tb.tb_next
        return False

    def __repr__(self):
        return f"<minpy backend {self.name}>"


class LazyBackend(Backend):
    """A backend whose library is imported on first use (importing MXNet or CuPy costs a second or CUDA's
    start-up). Subclasses implement ``_load()``: import, check, then set ``self._state`` to True or to the
    reason the backend cannot be used, and return it."""

    _state = None  # None: not tried; True: loaded; str: why it is unavailable

    def available(self):
        state = self._state
        if state is None:
            state = self._load()
        return state is True

    def _load(self):
        raise NotImplementedError

    def unavailable_reason(self):
        self.available()
        return "" if self._state is True else self._state


def element_strides(data):
    """``data``'s strides in elements, or None where a stride is not a whole number of elements (a strided
    backend's :meth:`Backend.memory_layout` then has no layout to give)."""
    size = data.itemsize
    strides = data.strides
    if size == 0 or any(st % size for st in strides):
        return None
    return tuple(st // size for st in strides)
