"""Build the operators from the table, plus the ones with custom dispatch (writes into arrays)."""
import operator as _py_operator  # (plain `operator` would be replaced by the submodule minpy.ops.operator)
import types

import numpy as np

from minpy import extend as _extend
from minpy.array import _FUNCTIONS, _OPS, _STALE, Array, link_view
from minpy.backends import numpy_backend as _NUMPY
from minpy.ops import mirror as _mirror  # noqa: F401  (NumPy functions without an operator, for __array_function__)
from minpy.ops import table as _table
from minpy.ops import ufuncs as _ufuncs
from minpy.ops.operator import (_SCALARS, Operator, _convert, _invoke, _normalise, _reraise, all_operators,
                                describe, get_operator, register)
from minpy.dispatch.policy import current_policy
from minpy.errors import user_error
from minpy.stats import count_call, count_fallback

_NUMPY1 = np.lib.NumpyVersion(np.__version__) < "2.0.0"

# NumPy submodules whose public callables minpy.numpy mirrors.
MIRRORED = {"": np, "random": np.random, "linalg": np.linalg, "fft": np.fft}


def _count(op_name, backend):
    count_call(op_name, backend.name)


# -- operators that write -------------------------------------------------------------------------------------------
def _setitem(op, args, kwargs):
    a, key, value = args
    if a._backend is _STALE:
        a._fresh()
    if a._link is not None:
        a._check_writeable()
    backend = a._backend
    if backend is not _NUMPY:
        v = value._get(backend, a.context) if isinstance(value, Array) else value
        try:
            done = _key_is_basic(key) and backend.setitem(a._data, key, v)
        except Exception as exc:  # e.g. MXNet's broadcast or bounds errors: NumPy below gives the answer or the error
            if not backend.own_error(exc):
                raise
            done = False
        if done:
            a._wrote()
            _count(op.name, backend)
            return None
        count_fallback(op.name, f"{backend.name} cannot write this key/value with NumPy's semantics")
    # (a key of ints and slices and a Python number need no conversion: the common a[i, j] = x skips it)
    nkey = key if _plain_key(key) else _convert(key, _NUMPY, None)
    nvalue = value if type(value) in _SCALARS else _convert(value, _NUMPY, None)
    try:
        if backend is _NUMPY:
            a._data[nkey] = nvalue
        else:
            a._backend_write(nkey, nvalue)
    except Exception as exc:
        a._wrote()  # NumPy may have written part of the buffer before it raised
        _reraise(op, exc, (a, key, value), {})
    a._wrote()
    _count(op.name, _NUMPY)
    return None


def _getitem(op, args, kwargs):
    """Indexing. Basic keys give views, as in NumPy: on the array's own backend when it can index so and the
    policy allows it, else through NumPy on a host copy; a view the backend had to copy is a *detached view*
    (see minpy.array) that is kept in step with its base. Advanced keys give copies: the ordinary dispatch."""
    a, key = args
    keys = basic_keys(key) if not kwargs and isinstance(a, Array) else None
    if keys is None:
        return _invoke(op, args, kwargs)
    backend = a._backend
    if backend is _STALE:
        a._fresh()
        backend = a._backend
    got = None
    if backend is _NUMPY:
        try:
            got = backend.basic_index(a._data, keys)
        except Exception as exc:
            _reraise(op, exc, (a, key), {})
    elif backend.name in current_policy().preference:
        try:
            got = backend.basic_index(a._data, keys)
        except Exception as exc:  # MXNet's index errors: NumPy below gives the answer or NumPy's own error
            if not backend.own_error(exc):
                raise
            got = None
    if got is None:
        try:
            host = a._get(_NUMPY)[keys]
        except Exception as exc:
            _reraise(op, exc, (a, key), {})
        backend = _NUMPY
        got = (np.array(host), False)  # its own buffer: the cached host copy is read-only
    data, shares = got
    result = Array(data, backend)
    link = a._link
    if shares and link is None and backend.strided:
        result._root = a._root if a._root is not None else a  # a view in the owner's strided memory
    elif not (len(keys) == a.ndim and all(type(k) is int for k in keys)):  # not a scalar: a view
        if shares and (link is None or not link.detached):
            # in the owner's memory, without strides to tell which elements (MXNet): keep the keys
            link_view(result, a, keys, detached=False, writeable=link is None or link.writeable)
        else:
            link_view(result, a, keys, writeable=link is None or link.writeable)
    _count(op.name, backend)
    return result


