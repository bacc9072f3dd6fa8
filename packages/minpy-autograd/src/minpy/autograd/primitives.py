"""Vector-Jacobian products: one per differentiable operator, written once in ``minpy.numpy``.

Because every rule is ``minpy.numpy`` code, it runs on whatever backend holds the data (MXNet, NumPy, a GPU
later) and is itself differentiable, so higher-order gradients come for free.

A rule has the form ``rule(argpos, g, ans, args, kwargs)`` and returns the gradient with respect to the
argument at ``argpos`` (an int, or ``(i, j)`` for item ``j`` of a sequence argument ``i``), given the
gradient ``g`` of the operator's result ``ans``. :func:`defvjp` builds one from per-argument functions
``f(g, ans, *args, **kwargs)`` in HIPS autograd's style.

The rule for operators without a rule: those the table marks non-differentiable (comparisons, ``floor``,
``argmax``, integer results...) pass their result through untraced, so their gradient is zero, as in NumPy
semantics and HIPS autograd; so do information functions, random numbers and creation functions. Any other
operator without a rule raises :class:`AutogradError` when a traced value reaches it (unless its result holds
no floating-point data), naming the operator and how to give it a gradient (:func:`defvjp`).
"""
import sys

import numpy as onp

import minpy.numpy as np
from minpy.array import Array
from minpy.autograd import tracer as _tracer_module
from minpy.autograd.tracer import (AutogradError, Meta, Node, Tracer, _find_top, _slim, _unbox, box,
                                   record_versions)
from minpy.ops import basic_keys
from minpy.ops.operator import Operator, all_operators, get_operator

_RULES = {}          # operator name -> rule
_RULES_BY_REF = {}   # id(NumPy function) -> rule, so NumPy's aliases (abs, round_...) find their rule
SETITEM = object()   # marker rule: a write into an untraced array


#: operator name -> ({traced argument position: positions its rule reads}, whether rules read the result).
#: The tape keeps only those values (the rest as shapes and dtypes, see tracer.Meta), so that memory during a
#: traced computation stays near what hand-written backprop keeps. Operators not listed keep everything.
READS = {}


def reads(names, positions, ans):
    for name in names:
        READS[name] = (positions, ans)


reads(("add", "subtract"), {0: (), 1: ()}, False)
reads(("multiply", "dot", "matmul"), {0: (1,), 1: (0,)}, False)
reads(("true_divide", "divide"), {0: (1,), 1: (0, 1)}, False)
reads(("negative", "positive", "sum", "mean", "broadcast_to"), {0: ()}, False)
reads(("tanh", "exp", "exp2", "expm1", "sqrt", "cbrt", "reciprocal"), {0: ()}, True)
reads(("getitem",), {0: (1,)}, False)  # the key stays: it may be an index array
reads(("concatenate", "stack"), {0: ()}, False)  # the rules read the items' shapes only


def rule_for(op):
    """The VJP rule of ``op``; None when its results carry no gradient."""
    if type(op) is not Operator:
        return op.rule  # primitives and other recorded callables carry their own rule
    rule = _RULES.get(op.name)
    if rule is not None:
        return rule
    if op.name == "setitem":
        return SETITEM
    rule = _RULES_BY_REF.get(id(op.ref))
    if rule is not None:
        _RULES[op.name] = rule
        return rule
    if op.differentiable is False or op.kind in ("info", "random", "creation") or not op.wrap_result:
        return None
    return _undefined(op)


def _undefined(op):
    def rule(argpos, g, ans, args, kwargs):
        raise AutogradError(f"minpy.numpy.{op.name} has no gradient (argument {argpos})")

    if op.differentiable:
        raise AutogradError(f"minpy.numpy.{op.name} is declared differentiable but has no VJP rule "
                            "(a bug in minpy-autograd)")
    return _CheckOutput(op)


class _CheckOutput:
    """For operators of unknown differentiability: fine when the result holds no floats, else an error."""

    def __init__(self, op):
        self.op = op

    def __call__(self, argpos, g, ans, args, kwargs):  # never reached: intercept() checks first
        raise AutogradError(self.message())

    def message(self):
        return (f"minpy.numpy.{self.op.name} has no gradient rule, and a traced value reached it. Give it one "
                f"with minpy.autograd.defvjp('{self.op.name}', ...), or compute it outside the gradient "
                "(minpy.autograd.stop_gradient)")


_SEQ_MESSAGE = ("{name} got a list or tuple holding traced values as argument {arg}; pass one array instead "
                "(np.stack([...]) or np.array([...]))")


def defvjp(name, *vjps, **kw_vjps):
    """Give operator ``name`` (a ``minpy.numpy`` name such as ``"exp"`` or ``"linalg.inv"``) its gradient:
    one function ``f(g, ans, *args, **kwargs)`` per positional argument (None for arguments without
    gradient), and keyword-argument functions by name."""
    def rule(argpos, g, ans, args, kwargs):
        if isinstance(argpos, tuple):  # traced items of a list argument: only defvjp_seq rules take those
            raise AutogradError(_SEQ_MESSAGE.format(name=f"minpy.numpy.{name}", arg=argpos[0]))
        fn = kw_vjps.get(argpos) if isinstance(argpos, str) else (vjps[argpos] if argpos < len(vjps) else None)
        if fn is None:
            raise AutogradError(f"minpy.numpy.{name}: no gradient with respect to argument {argpos!r}")
        return fn(g, ans, *args, **(kwargs or {}))
    _install(name, rule)
    return rule


