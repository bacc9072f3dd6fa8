"""The minpy Array: a NumPy-like array whose data lives on one backend, with cached copies on others.

An Array holds its *authoritative* data on one backend (``_data`` on ``_backend``) and, lazily, converted
copies on other backends (``_variants``). A chain of operators on one backend never copies; an operator on
another backend converts once and the copy is reused until the array is written.

Writes and views. Whatever gives a view in NumPy (basic indexing, reshape, transpose, ravel, split...) gives a
view here, on every backend, decided by NumPy's own rule. A view remembers the array that owns the buffer
(``_root``). Every in-place write bumps the owner's ``_version``; cached copies are stamped with the version
they were made at and are never read once it has moved on. The version counter is public to extensions
(autograd uses it to detect writes to arrays it has recorded). A view that its backend could not make in the
base's memory (MXNet copies for a transpose) is a *detached view*, kept in step both ways (see "Detached
views" below).

Buffers minpy does not own (``np.asarray(x_numpy)`` shares the user's array, which the user may write
directly) are marked *foreign*: copies of them on other backends are never cached.
"""
import math as _math
import sys as _sys
import weakref

import numpy as _np
from numpy.lib.stride_tricks import as_strided as _as_strided

from minpy import extend as _extend
from minpy.backends import numpy_backend as _NUMPY
from minpy.backends import registered_backends
from minpy.backends.base import Backend
from minpy.context import _CPU, current_context
from minpy.errors import user_error
from minpy.stats import count_copy, perf_counter

#: operator name -> public callable; filled in by minpy.ops when the operator table is loaded
_OPS = {}
#: minpy.extend's value-read hook: None unless some thread has a reader (a jit tracing)
_READ = _extend._reader
#: NumPy function -> minpy's public function for it (what ``__array_function__`` runs); filled in by minpy.ops
_FUNCTIONS = {}


def _op(name):
    return _OPS[name]


