"""HIPS autograd's ``autograd.builtins``: ``tuple``, ``list``, ``dict``, ``isinstance``, ``type``.

In HIPS autograd the container types box their contents so that a primitive can receive them; MinPy's
tracer looks into lists, tuples and dicts itself (arguments and results alike), so the containers here are
Python's own. ``isinstance`` and ``type`` see through boxes: ``isinstance(x, np.ndarray)`` is true for a traced
array, ``type(x)`` is the type of its value.
"""
import builtins as _builtins

from minpy.autograd.primitive import getval

tuple = _builtins.tuple  # noqa: A001
list = _builtins.list  # noqa: A001
dict = _builtins.dict  # noqa: A001


def isinstance(obj, classinfo):  # noqa: A001
    """Python's ``isinstance`` of ``obj``'s value (boxes removed)."""
    return _builtins.isinstance(getval(obj), classinfo)


def type(obj):  # noqa: A001
    """The type of ``obj``'s value (boxes removed)."""
    return _builtins.type(getval(obj))


__all__ = ["tuple", "list", "dict", "isinstance", "type"]