_BASIC_KEY = (int, slice, type(None), type(Ellipsis))


def _plain_key(key):
    """Whether ``key`` holds only ints, slices, None and Ellipsis (nothing to convert for NumPy)."""
    if type(key) is tuple:
        for k in key:
            if type(k) not in _BASIC_KEY:
                return False
        return True
    return type(key) in _BASIC_KEY


def basic_keys(key):
    """``key`` as a tuple of ints, slices, None and Ellipsis; None when it is an advanced (or invalid) index
    (an index that selects each element at most once and gives a view in NumPy is basic)."""
    keys = key if type(key) is tuple else (key,)
    if _plain_key(keys):
        return keys
    if not all(type(k) in _BASIC_KEY or isinstance(k, np.integer) for k in keys):
        return None
    return tuple(int(k) if isinstance(k, np.integer) else k for k in keys)


def _key_is_basic(key):
    keys = key if type(key) is tuple else (key,)
    return not any(isinstance(k, (Array, np.ndarray, list)) for k in keys)


def _mutating(op, args, kwargs):
    """NumPy functions that write into their first argument (``copyto``, ``put``, ``random.shuffle``...)."""
    target = args[0]
    if not isinstance(target, Array):
        args, _ = _normalise(op, args)
        return op.ref(*[_convert(x, _NUMPY, None) for x in args],
                      **{k: _convert(v, _NUMPY, None) for k, v in kwargs.items()})
    target._fresh()
    target._check_writeable()
    rest = [_convert(x, _NUMPY, None) for x in args[1:]]
    nkwargs = {k: _convert(v, _NUMPY, None) for k, v in kwargs.items()}
    buffer, own = target._host_buffer()
    try:
        result = op.ref(buffer, *rest, **nkwargs)
    except Exception as exc:
        if own:
            target._wrote()  # NumPy may have written part of the buffer before it raised
        _reraise(op, exc, args, kwargs)
    target._host_written(buffer, own)
    _count(op.name, _NUMPY)
    return result


def _fill(op, args, kwargs):
    a, value = args
    a[...] = value


_IN_PLACE = {"add": _py_operator.iadd, "subtract": _py_operator.isub, "multiply": _py_operator.imul,
             "true_divide": _py_operator.itruediv, "floor_divide": _py_operator.ifloordiv,
             "remainder": _py_operator.imod, "power": _py_operator.ipow, "bitwise_and": _py_operator.iand,
             "bitwise_or": _py_operator.ior, "bitwise_xor": _py_operator.ixor, "left_shift": _py_operator.ilshift,
             "right_shift": _py_operator.irshift}


def _inplace(name, a, b):
    """``a op= b`` with NumPy's semantics: same-kind casting back into ``a``'s dtype, the buffer kept."""
    op = get_operator(name)
    a._fresh()
    a._check_writeable()
    if (_extend._interceptor[0] is None or not _extend._hooks.stack) and (a._backend is _NUMPY or (_NUMPY1 and a.ndim == 0)):
        # NumPy's own in-place operator decides: its fast path for ** 2, ** 0.5... keeps dtypes numpy.power
        # would promote, and NumPy 1.x casts by value with the output in view for 0-d arrays
        buffer = a._data if a._backend is _NUMPY else np.array(a._host())
        other = _convert(b, _NUMPY, None)
        try:
            if name == "matmul":
                np.matmul(buffer, other, out=buffer)  # NumPy < 1.25 has no @= (NumPy 2's semantics)
            else:
                _IN_PLACE[name](buffer, other)
        except Exception as exc:
            if buffer is a._data:
                a._wrote()  # NumPy may have written part of the buffer before it raised
            _reraise(op, exc, (a, b), {})
        if buffer is a._data:
            a._wrote()
        else:
            a._assign_all(buffer, _NUMPY)
        _count(name, _NUMPY)
        return a
    try:
        result = op.public(a, b)
    except Exception:
        _check_inplace_cast(name, op, a, b, None)  # NumPy would have refused the cast before computing
        raise
    if not isinstance(result, Array):
        result = Array(np.asarray(result), _NUMPY)
    # NumPy checks the cast before the shapes: a TypeError wins over a ValueError
    cast = result.dtype != a.dtype
    if cast:
        _check_inplace_cast(name, op, a, b, result.dtype)
    if result.shape != a.shape:
        raise ValueError(f"minpy.numpy.{name} (in place): non-broadcastable output operand with shape "
                         f"{a.shape} doesn't match the broadcast shape {result.shape}")
    if cast:
        result = get_operator("astype").public(result, a.dtype)
    # The write-back is a setitem call that the interceptors see: autograd refuses a traced value written into
    # an untraced array, and a jit records the write so that its replay writes too.
    _OPS["setitem"](a, Ellipsis, result)
    return a


