"""Build the operators from the table, plus the ones with custom dispatch (writes into arrays)."""
import inspect
import types

import numpy as np

from minpy.array import _OPS, Array
from minpy.backends import numpy_backend as _NUMPY
from minpy.ops import table as _table
from minpy.ops.operator import (Operator, _convert, _normalise, _reraise, all_operators, describe, get_operator,
                                register)
from minpy.stats import count_fallback, recorder

# NumPy submodules whose public callables minpy.numpy mirrors.
MIRRORED = {"": np, "random": np.random, "linalg": np.linalg, "fft": np.fft}


def _count(op_name, backend):
    key = (op_name, backend.name)
    recorder.calls[key] = recorder.calls.get(key, 0) + 1


# -- operators that write -------------------------------------------------------------------------------------------
def _setitem(op, args, kwargs):
    a, key, value = args
    backend = a._backend
    if backend is not _NUMPY:
        v = value._get(backend, a.context) if isinstance(value, Array) else value
        if _key_is_basic(key) and backend.setitem(a._data, key, v):
            a._wrote()
            _count(op.name, backend)
            return None
        count_fallback(op.name, f"{backend.name} cannot write this key/value with NumPy's semantics")
    nkey = _convert(key, _NUMPY, None)
    nvalue = _convert(value, _NUMPY, None)
    try:
        if backend is _NUMPY:
            a._data[nkey] = nvalue
        else:
            a._backend_write(nkey, nvalue)
    except Exception as exc:
        _reraise(op, exc, (a, key, value), {})
    a._wrote()
    _count(op.name, _NUMPY)
    return None


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
    rest = [_convert(x, _NUMPY, None) for x in args[1:]]
    nkwargs = {k: _convert(v, _NUMPY, None) for k, v in kwargs.items()}
    if target._backend is _NUMPY:
        buffer = target._data
    else:
        buffer = np.array(target._backend.to_numpy(target._data))
    try:
        result = op.ref(buffer, *rest, **nkwargs)
    except Exception as exc:
        _reraise(op, exc, args, kwargs)
    if target._backend is not _NUMPY:
        target._backend_write(Ellipsis, buffer)
    target._wrote()
    _count(op.name, _NUMPY)
    return result


def _fill(op, args, kwargs):
    a, value = args
    a[...] = value


def _inplace(name, a, b):
    """``a op= b`` with NumPy's semantics: same-kind casting back into ``a``'s dtype, the buffer kept."""
    from minpy.extend import _interceptor

    op = get_operator(name)
    if a._backend is _NUMPY and _interceptor[0] is None and isinstance(op.ref, np.ufunc):
        other = _convert(b, _NUMPY, None)
        try:
            op.ref(a._data, other, out=a._data)
        except Exception as exc:
            _reraise(op, exc, (a, b), {})
        a._wrote()
        _count(name, _NUMPY)
        return a
    result = op.public(a, b)
    if not isinstance(result, Array):
        result = Array(np.asarray(result), _NUMPY)
    if result.shape != a.shape:
        raise ValueError(f"minpy.numpy.{name} (in place): non-broadcastable output operand with shape "
                         f"{a.shape} doesn't match the broadcast shape {result.shape}")
    if result.dtype != a.dtype:
        if not np.can_cast(result.dtype, a.dtype, "same_kind"):
            raise TypeError(f"minpy.numpy.{name} (in place): Cannot cast ufunc '{name}' output from "
                            f"{result.dtype!r} to {a.dtype!r} with casting rule 'same_kind'")
        result = get_operator("astype").public(result, a.dtype)
    a._assign_all(result._data, result._backend)
    return a


# -- namespace generation -----------------------------------------------------------------------------------------
def _is_operator_candidate(obj):
    return callable(obj) and not isinstance(obj, type) and not isinstance(obj, types.ModuleType)


def _build():
    declared = set()
    by_ref = {}  # id(NumPy function) -> record, so NumPy's aliases (abs, conj, round_...) share a record
    for record in _table.RECORDS:
        fields = dict(record)
        name = fields.pop("name")
        if name in _table.MUTATING:
            fields["custom"] = _mutating
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
            kwargs = {}
            if attr in _table.INFO and not prefix:
                kwargs["wrap_result"] = False
            if full in _table.MUTATING:
                kwargs["custom"] = _mutating
            kind = "ufunc" if isinstance(obj, np.ufunc) else ("info" if "wrap_result" in kwargs else "function")
            register(Operator(full, ref=obj, kind=kind, **kwargs))
    _OPS["_inplace"] = _inplace


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
        return op_public(self, *args, **kwargs)
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


_install_methods()

__all__ = ["Operator", "all_operators", "get_operator", "describe", "MIRRORED"]