def defvjp_seq(name, fn):
    """Rule for operators whose arrays come in a sequence (``concatenate``, ``stack``): ``fn(g, ans, j, seq,
    *rest, **kwargs)`` gives the gradient of item ``j``."""
    def rule(argpos, g, ans, args, kwargs):
        if isinstance(argpos, tuple):
            return fn(g, ans, argpos[1], *args, **(kwargs or {}))
        if argpos == 0 and isinstance(args[0], (Array, Tracer, Meta)):
            # one array as the sequence (NumPy iterates it): the gradients of its items, stacked
            shape = _shape(args[0])
            items = [onp.empty(shape[1:])] * shape[0]  # the rules read only the items' shapes
            return np.stack([fn(g, ans, j, items, *args[1:], **(kwargs or {})) for j in range(shape[0])])
        raise AutogradError(f"minpy.numpy.{name}: no gradient with respect to argument {argpos!r}")
    _install(name, rule)
    return rule


def _install(name, rule):
    _RULES[name] = rule
    op = all_operators().get(name)
    if op is not None and op.ref is not None:
        _RULES_BY_REF[id(op.ref)] = rule


class Primitive:
    """A function that autograd treats as one operator with its own gradient (see :func:`primitive`)."""

    kind = "function"
    wrap_result = True
    differentiable = True

    def __init__(self, fn, name=None, reads=None):
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "primitive")
        self.rule = None
        self.ref = fn
        #: like READS: ({traced position: positions its rule reads}, whether it reads the result); None: all
        self.reads = reads

    def invoke(self, args, kwargs):
        return self.fn(*args, **(kwargs or {}))

    def __call__(self, *args, **kwargs):
        top = _find_top(args, kwargs)
        if top == 0:
            return self.fn(*args, **kwargs)
        if self.rule is None:
            raise AutogradError(f"primitive {self.name} has no gradient: call .defvjp(...) on it")
        uargs, ukwargs, parents = _unbox(args, kwargs, top)
        ans = self(*uargs, **ukwargs)
        kept, kept_ans = uargs, ans
        if self.reads is not None:  # what the rule reads, as for table operators (READS)
            kept = _slim(uargs, parents, self.reads[0])
            if not self.reads[1] and type(ans) in (Array, Tracer):
                kept_ans = None
        # Write counters too: a rule reading an Array argument written since (labels of a customop)
        # must fail, not give a wrong gradient.
        return box(ans, Node(self, kept, ukwargs, kept_ans, parents, record_versions(kept, ukwargs)), top)

    def defvjp(self, *vjps, **kw_vjps):
        """Per-argument VJP functions ``f(g, ans, *args, **kwargs)``; returns the primitive."""
        def rule(argpos, g, ans, args, kwargs):
            if isinstance(argpos, tuple):
                raise AutogradError(_SEQ_MESSAGE.format(name=self.name, arg=argpos[0]))
            fn = kw_vjps.get(argpos) if isinstance(argpos, str) else (
                vjps[argpos] if argpos < len(vjps) else None)
            if fn is None:
                raise AutogradError(f"{self.name}: no gradient with respect to argument {argpos!r}")
            return fn(g, ans, *args, **(kwargs or {}))
        self.rule = rule
        return self


def primitive(fn=None, *, reads=None):
    """Decorator: make ``fn`` (any Python function, e.g. plain NumPy code or a call into another library)
    a primitive whose gradient you give with ``.defvjp``::

        @primitive
        def logsumexp(x):
            m = x.max(); return m + numpy.log(numpy.sum(numpy.exp(x - m)))
        logsumexp.defvjp(lambda g, ans, x: g * np.exp(x - ans))

    ``reads=({position: positions read}, reads_result)`` (``@primitive(reads=({0: ()}, True))``) says what the
    rules read, so that the tape keeps only that (the rest as shapes and dtypes).
    """
    if fn is None:
        return lambda f: Primitive(f, reads=reads)
    return Primitive(fn, reads=reads)


# -- helpers ------------------------------------------------------------------------------------------------
def _shape(x):
    return x.shape if isinstance(x, (Array, Tracer, Meta)) else onp.shape(x)


def unbroadcast(g, target):
    """Sum ``g`` down to the shape of ``target`` (undoing NumPy broadcasting)."""
    shape = target.shape if type(target) is Meta or type(target) is Array else _shape(target)
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra > 0:
        g = np.sum(g, axis=tuple(range(extra)))
    axes = tuple(i for i, d in enumerate(shape) if d == 1 and g.shape[i] != 1)
    if axes:
        g = np.sum(g, axis=axes, keepdims=True)
    return g


def _unbroadcast_rule(fn):
    def vjp(g, ans, *args, **kwargs):
        return fn(g, ans, *args, **kwargs)
    return vjp