class Array:
    """An n-dimensional array with NumPy's semantics, computed on MXNet or NumPy.

    Create arrays with ``minpy.numpy`` functions (``np.array``, ``np.zeros``, ...); ``Array(x)`` wraps a
    NumPy or MXNet array without copying.
    """

    # _dtype and _shape cache what the backend reports (an MXNet query costs ~1 us); neither changes
    # under in-place writes, and the shape setter refreshes _shape.
    # _link and _views: see "Detached views" below.
    __slots__ = ("_data", "_backend", "_variants", "_stamp", "_root", "_version", "_dtype", "_shape",
                 "_link", "_views", "__weakref__")
    # Make NumPy hand mixed operations (ndarray + Array) to Array's reflected operators.
    __array_priority__ = 100.0

    def __init__(self, data, backend=None):
        foreign = False
        if backend is None:
            data, backend, foreign = _native_of(data)
        self._data = data
        self._backend = backend
        self._variants = None
        self._stamp = 0
        self._root = None
        self._version = 0
        self._dtype = None
        self._shape = None
        self._link = None
        self._views = _Family(foreign=True) if foreign else None

    # -- data on backends -----------------------------------------------------------------------------
    def _owner(self):
        return self._root if self._root is not None else self

    def _get(self, backend, ctx=_CPU):
        """This array's data on ``backend`` (converted and cached when it lives elsewhere)."""
        if backend is self._backend:
            return self._data
        if self._backend is _STALE:
            _resync(self)
            if backend is self._backend:
                return self._data
        owner = self._root if self._root is not None else self
        if owner._views is not None and owner._views.foreign:
            return self._convert_to(backend, ctx)  # the user may have written the buffer: copy afresh
        owner_version = owner._version
        variants = self._variants
        if variants is not None and self._stamp == owner_version:
            data = variants.get(backend)
            if data is not None:
                return data
        else:
            variants = self._variants = {}
            self._stamp = owner_version
        data = variants[backend] = self._convert_to(backend, ctx)
        return data

    def _convert_to(self, backend, ctx):
        start = perf_counter()
        host = self._backend.to_numpy(self._data)
        if backend is _NUMPY:
            data = host
            if data.flags.writeable:
                data = data.view()
                data.flags.writeable = False  # a copy is never written; writes go to _data
        else:
            data = backend.from_numpy(host, ctx)
        count_copy(self._backend.name, backend.name, host.nbytes, perf_counter() - start)
        return data

    def _wrote(self):
        """Record an in-place write: cached copies here and on every view of the buffer become stale."""
        owner = self._root if self._root is not None else self
        self._variants = None
        link = self._link
        if link is not None and link.detached:
            _write_through(self, link, owner)
        owner._version += 1
        family = owner._views
        if family is not None and family.fresh:
            # a view whose elements overlap holds stale copies of what it wrote: it refreshes too
            _mark_stale(family, None if link is not None and link.overlaps else self)

    def _fresh(self):
        """Make sure ``_data``/``_backend`` hold this array's values (a detached view whose base was written
        takes the base's values now)."""
        if self._backend is _STALE:
            _resync(self)

    def _check_writeable(self):
        """NumPy's error for a write into a read-only view (``broadcast_to``, ``diagonal``...)."""
        link = self._link
        if link is not None and not link.writeable:
            raise ValueError("assignment destination is read-only")

    def _assign_all(self, value_data, value_backend):
        """Overwrite every element with ``value_data`` (same shape) in place, keeping the buffer."""
        self._write_region(Ellipsis, value_data, value_backend)
        self._wrote()

    def _write_region(self, key, value_data, value_backend):
        """``self[key] = value`` into this buffer (the caller records the write with ``_wrote``)."""
        if self._backend is _STALE:
            _resync(self)
        self._check_writeable()
        if value_backend is self._backend and self._backend.setitem(self._data, key, value_data):
            return
        host = value_backend.to_numpy(value_data)
        if self._backend is _NUMPY:
            self._data[key] = host
        else:
            self._backend_write(key, host)

    def _host_buffer(self):
        """(buffer, own): a writable NumPy array with this array's values for NumPy code that writes into it
        (``out=``, ``ufunc.at``, ``copyto``, ``nditer``...). ``own``: the buffer is this array's own data (held by
        NumPy), so writes land directly; else it is a host copy that :meth:`_host_written` copies back."""
        self._fresh()
        self._check_writeable()
        if self._backend is _NUMPY:
            return self._data, True
        return _np.array(self._backend.to_numpy(self._data)), False

    def _host_written(self, buffer, own):
        """Record that NumPy code wrote into ``buffer`` from :meth:`_host_buffer`: a host copy is written back,
        and the write is recorded (cached copies and detached views refreshed, the version bumped)."""
        if not own:
            self._backend_write(Ellipsis, buffer)
        self._wrote()

    def _backend_write(self, key, host_value, flat=False):
        """Write through NumPy's semantics into a non-NumPy buffer, then copy the result back in place
        (``flat``: ``key`` holds flat C-order positions)."""
        host = _np.array(self._backend.to_numpy(self._data))
        if flat:
            host.flat[key] = host_value
        else:
            host[key] = host_value
        if host.size == 0:
            return  # NumPy checked the key and value; there is nothing to copy back
        back = self._backend.from_numpy(host, self.context)
        if not self._backend.setitem(self._data, Ellipsis, back):
            raise TypeError(f"the {self._backend.name} backend cannot overwrite an array of dtype {self.dtype}")

    @property
    def version(self):
        """Counter of in-place writes to this array's buffer (shared with its views)."""
        return self._owner()._version

    @property
    def backend(self):
        """Name of the backend that holds this array's authoritative data."""
        self._fresh()
        return self._backend.name

    @property
    def context(self):
        """The context (device) where this array's data lives."""
        if self._backend is _NUMPY:
            return _CPU
        self._fresh()
        return self._backend.context_of(self._data)

    # -- NumPy attributes -----------------------------------------------------------------------------
    @property
    def shape(self):
        shape = self._shape
        if shape is None:
            shape = self._shape = tuple(self._data.shape)
        return shape

    @shape.setter
    def shape(self, new_shape):
        reshaped = _op("reshape")(self, new_shape)
        if reshaped.size != self.size:
            raise ValueError(f"cannot reshape array of size {self.size} into shape {new_shape}")
        owner = self._root if self._root is not None else self
        in_family = self._root is not None or self._views is not None
        if reshaped._root is not owner and in_family:
            # NumPy changes a shape in place only where that needs no copy (the array keeps its memory)
            raise AttributeError("Incompatible shape for in-place modification. Use `.reshape()` to make a "
                                 "copy with the desired shape.")
        self._fresh()
        shape = tuple(reshaped.shape)
        # the same buffer in the new shape: views sharing it (MXNet's contiguous slices) keep seeing this array
        data = self._backend.reshape_shared(self._data, shape)
        if data is None:
            if in_family:
                raise AttributeError(f"the {self._backend.name} backend cannot change the shape of an array "
                                     "that has views in place; use `.reshape()` to make a copy")
            data, backend = reshaped._get(reshaped._backend), reshaped._backend
        else:
            backend = self._backend
        link = self._link
        if link is not None:
            # a linked view now holds its elements in the new shape: it follows its base through its stand-in
            stand = standin(self)
            new_stand = None if stand is None else stand.reshape(shape)
            if new_stand is None or not _np.may_share_memory(new_stand, stand):
                raise AttributeError("Incompatible shape for in-place modification. Use `.reshape()` to make a "
                                     "copy with the desired shape.")
            link.keys = None
            link.standin = new_stand
        self._data, self._backend = data, backend
        self._shape = None
        self._variants = None
        family = self._views
        if family is not None and family.layout is not None:
            # the same memory in a new shape: the twin keeps its buffer (and the positions its elements stand for,
            # which a reshape without a copy keeps), with the new shape's strides
            buffer, origin, _ = family.layout
            family.layout = (buffer, origin, _element_strides(self))

    @property
    def dtype(self):
        dtype = self._dtype
        if dtype is None:
            dtype = self._dtype = self._backend.dtype(self._data)
        return dtype

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return _math.prod(self.shape)

    @property
    def itemsize(self):
        return self.dtype.itemsize

    @property
    def nbytes(self):
        return self.size * self.dtype.itemsize

    @property
    def T(self):
        return _op("transpose")(self)

    @property
    def mT(self):
        return _op("swapaxes")(self, -1, -2)

    @property
    def real(self):
        return _op("real")(self)

    @property
    def imag(self):
        return _op("imag")(self)

    @property
    def flat(self):
        """A flat iterator over the array, as NumPy's: ``a.flat[i]`` reads, ``a.flat[i] = v`` writes in place."""
        return FlatIter(self)

    @property
    def data(self):
        """The buffer (read-only, like :meth:`asnumpy`: write through the Array)."""
        return self.asnumpy().data

    @property
    def ctypes(self):
        return self.asnumpy().ctypes

    @property
    def flags(self):
        return self._host().flags

    @property
    def strides(self):
        return self._host().strides

    @property
    def base(self):
        return self._root

    # -- conversion -----------------------------------------------------------------------------------
    def asnumpy(self):
        """The value as a NumPy array. It may share memory with this array and is then read-only: write
        through the Array (``a[...] = v``) or copy it (``a.asnumpy().copy()``)."""
        data = self._host()
        if _READ[0] is not None:
            _READ[0](self, "array", data)
        return data

    def _host(self):
        """The value as a read-only NumPy array, for minpy's own reads (not reported as a value read)."""
        data = self._get(_NUMPY)
        if data.flags.writeable:
            data = data.view()
            data.flags.writeable = False
        return data

    def __array__(self, dtype=None, copy=None):
        if copy:
            data = self._get(_NUMPY)
            if _READ[0] is not None:
                _READ[0](self, "array", data)
            return _np.array(data, dtype=dtype, copy=True)
        # read-only, like asnumpy(): a write through numpy.asarray(a) would bypass _wrote() and leave the
        # cached copies on other backends stale
        data = self.asnumpy()
        return data if dtype is None else data.astype(dtype, copy=False)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        # numpy.exp(minpy_array), ndarray + Array, numpy.add.at(minpy_array, ...), numpy.add(x, y, out=minpy_array):
        # the minpy operator of that name (or its method), which writes into minpy outputs in place
        op = _OPS.get(ufunc.__name__)
        if op is not None:
            fn = op if method == "__call__" else getattr(op, method, None)
            if fn is not None:
                return fn(*inputs, **kwargs)
        inputs = [x.asnumpy() if isinstance(x, Array) else x for x in inputs]
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        # numpy.copyto(minpy_array, ...), numpy.sum(minpy_array): minpy's function for it (which writes into
        # minpy Arrays in place and returns minpy Arrays); a NumPy function minpy has no operator for runs on the
        # arrays' data through an operator made for it (minpy.ops.mirror)
        fn = _FUNCTIONS.get(func)
        if fn is None:
            fn = _OPS["_numpy_function"](func)
        return fn(*args, **kwargs)

    def tolist(self):
        return self.asnumpy().tolist()

    def item(self, *args):
        return self.asnumpy().item(*args)

    def tobytes(self, order="C"):
        return self.asnumpy().tobytes(order)

    def __float__(self):
        return float(self._scalar("float"))

    def __int__(self):
        return int(self._scalar("int"))

    def __complex__(self):
        return complex(self._scalar("complex"))

    def __bool__(self):
        if self.size != 1:
            raise ValueError("The truth value of an array with more than one element is ambiguous. "
                             f"Use a.any() or a.all() (array shape {self.shape})")
        value = bool(self._host())
        if _READ[0] is not None:
            _READ[0](self, "bool", value)
        return value

    def __index__(self):
        if self.ndim != 0 or self.dtype.kind not in "iub":
            raise TypeError(f"only integer scalar arrays can be converted to a scalar index "
                            f"(shape {self.shape}, dtype {self.dtype})")
        return int(self.asnumpy())

    def _scalar(self, what):
        if self.size != 1:
            raise TypeError(f"only size-1 arrays can be converted to Python scalars "
                            f"({what}() of an array of shape {self.shape})")
        value = self.asnumpy().reshape(())
        return value.item() if what != "complex" else value[()]

    def __len__(self):
        shape = self.shape
        if not shape:
            raise TypeError("len() of unsized object (a 0-d minpy Array)")
        return shape[0]

    def __iter__(self):
        if not self.shape:  # raised by iter() itself, as NumPy does (a generator would raise at next())
            raise TypeError("iteration over a 0-d array")
        getitem = _op("getitem")
        return (getitem(self, i) for i in range(self.shape[0]))

    # Printing is not a value read: under a jit it happens when the function is traced (a side effect, like
    # print itself), and what is printed does not steer the computation.
    def __repr__(self):
        return repr(self._host())

    def __str__(self):
        return str(self._host())

    def __format__(self, spec):
        value = self._host()
        return format(value[()] if value.ndim == 0 else value, spec)

    __hash__ = None

    def __reduce__(self):
        return (_rebuild, (_np.array(self.asnumpy()),))

    def __copy__(self):
        return _op("copy")(self)

    def __deepcopy__(self, memo):
        return _op("copy")(self)

    # -- indexing -------------------------------------------------------------------------------------
    # The methods below that forward to an operator catch what it raises and raise it again without minpy's
    # frames (minpy.errors), as the operator's own function does: the traceback ends at the user's line.
    def __getitem__(self, key):
        try:
            return _op("getitem")(self, key)
        except Exception as exc:
            raise user_error(exc)  # the error is in the call above: MINPY_TRACEBACK=full shows minpy's frames

    def __setitem__(self, key, value):
        try:
            _op("setitem")(self, key, value)
        except Exception as exc:
            raise user_error(exc)  # the error is in the call above: MINPY_TRACEBACK=full shows minpy's frames

    # -- methods whose signature differs from the same-named function ----------------------------------
    def reshape(self, *shape, order="C"):
        if len(shape) == 1 and not isinstance(shape[0], int):
            shape = shape[0]
        try:
            return _op("reshape")(self, shape, order=order)
        except Exception as exc:
            raise user_error(exc)  # the error is in the call above: MINPY_TRACEBACK=full shows minpy's frames

    def transpose(self, *axes):
        if len(axes) == 1 and (axes[0] is None or not isinstance(axes[0], int)):
            axes = axes[0]
        try:
            return _op("transpose")(self, axes if axes != () else None)
        except Exception as exc:
            raise user_error(exc)  # the error is in the call above: MINPY_TRACEBACK=full shows minpy's frames

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        if not copy and self.dtype == dtype:
            return self  # NumPy returns the array itself; a new Array on the same buffer would not see writes
        try:
            return _op("astype")(self, dtype, order=order, casting=casting, copy=copy)
        except Exception as exc:
            raise user_error(exc)  # the error is in the call above: MINPY_TRACEBACK=full shows minpy's frames

    def copy(self, order="C"):
        return _op("copy")(self, order=order)

    def flatten(self, order="C"):
        return _op("flatten")(self, order=order)

    def fill(self, value):
        try:
            _op("fill")(self, value)
        except Exception as exc:
            raise user_error(exc)  # the error is in the call above: MINPY_TRACEBACK=full shows minpy's frames

    def sort(self, axis=-1, kind=None, order=None):
        self[...] = _op("sort")(self, axis=axis, kind=kind, order=order)

    def resize(self, new_shape, *more, refcheck=True):
        """In place, as NumPy's ``ndarray.resize``: the array takes the new shape, filled in C order and padded with
        zeros. As in NumPy, an array that does not own its data (a view) cannot be resized, nor (``refcheck``) one
        that views are taken of; results of earlier operators and copies keep their values."""
        shape = (new_shape,) + more if more else new_shape
        if self._root is not None:
            raise ValueError("cannot resize this array: it does not own its data")
        family = self._views
        if refcheck and ((family is not None and any(r() is not None for r in family.fresh))
                         or (self._backend is _NUMPY and _sys.getrefcount(self._data) > 2)):
            # NumPy's own check: live views (detached ones, and NumPy views of the buffer, which hold it as their
            # base) or other holders of the buffer (the user's own name for a buffer handed to Array(x))
            raise ValueError("cannot resize an array that references or is referenced\nby another array in this "
                             "way.  Use the np.resize function or refcheck=False")
        host = _np.array(self.asnumpy())
        host.resize(shape, refcheck=False)
        self._data = host
        self._backend = _NUMPY
        self._shape = None
        self._views = None
        self._wrote()

    def __contains__(self, value):
        return bool(_OPS["any"](_OPS["equal"](self, value)))

    def view(self, *args, **kwargs):
        return Array(self.asnumpy().view(*args, **kwargs).copy())

    def dump(self, file):
        _np.save(file, self.asnumpy(), allow_pickle=False)

    def wait_to_read(self):
        """Block until the data is computed (MXNet and GPUs run asynchronously)."""
        self._fresh()
        self._backend.wait(self._data)
        return self

    # -- arithmetic, comparison, bitwise ----------------------------------------------------------------
    # Loading the operator table (minpy.ops) rebinds the forward operators (``__add__``...) to the operators'
    # own functions, one Python call fewer; these lookups serve whatever runs before the table is loaded.
    def __add__(self, o): return _OPS["add"](self, o)
    def __radd__(self, o): return _OPS["add"](o, self)
    def __sub__(self, o): return _OPS["subtract"](self, o)
    def __rsub__(self, o): return _OPS["subtract"](o, self)
    def __mul__(self, o): return _OPS["multiply"](self, o)
    def __rmul__(self, o): return _OPS["multiply"](o, self)
    def __truediv__(self, o): return _OPS["true_divide"](self, o)
    def __rtruediv__(self, o): return _OPS["true_divide"](o, self)
    def __floordiv__(self, o): return _OPS["floor_divide"](self, o)
    def __rfloordiv__(self, o): return _OPS["floor_divide"](o, self)
    def __mod__(self, o): return _OPS["remainder"](self, o)
    def __rmod__(self, o): return _OPS["remainder"](o, self)
    def __divmod__(self, o): return _OPS["divmod"](self, o)
    def __rdivmod__(self, o): return _OPS["divmod"](o, self)
    def __pow__(self, o):
        result = _OPS["power"](self, o)
        if _is_fast_exponent(o) and type(result) is Array:
            # ndarray ** e takes a fast path for e in (-1, 0, 0.5, 1, 2) (reciprocal, ones_like, sqrt, copy,
            # square) that can keep a dtype numpy.power would promote (bool ** 2 is int8 in NumPy 1.x; 0-d
            # arrays; 0-d array exponents in 2.x): NumPy tells which dtype the operator gives.
            e = o if type(o) in (int, float) else _np.asarray(o)
            with _np.errstate(all="ignore"):
                expected = (_np.ones((1,) * self.ndim, self.dtype) ** e).dtype
            if result.dtype != expected:
                result = _OPS["astype"](result, expected)
        return result
    def __rpow__(self, o): return _OPS["power"](o, self)
    def __matmul__(self, o): return _OPS["matmul"](self, o)
    def __rmatmul__(self, o): return _OPS["matmul"](o, self)
    def __and__(self, o): return _OPS["bitwise_and"](self, o)
    def __rand__(self, o): return _OPS["bitwise_and"](o, self)
    def __or__(self, o): return _OPS["bitwise_or"](self, o)
    def __ror__(self, o): return _OPS["bitwise_or"](o, self)
    def __xor__(self, o): return _OPS["bitwise_xor"](self, o)
    def __rxor__(self, o): return _OPS["bitwise_xor"](o, self)
    def __lshift__(self, o): return _OPS["left_shift"](self, o)
    def __rlshift__(self, o): return _OPS["left_shift"](o, self)
    def __rshift__(self, o): return _OPS["right_shift"](self, o)
    def __rrshift__(self, o): return _OPS["right_shift"](o, self)
    def __eq__(self, o): return _OPS["equal"](self, o)
    def __ne__(self, o): return _OPS["not_equal"](self, o)
    def __lt__(self, o): return _OPS["less"](self, o)
    def __le__(self, o): return _OPS["less_equal"](self, o)
    def __gt__(self, o): return _OPS["greater"](self, o)
    def __ge__(self, o): return _OPS["greater_equal"](self, o)
    def __neg__(self): return _OPS["negative"](self)
    def __pos__(self):
        if self.dtype.kind == "b":  # NumPy 1.x: a DeprecationWarning and a copy; 2.x: no loop, a TypeError
            return Array(_np.array(+self.asnumpy()), _NUMPY)
        return _OPS["positive"](self)
    def __abs__(self): return _OPS["absolute"](self)
    def __invert__(self): return _OPS["invert"](self)

    # In-place operators: NumPy's semantics (result cast back with same-kind casting, the buffer kept).
    def __iadd__(self, o): return _OPS["_inplace"]("add", self, o)
    def __isub__(self, o): return _OPS["_inplace"]("subtract", self, o)
    def __imul__(self, o): return _OPS["_inplace"]("multiply", self, o)
    def __itruediv__(self, o): return _OPS["_inplace"]("true_divide", self, o)
    def __ifloordiv__(self, o): return _OPS["_inplace"]("floor_divide", self, o)
    def __imod__(self, o): return _OPS["_inplace"]("remainder", self, o)
    def __ipow__(self, o): return _OPS["_inplace"]("power", self, o)
    def __imatmul__(self, o): return _OPS["_inplace"]("matmul", self, o)
    def __iand__(self, o): return _OPS["_inplace"]("bitwise_and", self, o)
    def __ior__(self, o): return _OPS["_inplace"]("bitwise_or", self, o)
    def __ixor__(self, o): return _OPS["_inplace"]("bitwise_xor", self, o)
    def __ilshift__(self, o): return _OPS["_inplace"]("left_shift", self, o)
    def __irshift__(self, o): return _OPS["_inplace"]("right_shift", self, o)


