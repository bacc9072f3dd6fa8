"""Helpers shared by the rule families, and the declaration forms they use.

Declaration forms (each declares an operator's VJP and JVP together, from one description):

* :func:`unary` - an elementwise function of one argument, from its derivative ``d(x, ans)``: VJP ``g * d``,
  JVP ``t * d`` (HIPS autograd's convention for complex numbers: a holomorphic function's rules use its
  complex derivative, unconjugated);
* :func:`binary` - an elementwise function of two broadcasting arguments, from its two partial derivatives;
* :func:`linear` - an operator linear in the given arguments: its JVP is the operator applied to the tangent;
* :func:`vjp`, :func:`vjp_items`, :func:`jvp` - rules written out (MinPy's form: the gradient or tangent
  first, then the result and the call's arguments).
"""
import numpy as onp

import minpy.numpy as np
from minpy.array import Array
from minpy.autograd import registry
from minpy.autograd.errors import AutogradError
from minpy.autograd.tracer import Meta, Tracer
from minpy.ops.operator import get_operator
from minpy.stats import public_name

_ARRAYS = (Array, Tracer, Meta)


# -- shapes and dtypes ---------------------------------------------------------------------------------------------
def shape_of(x):
    return tuple(x.shape) if isinstance(x, _ARRAYS) else onp.shape(x)


def ndim_of(x):
    return len(shape_of(x))


def dtype_of(x):
    if isinstance(x, _ARRAYS):
        return x.dtype
    if isinstance(x, complex):
        return onp.dtype(onp.complex128)
    if isinstance(x, (bool, int, float)):
        return onp.dtype(onp.float64)
    return onp.asarray(x).dtype


def is_complex(x):
    return dtype_of(x).kind == "c"


def conj(x):
    """The complex conjugate; a real array as it is (no operator call, so real work stays where it runs)."""
    return np.conjugate(x) if is_complex(x) else x


def real(x):
    return np.real(x) if is_complex(x) else x


def match(g, x):
    """``g`` in ``x``'s dtype: the real part of a complex ``g`` for a real ``x`` (explicitly: a real input's
    gradient is the real part, HIPS autograd's convention), complex for a complex ``x``, and ``x``'s precision
    (a float32 input gets a float32 gradient). Integer and boolean inputs keep ``g`` as it is."""
    if g is None:
        return None
    if type(x) is Meta or type(x) is Array:
        dt = x.dtype
        if g.dtype == dt:
            return g
    else:
        dt = dtype_of(x)
    gd = getattr(g, "dtype", None)
    if gd is None or gd == dt or dt.kind not in "fc":
        return g
    if gd.kind == "c" and dt.kind != "c":
        g = np.real(g)
        if g.dtype == dt:
            return g
    return g.astype(dt)


def unbroadcast(g, target):
    """Sum ``g`` down to the shape of ``target`` (undoing NumPy broadcasting)."""
    shape = target.shape if type(target) is Meta or type(target) is Array else shape_of(target)
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra > 0:
        g = np.sum(g, axis=tuple(range(extra)))
    axes = tuple(i for i, d in enumerate(shape) if d == 1 and g.shape[i] != 1)
    if axes:
        g = np.sum(g, axis=axes, keepdims=True)
    return g


