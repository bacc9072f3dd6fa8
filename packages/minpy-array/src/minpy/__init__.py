"""MinPy: NumPy code on MXNet (and NumPy) backends, with transparent fallback.

``minpy`` is shared by several distributions (minpy-array, minpy-autograd, minpy-symbol, minpy-nn, minpy).
minpy-array owns this ``__init__`` because every other distribution depends on it; ``extend_path`` lets the
other distributions' ``minpy/<sub>`` folders join this package wherever they are installed (editable installs
put each on its own ``sys.path`` entry).

This module imports nothing else of minpy, so that importing any one module of minpy loads only what that
module needs (the layers are listed in tests/test_layering.py); MinPy 0.3's top-level names
(``minpy.set_global_policy``...) load on first use.
"""
import sys
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)

#: minpy's subpackages that other distributions install, and which one: ``import minpy.autograd`` with only
#: minpy-array installed then says what to install instead of a bare "No module named 'minpy.autograd'"
_DISTRIBUTION_OF = {"autograd": "minpy-autograd", "symbol": "minpy-symbol", "nn": "minpy-nn", "jit": "minpy-jit",
                    "scipy": "minpy-array", "core": "minpy", "utils": "minpy", "primitive": "minpy"}


class _MissingPartFinder:
    """The last finder on ``sys.meta_path``: asked only after every other finder found nothing, it turns an
    import of a known minpy subpackage that is not installed into a ModuleNotFoundError naming the distribution
    to install. ``importlib.util.find_spec`` still answers None for it (only an import statement raises)."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        head, _, rest = fullname.partition(".")
        dist = _DISTRIBUTION_OF.get(rest.partition(".")[0]) if head == "minpy" else None
        if dist is None:
            return None
        try:  # the import statement asks through _find_and_load_unlocked; a probe through find_spec returns None
            if sys._getframe(2).f_code.co_name != "_find_and_load_unlocked":
                return None
        except (AttributeError, ValueError):
            pass
        where = "" if dist != "minpy-array" else " (a newer minpy-array than this one)"
        raise ModuleNotFoundError(
            f"No module named {fullname!r}: it is part of the {dist} distribution{where}, which is not installed "
            f"here. Install it from the MinPy repository's folder: pip install ./packages/{dist} (the name "
            f"'minpy' on the package index is MinPy 0.3.4, a different project; see the repository README)",
            name=fullname)


if not any(isinstance(f, _MissingPartFinder) for f in sys.meta_path):
    sys.meta_path.append(_MissingPartFinder())

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
    elif name in _DISTRIBUTION_OF:
        # ``from minpy import autograd``: an import, which says what to install when that part is missing (a
        # ModuleNotFoundError from here reaches the user; Python would turn an AttributeError into a bare
        # "cannot import name")
        value = importlib.import_module(f"minpy.{name}")
    else:
        raise AttributeError(f"module 'minpy' has no attribute {name!r}")
    globals()[name] = value
    return value