# -- Detached views ----------------------------------------------------------------------------------
# Whatever is a view in NumPy is a view here. Where the backend made it in the base's memory (NumPy and CuPy
# views, MXNet's contiguous slices) the view just shares the owner's write counter (``_root``). Where it could
# not (MXNet copies a transpose, a strided slice; a view taken on the host of data living on MXNet) the result
# is a *detached view*: its own buffer, kept in step both ways. Its ``_link`` (a :class:`_Link`) says which
# elements of the owner it holds: basic-index ``keys`` into a parent that shares the owner's memory, or a
# *stand-in*: the same view taken by NumPy of a memory-less twin of the owner (:func:`standin`), from which the
# elements' positions in the owner are read. NumPy's own rules thus decide both whether a result is a view
# and of which elements (a reshape of a transposed array is a copy in NumPy, so it is one here).
#
# A write into a detached view is written through into the owner at once (``_wrote``). A write into the owner
# (or any of its views) marks the owner's up-to-date detached views *stale* instead of copying into each:
# a stale view holds no data (``_backend`` is the ``_STALE`` marker, which no operator serves, so every
# reader comes through ``_get`` or ``_fresh``) and takes the owner's values again when it is next read
# (``_resync``). A write therefore costs one pass over the views read since the previous write, and a view
# that is never read again costs nothing.
class _StaleBackend(Backend):
    """The marker backend of a detached view whose base was written since it last took its values."""

    name = "stale view"


