"""MinPy: NumPy code on MXNet (and NumPy) backends, with transparent fallback.

``minpy`` is shared by several distributions (minpy-array, minpy-autograd, minpy-symbol, minpy-nn, minpy).
minpy-array owns this ``__init__`` because every other distribution depends on it; ``extend_path`` lets the
other distributions' ``minpy/<sub>`` folders join this package wherever they are installed (editable installs
put each on its own ``sys.path`` entry).
"""
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)

from minpy.dispatch.policy import (  # noqa: E402  (MinPy 0.3 spellings, kept at the top level)
    get_global_policy,
    set_global_policy,
    wrap_policy,
)

__all__ = ["get_global_policy", "set_global_policy", "wrap_policy"]
