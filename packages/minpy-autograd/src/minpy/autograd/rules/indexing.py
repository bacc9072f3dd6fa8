"""Indexing and selection: ``x[key]`` and traced writes ``x[key] = v``, ``take``, ``take_along_axis``,
``where``, ``select``, ``clip``, ``sort``, ``partition``. Gradients are scattered back with repeated indices
accumulated (:data:`scatter_add`); tangents are read with the same indices."""
import numpy as onp

import minpy.numpy as np
from minpy.array import Array
from minpy.autograd import registry
from minpy.autograd.backward import SliceGrad
from minpy.autograd.primitive import Primitive
from minpy.autograd.rules._util import (declared, dtype_of, float_mask, host_key, jvp, linear, match, shape_of,
                                        unbroadcast, value_of, vjp)
from minpy.autograd.tracer import Tracer, install
from minpy.ops import basic_keys


# -- scatter_add: the adjoint of reading with a key ------------------------------------------------------------------
def _scatter_add_forward(shape, dtype, key, values):
    if basic_keys(key) is not None:
        # basic keys select each element at most once: a plain write, on whatever backend holds the data
        # (ufunc.at below is slow and runs on the host)
        out = np.zeros(shape, dtype=dtype)
        out[key] = values
        return out
    out = onp.zeros(shape, dtype=dtype)
    onp.add.at(out, host_key(key), np.asarray(values).asnumpy() if isinstance(values, Array) else values)
    return np.array(out)


#: ``scatter_add(shape, dtype, key, values)``: zeros of ``shape`` with ``values`` added at ``key`` (repeats add up)
scatter_add = Primitive(_scatter_add_forward, name="autograd.scatter_add")
scatter_add.defvjp(None, None, None, lambda g, ans, shape, dtype, key, values: unbroadcast(g[key], values))
scatter_add.defjvp(None, None, None, lambda t, ans, shape, dtype, key, values: scatter_add(shape, dtype, key, t))


# -- writes: x[key] = value on a traced x -------------------------------------------------------------------------------
def _functional_setitem_forward(x, key, value):
    out = np.copy(x)
    out[key] = value
    return out


def _overwritten(shape, key):
    """Where a write through ``key`` is overwritten by a later one of the same write (an advanced index that
    repeats an element: the last write stays, as in NumPy): a host boolean mask over ``x[key]``, or None
    when every written value stays."""
    key = host_key(key)
    probe = onp.full(shape, -1, dtype=onp.int64)
    ids = onp.arange(probe[key].size).reshape(probe[key].shape)
    probe[key] = ids
    stays = probe[key] == ids
    return None if stays.all() else ~stays


def _setitem_value_vjp(g, ans, x, key, value):
    if not isinstance(value, (Array, Tracer)):
        return None
    picked = g[key]
    lost = _overwritten(shape_of(x), key)
    if lost is not None:
        picked = picked * np.array((~lost).astype(dtype_of(picked)))
    return match(unbroadcast(picked, value), value)


#: ``functional_setitem(x, key, value)``: a copy of ``x`` with ``value`` written at ``key``
functional_setitem = Primitive(_functional_setitem_forward, name="autograd.setitem")
functional_setitem.defvjp(lambda g, ans, x, key, value: match(functional_setitem(g, key, 0), x),
                          None,
                          _setitem_value_vjp)
functional_setitem.defjvp(lambda t, ans, x, key, value: functional_setitem(t, key, 0),
                          None,
                          lambda t, ans, x, key, value: functional_setitem(np.zeros(shape_of(ans), dtype_of(ans)),
                                                                           key, t))
install("setitem", functional_setitem)


# -- reading ------------------------------------------------------------------------------------------------------------
def _getitem_vjp(g, ans, x, key):
    g = match(g, x)
    if type(g) is Array and basic_keys(key) is not None:
        return SliceGrad(shape_of(x), dtype_of(g), key, g)
    return scatter_add(shape_of(x), dtype_of(g), key, g)


vjp("getitem", _getitem_vjp)
linear("getitem", constant=(1,))
registry.reads(("getitem",), {0: (1,)}, False)  # the key stays: it may be an index array