_STALE = _StaleBackend()


class _Link:
    """How a view the backend could not make in its base's memory follows the base (see above).

    ``parent``: the Array it was taken from (kept alive, as NumPy's ``base``); ``keys``: basic-index keys into
    ``parent`` (which then shares the owner's memory), or None; ``pshape``: the parent's shape when the keys
    were taken (None when not yet known); ``standin``: the view's stand-in (None until
    needed when ``keys`` say it all); ``detached``: whether the view has its own buffer (False for MXNet's
    contiguous slices, which share memory but have no strides to read positions from); ``writeable``: False
    for views NumPy makes read-only; ``home``/``ctx``: where a stale view's data goes back to.
    """

    __slots__ = ("parent", "keys", "pshape", "standin", "detached", "writeable", "home", "ctx", "overlaps")

    def __init__(self, parent, keys=None, standin=None, detached=True, writeable=True):
        self.parent = parent
        self.keys = keys
        self.pshape = parent.shape  # keys index the parent in this shape (its shape can change in place)
        self.standin = standin
        self.detached = detached
        self.writeable = writeable
        self.home = None
        self.ctx = None
        self.overlaps = None  # whether several of the view's elements are one element of its base (as_strided)


class _Family:
    """What an owner keeps for its views: ``fresh`` (weak references to its detached views that are up to
    date), the memory-less twin its views' stand-ins are views of (``layout``: buffer, origin, element strides;
    made on first use), the positions that twin's elements stand for (``index``: made when a write or a
    refresh first needs them), and ``foreign`` (the buffer is the user's: never trust a copy of it)."""

    __slots__ = ("fresh", "layout", "index", "foreign")

    def __init__(self, foreign=False):
        self.fresh = []
        self.layout = None
        self.index = None
        self.foreign = foreign


