"""Reverse mode: boxing a function's inputs, running it on a reverse trace, and the backward pass.

:func:`trace_reverse` runs a function with the chosen arguments boxed (scalars, arrays and lists, tuples and
dicts of them); :func:`gradients` walks the recorded nodes back from the output and returns gradients in the
arguments' structure. The differential operators (``grad``, ``make_vjp``, ``jacobian``...) are built on these
two in :mod:`minpy.autograd.differential_operators`.
"""
import numpy as onp

import minpy.numpy as np
from minpy.array import Array
from minpy.autograd import registry
from minpy.autograd.errors import AutogradError
from minpy.autograd.tracer import _SELECT, Start, Tracer, new_trace, tracing
from minpy.ops.operator import Operator
from minpy.stats import public_name


# -- arguments: scalars, NumPy arrays, Arrays and lists/tuples/dicts of them ------------------------------------------
def to_array(x):
    """``x`` as the value a trace boxes: Python and NumPy numbers become 0-d Arrays (integers as float64,
    whose gradient is meaningful), NumPy arrays become Arrays, containers are converted item by item."""
    if isinstance(x, (Array, Tracer)):
        return x
    if isinstance(x, bool) or x is None:
        return x
    if isinstance(x, (int, float)):
        return np.array(float(x))
    if isinstance(x, complex):
        return np.array(x)
    if isinstance(x, (onp.ndarray, onp.generic)):
        if onp.asarray(x).dtype.kind in "iub":
            return np.array(onp.asarray(x, dtype=onp.float64))
        return np.array(x)
    if isinstance(x, (list, tuple)):
        items = [to_array(v) for v in x]
        return type(x)(*items) if hasattr(x, "_fields") else type(x)(items)
    if isinstance(x, dict):
        return type(x)((k, to_array(v)) for k, v in x.items())
    return x


def box_tree(x, trace, make_node, starts):
    """``x`` with every array boxed at ``trace`` by a node from ``make_node(array)``; ``starts`` collects
    ``(node, array)`` pairs in a fixed order (depth first)."""
    if isinstance(x, (Array, Tracer)):
        node = make_node(x)
        starts.append((node, x))
        return Tracer(x, node, trace)
    if isinstance(x, (list, tuple)):
        items = [box_tree(v, trace, make_node, starts) for v in x]
        return type(x)(*items) if hasattr(x, "_fields") else type(x)(items)
    if isinstance(x, dict):
        return type(x)((k, box_tree(v, trace, make_node, starts)) for k, v in x.items())
    return x


def rebuild(x, leaves, it):
    """A structure like ``x`` whose arrays are the next items of ``leaves`` (by the iterator ``it``)."""
    if isinstance(x, (Array, Tracer)):
        return leaves[next(it)]
    if isinstance(x, (list, tuple)):
        items = [rebuild(v, leaves, it) for v in x]
        return type(x)(*items) if hasattr(x, "_fields") else type(x)(items)
    if isinstance(x, dict):
        return type(x)((k, rebuild(v, leaves, it)) for k, v in x.items())
    return None


def zeros_like(x):
    """Zeros of ``x``'s shape, in its dtype when that is a float or complex one (float64 otherwise)."""
    value = x._value if isinstance(x, Tracer) else x
    dt = value.dtype if value.dtype.kind in "fc" else onp.float64
    return np.zeros(value.shape, dtype=dt)


def unbox_value(x, trace):
    """``x`` with the boxes of ``trace`` removed (containers included)."""
    if isinstance(x, Tracer) and x._trace == trace:
        return x._value
    if isinstance(x, (list, tuple)):
        items = [unbox_value(v, trace) for v in x]
        return type(x)(*items) if hasattr(x, "_fields") else type(x)(items)
    if isinstance(x, dict):
        return type(x)((k, unbox_value(v, trace)) for k, v in x.items())
    return x


def select_args(args, argnum):
    nums = (argnum,) if isinstance(argnum, int) else tuple(argnum)
    for n in nums:
        if not -len(args) <= n < len(args):
            raise TypeError(f"argnum {n} is out of range for a function called with {len(args)} arguments")
    return nums


# -- the backward pass ------------------------------------------------------------------------------------------------
class SliceGrad:
    """The gradient of basic-indexed reads ``x[key]`` of one array, kept as (key, value) parts and written into
    one zeros buffer only when the sum is needed (:meth:`dense`), instead of a full-size buffer per read and a
    full-size addition per pair: an LSTM's gates are four slices of one array and its input is read a step at
    a time. Only the first-order backward pass makes them (a traced ``g`` takes ``scatter_add``)."""

    __slots__ = ("shape", "dtype", "parts")

    def __init__(self, shape, dtype, key, value):
        self.shape = shape
        self.dtype = dtype
        self.parts = [(key, value)]

    def dense(self):
        out = np.zeros(self.shape, dtype=self.dtype)
        for key, value in self.parts:
            # slices may overlap: add, do not overwrite (and an all-integer key reads a copy, not a view)
            out[key] = out[key] + value
        return out


