"""NumPy's whole namespace in ``minpy.numpy``: its submodules (``lib``, ``emath``, ``ma``, ``testing``,
``polynomial``, ``char``, ``rec``, ``ctypeslib``...), the attributes NumPy serves lazily (the deprecated aliases
``np.int``, ``np.float``... that NumPy 1.x still keeps, with NumPy's own warnings), and NumPy functions reached
through ``__array_function__``.

A submodule of ``minpy.numpy`` is a :class:`MirrorModule` of NumPy's: an attribute is looked up in NumPy's module on
first use and then kept. Classes, constants and dtypes are NumPy's own objects; a ufunc is minpy's (``np.core.umath
.add`` is ``np.add``); a function that is also in ``minpy.numpy``'s table is that operator (``np.lib.pad`` is
``np.pad``); any other function becomes an operator of its own (named by its path, ``"lib.stride_tricks
.as_strided"``) that runs NumPy's function on the minpy Arrays' data and returns minpy Arrays where NumPy returns
numeric arrays (see :func:`call_numpy`). ``import minpy.numpy.lib.stride_tricks`` works too (a finder on
``sys.meta_path`` builds the mirror).
"""
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
import warnings

import numpy as np

from minpy.array import _FUNCTIONS, _OPS, Array
from minpy.backends import numpy_backend as _NUMPY
from minpy.context import _CPU
from minpy.ops.operator import (Operator, _convert, _reraise, _tie_views, all_operators, arrays_in, lend_outputs,
                                outputs_written, register)
from minpy.stats import count_call

#: why the functions of NumPy's submodules run on NumPy (the coverage report says so; not counted as fallbacks)
SUBMODULE_REASON = ("a function of a NumPy submodule: NumPy runs it on the arrays' host data (strides, masks, "
                    "records, tests and polynomials are NumPy's own)")
#: NumPy modules that minpy.numpy implements itself (mirrors of their submodules are built on demand)
_OWN = {"numpy.fft": "minpy.numpy.fft", "numpy.linalg": "minpy.numpy.linalg", "numpy.random": "minpy.numpy.random"}
_mirrors = {}  # NumPy module name -> its MirrorModule
_functions = {}  # operator name -> public function of a mirrored NumPy function


# -- calling NumPy functions on minpy Arrays --------------------------------------------------------------------------
_NUMERIC = frozenset("biufc")


def call_numpy(op, args, kwargs):
    """Run NumPy's function ``op.ref`` on the data of minpy Arrays among ``args``.

    Arrays held by NumPy lend their own buffers (so a function that returns a view, ``as_strided``, returns a
    view: a minpy Array tied to its base, writes through either seen by both); Arrays held elsewhere lend a host
    copy, and a view of that becomes a copy of its own. ``out=`` Arrays receive NumPy's writes in place (the write
    recorded). Exact NumPy arrays of numeric or bool dtype in the result, and NumPy scalars, come back as minpy
    Arrays; subclasses (masked arrays, records, matrices), string arrays and other objects stay NumPy's, copied
    when they would share a lent buffer (a write through them could not be seen by the Array's other copies).
    """
    out = kwargs.get("out") if kwargs else None
    lent = []
    if out is not None:
        buffers, lent = lend_outputs(out if type(out) is tuple else (out,))
        kwargs = dict(kwargs)
        kwargs["out"] = tuple(buffers) if type(out) is tuple else buffers[0]
    has_arrays = arrays_in(args) or (kwargs and arrays_in(kwargs.values()))
    nargs = [_convert(a, _NUMPY, _CPU) for a in args] if has_arrays else args
    nkwargs = {k: _convert(v, _NUMPY, _CPU) for k, v in kwargs.items()} if has_arrays and kwargs else kwargs
    try:
        result = op.ref(*nargs, **(nkwargs or {}))
    except Exception as exc:
        outputs_written(lent, failed=True)
        _reraise(op, exc, args, kwargs or {})
    outputs_written(lent)
    count_call(op.name, "numpy")
    returned = {id(buffer): o for o, buffer, _ in lent}
    if not (has_arrays or _holds_arrays(result)):
        return result
    return _wrap_result(op, result, args, kwargs or {}, nargs, returned)