def _family(owner):
    family = owner._views
    if family is None:
        family = owner._views = _Family()
    return family


def mark_foreign(array):
    """Mark ``array``'s buffer as the user's (``np.asarray(x)``, ``Array(x)``): minpy never caches copies of
    it on other backends, since the user may write it directly."""
    owner = array._root if array._root is not None else array
    _family(owner).foreign = True
    owner._variants = None


def is_foreign(array):
    owner = array._root if array._root is not None else array
    return owner._views is not None and owner._views.foreign


def _layout(owner, family):
    """(buffer, origin, element strides): a memory-less twin of the owner's NumPy layout. ``buffer`` is never
    written or read (``numpy.empty`` reserves address space only); views of it have the owner's dtype, shape
    and strides, so NumPy's view rules apply to them as to the owner itself."""
    layout = family.layout
    if layout is None:
        shape = owner.shape
        strides = _element_strides(owner)
        low = sum((n - 1) * e for n, e in zip(shape, strides) if e < 0 and n > 0)
        high = sum((n - 1) * e for n, e in zip(shape, strides) if e > 0 and n > 0)
        buffer = _np.empty(max(high - low + 1, 1), dtype=owner.dtype)
        layout = family.layout = (buffer, -low, strides)
        family.index = None
    return layout


def _element_strides(owner):
    """The owner's strides in elements: its memory's where the backend is strided, else dense C order's."""
    got = owner._backend.memory_layout(owner._data)
    if got is not None:
        return got[1]
    strides = []
    step = 1
    for n in reversed(owner.shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


def _strided(buffer, offset, shape, strides):
    base = buffer[offset:]
    itemsize = buffer.itemsize
    return _as_strided(base, shape, tuple(e * itemsize for e in strides))


def standin(array):
    """``array``'s stand-in: a view of its owner's memory-less twin holding the same elements as ``array``
    does of its owner (None where that cannot be told, e.g. a view that reinterprets the dtype)."""
    owner = array._root if array._root is not None else array
    if array is owner:
        buffer, origin, strides = _layout(owner, _family(owner))
        return _strided(buffer, origin, owner.shape, strides)
    link = array._link
    if link is not None:
        if link.standin is None:
            parent = standin(link.parent)
            if parent is not None and link.pshape is not None and parent.shape != link.pshape:
                parent = parent.reshape(link.pshape)  # the parent's shape changed in place: same memory
            link.standin = None if parent is None else parent[link.keys]
        return link.standin
    # a view sharing the owner's strided memory: its stand-in sits at the same element offset in the twin
    mine = array._backend.memory_layout(array._data)
    base = owner._backend.memory_layout(owner._data)
    if mine is None or base is None or array.dtype.itemsize != owner.dtype.itemsize:
        return None
    offset, rest = divmod(mine[0] - base[0], owner.dtype.itemsize)
    if rest:
        return None
    buffer, origin, _ = _layout(owner, _family(owner))
    return _strided(buffer, origin + offset, array.shape, mine[1])


def standin_positions(owner, stand):
    """The flat (C-order) positions in ``owner`` of the elements of ``stand`` (a view of its twin)."""
    family = _family(owner)
    buffer, origin, strides = _layout(owner, family)
    index = family.index
    if index is None:
        index = _np.empty(buffer.size, dtype=_np.intp)
        _strided(index, origin, owner.shape, strides)[...] = _np.arange(owner.size).reshape(owner.shape)
        family.index = index
    itemsize = buffer.itemsize
    offset = (stand.__array_interface__["data"][0] - buffer.__array_interface__["data"][0]) // itemsize
    return _strided(index, offset, stand.shape, tuple(st // itemsize for st in stand.strides))


def is_standin_view(stand, array):
    """Whether ``stand`` (a result NumPy computed from stand-ins) is a view of ``array``'s owner's twin."""
    owner = array._root if array._root is not None else array
    family = owner._views
    return (family is not None and family.layout is not None and isinstance(stand, _np.ndarray)
            and _np.may_share_memory(stand, family.layout[0]))


def link_view(view, parent, keys=None, stand=None, detached=True, writeable=True):
    """Make ``view`` a view of ``parent`` that its backend could not make in ``parent``'s memory (``detached``)
    or made in it without strides to read its elements from (MXNet's contiguous slices)."""
    plink = parent._link
    if plink is not None and plink.detached and keys is not None:
        # keys into a detached parent: follow the owner through the parent's stand-in instead
        pstand = standin(parent)
        stand = None if pstand is None else pstand[keys]
        keys = None
        if stand is None:
            return view  # positions cannot be told: a copy, as before views were tied
    owner = parent._root if parent._root is not None else parent
    view._root = owner
    view._link = _Link(parent, keys, stand, detached, writeable)
    if detached:
        _remember(_family(owner), view)
    return view


def _remember(family, view):
    fresh = family.fresh
    n = len(fresh)
    if n >= 16 and not n & (n - 1):  # at 16, 32, 64...: drop the views that have died
        fresh[:] = [r for r in fresh if r() is not None]
    fresh.append(weakref.ref(view))


def _positions(view, owner):
    """Where a detached view's elements sit in its owner (flat C-order positions)."""
    stand = standin(view)
    if stand is None:  # link_view makes no detached view whose stand-in cannot be told
        raise RuntimeError("minpy: a detached view lost track of its base")
    return standin_positions(owner, stand)


def _write_through(view, link, owner):
    """Copy a detached view's values into its owner (after a write into the view)."""
    if _keys_hold(link):
        link.parent._write_region(link.keys, view._data, view._backend)
        link.parent._variants = None
        return
    positions = _positions(view, owner)
    values = view._backend.to_numpy(view._data)
    owner._fresh()
    if link.overlaps is None:
        link.overlaps = _np.unique(positions).size < positions.size
    if link.overlaps:
        # one element of the base appears several times in the view, where only one copy of it was written:
        # only the elements that changed are written back (NumPy's view has one memory cell for all of them)
        current = _np.take(owner._get(_NUMPY), positions)
        changed = values != current
        if values.dtype.kind in "fc":
            changed &= ~(_np.isnan(values) & _np.isnan(current))
        positions, values = positions[changed], _np.asarray(values)[changed]
    if owner._backend is _NUMPY:
        owner._data.flat[positions] = values
    else:
        owner._backend_write(positions, values, flat=True)
    owner._variants = None


def _keys_hold(link):
    """Whether ``link.keys`` still index its parent (whose shape can have changed in place since)."""
    return link.keys is not None and (link.pshape is None or link.parent.shape == link.pshape)


def _mark_stale(family, writer):
    fresh = family.fresh
    family.fresh = []
    for ref in fresh:
        view = ref()
        if view is None:
            continue
        if view is writer:  # it holds the values just written
            family.fresh.append(ref)
            continue
        if view._backend is _STALE:
            continue
        link = view._link
        view.shape, view.dtype  # cached now: a stale view still answers them  # noqa: B018
        link.home = view._backend
        link.ctx = _CPU if view._backend is _NUMPY else view._backend.context_of(view._data)
        view._backend = _STALE
        view._data = None
        view._variants = None


def _resync(view):
    """A stale detached view takes its owner's current values."""
    link = view._link
    owner = view._root
    home, ctx = link.home, link.ctx
    if _keys_hold(link):
        data = _index_detached(link.parent, link.keys, home, ctx)
    else:
        positions = _positions(view, owner)
        host = _np.asarray(_np.take(owner._get(_NUMPY), positions))  # a 0-d take gives a NumPy scalar
        data = host if home is _NUMPY else home.from_numpy(host, ctx)
    view._data = data
    view._backend = home
    view._variants = None
    link.home = link.ctx = None
    _remember(owner._views, view)


def _index_detached(parent, keys, backend, ctx=None):
    """A new buffer on ``backend`` holding ``parent[keys]``."""
    parent._fresh()
    if backend is parent._backend:
        got = backend.basic_index(parent._data, keys)
        if got is not None:
            return got[0] if not got[1] else got[0].copy()
    host = _np.array(parent._get(_NUMPY)[keys])
    return host if backend is _NUMPY else backend.from_numpy(host, parent.context if ctx is None else ctx)


_FAST_EXPONENTS = (-1, 0, 0.5, 1, 2)


def _is_fast_exponent(o):
    if type(o) in (int, float):
        return o in _FAST_EXPONENTS
    if isinstance(o, (Array, _np.ndarray, _np.generic)) and o.ndim == 0 and o.dtype.kind in "iuf":
        return float(o) in _FAST_EXPONENTS
    return False


def _rebuild(value):
    return Array(value, _NUMPY)


def _native_of(obj):
    """(native data, backend, whether the data is the caller's memory) for wrapping ``obj`` without a copy
    where possible."""
    if isinstance(obj, _np.ndarray):
        return obj, _NUMPY, True
    for backend in registered_backends():
        if backend is not _NUMPY and backend.is_native(obj):
            return backend.adopt(obj), backend, True
    if type(obj).__module__.startswith("mxnet"):
        from minpy.backends import mxnet_backend

        if mxnet_backend.available() and mxnet_backend.is_native(obj):
            return mxnet_backend.adopt(obj), mxnet_backend, True
    data = _np.asarray(obj)
    return data, _NUMPY, data.base is not None  # a buffer object's memory (memoryview, torch...) is shared


def _to_numpy_tree(obj):
    if isinstance(obj, Array):
        return obj.asnumpy()
    if type(obj) in (list, tuple):
        return type(obj)(_to_numpy_tree(x) for x in obj)
    if type(obj) is dict:
        return {k: _to_numpy_tree(v) for k, v in obj.items()}
    return obj


class FlatIter:
    """``Array.flat``: NumPy's flat iterator over a minpy Array. Reads index the flattened values; a write
    (``a.flat[i] = v``) goes into the array in place and is recorded like any other write."""

    __slots__ = ("base",)

    def __init__(self, base):
        self.base = base

    def __getitem__(self, key):
        got = self.base.asnumpy().flat[_host(key)]
        return Array(_np.array(got), _NUMPY)

    def __setitem__(self, key, value):
        base = self.base
        base._fresh()
        base._check_writeable()
        buffer, own = base._host_buffer()
        try:
            buffer.flat[_host(key)] = _host(value)
        finally:
            base._host_written(buffer, own)

    def __iter__(self):
        return iter(self.base.asnumpy().flat)

    def __len__(self):
        return self.base.size

    def __array__(self, dtype=None, copy=None):
        return _np.array(self.base.asnumpy().ravel(), dtype=dtype)

    def copy(self):
        return Array(self.base.asnumpy().flatten(), _NUMPY)


def _host(x):
    """``x`` with minpy Arrays (one level into tuples and lists) replaced by their host values."""
    if isinstance(x, Array):
        return x.asnumpy()
    if type(x) in (tuple, list):
        return type(x)(_host(v) for v in x)
    return x


class Number(float):
    """MinPy 0.3's scalar type; kept so that ``isinstance(x, Number)`` code runs. Results of minpy
    operators are 0-d Arrays, which convert with ``float()``."""


def wrap(obj):
    """MinPy 0.3's ``wrap``: an Array for array data, a Python scalar stays as it is."""
    if isinstance(obj, Array):
        return obj
    if isinstance(obj, (int, float, bool, complex)):
        return obj
    return Array(obj)


def current_device_context():
    return current_context()
