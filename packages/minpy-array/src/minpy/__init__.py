"""MinPy: NumPy code on MXNet (and NumPy) backends, with transparent fallback.

``minpy`` is shared by several distributions (minpy-array, minpy-autograd, minpy-symbol, minpy-nn, minpy).
minpy-array owns this ``__init__`` because every other distribution depends on it; ``extend_path`` lets the
other distributions' ``minpy/<sub>`` folders join this package wherever they are installed (editable installs
put each on its own ``sys.path`` entry).

This module imports nothing else of minpy, so that importing any one module of minpy loads only what that
module needs (the layers are listed in tests/test_layering.py); MinPy 0.3's top-level names
(``minpy.set_global_policy``...) load on first use.
"""
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)

_LAZY = {"get_global_policy": "minpy.dispatch.policy", "set_global_policy": "minpy.dispatch.policy",
         "wrap_policy": "minpy.dispatch.policy"}

__all__ = sorted(_LAZY)


# minpy-array's own submodules, so that ``import minpy; minpy.context.cpu()`` works as it did
_SUBMODULES = frozenset(("array", "backends", "config", "context", "dispatch", "extend", "numpy", "ops", "routing",
                         "stats"))


def __getattr__(name):
    import importlib

    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"minpy.{name}")
    else:
        raise AttributeError(f"module 'minpy' has no attribute {name!r}")
    globals()[name] = value
    return value