def _holds_arrays(result):
    t = type(result)
    return t is np.ndarray or isinstance(result, np.generic) or (t in (list, tuple) and any(
        _holds_arrays(r) for r in result))


def _wrap_result(op, result, sources, kwargs, data, returned):
    t = type(result)
    if id(result) in returned:
        return returned[id(result)]  # out=: NumPy returns the output itself
    if t is np.ndarray:
        if result.dtype.kind not in _NUMERIC:
            return _unshared(result, data)
        wrapped = Array(result, _NUMPY)
        if result.base is not None or any(result is d for d in data):
            # a view of an argument's memory: tied to it, or (a host copy was lent) a detached view where NumPy,
            # run on the argument's stand-in, makes a view
            wrapped = _tie_views(op, wrapped, result, sources, kwargs)
        return wrapped
    if isinstance(result, np.generic):
        return Array(np.asarray(result), _NUMPY) if result.dtype.kind in _NUMERIC else result
    if t is tuple or t is list:
        return t(_wrap_result(op, r, sources, kwargs, data, returned) for r in result)
    if isinstance(result, tuple) and hasattr(result, "_fields"):  # named tuples
        return t(*(_wrap_result(op, r, sources, kwargs, data, returned) for r in result))
    if isinstance(result, np.ndarray):
        return _unshared(result, data)
    return result


def _unshared(result, data):
    """``result`` (a NumPy object minpy does not wrap), copied when it shares memory with a lent buffer."""
    for d in _flat_arrays(data):
        if np.may_share_memory(result, d):
            return result.copy()
    return result


def _flat_arrays(values):
    for v in values:
        if isinstance(v, np.ndarray):
            yield v
        elif type(v) in (list, tuple):
            yield from _flat_arrays(v)


def mirrored_function(name, func):
    """The public function of the operator running NumPy's ``func`` (made once per name)."""
    public = _functions.get(name)
    if public is None:
        op = all_operators().get(name)
        if op is None:
            op = register(Operator(name, ref=func, kind="function", numpy_reason=SUBMODULE_REASON,
                                   custom=call_numpy))
        public = _functions[name] = op.public
    return public


def function_for(func):
    """minpy's function for a NumPy function reached through ``__array_function__`` (or found in a submodule):
    the table's operator when there is one, else a mirrored operator named by the function's module."""
    known = _FUNCTIONS.get(func)
    if known is not None:
        return known
    module = getattr(func, "__module__", None) or "numpy"
    prefix = module[len("numpy."):] if module.startswith("numpy.") else module
    return mirrored_function(f"{prefix}.{getattr(func, '__name__', repr(func))}", func)


_OPS["_numpy_function"] = function_for


def _function_like(value):
    if isinstance(value, type):
        return False
    return isinstance(value, (types.FunctionType, types.BuiltinFunctionType)) or \
        type(value).__name__ == "_ArrayFunctionDispatcher"


# -- mirrored modules ---------------------------------------------------------------------------------------------------
def mirror_value(value, path):
    """What ``minpy.numpy.<path>`` is, given NumPy's object ``value`` at ``numpy.<path>``."""
    if isinstance(value, types.ModuleType):
        name = value.__name__
        if name == "numpy":
            return sys.modules["minpy.numpy"]
        if name.startswith("numpy."):
            return mirror_module(value)
        return value  # a standard-library module NumPy exposes (os, sys, math in NumPy 1.x)
    if isinstance(value, np.ufunc):
        return _OPS.get(value.__name__, value)
    try:
        known = _FUNCTIONS.get(value)
    except TypeError:  # unhashable
        return value
    if known is not None:
        return known
    if _function_like(value):
        return mirrored_function(path, value)
    return value


