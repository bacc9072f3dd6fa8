"""The public extension point of minpy-array: intercepting operator calls.

minpy-array knows nothing of autograd. An extension that must see every operator call (autograd records
them on a tape) installs an *interceptor*: ``fn(op, args, kwargs)``, called instead of the dispatcher for
every ``minpy.numpy`` operator and Array operator. It typically unwraps its own objects from ``args``, runs
``op.invoke(args, kwargs)`` (the dispatcher, without interception) and wraps the result. While no
interceptor is installed an operator pays one list lookup for this feature.

``op`` is a :class:`minpy.ops.operator.Operator`: ``op.name``, ``op.differentiable``, ``op.kind``.
Arrays carry a write counter (``Array.version``) so an extension can tell whether an array it recorded has
been written in place since.
"""
_interceptor = [None]


def set_interceptor(fn):
    """Install ``fn`` (or None to remove); returns the previous interceptor so calls can nest."""
    previous = _interceptor[0]
    _interceptor[0] = fn
    return previous


def get_interceptor():
    return _interceptor[0]
