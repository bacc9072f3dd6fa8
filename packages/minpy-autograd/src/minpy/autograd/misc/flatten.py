"""Flattening nested containers of arrays (HIPS autograd's ``autograd.misc.flatten``)."""
import minpy.numpy as np
from minpy.autograd.differential_operators import make_vjp


def flatten(value):
    """``(flat, unflatten)``: the arrays and scalars of any nesting of lists, tuples and dicts (keys sorted),
    raveled into one 1-d array, and the function that maps such an array back to the nesting. ``unflatten``
    is the VJP of the flattening (a linear map), so it is differentiable too."""
    unflatten, flat = make_vjp(_flatten)(value)
    return flat, unflatten


def _flatten(value):
    if isinstance(value, (list, tuple)):
        return _concatenate([_flatten(v) for v in value])
    if isinstance(value, dict):
        return _concatenate([_flatten(value[k]) for k in sorted(value)])
    return np.ravel(value)


def _concatenate(parts):
    return np.concatenate(parts) if parts else np.array([])


def flatten_func(func, example):
    """``(flat_func, unflatten, flat_example)``: ``func`` of a nested container as a function of a flat array
    (extra arguments passed through)."""
    flat_example, unflatten = flatten(example)

    def flat_func(flat, *args):
        return flatten(func(unflatten(flat), *args))[0]
    return flat_func, unflatten, flat_example


__all__ = ["flatten", "flatten_func"]