def mirror_module(module):
    """The module of ``minpy.numpy`` standing for NumPy's ``module``."""
    own = _OWN.get(module.__name__)
    if own is not None:
        return importlib.import_module(own)
    mirror = _mirrors.get(module.__name__)
    if mirror is None:
        mirror = _mirrors[module.__name__] = MirrorModule(module)
        sys.modules.setdefault(mirror.__name__, mirror)
    return mirror


def lookup(module, path, attr, stacklevel):
    """NumPy's ``module.attr`` mirrored, with the warnings NumPy gives for it (a deprecated alias) re-issued at the
    caller ``stacklevel`` frames up, and NumPy's AttributeError (an expired alias) naming minpy.numpy. Returns
    (value, whether it may be kept: False when NumPy warned, so that it warns on every use as NumPy does)."""
    missing = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = getattr(module, attr)
        except AttributeError as exc:
            missing = str(exc).replace(f"module '{module.__name__}'", f"module 'minpy.{module.__name__}'")
    for w in caught:
        warnings.warn(w.message, w.category, stacklevel=stacklevel + 1)
    if missing is not None:
        raise AttributeError(missing)
    return mirror_value(value, f"{path}.{attr}" if path else attr), not caught


class MirrorModule(types.ModuleType):
    """``minpy.numpy.<name>``: NumPy's submodule, its functions running on minpy Arrays (see the module doc)."""

    def __init__(self, module):
        name = "minpy." + module.__name__
        super().__init__(name, module.__doc__)
        self.__dict__["_numpy_module"] = module
        self.__dict__["_path"] = module.__name__[len("numpy."):]
        if hasattr(module, "__path__"):
            self.__dict__["__path__"] = []  # a package: `import minpy.numpy.lib.stride_tricks` finds its children
        if hasattr(module, "__all__"):
            self.__dict__["__all__"] = list(module.__all__)

    def __getattr__(self, attr):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}")
        value, keep = lookup(self._numpy_module, self._path, attr, stacklevel=2)
        if keep:
            self.__dict__[attr] = value
        return value

    def __dir__(self):
        return sorted(set(dir(self._numpy_module)) | {k for k in self.__dict__ if not k.startswith("_")})

    def __repr__(self):
        return f"<module {self.__name__!r} (NumPy's {self._numpy_module.__name__!r} on minpy Arrays)>"


def module_getattr(module, path):
    """A module-level ``__getattr__`` for a minpy.numpy module that mirrors NumPy's ``module``: whatever it does
    not define itself (submodules, NumPy's lazily served and deprecated attributes)."""
    namespace_name = "minpy.numpy" + ("." + path if path else "")

    def __getattr__(attr):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(f"module {namespace_name!r} has no attribute {attr!r}")
        value, keep = lookup(module, path, attr, stacklevel=2)
        if keep:
            setattr(sys.modules[namespace_name], attr, value)
        return value
    return __getattr__


def module_dir(module, namespace):
    """A module-level ``__dir__``: NumPy's names and this module's own."""
    def __dir__():
        return sorted(set(dir(module)) | set(namespace))
    return __dir__


class _MirrorFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``import minpy.numpy.<path>`` for every importable ``numpy.<path>`` (after the real minpy modules, which
    the ordinary finders find first)."""

    def find_spec(self, fullname, path, target=None):
        if not fullname.startswith("minpy.numpy.") or fullname in _OWN.values():
            return None
        try:
            found = importlib.util.find_spec(fullname[len("minpy."):])
        except (ImportError, ValueError):
            return None
        if found is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=found.submodule_search_locations
                                              is not None)

    def create_module(self, spec):
        return mirror_module(importlib.import_module(spec.name[len("minpy."):]))

    def exec_module(self, module):
        pass


def install_finder():
    if not any(isinstance(f, _MirrorFinder) for f in sys.meta_path):
        sys.meta_path.append(_MirrorFinder())
