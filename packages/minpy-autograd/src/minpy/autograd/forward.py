"""Forward mode: a trace whose boxes carry their tangents (HIPS autograd's JVP nodes, JAX's ``jvp``).

Each operator reached by a box of a forward trace computes its result's tangent right away: the sum, over the
traced arguments, of the operator's Jacobian-vector product (``registry.jvp_for``) applied to the argument's
tangent. An operator with a VJP rule but no JVP of its own gets one by transposition: its VJP is linear in the
output gradient ``u``, so the VJP of ``u -> vjp(u)`` taken at the argument's tangent is the JVP (the rules are
``minpy.numpy`` code, so this needs nothing else). Forward and reverse traces nest in either order: the JVP
rules run on values boxed by outer traces, which record them.
"""
import numpy as onp

import minpy.numpy as np
from minpy.array import Array
from minpy.autograd import registry
from minpy.autograd.backward import gradients, to_array, trace_reverse, zeros_like
from minpy.autograd.errors import NoRuleError
from minpy.autograd.tracer import Tangent, Tracer, install, new_trace, tracing
from minpy.ops.operator import Operator
from minpy.stats import public_name


def _name(op):
    return f"{public_name(op.name)}" if type(op) is Operator else getattr(op, "name", repr(op))


def contribution(op, argpos, t, ans, args, kwargs):
    """The tangent of ``op``'s result due to the tangent ``t`` of its argument at ``argpos`` (None: none)."""
    jrule = registry.jvp_for(op)
    if jrule is not None:
        return jrule(argpos, t, ans, args, kwargs)
    rule = registry.rule_for(op)
    if rule is None or not callable(rule) or rule is registry.SETITEM:
        raise NoRuleError(f"{_name(op)} has no JVP (forward-mode) rule with respect to argument {argpos!r}")
    return jvp_by_transposition(rule, argpos, t, ans, args, kwargs)


def jvp_by_transposition(rule, argpos, t, ans, args, kwargs):
    """``J t`` from the VJP rule ``u -> J^T u`` (linear in ``u``): the VJP of that map, at cotangent ``t``."""
    # The VJP is linear in u, so any point will do; ones, not zeros, so that a rule leaving out the part of an
    # output that receives no gradient (eigh's eigenvectors) keeps it
    u0 = _ones_of(ans)
    out, trace, boxed, starts = trace_reverse(lambda u: rule(argpos, u, ans, args, kwargs), (u0,), {}, (0,))
    if out is None:
        return None
    return gradients(out, trace, boxed, starts, t, free=True)[0]


def _ones_of(ans):
    if isinstance(ans, (Array, Tracer)):
        return zeros_like(ans) + 1.0
    if isinstance(ans, (list, tuple)):
        return tuple(_ones_of(a) for a in ans)
    return np.array(1.0)


def fit(t, ans):
    """Tangent ``t`` in the shape and dtype of the result ``ans``: broadcast where an argument was, the real
    part for a real result (a real result's tangent is real), complex for a complex one."""
    value = ans
    while type(value) is Tracer:
        value = value._value
    if t is None:
        return zeros_like(value)
    if not isinstance(t, (Array, Tracer)):
        t = np.asarray(t)
    dt, tdt = value.dtype, t.dtype
    if tdt != dt:
        if tdt.kind == "c" and dt.kind != "c":
            t = np.real(t)
        if t.dtype != dt:
            t = t.astype(dt)
    if tuple(t.shape) != tuple(value.shape):
        t = np.broadcast_to(t, tuple(value.shape))
    return t


def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, (list, tuple)):
        return tuple(_add(x, y) for x, y in zip(a, b))
    return a + b


def forward_record(op, args, kwargs, ans, parents, trace):
    """Box ``ans`` at forward trace ``trace``, with the tangent its traced arguments' tangents give it."""
    total = None
    for argpos, node in parents:
        total = _add(total, contribution(op, argpos, node.t, ans, args, kwargs))
    return box_forward(ans, total, trace)


def box_forward(ans, t, trace):
    """``ans`` boxed with tangent ``t`` (``ans`` and ``t`` may be tuples of several results). A primitive's
    plain NumPy result is boxed as a minpy Array."""
    if isinstance(ans, (onp.ndarray, onp.generic, float, complex)) and not isinstance(ans, bool):
        ans = np.array(ans)
    if isinstance(ans, (Array, Tracer)):
        value = ans
        while type(value) is Tracer:
            value = value._value
        if value.dtype.kind not in "fc":  # integer and boolean results are constants
            return ans
        return Tracer(ans, Tangent(fit(t, ans)), trace)
    if isinstance(ans, (list, tuple)):
        ts = t if isinstance(t, (list, tuple)) else [None] * len(ans)
        items = [box_forward(a, ti, trace) for a, ti in zip(ans, ts)]
        return type(ans)(*items) if hasattr(ans, "_fields") else type(ans)(items)
    return ans


install("forward", forward_record)


# -- a function on a forward trace ------------------------------------------------------------------------------------
def _box_with_tangents(x, t, trace):
    if isinstance(x, (Array, Tracer)):
        t = to_array(t)
        if not isinstance(t, (Array, Tracer)):
            raise TypeError(f"the tangent of an array argument must be an array, got {type(t).__name__}")
        if tuple(t.shape) != tuple(x.shape):
            raise ValueError(f"the tangent has shape {tuple(t.shape)}, the argument {tuple(x.shape)}")
        if t.dtype.kind == "c" and x.dtype.kind != "c":
            raise TypeError("a real argument takes a real tangent (its imaginary part would be dropped)")
        if t.dtype != x.dtype and x.dtype.kind in "fc":
            t = t.astype(x.dtype)
        return Tracer(x, Tangent(t), trace)
    if isinstance(x, (list, tuple)):
        items = [_box_with_tangents(v, tv, trace) for v, tv in zip(x, t)]
        return type(x)(*items) if hasattr(x, "_fields") else type(x)(items)
    if isinstance(x, dict):
        return type(x)((k, _box_with_tangents(v, t[k], trace)) for k, v in x.items())
    return x


def trace_forward(fun, args, kwargs, nums, tangents):
    """Run ``fun`` with the arguments at ``nums`` boxed on a new forward trace with ``tangents`` (one per
    argument, in its structure). Returns ``(value, tangent)`` of the output (zeros where it does not depend
    on the arguments)."""
    trace = new_trace()
    args = list(args)
    for n, t in zip(nums, tangents):
        args[n] = _box_with_tangents(to_array(args[n]), t, trace)
    with tracing():
        out = fun(*args, **kwargs)
    return _split(out, trace)


def _split(out, trace):
    if isinstance(out, Tracer):
        if out._trace == trace:
            return out._value, out._node.t
        return out, zeros_like(out)
    if isinstance(out, Array):
        return out, zeros_like(out)
    if isinstance(out, (list, tuple)):
        pairs = [_split(o, trace) for o in out]
        make = (lambda xs: type(out)(*xs)) if hasattr(out, "_fields") else type(out)
        return make([p[0] for p in pairs]), make([p[1] for p in pairs])
    if isinstance(out, dict):
        pairs = {k: _split(o, trace) for k, o in out.items()}
        return type(out)((k, p[0]) for k, p in pairs.items()), type(out)((k, p[1]) for k, p in pairs.items())
    if isinstance(out, (float, complex, onp.floating, onp.complexfloating)):
        return out, 0.0 * out
    return out, None


__all__ = ["trace_forward", "forward_record", "contribution", "jvp_by_transposition", "box_forward", "fit"]