def _take_vjp(g, ans, a, indices, axis=None, **kw):
    shape = shape_of(a)
    if axis is None:
        flat = scatter_add((int(onp.prod(shape)),), dtype_of(g), indices, g)  # g has the indices' shape
        return match(np.reshape(flat, shape), a)
    ax = axis % len(shape)
    key = (slice(None),) * ax + (indices,)
    return match(scatter_add(shape, dtype_of(g), key, g), a)


vjp("take", _take_vjp)
linear("take", constant=(1,))


def _along_axis_key(indices, axis, shape):
    """The advanced-indexing key that reads ``take_along_axis(x, indices, axis)`` from an array of ``shape``."""
    idx = onp.asarray(value_of(indices).asnumpy() if isinstance(value_of(indices), Array) else indices)
    nd = len(shape)
    ax = axis % nd
    # the result's shape: the indices broadcast against the array's other dimensions
    out = list(onp.broadcast_shapes(idx.shape, tuple(1 if i == ax else n for i, n in enumerate(shape))))
    out[ax] = idx.shape[ax]
    idx = onp.broadcast_to(idx, tuple(out))
    grids = onp.ogrid[tuple(slice(0, n) for n in out)]
    return tuple(np.array(idx) if i == ax else np.array(onp.broadcast_to(grids[i], idx.shape))
                 for i in range(nd))


def _take_along_axis_vjp(g, ans, arr, indices, axis=None):
    shape = shape_of(arr)
    if axis is None:
        flat = scatter_add((int(onp.prod(shape)),), dtype_of(g), indices, g)
        return match(np.reshape(flat, shape), arr)
    return match(scatter_add(shape, dtype_of(g), _along_axis_key(indices, axis, shape), g), arr)


if declared("take_along_axis"):
    vjp("take_along_axis", _take_along_axis_vjp)
    linear("take_along_axis", constant=(1,))


# -- choosing between arrays --------------------------------------------------------------------------------------------
def _where_x(g, ans, cond, x=None, y=None):
    return match(unbroadcast(np.where(cond, g, np.zeros_like(g)), x), x)


def _where_y(g, ans, cond, x=None, y=None):
    return match(unbroadcast(np.where(cond, np.zeros_like(g), g), y), y)


# the condition selects: piecewise constant, no gradient
vjp("where", lambda g, ans, cond, x=None, y=None: None, _where_x, _where_y)
linear("where", (1, 2), constant=(0,))


def _first_true(condlist, j):
    """Where condition ``j`` is the first true one (``select`` takes the first match)."""
    hit = np.asarray(condlist[j]).astype(bool)
    for c in condlist[:j]:
        hit = np.logical_and(hit, np.logical_not(np.asarray(c).astype(bool)))
    return hit


def _select_vjp(argpos, g, ans, args, kwargs):
    condlist = args[0]
    choicelist = args[1] if len(args) > 1 else kwargs["choicelist"]
    if type(argpos) is tuple and argpos[0] == 1:
        j = argpos[1]
        target = choicelist[j]
        return match(unbroadcast(g * float_mask(_first_true(condlist, j), g), target), target)
    if argpos in (2, "default"):
        default = args[2] if len(args) > 2 else kwargs["default"]
        none = np.logical_not(np.any(np.stack([np.asarray(c).astype(bool) for c in condlist]), axis=0))
        return match(unbroadcast(g * float_mask(np.broadcast_to(none, shape_of(g)), g), default), default)
    if argpos in (1, "choicelist"):  # one array as the choice list: its items stacked
        target = choicelist
        return match(np.stack([unbroadcast(g * float_mask(_first_true(condlist, j), g), target[j])
                               for j in range(shape_of(target)[0])]), target)
    return None  # the conditions select: no gradient


_select_vjp.items = True
registry.install_vjp("select", _select_vjp)
linear("select", (1, 2, "default"), constant=(0, "condlist"))


def _clip_x(g, ans, x, a_min=None, a_max=None, **kw):
    keep = np.ones(shape_of(x), dtype=bool)
    if a_min is not None:
        keep = np.logical_and(keep, np.greater_equal(x, a_min))
    if a_max is not None:
        keep = np.logical_and(keep, np.less_equal(x, a_max))
    return keep


