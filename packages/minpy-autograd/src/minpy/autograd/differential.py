"""Gradient operators: ``grad``, ``value_and_grad``, ``grad_and_loss``, ``vjp``, ``elementwise_grad``,
``jacobian``, ``hessian``, and the backward pass they share."""
import functools

import numpy as onp

import minpy.numpy as np
from minpy.array import Array
from minpy.autograd.primitives import Primitive, SliceGrad, rule_for
from minpy.autograd.tracer import _SELECT, AutogradError, Start, Tracer, new_trace, tracing


# -- arguments: scalars, NumPy arrays, Arrays and lists/tuples/dicts of them ------------------------------------------
def _to_array(x):
    if isinstance(x, (Array, Tracer)):
        return x
    if isinstance(x, bool) or x is None:
        return x
    if isinstance(x, (int, float)):
        return np.array(float(x))
    if isinstance(x, (onp.ndarray, onp.generic)):
        if onp.asarray(x).dtype.kind in "iub":
            return np.array(onp.asarray(x, dtype=onp.float64))
        return np.array(x)
    if isinstance(x, (list, tuple)):
        return type(x)(_to_array(v) for v in x)
    if isinstance(x, dict):
        return {k: _to_array(v) for k, v in x.items()}
    return x


def _box_tree(x, trace, starts):
    if isinstance(x, (Array, Tracer)):
        start = Start()
        starts.append((start, x))
        return Tracer(x, start, trace)
    if isinstance(x, (list, tuple)):
        return type(x)(_box_tree(v, trace, starts) for v in x)
    if isinstance(x, dict):
        return {k: _box_tree(v, trace, starts) for k, v in x.items()}
    return x


def _rebuild(x, grads, it):
    if isinstance(x, (Array, Tracer)):
        return grads[next(it)]
    if isinstance(x, (list, tuple)):
        return type(x)(_rebuild(v, grads, it) for v in x)
    if isinstance(x, dict):
        return {k: _rebuild(v, grads, it) for k, v in x.items()}
    return None


def _zeros_like(x):
    value = x._value if isinstance(x, Tracer) else x
    dt = value.dtype if value.dtype.kind in "fc" else onp.float64
    return np.zeros(value.shape, dtype=dt)


# -- the backward pass ------------------------------------------------------------------------------------------------
def _toposort(end):
    """Nodes reachable from ``end``, each after every node that consumes it."""
    children = {}
    stack = [end]
    seen = {id(end)}
    while stack:
        node = stack.pop()
        for _, parent in node.parents:
            children[id(parent)] = children.get(id(parent), 0) + 1
            if id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)
    order = []
    ready = [end]
    while ready:
        node = ready.pop()
        order.append(node)
        for _, parent in node.parents:
            left = children[id(parent)] - 1
            children[id(parent)] = left
            if left == 0:
                ready.append(parent)
    return order


def _accumulate(grads, node, g):
    old = grads.get(node)
    if old is None:
        grads[node] = g
    elif type(old) is SliceGrad and type(g) is SliceGrad and old.shape == g.shape and old.dtype == g.dtype:
        old.parts.extend(g.parts)
    else:
        grads[node] = _dense(old) + _dense(g)


def _dense(g):
    return g.dense() if type(g) is SliceGrad else g


def backward(end, g, starts, free=False):
    """Propagate ``g`` from node ``end`` back to the ``starts``; returns their gradients (None if unreached).
    With ``free``, each node drops its saved arrays once used (a graph that is walked once)."""
    grads = {end: g}
    for node in _toposort(end):
        g = _dense(grads.pop(node, None))
        if g is None or isinstance(node, Start):
            if isinstance(node, Start) and g is not None:
                grads[node] = g
            continue
        op = node.op
        if op is _SELECT:
            (_, parent), = node.parents
            slots = grads.get(parent)
            if slots is None:
                slots = grads[parent] = [None] * len(parent.ans)
            i = node.args[0]
            slots[i] = g if slots[i] is None else slots[i] + g
            continue
        if node.versions is not None:
            _check_versions(node)
        if isinstance(g, list):  # several outputs: unreached ones get zero gradients
            g = tuple(_zeros_like(a) if s is None else s for s, a in zip(g, node.ans))
        rule = rule_for(op)
        for argpos, parent in node.parents:
            pg = rule(argpos, g, node.ans, node.args, node.kwargs)
            if pg is not None:
                _accumulate(grads, parent, pg)
        if free:
            node.args = node.kwargs = node.ans = None  # free what this step kept alive
    return [_dense(grads.get(start)) for start, _ in starts]


def _check_versions(node):
    for key, v in node.versions:
        a = node.args[key] if isinstance(key, int) else node.kwargs[key]
        if a._owner()._version != v:
            where = f"argument {key}" if isinstance(key, int) else f"keyword argument {key}="
            name = node.op.name if isinstance(node.op, Primitive) else f"minpy.numpy.{node.op.name}"
            raise AutogradError(
                f"{where} of {name} (shape {a.shape}) was written in place after the "
                "operator used it, so its gradient would be wrong; copy the array before writing to it")