def _axes_tuple(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(a % ndim for a in axis) if ndim else ()


def _expand_reduced(g, x, axis, keepdims):
    """Broadcast the gradient of a reduction back to the input's shape."""
    shape = _shape(x)
    if not keepdims and shape:
        for a in sorted(_axes_tuple(axis, len(shape))):
            g = np.expand_dims(g, a)
    return np.broadcast_to(g, shape)


def _count(x, axis):
    shape = _shape(x)
    n = 1
    for a in _axes_tuple(axis, len(shape)):
        n *= shape[a]
    return n


def _scatter_add_forward(shape, dtype, key, values):
    if basic_keys(key) is not None:
        # basic keys select each element at most once: a plain write, on whatever backend holds the data
        # (ufunc.at below is slow and runs on the host)
        out = np.zeros(shape, dtype=dtype)
        out[key] = values
        return out
    out = onp.zeros(shape, dtype=dtype)
    key = _host_key(key)
    onp.add.at(out, key, np.asarray(values).asnumpy() if isinstance(values, Array) else values)
    return np.array(out)


def _host_key(key):
    if isinstance(key, tuple):
        return tuple(k.asnumpy() if isinstance(k, Array) else k for k in key)
    return key.asnumpy() if isinstance(key, Array) else key


scatter_add = Primitive(lambda shape, dtype, key, values: _scatter_add_forward(shape, dtype, key, values),
                        name="autograd.scatter_add")
scatter_add.defvjp(None, None, None, lambda g, ans, shape, dtype, key, values: unbroadcast(g[key], values))


def _functional_setitem_forward(x, key, value):
    out = np.copy(x)
    out[key] = value
    return out


def _overwritten(shape, key):
    """Where a write through ``key`` is overwritten by a later one of the same write (an advanced index that
    repeats an element: the last write stays, as in NumPy): a host boolean mask over ``x[key]``, or None
    when every written value stays."""
    key = _host_key(key)
    probe = onp.full(shape, -1, dtype=onp.int64)
    ids = onp.arange(probe[key].size).reshape(probe[key].shape)
    probe[key] = ids
    stays = probe[key] == ids
    return None if stays.all() else ~stays


def _setitem_value_vjp(g, ans, x, key, value):
    if not isinstance(value, (Array, Tracer)):
        return None
    picked = g[key]
    lost = _overwritten(_shape(x), key)
    if lost is not None:
        picked = picked * np.array((~lost).astype(_dtype_of(picked)))
    return unbroadcast(picked, value)


functional_setitem = Primitive(_functional_setitem_forward, name="autograd.setitem")
functional_setitem.defvjp(
    lambda g, ans, x, key, value: functional_setitem(g, key, 0),
    None,
    _setitem_value_vjp)


def traced_setitem_error(args):
    target, key, value = args
    raise AutogradError(
        f"a traced value is being written into a minpy Array that is not traced (target shape "
        f"{_shape(target)}, key {key!r}); the write would cut the gradient. Build the result from traced "
        "values instead (e.g. collect rows in a list and use np.stack), or write into a traced array")


def _float_mask(mask, like):
    """A boolean mask as 0/1 in ``like``'s floating dtype (arithmetic on booleans is NumPy-only)."""
    dt = _dtype_of(like)
    return mask.astype(dt if dt.kind == "f" else onp.float64)


def _balanced_eq(x, ans, other):
    """1 where ``x`` produced ``ans`` (ties share the gradient equally)."""
    hit = _float_mask(np.equal(x, ans), ans)
    return hit / (_float_mask(np.equal(x, other), ans) + 1.0)


def _dtype_of(x):
    return x.dtype if isinstance(x, (Array, Tracer, Meta)) else onp.asarray(x).dtype


def _match(g, x):
    """Cast ``g`` to ``x``'s floating dtype (a float32 input gets a float32 gradient)."""
    if type(x) is Meta or type(x) is Array:
        if g.dtype == x.dtype:
            return g
        dt = x.dtype
    else:
        dt = _dtype_of(x)
    if dt.kind == "f" and g.dtype != dt:
        return g.astype(dt)
    return g


# -- elementwise ----------------------------------------------------------------------------------------------
def _binary(name, dx, dy):
    defvjp(name,
           lambda g, ans, x, y, **kw: _match(unbroadcast(dx(g, ans, x, y), x), x),
           lambda g, ans, x, y, **kw: _match(unbroadcast(dy(g, ans, x, y), y), y))


_binary("add", lambda g, ans, x, y: g, lambda g, ans, x, y: g)
_binary("subtract", lambda g, ans, x, y: g, lambda g, ans, x, y: -g)
_binary("multiply", lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x)
for _n in ("true_divide", "divide"):
    _binary(_n, lambda g, ans, x, y: g / y, lambda g, ans, x, y: -g * x / (y * y))


def _pow_dx(g, ans, x, y):
    return g * y * np.power(x, np.where(y != 0, y - 1, 0.0) if isinstance(y, (Array, Tracer)) else
                            (y - 1 if y != 0 else 0.0))


def _pow_dy(g, ans, x, y):
    safe = np.where(x > 0, x, 1.0) if isinstance(x, (Array, Tracer)) else (x if x > 0 else 1.0)
    return g * np.log(safe) * ans


_binary("power", _pow_dx, _pow_dy)
_binary("float_power", _pow_dx, _pow_dy)
for _n in ("maximum", "minimum", "fmax", "fmin"):
    _binary(_n, lambda g, ans, x, y: g * _balanced_eq(x, ans, y), lambda g, ans, x, y: g * _balanced_eq(y, ans, x))
_binary("hypot", lambda g, ans, x, y: g * x / ans, lambda g, ans, x, y: g * y / ans)
_binary("arctan2", lambda g, ans, x, y: g * y / (x * x + y * y), lambda g, ans, x, y: -g * x / (x * x + y * y))
_binary("logaddexp", lambda g, ans, x, y: g * np.exp(x - ans), lambda g, ans, x, y: g * np.exp(y - ans))
_binary("logaddexp2", lambda g, ans, x, y: g * np.exp2(x - ans), lambda g, ans, x, y: g * np.exp2(y - ans))
_binary("copysign", lambda g, ans, x, y: g * np.sign(x) * np.sign(ans), lambda g, ans, x, y: g * 0.0)
for _n in ("remainder", "mod"):
    _binary(_n, lambda g, ans, x, y: g, lambda g, ans, x, y: -g * np.floor_divide(x, y))
# fmod truncates (C's remainder): fmod(x, y) = x - trunc(x / y) * y. Its own rule, not a test of the loop
# variable inside the lambda, which would be read when the rule runs (after the loop has moved on).
_binary("fmod", lambda g, ans, x, y: g, lambda g, ans, x, y: -g * np.trunc(x / y))

_LN2 = float(onp.log(2.0))
_LN10 = float(onp.log(10.0))
_UNARY = {
    "negative": lambda g, ans, x: -g,
    "positive": lambda g, ans, x: g,
    "absolute": lambda g, ans, x: g * np.sign(x),
    "fabs": lambda g, ans, x: g * np.sign(x),
    "square": lambda g, ans, x: g * 2.0 * x,
    "sqrt": lambda g, ans, x: g * 0.5 / ans,
    "cbrt": lambda g, ans, x: g / (3.0 * ans * ans),
    "exp": lambda g, ans, x: g * ans,
    "exp2": lambda g, ans, x: g * ans * _LN2,
    "expm1": lambda g, ans, x: g * (ans + 1.0),
    "log": lambda g, ans, x: g / x,
    "log2": lambda g, ans, x: g / (x * _LN2),
    "log10": lambda g, ans, x: g / (x * _LN10),
    "log1p": lambda g, ans, x: g / (x + 1.0),
    "sin": lambda g, ans, x: g * np.cos(x),
    "cos": lambda g, ans, x: -g * np.sin(x),
    "tan": lambda g, ans, x: g / np.square(np.cos(x)),
    "arcsin": lambda g, ans, x: g / np.sqrt(1.0 - x * x),
    "arccos": lambda g, ans, x: -g / np.sqrt(1.0 - x * x),
    "arctan": lambda g, ans, x: g / (1.0 + x * x),
    "sinh": lambda g, ans, x: g * np.cosh(x),
    "cosh": lambda g, ans, x: g * np.sinh(x),
    "tanh": lambda g, ans, x: g * (1.0 - ans * ans),
    "arcsinh": lambda g, ans, x: g / np.sqrt(x * x + 1.0),
    "arccosh": lambda g, ans, x: g / np.sqrt(x * x - 1.0),
    "arctanh": lambda g, ans, x: g / (1.0 - x * x),
    "degrees": lambda g, ans, x: g * (180.0 / onp.pi),
    "rad2deg": lambda g, ans, x: g * (180.0 / onp.pi),
    "radians": lambda g, ans, x: g * (onp.pi / 180.0),
    "deg2rad": lambda g, ans, x: g * (onp.pi / 180.0),
    "reciprocal": lambda g, ans, x: -g * ans * ans,
    "conjugate": lambda g, ans, x: np.conjugate(g),
}
for _n, _f in _UNARY.items():
    defvjp(_n, (lambda f: lambda g, ans, x, **kw: _match(f(g, ans, x), x))(_f))


# -- reductions ---------------------------------------------------------------------------------------------------
def _sum_vjp(g, ans, x, axis=None, dtype=None, out=None, keepdims=False, **kw):
    return _match(_expand_reduced(g, x, axis, keepdims), x)


def _mean_vjp(g, ans, x, axis=None, dtype=None, out=None, keepdims=False, **kw):
    return _match(_expand_reduced(g, x, axis, keepdims) / _count(x, axis), x)


def _prod_vjp(g, ans, x, axis=None, dtype=None, out=None, keepdims=False, **kw):
    # d prod / d x_i = prod / x_i; inputs with zeros give NaN/inf here (documented limitation).
    return _match(_expand_reduced(g, x, axis, keepdims) * _expand_reduced(ans, x, axis, keepdims) / x, x)


def _extreme_vjp(g, ans, x, axis=None, out=None, keepdims=False, **kw):
    rep = _expand_reduced(ans, x, axis, keepdims)
    hit = _float_mask(np.equal(x, rep), x)
    ties = _expand_reduced(np.sum(hit, axis=axis, keepdims=keepdims), x, axis, keepdims)
    return _match(_expand_reduced(g, x, axis, keepdims) * hit / ties, x)


def _var_vjp(g, ans, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
    n = _count(x, axis)
    centred = x - np.mean(x, axis=axis, keepdims=True)
    return _match(_expand_reduced(g, x, axis, keepdims) * 2.0 * centred / (n - ddof), x)


def _std_vjp(g, ans, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
    return _var_vjp(g / (2.0 * ans), ans * ans, x, axis=axis, ddof=ddof, keepdims=keepdims)


def _cumsum_vjp(g, ans, x, axis=None, dtype=None, out=None):
    if axis is None:
        return np.reshape(np.flip(np.cumsum(np.flip(g))), _shape(x))
    return np.flip(np.cumsum(np.flip(g, axis), axis), axis)


defvjp("sum", _sum_vjp)
defvjp("mean", _mean_vjp)
defvjp("prod", _prod_vjp)
for _n in ("max", "min", "amax", "amin"):
    if _n in all_operators():
        defvjp(_n, _extreme_vjp)
defvjp("var", _var_vjp)
defvjp("std", _std_vjp)
defvjp("cumsum", _cumsum_vjp)


# -- linear algebra -------------------------------------------------------------------------------------------------
def _dot_da(g, ans, a, b):
    an, bn = len(_shape(a)), len(_shape(b))
    if an == 0:
        return np.sum(g * b)
    if bn == 0:
        return g * b
    if bn == 1:
        return np.expand_dims(g, -1) * b
    if bn == 2:  # the common case: one matmul, without tensordot's reshaping
        return np.dot(g, np.transpose(b))
    gn = g.ndim
    return np.tensordot(g, b, axes=(list(range(gn - (bn - 1), gn)), list(range(bn - 2)) + [bn - 1]))


def _dot_db(g, ans, a, b):
    an, bn = len(_shape(a)), len(_shape(b))
    if bn == 0:
        return np.sum(g * a)
    if an == 0:
        return g * a
    if an == 2 and bn == 2:
        return np.dot(np.transpose(a), g)
    lead = list(range(an - 1))
    if bn == 1:
        return np.tensordot(g, a, axes=(lead, lead)) if lead else g * a
    r = np.tensordot(a, g, axes=(lead, lead))
    return np.moveaxis(r, 0, bn - 2)


defvjp("dot", lambda g, ans, a, b, out=None: _match(_dot_da(g, ans, a, b), a),
       lambda g, ans, a, b, out=None: _match(_dot_db(g, ans, a, b), b))


def _matmul_da(g, ans, a, b, **kw):
    an, bn = len(_shape(a)), len(_shape(b))
    if an == 1 and bn == 1:
        return g * b
    if bn == 1:
        return unbroadcast(np.expand_dims(g, -1) * b, a)
    if an == 1:
        return unbroadcast(np.squeeze(np.matmul(b, np.expand_dims(g, -1)), -1), a)
    return unbroadcast(np.matmul(g, np.swapaxes(b, -1, -2)), a)


def _matmul_db(g, ans, a, b, **kw):
    an, bn = len(_shape(a)), len(_shape(b))
    if an == 1 and bn == 1:
        return g * a
    if an == 1:
        return unbroadcast(np.expand_dims(a, -1) * np.expand_dims(g, -2), b)
    if bn == 1:
        return unbroadcast(np.squeeze(np.matmul(np.swapaxes(a, -1, -2), np.expand_dims(g, -1)), -1), b)
    return unbroadcast(np.matmul(np.swapaxes(a, -1, -2), g), b)


defvjp("matmul", lambda g, ans, a, b, **kw: _match(_matmul_da(g, ans, a, b), a),
       lambda g, ans, a, b, **kw: _match(_matmul_db(g, ans, a, b), b))


def _tensordot_axes(a_nd, b_nd, axes):
    if isinstance(axes, int):
        return list(range(a_nd - axes, a_nd)), list(range(axes))
    ax_a, ax_b = axes
    ax_a = [ax_a] if isinstance(ax_a, int) else list(ax_a)
    ax_b = [ax_b] if isinstance(ax_b, int) else list(ax_b)
    return [x % a_nd for x in ax_a], [x % b_nd for x in ax_b]


def _tensordot_da(g, ans, a, b, axes=2):
    an, bn = len(_shape(a)), len(_shape(b))
    ax_a, ax_b = _tensordot_axes(an, bn, axes)
    free_a = [i for i in range(an) if i not in ax_a]
    free_b = [i for i in range(bn) if i not in ax_b]
    g_b = list(range(len(free_a), g.ndim))
    r = np.tensordot(g, b, axes=(g_b, free_b))  # free_a dims, then ax_b order (= ax_a order)
    order = free_a + ax_a
    return np.transpose(r, onp.argsort(order))


def _tensordot_db(g, ans, a, b, axes=2):
    an, bn = len(_shape(a)), len(_shape(b))
    ax_a, ax_b = _tensordot_axes(an, bn, axes)
    free_a = [i for i in range(an) if i not in ax_a]
    free_b = [i for i in range(bn) if i not in ax_b]
    g_a = list(range(len(free_a)))
    r = np.tensordot(a, g, axes=(free_a, g_a))  # ax_a dims (as ax_b), then free_b dims
    order = ax_b + free_b
    return np.transpose(r, onp.argsort(order))


defvjp("tensordot", lambda g, ans, a, b, axes=2: _match(_tensordot_da(g, ans, a, b, axes), a),
       lambda g, ans, a, b, axes=2: _match(_tensordot_db(g, ans, a, b, axes), b))
defvjp("inner",
       lambda g, ans, a, b: _match(_tensordot_da(g, ans, a, b, ([-1], [-1])) if len(_shape(a)) and len(_shape(b))
                                  else _dot_da(g, ans, a, b), a),
       lambda g, ans, a, b: _match(_tensordot_db(g, ans, a, b, ([-1], [-1])) if len(_shape(a)) and len(_shape(b))
                                  else _dot_db(g, ans, a, b), b))
defvjp("outer", lambda g, ans, a, b, out=None: np.reshape(np.dot(g, np.ravel(b)), _shape(a)),
       lambda g, ans, a, b, out=None: np.reshape(np.dot(np.ravel(a), g), _shape(b)))
defvjp("vdot", lambda g, ans, a, b: np.reshape(g * np.ravel(b), _shape(a)),
       lambda g, ans, a, b: np.reshape(g * np.ravel(a), _shape(b)))


def _einsum_rule(argpos, g, ans, args, kwargs):
    subscripts, operands = args[0], list(args[1:])
    if not isinstance(subscripts, str) or "..." in subscripts:
        raise AutogradError("minpy.numpy.einsum: gradients need explicit subscripts without '...'")
    spec = subscripts.replace(" ", "")
    if "->" in spec:
        ins, out = spec.split("->")
    else:
        ins = spec
        letters = "".join(spec.split(","))
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    ins = ins.split(",")
    k = argpos - 1
    term = ins[k]
    unique = "".join(dict.fromkeys(term))  # a letter repeated within the operand takes its diagonal
    sizes = dict(zip(term, _shape(operands[k])))
    others = [(s, o) for i, (s, o) in enumerate(zip(ins, operands)) if i != k]
    available = set(out).union(*[set(s) for s, _ in others]) if others else set(out)
    target = "".join(c for c in unique if c in available)
    expr = ",".join([out] + [s for s, _ in others]) + "->" + target
    r = np.einsum(expr, g, *[o for _, o in others])
    for pos, c in enumerate(unique):
        if c not in available:  # summed within this operand only: every element gets the gradient
            r = np.expand_dims(r, pos)
    r = np.broadcast_to(r, tuple(sizes[c] for c in unique))
    if len(unique) < len(term):
        # Place the gradient on the diagonal of the repeated letters: each repeat is renamed and tied to
        # the first occurrence by an identity matrix.
        spare = (c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in spec)
        renamed, ties, seen = "", [], set()
        for c in term:
            if c in seen:
                fresh = next(spare)
                renamed += fresh
                ties.append((c + fresh, np.eye(sizes[c], dtype=_dtype_of(r))))
            else:
                seen.add(c)
                renamed += c
        r = np.einsum(",".join([unique] + [s for s, _ in ties]) + "->" + renamed, r, *[e for _, e in ties])
    return _match(r, operands[k])


_install("einsum", _einsum_rule)


def _swapT(x):
    return np.swapaxes(x, -1, -2)


defvjp("linalg.inv", lambda g, ans, x: -np.matmul(_swapT(ans), np.matmul(g, _swapT(ans))))
defvjp("linalg.det", lambda g, ans, x: np.expand_dims(np.expand_dims(g * ans, -1), -1)
       * _swapT(np.linalg.inv(x)))


_NUMPY2 = onp.lib.NumpyVersion(onp.__version__) >= "2.0.0"


def _solve_vectors(a, b):
    """Whether ``solve(a, b)`` takes ``b`` as (a stack of) vectors: in NumPy 2 only a 1-d ``b``; in NumPy 1 a
    ``b`` of one dimension less than ``a``. Otherwise ``b`` is a stack of matrices (batch dims broadcast)."""
    bn = len(_shape(b))
    return bn == 1 if _NUMPY2 else bn == len(_shape(a)) - 1


def _solve_adjoint(g, ans, a, b):
    """``solve(a^T, g)`` in the result's (broadcast) shape; vectors are solved as one-column matrices, which
    both NumPy versions read the same way."""
    if _solve_vectors(a, b):
        return np.squeeze(np.linalg.solve(_swapT(a), np.expand_dims(g, -1)), -1)
    return np.linalg.solve(_swapT(a), g)


def _solve_da(g, ans, a, b):
    gb = _solve_adjoint(g, ans, a, b)
    if _solve_vectors(a, b):
        return unbroadcast(-np.expand_dims(gb, -1) * np.expand_dims(ans, -2), a)
    return unbroadcast(-np.matmul(gb, _swapT(ans)), a)


def _solve_db(g, ans, a, b):
    return unbroadcast(_solve_adjoint(g, ans, a, b), b)


defvjp("linalg.solve", _solve_da, _solve_db)


def _cholesky_vjp(g, ans, x):
    # With L = cholesky(X): dX = L^-T Phi(L^T dL) L^-1, symmetrised; Phi takes the lower triangle with the
    # diagonal halved (Murray 2016, "Differentiation of the Cholesky decomposition").
    L = ans
    n = _shape(L)[-1]
    phi = np.tril(np.matmul(_swapT(L), g)) / (1.0 + np.eye(n))
    left = np.linalg.solve(_swapT(L), phi)
    s = _swapT(np.linalg.solve(_swapT(L), _swapT(left)))
    return 0.5 * (s + _swapT(s))


defvjp("linalg.cholesky", _cholesky_vjp)


def _norm_vjp(g, ans, x, ord=None, axis=None, keepdims=False):
    if 0 in _shape(x):  # NumPy 2 gives the norm of nothing (0.0 for ord=inf too): nothing to differentiate
        return _match(np.zeros(_shape(x)), x)
    nd = len(_shape(x))
    if axis is None:
        axes = tuple(range(nd))
        matrix = ord is not None and nd == 2
    else:
        axes = tuple(a % nd for a in ((axis,) if isinstance(axis, int) else axis))
        matrix = len(axes) == 2
    ge = _expand_reduced(g, x, axes, keepdims)
    ae = _expand_reduced(ans, x, axes, keepdims)
    if ord in (None, "fro") or (ord == 2 and not matrix):
        return _match(ge / ae * x, x)
    if matrix:
        if ord not in (1, -1, onp.inf, -onp.inf):
            raise AutogradError(f"minpy.numpy.linalg.norm: no gradient for the matrix norm ord={ord!r} (it "
                                "needs the singular value decomposition)")
        # 1/-1: the largest/smallest column sum of |x| (summed over the row axis); inf/-inf: row sums
        row, col = axes
        summed, other = (row, col) if ord in (1, -1) else (col, row)
        sums = np.sum(np.abs(x), axis=summed, keepdims=True)
        # compared with their own extreme, not with ``ans`` (summed elsewhere, maybe in another order)
        pick = np.max if ord > 0 else np.min
        hit = _float_mask(np.equal(sums, pick(sums, axis=other, keepdims=True)), x)
        hit = hit / np.sum(hit, axis=other, keepdims=True)  # ties share the gradient
        return _match(ge * np.sign(x) * hit, x)
    if ord == 0:  # the number of nonzero elements: piecewise constant
        return _match(ge * 0.0 * x, x)
    if ord in (onp.inf, -onp.inf):  # the largest/smallest |x|
        pick = np.max if ord > 0 else np.min
        hit = _float_mask(np.equal(np.abs(x), pick(np.abs(x), axis=axes, keepdims=True)), x)
        hit = hit / np.sum(hit, axis=axes, keepdims=True)
        return _match(ge * np.sign(x) * hit, x)
    p = float(ord)  # (sum |x|^p)^(1/p): sign(x) (|x| / norm)^(p-1)
    return _match(ge * np.sign(x) * np.power(np.abs(x) / ae, p - 1.0), x)


defvjp("linalg.norm", _norm_vjp)


# -- shape manipulation ------------------------------------------------------------------------------------------------
def _as_shape_of(g, x):
    return np.reshape(g, _shape(x))


def _read_order(x, order):
    """The index order in which reshape/ravel/flatten read ``x``: NumPy's 'A' and 'K' follow its layout."""
    if order == "F":
        return "F"
    if order in ("A", "K"):
        while isinstance(x, Tracer):
            x = x._value
        flags = x.flags if isinstance(x, Array) else onp.asarray(x).flags
        if flags.f_contiguous and not flags.c_contiguous:
            return "F"
    return "C"


def _reordering(order_position):
    """Rule of reshape-like operators with an ``order`` (positional after ``order_position`` others): the
    gradient is read back in the same index order."""
    def vjp(g, ans, x, *a, **k):
        order = k.get("order", a[order_position] if len(a) > order_position else "C")
        return np.reshape(g, _shape(x), order=_read_order(x, order))
    return vjp


for _n in ("squeeze", "expand_dims", "atleast_1d", "atleast_2d", "atleast_3d"):
    if _n in all_operators():
        defvjp(_n, lambda g, ans, x, *a, **k: _as_shape_of(g, x))
defvjp("reshape", _reordering(1))
defvjp("ravel", _reordering(0))
defvjp("flatten", _reordering(0))
defvjp("copy", lambda g, ans, x, *a, **k: g)


def _astype_vjp(g, ans, x, *a, **k):
    # A cast to integers or bool is piecewise constant: no gradient, whatever the input's dtype.
    if _dtype_of(x).kind not in "fc" or _dtype_of(ans).kind not in "fc":
        return _match(g * 0.0, x)
    return g.astype(_dtype_of(x))


defvjp("astype", _astype_vjp)


def _transpose_vjp(g, ans, x, axes=None):
    if axes is None:
        return np.transpose(g)
    return np.transpose(g, tuple(onp.argsort([a % len(_shape(x)) for a in axes])))


defvjp("transpose", _transpose_vjp)
defvjp("swapaxes", lambda g, ans, x, a1, a2: np.swapaxes(g, a1, a2))
defvjp("moveaxis", lambda g, ans, x, source, destination: np.moveaxis(g, destination, source))
defvjp("broadcast_to", lambda g, ans, x, shape, **k: unbroadcast(g, x))
defvjp("flip", lambda g, ans, x, axis=None: np.flip(g, axis))
defvjp("fliplr", lambda g, ans, x: np.fliplr(g))
defvjp("flipud", lambda g, ans, x: np.flipud(g))
def _triangle_vjp(name):
    def vjp(g, ans, x, k=0):
        masked = getattr(np, name)(g, k)
        # a 1-d input is broadcast to the rows of a square matrix first
        return np.sum(masked, axis=0) if len(_shape(x)) == 1 else masked
    return vjp


for _n in ("tril", "triu"):
    defvjp(_n, _triangle_vjp(_n))


def _roll_vjp(g, ans, x, shift, axis=None):
    neg = tuple(-s for s in shift) if isinstance(shift, (tuple, list)) else -shift
    return np.roll(g, neg, axis)


defvjp("roll", _roll_vjp)


def _concat_item(g, ans, j, seq, axis=0, **kw):
    if axis is None:
        sizes = [int(onp.prod(_shape(s))) for s in seq]
        start = sum(sizes[:j])
        return np.reshape(g[start:start + sizes[j]], _shape(seq[j]))
    ax = axis % g.ndim
    sizes = [_shape(s)[ax] for s in seq]
    start = sum(sizes[:j])
    return g[(slice(None),) * ax + (slice(start, start + sizes[j]),)]


defvjp_seq("concatenate", _concat_item)
defvjp_seq("stack", lambda g, ans, j, seq, axis=0, **kw: g[(slice(None),) * (axis % g.ndim) + (j,)])


def _joined(promote, axis_of):
    def item(g, ans, j, seq, *a, **kw):
        promoted = [promote(s) for s in seq]
        ax = axis_of(promoted)
        sizes = [p[ax] for p in promoted]
        start = sum(sizes[:j])
        piece = g[(slice(None),) * ax + (slice(start, start + sizes[j]),)]
        return np.reshape(piece, _shape(seq[j]))
    return item


def _shape_atleast(n):
    def promote(x):
        s = _shape(x)
        if len(s) >= n:
            return s
        if n == 2:
            return (1,) * (2 - len(s)) + s
        return {0: (1, 1, 1), 1: (1,) + s + (1,), 2: s + (1,)}[len(s)]
    return promote


defvjp_seq("vstack", _joined(_shape_atleast(2), lambda p: 0))
defvjp_seq("hstack", _joined(lambda x: _shape(x) or (1,), lambda p: 0 if len(p[0]) == 1 else 1))
defvjp_seq("dstack", _joined(_shape_atleast(3), lambda p: 2))
defvjp_seq("column_stack", _joined(lambda x: {0: (1, 1), 1: _shape(x) + (1,)}.get(len(_shape(x)), _shape(x)),
                                   lambda p: 1))


def _pad_vjp(g, ans, x, pad_width, mode="constant", **kw):
    if mode != "constant":
        raise AutogradError(f"minpy.numpy.pad: gradient implemented for mode='constant', not {mode!r}")
    nd = len(_shape(x))
    widths = onp.broadcast_to(onp.asarray(pad_width, dtype=int).reshape(-1, 2) if onp.ndim(pad_width) else
                              onp.full((1, 2), int(pad_width)), (nd, 2))
    return g[tuple(slice(int(lo), int(lo) + n) for (lo, _), n in zip(widths, _shape(x)))]


defvjp("pad", _pad_vjp)


def _tile_vjp(g, ans, x, reps):
    xs = _shape(x)
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    d = max(len(xs), len(reps))
    xs_p = (1,) * (d - len(xs)) + tuple(xs)
    reps_p = (1,) * (d - len(reps)) + reps
    inter = []
    for r, s in zip(reps_p, xs_p):
        inter += [r, s]
    summed = np.sum(np.reshape(g, tuple(inter)), axis=tuple(range(0, 2 * d, 2)))
    return np.reshape(summed, xs)


defvjp("tile", _tile_vjp)


def _repeat_vjp(g, ans, x, repeats, axis=None):
    if not isinstance(repeats, int):
        if onp.size(repeats) == 1:
            repeats = int(onp.asarray(repeats).reshape(()))
        else:
            raise AutogradError("minpy.numpy.repeat: gradient implemented for one repeat count, not per element")
    xs = _shape(x)
    if axis is None or not xs:  # NumPy repeats a 0-d array as a 1-d one, whatever the axis
        return np.reshape(np.sum(np.reshape(g, (int(onp.prod(xs)), repeats)), axis=1), xs)
    ax = axis % len(xs)
    shape = xs[:ax] + (xs[ax], repeats) + xs[ax + 1:]
    return np.sum(np.reshape(g, shape), axis=ax + 1)


defvjp("repeat", _repeat_vjp)


def _diag_positions(length, k):
    idx = onp.arange(length)
    return idx + max(-k, 0), idx + max(k, 0)


def _diag_vjp(g, ans, v, k=0):
    vs = _shape(v)
    if len(vs) == 1:
        return np.diagonal(g, k)
    rows, cols = _diag_positions(_shape(g)[0], k)
    return functional_setitem(np.zeros(vs, dtype=_dtype_of(g)), (np.array(rows), np.array(cols)), g)


defvjp("diag", _diag_vjp)


def _diagonal_scatter(gdiag, x, offset, axis1, axis2):
    xs = _shape(x)
    nd = len(xs)
    a1, a2 = axis1 % nd, axis2 % nd
    rest = [i for i in range(nd) if i not in (a1, a2)]
    moved_shape = tuple(xs[i] for i in rest) + (xs[a1], xs[a2])
    rows, cols = _diag_positions(_shape(gdiag)[-1], offset)
    full = functional_setitem(np.zeros(moved_shape, dtype=_dtype_of(gdiag)),
                              (Ellipsis, np.array(rows), np.array(cols)), gdiag)
    return np.moveaxis(full, (nd - 2, nd - 1), (a1, a2))


defvjp("diagonal", lambda g, ans, x, offset=0, axis1=0, axis2=1: _diagonal_scatter(g, x, offset, axis1, axis2))


def _trace_vjp(g, ans, x, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    length = _shape(np.diagonal(np.zeros(_shape(x)), offset, axis1, axis2))[-1]
    gd = np.broadcast_to(np.expand_dims(g, -1), _shape(g) + (length,))
    return _diagonal_scatter(gd, x, offset, axis1, axis2)


defvjp("trace", _trace_vjp)


def _where_x(g, ans, cond, x=None, y=None):
    return _match(unbroadcast(np.where(cond, g, np.zeros_like(g)), x), x)


def _where_y(g, ans, cond, x=None, y=None):
    return _match(unbroadcast(np.where(cond, np.zeros_like(g), g), y), y)


defvjp("where", None, _where_x, _where_y)


def _clip_x(g, ans, x, a_min=None, a_max=None, **kw):
    keep = np.ones(_shape(x), dtype=bool)
    if a_min is not None:
        keep = np.logical_and(keep, np.greater_equal(x, a_min))
    if a_max is not None:
        keep = np.logical_and(keep, np.less_equal(x, a_max))
    return _match(unbroadcast(g * _float_mask(keep, g), x), x)


def _clip_bound(lower):
    def vjp(g, ans, x, a_min=None, a_max=None, **kw):
        # clip(x) = minimum(maximum(x, a_min), a_max): the result is a_max where x > a_max or a_min > a_max,
        # and a_min where x < a_min <= a_max.
        if lower:
            bound = a_min
            hit = np.less(x, a_min)
            if a_max is not None:
                hit = np.logical_and(hit, np.less_equal(a_min, a_max))
        else:
            bound = a_max
            hit = np.greater(x, a_max)
            if a_min is not None:
                hit = np.logical_or(hit, np.greater(a_min, a_max))
        return _match(unbroadcast(g * _float_mask(hit, g), bound), bound)
    return vjp


defvjp("clip", _clip_x, _clip_bound(True), _clip_bound(False), a_min=_clip_bound(True), a_max=_clip_bound(False))


def _take_vjp(g, ans, a, indices, axis=None, **kw):
    shape = _shape(a)
    if axis is None:
        flat = scatter_add((int(onp.prod(shape)),), _dtype_of(g), indices, g)  # g has the indices' shape
        return np.reshape(flat, shape)
    ax = axis % len(shape)
    key = (slice(None),) * ax + (indices,)
    return scatter_add(shape, _dtype_of(g), key, g)


defvjp("take", _take_vjp)


def _sort_vjp(g, ans, x, axis=-1, kind=None, order=None):
    if axis is None:
        idx = np.argsort(np.ravel(x), kind="stable")
        return np.reshape(scatter_add((int(onp.prod(_shape(x))),), _dtype_of(g), idx, g), _shape(x))
    idx = np.argsort(x, axis=axis, kind="stable")
    ax = axis % len(_shape(x))
    grids = onp.ogrid[tuple(slice(0, n) for n in _shape(x))]
    key = tuple(idx if i == ax else np.array(grids[i]) for i in range(len(_shape(x))))
    return scatter_add(_shape(x), _dtype_of(g), key, g)


defvjp("sort", _sort_vjp)
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


def _getitem_vjp(g, ans, x, key):
    if type(g) is Array and basic_keys(key) is not None:
        return SliceGrad(_shape(x), _dtype_of(g), key, g)
    return scatter_add(_shape(x), _dtype_of(g), key, g)


defvjp("getitem", _getitem_vjp)


def check_rules_cover_table():
    """Names of operators the table declares differentiable that have no rule (should be empty)."""
    missing = []
    for name, op in all_operators().items():
        if op.differentiable and rule_for_safe(op) is None:
            missing.append(name)
    return sorted(missing)


def rule_for_safe(op):
    try:
        rule = rule_for(op)
    except AutogradError:
        return None
    return None if isinstance(rule, _CheckOutput) else rule


_tracer_module._PRIMITIVES[0] = sys.modules[__name__]  # the tracer finds the rules here (see tracer._PRIMITIVES)

__all__ = ["defvjp", "defvjp_seq", "primitive", "Primitive", "unbroadcast", "check_rules_cover_table",
           "get_operator"]
