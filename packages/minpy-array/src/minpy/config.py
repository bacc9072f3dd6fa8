"""Global settings of minpy-array.

``fallback_action`` says what happens when an operator that the policy wanted to run on an accelerator
backend (MXNet) runs on NumPy instead:

* ``"none"``  - count it in the op statistics only;
* ``"log"``   - count it and log once per (operator, reason) on the ``minpy.fallback`` logger (default);
* ``"warn"``  - count it and issue a :class:`FallbackWarning` once per (operator, reason);
* ``"raise"`` - raise :class:`FallbackError` (for users who must know that everything runs natively).

``default_float`` is the dtype that creation functions give when NumPy would give float64 and no dtype is
passed. It is ``"float64"`` (NumPy's answer) by default; deep-learning users on MXNet often want
``"float32"``: ``minpy.config.set_default_float("float32")``.
"""
import numpy as _np

_FALLBACK_ACTIONS = ("none", "log", "warn", "raise")


class FallbackWarning(UserWarning):
    """An operator ran on NumPy although the dispatch policy preferred another backend."""


class FallbackError(RuntimeError):
    """Raised on a fallback when ``fallback_action == "raise"``."""


class _Settings:
    __slots__ = ("fallback_action", "default_float")

    def __init__(self):
        self.fallback_action = "log"
        self.default_float = None  # None means NumPy's own float64 default; else a numpy dtype


settings = _Settings()


def set_fallback_action(action):
    """Choose what a fallback does: one of ``"none"``, ``"log"``, ``"warn"``, ``"raise"``."""
    if action not in _FALLBACK_ACTIONS:
        raise ValueError(f"fallback action must be one of {_FALLBACK_ACTIONS}, got {action!r}")
    settings.fallback_action = action


def get_fallback_action():
    return settings.fallback_action


def set_default_float(dtype):
    """Make creation functions (``zeros``, ``ones``, ``array`` of Python floats, ``random.*``...) produce
    ``dtype`` where NumPy would produce float64. Pass ``"float64"`` to restore NumPy's behaviour."""
    dt = _np.dtype(dtype)
    if dt.kind != "f":
        raise ValueError(f"default float dtype must be a floating dtype, got {dt}")
    settings.default_float = None if dt == _np.float64 else dt


def get_default_float():
    return settings.default_float if settings.default_float is not None else _np.dtype(_np.float64)
