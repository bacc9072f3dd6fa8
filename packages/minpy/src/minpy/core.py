"""MinPy 0.3's ``minpy.core``: thin aliases onto the new packages (not a second implementation).

``value_and_grad`` and ``customop`` are :mod:`minpy.autograd`'s; ``Function`` (MXNet symbols as differentiable
functions) is :mod:`minpy.symbol`'s. ``grad`` and ``grad_and_loss`` keep MinPy 0.3's meaning: a function with a
non-scalar output is differentiated as the sum of its output (built on :func:`minpy.autograd.vjp`); the strict
versions, which reject a non-scalar output, are :func:`minpy.autograd.grad` and :func:`minpy.autograd.grad_and_loss`. Importing this module does not import MXNet
(nor need it): MXNet is loaded when a ``Function`` is created.
"""
import functools

import minpy.numpy as _np
from minpy.array import Array, _to_numpy_tree, wrap
from minpy.autograd import Tracer, customop, value_and_grad, vjp
from minpy.symbol import Function as _SymbolFunction


class Function(_SymbolFunction):
    """MinPy 0.3's ``Function``: :class:`minpy.symbol.Function` where an argument left out of a call (say a
    bias) reads as zeros of its inferred shape, as MinPy 0.3's executor did; ``minpy.symbol.Function`` rejects
    a missing argument."""
    missing_as_zeros = True


def grad_and_loss(func, argnum=0):
    """MinPy 0.3's ``grad_and_loss``: ``(gradients, output)``. A non-scalar output is differentiated as its sum
    (as MinPy 0.3 did); :func:`minpy.autograd.grad_and_loss` is the strict version."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        value, vjp_fn = vjp(func, *args, argnum=argnum, **kwargs)
        seed = _np.ones_like(value) if isinstance(value, Array) else 1.0
        return vjp_fn(seed), value
    return wrapper


def grad(func, argnum=0):
    """MinPy 0.3's ``grad``: the gradient of ``func`` (of the sum of its output when that is not a scalar)."""
    gl = grad_and_loss(func, argnum)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return gl(*args, **kwargs)[0]
    return wrapper


def numpy_to_minpy(value):
    """A NumPy array (or a structure of them) as minpy Arrays."""
    return convert_args(value)


def minpy_to_numpy(value):
    """A minpy Array (or a structure of them) as NumPy arrays."""
    return _to_numpy_tree(value)


def convert_args(value):
    """Arrays for every array-like leaf of ``value`` (lists, tuples and dicts are walked).

    Given a function (MinPy 0.3's use, as a decorator), returns a wrapper that converts the function's
    arguments this way before calling it.
    """
    if isinstance(value, (Array, Tracer)):
        return value
    if callable(value):
        @functools.wraps(value)
        def wrapper(*args, **kwargs):
            return value(*convert_args(args), **convert_args(kwargs))
        return wrapper
    if isinstance(value, (list, tuple)):
        return type(value)(convert_args(v) for v in value)
    if isinstance(value, dict):
        return {k: convert_args(v) for k, v in value.items()}
    return wrap(value)


def return_numpy(func):
    """MinPy 0.3's decorator: ``func``'s result converted with :func:`minpy_to_numpy`."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return minpy_to_numpy(func(*args, **kwargs))
    return wrapper


__all__ = ["return_numpy", "grad", "grad_and_loss", "value_and_grad", "customop", "Function", "numpy_to_minpy", "minpy_to_numpy",
           "convert_args"]