# -- public API ---------------------------------------------------------------------------------------------------------
def _select_args(args, argnum):
    nums = (argnum,) if isinstance(argnum, int) else tuple(argnum)
    for n in nums:
        if not -len(args) <= n < len(args):
            raise TypeError(f"argnum {n} is out of range for a function called with {len(args)} arguments")
    return nums


def _forward(fun, args, kwargs, nums):
    trace = new_trace()
    args = list(args)
    starts_per_arg = []
    for n in nums:
        starts = []
        args[n] = _box_tree(_to_array(args[n]), trace, starts)
        starts_per_arg.append((n, starts))
    with tracing():
        out = fun(*args, **kwargs)
    return out, trace, args, starts_per_arg


def _unbox_value(x, trace):
    if isinstance(x, Tracer) and x._trace == trace:
        return x._value
    if isinstance(x, (list, tuple)):
        return type(x)(_unbox_value(v, trace) for v in x)
    return x


def _gradients(out, trace, args, starts_per_arg, g, free):
    """Gradients for every selected argument, from one backward pass."""
    all_starts = [s for _, starts in starts_per_arg for s in starts]
    if isinstance(out, Tracer) and out._trace == trace:
        grads = backward(out._node, g, all_starts, free=free)
    else:
        grads = [None] * len(all_starts)
    grads = [_zeros_like(x) if gr is None else gr for gr, (_, x) in zip(grads, all_starts)]
    positions = iter(range(len(grads)))
    return [_rebuild(args[n], grads, positions) for n, _ in starts_per_arg]


def _scalar_output(out, trace, fname):
    value = out._value if isinstance(out, Tracer) else out
    size = getattr(value, "size", 1)
    if size != 1:
        raise TypeError(f"grad requires a scalar output; {fname} returned shape {getattr(value, 'shape', '?')}. "
                        "Use minpy.autograd.elementwise_grad for a sum of gradients, or vjp/jacobian")
    if isinstance(value, Array) and value.dtype.kind not in "fc":
        raise TypeError(f"grad requires a floating-point output; {fname} returned dtype {value.dtype}")


def value_and_grad(fun, argnum=0):
    """``fun``'s value and its gradient with respect to argument(s) ``argnum`` (an int or a tuple)."""
    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        nums = _select_args(args, argnum)
        out, trace, boxed, starts = _forward(fun, args, kwargs, nums)
        _scalar_output(out, trace, getattr(fun, "__name__", "the function"))
        value = _unbox_value(out, trace)
        g = np.ones_like(value) if isinstance(value, (Array, Tracer)) else np.array(1.0)
        # The backward pass runs with the interceptor installed only if an outer gradient call is tracing
        # (then the rules' operators are recorded there: higher-order gradients).
        grads = _gradients(out, trace, boxed, starts, g, free=True)
        return value, (grads[0] if isinstance(argnum, int) else tuple(grads))
    return wrapper


def grad(fun, argnum=0):
    """The gradient of scalar-valued ``fun`` with respect to argument(s) ``argnum``; same structure as the
    argument (lists, tuples and dicts of arrays give lists, tuples and dicts of gradients)."""
    vg = value_and_grad(fun, argnum)

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        return vg(*args, **kwargs)[1]
    return wrapper


def grad_and_loss(fun, argnum=0):
    """MinPy's spelling: returns ``(gradients, loss)``."""
    vg = value_and_grad(fun, argnum)

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        value, grads = vg(*args, **kwargs)
        return grads, value
    return wrapper


def vjp(fun, *args, argnum=0, **kwargs):
    """``(value, vjp_fn)``: ``vjp_fn(g)`` is the gradient of ``sum(g * fun(*args))`` w.r.t. ``args[argnum]``."""
    nums = _select_args(args, argnum)
    out, trace, boxed, starts = _forward(fun, args, kwargs, nums)
    value = _unbox_value(out, trace)

    def vjp_fn(g):
        g = _to_array(g)
        grads = _gradients(out, trace, boxed, starts, g, free=False)
        return grads[0] if isinstance(argnum, int) else tuple(grads)
    return value, vjp_fn


def elementwise_grad(fun, argnum=0):
    """The gradient of ``sum(fun(x))``: for elementwise functions, the derivative at every element."""
    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        value, vjp_fn = vjp(fun, *args, argnum=argnum, **kwargs)
        return vjp_fn(np.ones_like(value))
    return wrapper


def jacobian(fun, argnum=0):
    """The Jacobian: shape ``out.shape + in.shape``."""
    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        value, vjp_fn = vjp(fun, *args, argnum=argnum, **kwargs)
        out_shape = tuple(value.shape)
        in_shape = tuple(_to_array(args[argnum]).shape)
        rows = []
        n = int(onp.prod(out_shape)) if out_shape else 1
        for i in range(n):
            basis = onp.zeros(n)
            basis[i] = 1.0
            rows.append(vjp_fn(np.array(basis.reshape(out_shape))))
        return np.reshape(np.stack(rows), out_shape + in_shape)
    return wrapper


def hessian(fun, argnum=0):
    """The Hessian of a scalar function: ``jacobian(grad(fun))``."""
    return jacobian(grad(fun, argnum), argnum)


def stop_gradient(x):
    """``x``'s value with no gradient flowing through it."""
    while isinstance(x, Tracer):
        x = x._value
    return x