def _check_inplace_cast(name, op, a, b, result_dtype):
    """Raise NumPy's TypeError when the result of ``a op b`` (its dtype as NumPy computes it on stand-ins
    when not given) cannot be cast back into ``a`` with same-kind casting."""
    if result_dtype is None:
        if not isinstance(op.ref, np.ufunc):
            return

        def stand_in(x):  # 0-d arrays keep their value (NumPy 1.x promotes by it), others a small array
            if isinstance(x, Array):
                return x._host() if x.ndim == 0 else np.ones((1,) * x.ndim, x.dtype)
            if isinstance(x, np.ndarray) and x.ndim:
                return np.ones((1,) * x.ndim, x.dtype)
            return x
        stand_ins = (stand_in(a), stand_in(b))
        try:
            with np.errstate(all="ignore"):
                result_dtype = np.asarray(op.ref(*stand_ins)).dtype
        except Exception:  # the loop itself raised (int ** negative int): the promoted type is its loop's
            try:
                result_dtype = np.result_type(*stand_ins)
            except Exception:
                return
    if not np.can_cast(result_dtype, a.dtype, "same_kind"):
        raise TypeError(f"minpy.numpy.{name} (in place): Cannot cast ufunc '{name}' output from "
                        f"{result_dtype!r} to {a.dtype!r} with casting rule 'same_kind'")


# -- namespace generation -----------------------------------------------------------------------------------------
def _is_operator_candidate(obj):
    return callable(obj) and not isinstance(obj, type) and not isinstance(obj, types.ModuleType)


def _build():
    declared = set()
    by_ref = {}  # id(NumPy function) -> record, so NumPy's aliases (abs, conj, round_...) share a record
    for record in _table.RECORDS:
        fields = dict(record)
        name = fields.pop("name")
        fields["views"] = name in _table.VIEWS
        if name in _table.MUTATING:
            fields["custom"] = _mutating
        elif name == "getitem":
            fields["custom"] = _getitem
        register(Operator(name, **fields))
        declared.add(name)
        by_ref.setdefault(id(fields["ref"]), fields)
    register(Operator("setitem", ref=_setitem_ref, kind="index", differentiable=True, custom=_setitem))
    register(Operator("fill", ref=lambda a, value: a.fill(value), kind="function", differentiable=False,
                      custom=_fill))
    for prefix, module in MIRRORED.items():
        for attr in dir(module):
            if attr.startswith("_"):
                continue
            full = f"{prefix}.{attr}" if prefix else attr
            if full in declared:
                continue
            obj = getattr(module, attr)
            if not _is_operator_candidate(obj):
                continue
            if prefix == "random" and not attr[0].islower():
                continue
            alias_of = by_ref.get(id(obj))
            if alias_of is not None:
                register(Operator(full, **alias_of))
                continue
            kwargs = {"views": full in _table.VIEWS}
            if attr in _table.INFO and not prefix:
                kwargs["wrap_result"] = False
            if full in _table.MUTATING:
                kwargs["custom"] = _mutating
            kind = "ufunc" if isinstance(obj, np.ufunc) else ("info" if "wrap_result" in kwargs else "function")
            register(Operator(full, ref=obj, kind=kind, **kwargs))
    _OPS["_inplace"] = _inplace
    method_ops = _ufuncs.method_operators(_mutating)
    for op in all_operators().values():
        if isinstance(op.ref, np.ufunc):  # matmul too (declared with the linear algebra)
            _ufuncs.attach(op.public, op.ref, method_ops)
        if op.kind != "ufunc_method" and op.ref is not None:
            try:
                _FUNCTIONS.setdefault(op.ref, op.public)
            except TypeError:  # an unhashable reference
                pass


def _setitem_ref(a, key, value):
    a[key] = value
    return a


_build()


# -- Array methods --------------------------------------------------------------------------------------------------
# ndarray methods that write into the array: run through NumPy on a host copy, then written back.
_INPLACE_METHODS = {"put", "partition", "itemset", "byteswap", "setfield", "setflags", "resize"}