def _clip_hit(lower, x, a_min, a_max):
    # clip(x) = minimum(maximum(x, a_min), a_max): the result is a_max where x > a_max or a_min > a_max,
    # and a_min where x < a_min <= a_max.
    if lower:
        hit = np.less(x, a_min)
        if a_max is not None:
            hit = np.logical_and(hit, np.less_equal(a_min, a_max))
    else:
        hit = np.greater(x, a_max)
        if a_min is not None:
            hit = np.logical_or(hit, np.greater(a_min, a_max))
    return hit


def _clip_bound_vjp(lower):
    def rule(g, ans, x, a_min=None, a_max=None, **kw):
        bound = a_min if lower else a_max
        return match(unbroadcast(g * float_mask(_clip_hit(lower, x, a_min, a_max), g), bound), bound)
    return rule


def _clip_bound_jvp(lower):
    def rule(t, ans, x, a_min=None, a_max=None, **kw):
        return t * float_mask(_clip_hit(lower, x, a_min, a_max), t)
    return rule


vjp("clip", lambda g, ans, x, a_min=None, a_max=None, **kw: match(unbroadcast(
    g * float_mask(_clip_x(g, ans, x, a_min, a_max), g), x), x),
    _clip_bound_vjp(True), _clip_bound_vjp(False), a_min=_clip_bound_vjp(True), a_max=_clip_bound_vjp(False))
jvp("clip", lambda t, ans, x, a_min=None, a_max=None, **kw: t * float_mask(_clip_x(t, ans, x, a_min, a_max), t),
    _clip_bound_jvp(True), _clip_bound_jvp(False), a_min=_clip_bound_jvp(True), a_max=_clip_bound_jvp(False))


# -- sorting --------------------------------------------------------------------------------------------------------------
def _permuted_vjp(g, x, order, axis):
    """The adjoint of ``take_along_axis(x, order, axis)`` (``order`` a permutation along ``axis``)."""
    if axis is None:
        return np.reshape(scatter_add((int(onp.prod(shape_of(x))),), dtype_of(g), order, g), shape_of(x))
    return scatter_add(shape_of(x), dtype_of(g), _along_axis_key(order, axis, shape_of(x)), g)


def _sort_order(x, axis):
    return np.argsort(np.ravel(x) if axis is None else x, axis=-1 if axis is None else axis, kind="stable")


def _sort_vjp(g, ans, x, axis=-1, kind=None, order=None):
    return match(_permuted_vjp(g, x, _sort_order(x, axis), axis), x)


def _sort_jvp(t, ans, x, axis=-1, kind=None, order=None):
    order_ = _sort_order(x, axis)
    if axis is None:
        return np.take(np.ravel(t), order_)
    return t[_along_axis_key(order_, axis, shape_of(x))]


vjp("sort", _sort_vjp)
jvp("sort", _sort_jvp)
if declared("msort"):  # NumPy < 2: a sort along the first axis
    vjp("msort", lambda g, ans, x: _sort_vjp(g, ans, x, axis=0))
    jvp("msort", lambda t, ans, x: _sort_jvp(t, ans, x, axis=0))


def _host(x):
    x = value_of(x)
    return onp.asarray(x.asnumpy() if isinstance(x, Array) else x)


def _partition_order(x, ans, axis):
    """Where each element of ``partition``'s result came from: the element of ``x`` of the same rank (read
    off the result itself, not from ``argpartition``, whose arrangement NumPy does not promise to match)."""
    xs, ys = _host(x), _host(ans)
    if axis is None:
        xs, axis = xs.ravel(), -1
    by_rank = onp.argsort(xs, axis=axis, kind="stable")
    rank = onp.argsort(onp.argsort(ys, axis=axis, kind="stable"), axis=axis, kind="stable")
    return np.array(onp.take_along_axis(by_rank, rank, axis=axis))


def _partition_vjp(g, ans, x, kth, axis=-1, kind="introselect", order=None):
    return match(_permuted_vjp(g, x, _partition_order(x, ans, axis), axis), x)


def _partition_jvp(t, ans, x, kth, axis=-1, kind="introselect", order=None):
    order_ = _partition_order(x, ans, axis)
    if axis is None:
        return np.take(np.ravel(t), order_)
    return t[_along_axis_key(order_, axis, shape_of(x))]


vjp("partition", _partition_vjp)
jvp("partition", _partition_jvp)