class SparseObject:
    """A gradient given as an in-place addition (HIPS autograd's ``SparseObject``): ``mut_add(a)`` adds it
    into the dense gradient ``a`` (zeros of ``vs``) and returns the result."""

    __slots__ = ("vs", "mut_add")

    def __init__(self, vs, mut_add):
        self.vs = vs
        self.mut_add = mut_add


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
        grads[node] = _add(_dense(old), _dense(g))


def _add(a, b):
    # A real input's node may receive a complex contribution and a real one (the rules give real inputs real
    # gradients, so this is only a safety net for user rules): the sum keeps the complex part.
    return a + b


def _dense(g):
    t = type(g)
    if t is SliceGrad:
        return g.dense()
    if t is SparseObject:
        return g.mut_add(g.vs.zeros())
    return g


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
        if isinstance(g, list):  # several outputs: unreached ones get zero gradients (flags such as
            # cho_factor's ``lower``, which are not arrays, none)
            g = tuple(s if s is not None else zeros_like(a) if hasattr(a, "dtype") else None
                      for s, a in zip(g, node.ans))
        rule = registry.rule_for(op)
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
            op = node.op
            name = f"{public_name(op.name)}" if type(op) is Operator else op.name
            raise AutogradError(
                f"{where} of {name} (shape {a.shape}) was written in place after the "
                "operator used it, so its gradient would be wrong; copy the array before writing to it")


# -- a function on a reverse trace ------------------------------------------------------------------------------------
def trace_reverse(fun, args, kwargs, nums):
    """Run ``fun(*args, **kwargs)`` with the arguments at ``nums`` boxed on a new reverse trace. Returns
    ``(out, trace, boxed_args, starts_per_arg)`` for :func:`gradients`."""
    trace = new_trace()
    args = list(args)
    starts_per_arg = []
    for n in nums:
        starts = []
        args[n] = box_tree(to_array(args[n]), trace, lambda x: Start(), starts)
        starts_per_arg.append((n, starts))
    with tracing():
        out = fun(*args, **kwargs)
    return out, trace, args, starts_per_arg


def gradients(out, trace, args, starts_per_arg, g, free):
    """Gradients for every selected argument, from one backward pass; an argument the output does not depend
    on gets zeros (each in the argument's structure)."""
    all_starts = [s for _, starts in starts_per_arg for s in starts]
    if isinstance(out, Tracer) and out._trace == trace:
        grads = backward(out._node, g, all_starts, free=free)
    elif isinstance(out, (list, tuple, dict)):
        grads = _structured_backward(out, trace, g, all_starts, free)
    else:
        grads = [None] * len(all_starts)
    grads = [zeros_like(x) if gr is None else match_input(gr, x) for gr, (_, x) in zip(grads, all_starts)]
    positions = iter(range(len(grads)))
    return [rebuild(args[n], grads, positions) for n, _ in starts_per_arg]


def match_input(g, x):
    """The gradient of an input in the input's dtype: a real input gets the real part of a complex gradient
    (explicitly, as HIPS autograd does), a complex input a complex one, a float32 input float32."""
    dt = (x._value if isinstance(x, Tracer) else x).dtype
    gd = g.dtype
    if gd == dt or dt.kind not in "fc":
        return g
    if gd.kind == "c" and dt.kind == "f":
        g = np.real(g)
    return g if g.dtype == dt else g.astype(dt)


def _structured_backward(out, trace, g, starts, free):
    """The backward pass from a list/tuple/dict of outputs (``g`` in the same structure): a sum of one pass per
    traced output would walk shared nodes repeatedly, so the outputs are joined under one node first."""
    leaves, cotangents = [], []
    _pair_leaves(out, g, trace, leaves, cotangents)
    if not leaves:
        return [None] * len(starts)
    node = _JoinNode(leaves)
    return backward(node, tuple(cotangents), starts, free=free)


def _pair_leaves(out, g, trace, leaves, cotangents):
    if g is None:  # no cotangent for this part (grad_and_aux's aux)
        return
    if isinstance(out, Tracer):
        if out._trace == trace:
            leaves.append(out._node)
            cotangents.append(g)
        return
    if isinstance(out, (list, tuple)):
        for o, gi in zip(out, g):
            _pair_leaves(o, gi, trace, leaves, cotangents)
    elif isinstance(out, dict):
        for k, o in out.items():
            _pair_leaves(o, g[k], trace, leaves, cotangents)


class _Join:
    name = "<joined outputs>"

    @staticmethod
    def rule(argpos, g, ans, args, kwargs):
        return g[argpos]


class _JoinNode:
    """A node whose parents are several output nodes: the backward pass starts from it with a tuple."""

    __slots__ = ("op", "args", "kwargs", "ans", "parents", "versions")

    def __init__(self, leaves):
        self.op = _Join
        self.args = ()
        self.kwargs = None
        self.ans = None
        self.versions = None
        self.parents = tuple(enumerate(leaves))


__all__ = ["trace_reverse", "gradients", "backward", "SliceGrad", "SparseObject", "to_array", "zeros_like", "unbox_value",
           "select_args", "match_input"]