def _method_from_op(name):
    op_public = _OPS[name]

    def method(self, *args, **kwargs):
        try:
            return op_public(self, *args, **kwargs)
        except Exception as exc:
            raise user_error(exc)  # the error is in the call above: MINPY_TRACEBACK=full shows minpy's frames
    method.__name__ = name
    method.__doc__ = getattr(getattr(np.ndarray, name, None), "__doc__", None)
    return method


def _method_via_numpy(name):
    def method(self, *args, **kwargs):
        count_fallback("ndarray." + name, "ndarray method without a minpy operator")
        if name in _INPLACE_METHODS:
            host = np.array(self.asnumpy())
            result = getattr(host, name)(*_convert(list(args), _NUMPY, None),
                                         **{k: _convert(v, _NUMPY, None) for k, v in kwargs.items()})
            if host.shape != self.shape:
                raise ValueError(f"Array.{name} cannot change the shape of a minpy Array in place; "
                                 f"use minpy.numpy.{name}(a, ...) which returns a new array")
            self[...] = Array(host, _NUMPY)
            return result
        result = getattr(self.asnumpy(), name)(*_convert(list(args), _NUMPY, None),
                                               **{k: _convert(v, _NUMPY, None) for k, v in kwargs.items()})
        if isinstance(result, np.ndarray):
            return Array(result if result.flags.writeable else np.array(result), _NUMPY)
        return result
    method.__name__ = name
    method.__doc__ = getattr(getattr(np.ndarray, name, None), "__doc__", None)
    return method


def _install_methods():
    for name in dir(np.ndarray):
        if name.startswith("_") or name in Array.__dict__:
            continue
        if not callable(getattr(np.ndarray, name)):
            continue
        if name in _OPS and name not in _INPLACE_METHODS:
            setattr(Array, name, _method_from_op(name))
        else:
            setattr(Array, name, _method_via_numpy(name))
    # NumPy spells a few methods differently from the functions
    Array.conj = _method_from_op("conjugate")
    # a + b is add(a, b): the operator's own function serves as the method, one Python call fewer per operator
    # (a ufunc's takes its operands alone: no *args or **kwargs to build)
    for dunder, name in _BINARY_DUNDERS.items():
        public = _OPS[name]
        setattr(Array, dunder, getattr(public, "operands", public))
    for dunder, name in _REFLECTED_DUNDERS.items():
        reflected = getattr(_OPS[name], "reflected", None)
        if reflected is not None:
            setattr(Array, dunder, reflected)


_BINARY_DUNDERS = {"__add__": "add", "__sub__": "subtract", "__mul__": "multiply", "__truediv__": "true_divide",
                   "__floordiv__": "floor_divide", "__mod__": "remainder", "__matmul__": "matmul",
                   "__and__": "bitwise_and", "__or__": "bitwise_or", "__xor__": "bitwise_xor",
                   "__lshift__": "left_shift", "__rshift__": "right_shift", "__lt__": "less",
                   "__le__": "less_equal", "__gt__": "greater", "__ge__": "greater_equal",
                   "__neg__": "negative", "__abs__": "absolute", "__invert__": "invert"}
_REFLECTED_DUNDERS = {"__radd__": "add", "__rsub__": "subtract", "__rmul__": "multiply",
                      "__rtruediv__": "true_divide", "__rfloordiv__": "floor_divide", "__rmod__": "remainder",
                      "__rpow__": "power", "__rmatmul__": "matmul", "__rand__": "bitwise_and",
                      "__ror__": "bitwise_or", "__rxor__": "bitwise_xor", "__rlshift__": "left_shift",
                      "__rrshift__": "right_shift"}


_install_methods()

def populate(namespace, numpy_module, prefix):
    """Fill a ``minpy.numpy`` module's ``namespace`` from ``numpy_module``: the operators of the table under
    ``prefix`` (``""``, ``"linalg"``...), and NumPy's own constants, dtypes and classes for the rest."""
    operators = all_operators()
    for attr in dir(numpy_module):
        if attr.startswith("_"):
            continue
        full = f"{prefix}.{attr}" if prefix else attr
        op = operators.get(full)
        if op is not None:
            namespace[attr] = op.public
        elif attr not in namespace:
            value = getattr(numpy_module, attr)
            if not isinstance(value, types.ModuleType):
                namespace[attr] = value  # constants, dtypes, classes


__all__ = ["Operator", "all_operators", "get_operator", "describe", "basic_keys", "populate", "MIRRORED"]
