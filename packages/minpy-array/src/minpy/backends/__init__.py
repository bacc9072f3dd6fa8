"""Backends: plug-ins that hold array data and run operators.

A backend is an object with the small protocol of :class:`minpy.backends.base.Backend`: its name, whether it
is available, how to move data to and from NumPy, which contexts and dtypes it serves, and how to turn an
implementation spec from the operator table into a callable. The dispatcher knows none of them by name: it
walks the registered backends in the order the dispatch policy gives. NumPy is always registered and is the
reference and the fallback. MXNet and CuPy are always registered, and their libraries are imported only when
first used (``import mxnet`` costs about a second, ``import cupy`` half a second and CUDA's initialisation):
MXNet serves the CPU and, as a GPU build, ``gpu(i)``; CuPy serves ``gpu(i)`` where MXNet cannot.
"""
from minpy import context as _context, routing
from minpy.backends.base import Backend, Impl, LazyBackend
from minpy.backends.numpy_backend import NumpyBackend

_registry = {}
_order = []


def register_backend(backend):
    """Add a backend (replacing one of the same name). Later backends come later in iteration order."""
    if not isinstance(backend, Backend):
        raise TypeError(f"register_backend expects a minpy.backends.Backend, got {type(backend).__name__}")
    if not isinstance(backend.name, str) or not backend.name:
        raise ValueError(f"a backend needs a non-empty string name, got {backend.name!r}")
    if backend.name in _registry:
        _order.remove(_registry[backend.name])
    _registry[backend.name] = backend
    _order.append(backend)
    routing.bump()  # every operator plans its routes again, seeing the new backend
    return backend


def get_backend(name):
    """The registered backend called ``name`` (``"numpy"``, ``"mxnet"``, ...)."""
    try:
        return _registry[name]
    except KeyError:
        raise KeyError(f"no backend named {name!r}; registered: {sorted(_registry)}") from None


def registered_backends():
    """All registered backends, available or not, in registration order."""
    return list(_order)


def available_backends():
    return [b for b in _order if b.available()]


def backends_for_context(ctx):
    return [b for b in _order if b.available() and b.supports_context(ctx)]


def describe_gpu_support():
    reasons = [f"{b.name}: {b.gpu_unavailable_reason()}" for b in _order]
    return "no installed backend can run on a GPU (" + "; ".join(reasons) + ")"


def _check_servable(ctx):
    if not backends_for_context(ctx):
        raise _context.ContextError(f"cannot use {ctx!r}: {describe_gpu_support()}")


_context._servable_check[0] = _check_servable


numpy_backend = NumpyBackend()
_registry["numpy"] = numpy_backend
_order.append(numpy_backend)

from minpy.backends.mxnet_backend import MXNetBackend  # noqa: E402

mxnet_backend = MXNetBackend()
_registry["mxnet"] = mxnet_backend
_order.append(mxnet_backend)

from minpy.backends.cupy_backend import CuPyBackend  # noqa: E402

cupy_backend = CuPyBackend()
_registry["cupy"] = cupy_backend
_order.append(cupy_backend)

__all__ = ["Backend", "Impl", "LazyBackend", "register_backend", "get_backend", "registered_backends", "available_backends",
           "backends_for_context", "numpy_backend", "mxnet_backend", "cupy_backend"]
