"""MinPy 0.3's ``minpy.core``: thin aliases onto the new packages (not a second implementation).

``grad``, ``grad_and_loss``, ``value_and_grad`` and ``customop`` are :mod:`minpy.autograd`'s; ``Function`` (MXNet
symbols as differentiable functions) is :mod:`minpy.symbol`'s. Importing this module does not import MXNet
(nor need it): MXNet is loaded when a ``Function`` is created.
"""
from minpy.array import Array, wrap
from minpy.autograd import customop, grad, grad_and_loss, value_and_grad
from minpy.symbol import Function


def numpy_to_minpy(value):
    """A NumPy array (or a structure of them) as minpy Arrays."""
    return convert_args(value)


def minpy_to_numpy(value):
    """A minpy Array (or a structure of them) as NumPy arrays."""
    if isinstance(value, Array):
        return value.asnumpy()
    if isinstance(value, (list, tuple)):
        return type(value)(minpy_to_numpy(v) for v in value)
    if isinstance(value, dict):
        return {k: minpy_to_numpy(v) for k, v in value.items()}
    return value


def convert_args(value):
    """Arrays for every array-like leaf of ``value`` (lists, tuples and dicts are walked)."""
    if isinstance(value, (list, tuple)):
        return type(value)(convert_args(v) for v in value)
    if isinstance(value, dict):
        return {k: convert_args(v) for k, v in value.items()}
    return wrap(value)


__all__ = ["grad", "grad_and_loss", "value_and_grad", "customop", "Function", "numpy_to_minpy", "minpy_to_numpy",
           "convert_args"]