def axes_tuple(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(a % ndim for a in axis) if ndim else ()


def expand_reduced(g, x, axis, keepdims):
    """Broadcast the gradient of a reduction back to the input's shape."""
    shape = shape_of(x)
    if not keepdims and shape:
        for a in sorted(axes_tuple(axis, len(shape))):
            g = np.expand_dims(g, a)
    return np.broadcast_to(g, shape)


def count(x, axis):
    """How many elements a reduction over ``axis`` of ``x`` combines."""
    shape = shape_of(x)
    n = 1
    for a in axes_tuple(axis, len(shape)):
        n *= shape[a]
    return n


def float_mask(mask, like):
    """A boolean mask as 0/1 in ``like``'s floating dtype (arithmetic on booleans is NumPy-only)."""
    dt = dtype_of(like)
    if dt.kind == "c":
        dt = onp.empty((), dt).real.dtype
    return mask.astype(dt if dt.kind == "f" else onp.float64)


def balanced_eq(x, ans, other):
    """1 where ``x`` produced ``ans`` (ties share the gradient equally)."""
    hit = float_mask(np.equal(x, ans), ans)
    return hit / (float_mask(np.equal(x, other), ans) + 1.0)


def swapT(x):
    return np.swapaxes(x, -1, -2)


def host_key(key):
    if isinstance(key, tuple):
        return tuple(k.asnumpy() if isinstance(k, (Array, Tracer)) else k for k in key)
    return key.asnumpy() if isinstance(key, (Array, Tracer)) else key


def value_of(x):
    """``x`` without boxes (for reading shapes, layout flags, or host-side index arithmetic)."""
    while isinstance(x, Tracer):
        x = x._value
    return x


# -- declaration forms ---------------------------------------------------------------------------------------------
def vjp(name, *fns, **kw_fns):
    """VJP functions ``f(g, ans, *args, **kwargs)``, one per positional argument (MinPy's form)."""
    return registry.defvjp(name, *fns, **kw_fns)


def jvp(name, *fns, **kw_fns):
    """JVP functions ``f(t, ans, *args, **kwargs)``, one per positional argument (``"same"``: linear in it)."""
    return registry.defjvp(name, *fns, **kw_fns)


def vjp_items(name, fn):
    """VJP of operators whose arrays come in a sequence (``concatenate``, ``stack``): ``fn(g, ans, j, seq,
    *rest, **kwargs)`` gives the gradient of item ``j``. One array as the sequence (NumPy iterates its first
    axis) gets the gradients of its items stacked."""
    def rule(argpos, g, ans, args, kwargs):
        if isinstance(argpos, tuple):
            return fn(g, ans, argpos[1], *args, **(kwargs or {}))
        if argpos == 0 and isinstance(args[0], _ARRAYS):
            shape = shape_of(args[0])
            items = [Meta.__new__(Meta) for _ in range(shape[0])]
            for m in items:
                m.shape, m.dtype = shape[1:], dtype_of(args[0])
            return np.stack([fn(g, ans, j, items, *args[1:], **(kwargs or {})) for j in range(shape[0])])
        raise AutogradError(f"{public_name(name)}: no gradient with respect to argument {argpos!r}")
    rule.items = True
    return registry.install_vjp(name, rule)


def linear(name, positions=(0,), constant=()):
    """``name`` is linear in the arguments at ``positions`` (ints or keyword names; items of a sequence argument
    included) jointly: the tangent due to one of them is the operator applied to its tangent with the others
    of ``positions`` (and the other items of a sequence) zero. Arguments at ``constant`` positions (a
    condition, indices) give no tangent."""
    call = get_operator(name).public
    positions = frozenset(positions)
    constant = frozenset(constant)

    def rule(argpos, t, ans, args, kwargs):
        where = argpos[0] if type(argpos) is tuple else argpos
        if where in constant:
            return None
        if where not in positions:
            raise AutogradError(f"{public_name(name)}: no tangent with respect to argument {argpos!r}")
        if len(positions) > 1:
            args, kwargs = _zero_others(args, kwargs, positions, where)
        return registry.call_with(call, argpos, t, args, kwargs)
    rule.items = True
    return registry.install_jvp(name, rule)


def _zero_others(args, kwargs, positions, keep):
    args = list(args)
    kwargs = dict(kwargs or {})
    for p in positions:
        if p == keep:
            continue
        if type(p) is int and p < len(args):
            args[p] = _zeros(args[p])
        elif type(p) is str and kwargs.get(p) is not None:
            kwargs[p] = _zeros(kwargs[p])
    return args, kwargs


def _zeros(x):
    if x is None or x is onp._NoValue:
        return x
    if isinstance(x, (list, tuple)):
        return type(x)(_zeros(v) for v in x)
    return registry._zeros_like(x)


def unary(names, deriv, reads_x=True, reads_ans=False):
    """Elementwise ``f(x)`` with derivative ``deriv(x, ans)``: VJP ``g * f'``, JVP ``t * f'``."""
    names = (names,) if isinstance(names, str) else names

    def vjp_rule(argpos, g, ans, args, kwargs):
        x = args[0]
        return match(g * deriv(x, ans), x)

    def jvp_rule(argpos, t, ans, args, kwargs):
        return t * deriv(args[0], ans)
    for name in names:
        if declared(name):
            registry.install_vjp(name, _positional(name, vjp_rule, 1))
            registry.install_jvp(name, _positional(name, jvp_rule, 1))
            registry.reads((name,), {0: (0,) if reads_x else ()}, reads_ans)


class applied:
    """A partial derivative given as its application to a gradient or tangent, ``fn(g, x, y, ans)``, where that
    takes fewer operators than forming the derivative (``g / y`` rather than ``g * (1 / y)``)."""

    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn


def binary(names, dx, dy, reads=None):
    """Elementwise ``f(x, y)`` with partial derivatives ``dx(x, y, ans)`` and ``dy(x, y, ans)`` (or
    :class:`applied` ones); a derivative given as the number 1 or -1 is applied without a multiplication. VJPs
    undo the broadcasting."""
    names = (names,) if isinstance(names, str) else names

    def times(g, d, x, y, ans):
        if type(d) is applied:
            return d.fn(g, x, y, ans)
        if d == 1:
            return g
        if d == -1:
            return -g
        return g * d(x, y, ans)

    def vjp_rule(argpos, g, ans, args, kwargs):
        x, y = args[0], args[1]
        target = x if argpos == 0 else y
        return match(unbroadcast(times(g, dx if argpos == 0 else dy, x, y, ans), target), target)

    def jvp_rule(argpos, t, ans, args, kwargs):
        return times(t, dx if argpos == 0 else dy, args[0], args[1], ans)
    for name in names:
        if declared(name):
            registry.install_vjp(name, _positional(name, vjp_rule, 2))
            registry.install_jvp(name, _positional(name, jvp_rule, 2))
            if reads is not None:
                registry.reads((name,), *reads)


def _positional(name, rule, n):
    """``rule`` for the first ``n`` positional arguments; others (``out=``, ``where=``) have no derivative."""
    def checked(argpos, g, ans, args, kwargs):
        if type(argpos) is not int or argpos >= n:
            if type(argpos) is tuple:
                raise AutogradError(registry._SEQ_MESSAGE.format(name=f"{public_name(name)}", arg=argpos[0]))
            raise AutogradError(f"{public_name(name)}: no derivative with respect to argument {argpos!r}")
        return rule(argpos, g, ans, args, kwargs)
    return checked


def composite(name, formula, positions=(0,)):
    """Rules of ``name`` from ``formula(*args, **kwargs)``, a ``minpy.numpy`` expression of the same function
    (``ptp`` is ``max - min``): the VJP and JVP are those of the formula with respect to the argument, by
    tracing it. For operators built from others, whose rules would repeat theirs."""
    from minpy.autograd.backward import gradients, trace_reverse
    from minpy.autograd.forward import trace_forward

    positions = frozenset(positions)

    def with_arg(argpos, args, kwargs, z):
        args, kwargs = list(args), dict(kwargs or {})
        if type(argpos) is str:
            kwargs[argpos] = z
        else:
            args[argpos] = z
        return args, kwargs

    def check(argpos):
        if argpos not in positions:
            raise AutogradError(f"{public_name(name)}: no derivative with respect to argument {argpos!r}")

    def vjp_rule(argpos, g, ans, args, kwargs):
        check(argpos)
        x = kwargs[argpos] if type(argpos) is str else args[argpos]

        def f(z):
            a, k = with_arg(argpos, args, kwargs, z)
            return formula(*a, **k)
        out, trace, boxed, starts = trace_reverse(f, (x,), {}, (0,))
        return match(gradients(out, trace, boxed, starts, g, free=True)[0], x)

    def jvp_rule(argpos, t, ans, args, kwargs):
        check(argpos)
        x = kwargs[argpos] if type(argpos) is str else args[argpos]

        def f(z):
            a, k = with_arg(argpos, args, kwargs, z)
            return formula(*a, **k)
        return trace_forward(f, (x,), {}, (0,), (t,))[1]
    registry.install_vjp(name, vjp_rule)
    registry.install_jvp(name, jvp_rule)


def declared(name):
    """Whether the operator table has ``name`` (some exist only in some NumPy versions: ``msort``; a family of
    rules for an optional table, such as SciPy's, declares rules only for the operators present)."""
    try:
        get_operator(name)
    except KeyError:
        return False
    return True
