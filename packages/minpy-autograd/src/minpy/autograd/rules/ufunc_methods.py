"""Gradients of the ufunc methods (``np.add.at``, ``np.add.reduceat``, ``np.maximum.accumulate``...), written in
``minpy.numpy`` so that they are differentiable again.

The methods that are other operators need nothing here: ``np.add.reduce`` is ``np.sum``, ``np.multiply.reduce``
``np.prod``, ``np.maximum.reduce`` ``np.amax``, ``np.add.accumulate`` ``np.cumsum``, ``np.multiply.accumulate``
``np.cumprod``, and ``ufunc.outer`` the ufunc itself on broadcast operands (``minpy.ops.ufuncs``): the tape records
those operators, with their rules.

``add.at`` and ``subtract.at`` write into their first argument. A traced target is updated functionally, as
``a[key] = v`` is: the tracer then stands for ``a + scatter_add(b)`` (``a - ...``), whose gradient flows to the old
``a`` and to ``b`` (gathered at the indices, repeats summed). Writing a traced value into an untraced array, or
``at`` of another ufunc on a traced value, raises :class:`AutogradError` before anything is written.
"""
import numpy as onp

import minpy.numpy as np
from minpy.array import Array
from minpy.autograd import registry
from minpy.autograd.errors import AutogradError
from minpy.autograd.rules._util import declared, dtype_of as _dtype_of, linear, shape_of as _shape, vjp
from minpy.autograd.rules.indexing import scatter_add
from minpy.autograd.tracer import Tracer, _find_top, assign, traced_setitem_error
from minpy.ops.operator import all_operators
from minpy.stats import public_name


# -- reduceat --------------------------------------------------------------------------------------------------
def _segments(n, indices, dtype):
    """The 0/1 matrix (len(indices), n) whose row i marks the elements reduceat sums into result i: NumPy's own
    reduceat of the identity, so every rule of NumPy's (a decreasing pair takes one element) holds."""
    eye = onp.eye(n, dtype=dtype)
    indices = onp.asarray(indices.asnumpy() if isinstance(indices, Array) else indices, dtype=onp.intp)
    return onp.add.reduceat(eye, indices, axis=0)


def _reduceat_vjp(g, ans, x, indices, axis=0, dtype=None, out=None):
    shape = _shape(x)
    ax = axis % len(shape)
    dt = _dtype_of(g)
    segments = np.array(_segments(shape[ax], indices, dt if dt.kind == "f" else onp.float64))
    gm = np.moveaxis(g, ax, -1)
    return np.moveaxis(np.matmul(gm, segments), -1, ax)


if declared("add.reduceat"):
    vjp("add.reduceat", _reduceat_vjp)
    linear("add.reduceat", constant=(1, "indices"))


# -- running maximum and minimum ---------------------------------------------------------------------------------
def _providers(ans, axis):
    """For each position of an accumulated maximum (minimum), the position whose element it is: the first position
    of its run of equal running values (computed on the host; indices carry no gradient)."""
    res = onp.moveaxis(onp.asarray(ans.asnumpy() if isinstance(ans, (Array, Tracer)) else ans), axis, -1)
    n = res.shape[-1]
    starts = onp.ones(res.shape, dtype=bool)
    if n > 1:
        same = res[..., 1:] == res[..., :-1]
        starts[..., 1:] = ~same
    positions = onp.where(starts, onp.arange(n), 0)
    return onp.moveaxis(onp.maximum.accumulate(positions, axis=-1), -1, axis)


def _accumulate_extreme_vjp(g, ans, x, axis=0, dtype=None, out=None):
    shape = _shape(x)
    ax = axis % len(shape)
    value = ans._value if isinstance(ans, Tracer) else ans
    providers = _providers(value, ax)
    grids = onp.ogrid[tuple(slice(0, n) for n in shape)]
    key = tuple(np.array(providers) if i == ax else np.array(grids[i]) for i in range(len(shape)))
    return scatter_add(shape, _dtype_of(g), key, g)


def _accumulate_extreme_jvp(t, ans, x, axis=0, dtype=None, out=None):
    # the tangent of each running value is the tangent of the element it is (the same providers as the VJP)
    ax = axis % len(_shape(x))
    value = ans._value if isinstance(ans, Tracer) else ans
    return np.take_along_axis(t, np.array(_providers(value, ax)), axis=ax)


_EXTREMES = tuple(name for name in ("maximum.accumulate", "minimum.accumulate", "fmax.accumulate",
                                    "fmin.accumulate") if declared(name))
for _name in _EXTREMES:
    vjp(_name, _accumulate_extreme_vjp)
    registry.defjvp(_name, _accumulate_extreme_jvp)
registry.reads(_EXTREMES, {0: ()}, True)


# -- at: writes into its first argument ----------------------------------------------------------------------------
def _traced_at(sign):
    def at(op, args, kwargs):
        target, indices, *rest = args
        value = rest[0] if rest else None
        if type(target) is not Tracer:
            return traced_setitem_error((target, indices, value))
        top = _find_top(args, kwargs)
        if target._trace != top:
            # a value of a newer trace written into an array of an outer one: the outer trace is the one written
            return traced_setitem_error((target, indices, value))
        update = scatter_add(_shape(target), target.dtype, indices, value)
        updated = target + update if sign > 0 else target - update
        if updated.dtype != target.dtype:
            updated = updated.astype(target.dtype)
        assign(target, updated)  # the tracer itself takes the update, and its views follow (as x[k] = v)
        return None
    return at


def _refused_at(op, args, kwargs):
    raise AutogradError(
        f"{public_name(op.name)} writes a traced value in place and has no gradient; only add.at and subtract.at "
        "are differentiable (build the result from traced values instead, e.g. with np.where)")


registry.IN_PLACE.update({name: _refused_at for name in all_operators() if name.endswith(".at")})
registry.IN_PLACE["add.at"] = _traced_at(+1)
registry.IN_PLACE["subtract.at"] = _traced_at(-1)
