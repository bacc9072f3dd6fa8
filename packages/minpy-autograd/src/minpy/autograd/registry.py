"""The rule tables: which vector-Jacobian product (reverse mode) and Jacobian-vector product (forward mode)
each operator has, and the functions that fill them (``defvjp``, ``defjvp``, ``def_linear`` and the rest of
HIPS autograd's extension API).

This module is machinery only: it knows no rule (those live in :mod:`minpy.autograd.rules`, one module per
family of operators) and imports nothing of minpy.autograd but the errors, so every other module may use it.

The internal form of a rule, used by the tracer and the backward pass:

* VJP: ``rule(argpos, g, ans, args, kwargs)`` returns the gradient for the argument at ``argpos`` (an int; a
  keyword name; or ``(i, j)`` for item ``j`` of a sequence argument ``i``) from the gradient ``g`` of the
  result ``ans``;
* JVP: ``jrule(argpos, t, ans, args, kwargs)`` returns the result's tangent due to the tangent ``t`` of the
  argument at ``argpos`` (the tracer sums them over the traced arguments).

Keys: a ``minpy.numpy`` operator is keyed by its name (``"exp"``, ``"linalg.inv"``); NumPy's aliases
(``abs``/``absolute``) find the rule through the NumPy function they share. A primitive (anything the tracer
records that is not a table operator) carries its own rules as attributes ``rule`` and ``jrule``.
"""
from itertools import count

import numpy as onp

import minpy.numpy as np
from minpy.autograd.errors import AutogradError, NoRuleError
from minpy.ops.operator import Operator, all_operators, get_operator
from minpy.stats import public_name

VJPS = {}            # operator name -> VJP rule
JVPS = {}            # operator name -> JVP rule
_VJP_BY_REF = {}     # id(NumPy function) -> VJP rule, so NumPy's aliases (abs, round_...) find their rule
_JVP_BY_REF = {}
SETITEM = object()   # marker rule: a write into an untraced array (the tracer refuses it)
#: operators that write into their first argument (``ufunc.at``) -> ``fn(op, args, kwargs)``, run instead of the
#: operator when a traced value reaches it (:mod:`minpy.autograd.rules.ufunc_methods` fills it in)
IN_PLACE = {}

#: operator name -> ({traced argument position: positions its rule reads}, whether rules read the result).
#: The tape keeps only those values (the rest as shapes and dtypes, see tracer.Meta), so that memory during a
#: traced computation stays near what hand-written backprop keeps. Operators not listed keep everything.
READS = {}


#: table prefix -> ``loader(op_name)``: declares the rules of operators registered after minpy.autograd was
#: imported (``minpy.scipy``'s modules register theirs when first imported; their family of rules is then
#: installed on the first lookup of one of them).
LOADERS = {}
_LOOKED_UP = set()


def _load_late(op):
    """Run the loader of ``op``'s table once for it; True when it ran."""
    loader = LOADERS.get(op.name.partition(".")[0]) if "." in op.name else None
    if loader is None or op.name in _LOOKED_UP:
        return False
    _LOOKED_UP.add(op.name)
    loader(op.name)
    return True


def reads(names, positions, ans):
    """Declare what the VJP rules of ``names`` read (see :data:`READS`)."""
    for name in names:
        READS[name] = (positions, ans)


# -- lookup ---------------------------------------------------------------------------------------------------
def rule_for(op):
    """The VJP rule of ``op``; None when its results carry no gradient (non-differentiable operators,
    information, random numbers, creation); :data:`SETITEM` for a write; an :class:`CheckOutput` for an
    operator of unknown differentiability."""
    if type(op) is not Operator:
        return op.rule  # primitives and other recorded callables carry their own rule
    rule = VJPS.get(op.name)
    if rule is not None:
        return rule
    if op.name == "setitem":
        return SETITEM
    rule = _VJP_BY_REF.get(id(op.ref))
    if rule is not None:
        VJPS[op.name] = rule
        return rule
    if _load_late(op):
        return rule_for(op)
    if op.differentiable is False or op.kind in ("info", "random", "creation") or not op.wrap_result:
        return None
    if op.differentiable:
        raise AutogradError(f"{public_name(op.name)} is declared differentiable but has no VJP rule "
                            "(a bug in minpy-autograd)")
    return CheckOutput(op)


def jvp_for(op):
    """The JVP rule of ``op``, or None when it has none of its own (the forward tracer then derives one from
    the VJP rule)."""
    if type(op) is not Operator:
        return getattr(op, "jrule", None)
    rule = JVPS.get(op.name)
    if rule is None:
        rule = _JVP_BY_REF.get(id(op.ref))
        if rule is not None:
            JVPS[op.name] = rule
        elif _load_late(op):
            return jvp_for(op)
    return rule


class CheckOutput:
    """For operators of unknown differentiability: fine when the result holds no floats, else an error."""

    def __init__(self, op):
        self.op = op

    def __call__(self, argpos, g, ans, args, kwargs):  # never reached: the tracer checks first
        raise self.error()

    def error(self):
        return NoRuleError(
            f"{public_name(self.op.name)} has no gradient rule, and a traced value reached it. Give it one "
            f"with minpy.autograd.defvjp('{self.op.name}', ...), or compute it outside the gradient "
            "(minpy.autograd.stop_gradient)")

    def message(self):
        return str(self.error())


def check_rules_cover_table():
    """Names of operators the table declares differentiable that have no VJP rule (should be empty)."""
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
    return None if isinstance(rule, CheckOutput) else rule


# -- keys -----------------------------------------------------------------------------------------------------
def _operator_of(fun):
    """The table operator ``fun`` names (a name, an Operator or a ``minpy.numpy`` function), else None."""
    if isinstance(fun, str):
        try:
            return get_operator(fun)
        except KeyError:
            raise KeyError(f"minpy.numpy has no operator {fun!r}") from None
    if type(fun) is Operator:
        return fun
    op = getattr(fun, "op", None)
    return op if type(op) is Operator else None


def install_vjp(fun, rule):
    """Make ``rule`` (internal form) the VJP of ``fun`` (an operator name, a ``minpy.numpy`` function or a
    primitive)."""
    op = _operator_of(fun)
    if op is None:
        _carrier(fun).rule = rule
        return rule
    VJPS[op.name] = rule
    if op.ref is not None:
        _VJP_BY_REF[id(op.ref)] = rule
    return rule


def install_jvp(fun, rule):
    """Make ``rule`` (internal form) the JVP of ``fun``."""
    op = _operator_of(fun)
    if op is None:
        _carrier(fun).jrule = rule
        return rule
    JVPS[op.name] = rule
    if op.ref is not None:
        _JVP_BY_REF[id(op.ref)] = rule
    return rule


def _carrier(fun):
    if not hasattr(fun, "rule"):
        raise TypeError(f"{fun!r} is neither a minpy.numpy operator nor a primitive: wrap the function with "
                        "minpy.autograd.primitive before giving it derivative rules")
    return fun


def _name(fun):
    op = _operator_of(fun)
    return f"{public_name(op.name)}" if op is not None else getattr(fun, "name", getattr(fun, "__name__", fun))


def _invoke(fun):
    """A function calling ``fun`` as the user does (through the tracer): for JVPs of linear operators."""
    op = _operator_of(fun)
    return op.public if op is not None else fun


# -- the minpy form: rules with the gradient first -------------------------------------------------------------------
_SEQ_MESSAGE = ("{name} got a list or tuple holding traced values as argument {arg}; pass one array instead "
                "(np.stack([...]) or np.array([...]))")


def per_argument(name, fns, kw_fns, kind="gradient"):
    """The internal rule built from one function ``f(g, ans, *args, **kwargs)`` per positional argument (None:
    no derivative for that one) and keyword-argument functions by name."""
    def rule(argpos, g, ans, args, kwargs):
        if type(argpos) is tuple:  # traced items of a list argument: only sequence rules take those
            raise AutogradError(_SEQ_MESSAGE.format(name=name, arg=argpos[0]))
        fn = kw_fns.get(argpos) if type(argpos) is str else (fns[argpos] if argpos < len(fns) else None)
        if fn is None:
            raise NoRuleError(f"{name}: no {kind} with respect to argument {argpos!r}")
        return fn(g, ans, *args, **(kwargs or {}))
    return rule


def defvjp(fun, *vjps, argnums=None, **kw_vjps):
    """Give ``fun`` its vector-Jacobian products.

    Two forms, told apart by ``fun``:

    * MinPy's, ``fun`` an operator *name* (``defvjp("exp", f)``): one function ``f(g, ans, *args, **kwargs)``
      per positional argument returning the gradient for it (None where there is none), and keyword-argument
      functions by name (``a_min=f``);
    * HIPS autograd's, ``fun`` a ``minpy.numpy`` function or a :func:`~minpy.autograd.primitive`: one maker
      ``m(ans, *args, **kwargs)`` per argument that returns ``g -> gradient``; ``argnums`` says which
      arguments they are for (default 0, 1, ...); None gives that argument a zero gradient.
    """
    if isinstance(fun, str):
        if argnums is not None:
            raise TypeError("defvjp(name, ...) takes one function per argument in order; argnums= belongs to "
                            "the HIPS form defvjp(function, ...)")
        return install_vjp(fun, per_argument(_name(fun), vjps, kw_vjps))
    if kw_vjps:
        raise TypeError(f"unexpected keyword arguments {sorted(kw_vjps)} for defvjp of {_name(fun)}")
    makers = dict(zip(count() if argnums is None else argnums, vjps))
    name = _name(fun)

    def rule(argpos, g, ans, args, kwargs):
        if argpos not in makers:
            raise NoRuleError(f"VJP of {name} with respect to argument {argpos!r} is not defined")
        maker = makers[argpos]
        if maker is None:
            return _zeros_like(args[argpos])
        return maker(ans, *args, **(kwargs or {}))(g)
    return install_vjp(fun, rule)


def defvjp_argnum(fun, maker):
    """HIPS form: ``maker(argnum, ans, args, kwargs)`` returns ``g -> gradient`` for any argument."""
    def rule(argpos, g, ans, args, kwargs):
        return maker(argpos, ans, args, kwargs or {})(g)
    return install_vjp(fun, rule)


def defvjp_argnums(fun, maker):
    """HIPS form: ``maker(argnums, ans, args, kwargs)`` returns ``g -> gradients`` (one per argnum)."""
    def rule(argpos, g, ans, args, kwargs):
        return tuple(maker((argpos,), ans, args, kwargs or {})(g))[0]
    return install_vjp(fun, rule)


def defjvp(fun, *jvps, argnums=None, **kw_jvps):
    """Give ``fun`` its Jacobian-vector products: one function ``f(t, ans, *args, **kwargs)`` per argument
    returning the result's tangent due to that argument's tangent ``t`` (both forms of :func:`defvjp` use this
    signature); ``"same"`` for an argument the function is linear in (the tangent is ``fun`` applied to ``t``
    in that argument's place); None for an argument with no effect (zero tangent). ``argnums`` says which
    arguments they are for (default 0, 1, ...); keyword-argument functions by name."""
    entries = dict(zip(count() if argnums is None else argnums, jvps))
    entries.update(kw_jvps)
    name = _name(fun)
    call = _invoke(fun)

    def rule(argpos, t, ans, args, kwargs):
        if argpos not in entries:
            raise NoRuleError(f"JVP of {name} with respect to argument {argpos!r} is not defined")
        fn = entries[argpos]
        if fn is None:
            return None
        if isinstance(fn, str):
            if fn != "same":
                raise ValueError(f"defjvp: unknown JVP {fn!r} for {name} (a function, 'same' or None)")
            return call_with(call, argpos, t, args, kwargs)
        return fn(t, ans, *args, **(kwargs or {}))
    return install_jvp(fun, rule)


def defjvp_argnum(fun, jvp):
    """HIPS form: ``jvp(argnum, t, ans, args, kwargs)`` for any argument."""
    def rule(argpos, t, ans, args, kwargs):
        return jvp(argpos, t, ans, args, kwargs or {})
    return install_jvp(fun, rule)


def defjvp_argnums(fun, jvp):
    """HIPS form: ``jvp(argnums, ts, ans, args, kwargs)`` gives the tangent due to the arguments ``argnums``
    with tangents ``ts`` together."""
    def rule(argpos, t, ans, args, kwargs):
        return jvp((argpos,), (t,), ans, args, kwargs or {})
    return install_jvp(fun, rule)


def def_linear(fun):
    """Declare ``fun`` linear in each argument separately (multilinear: ``multiply``, ``dot``, ``einsum``):
    its tangent due to an argument is ``fun`` applied with that argument's tangent in its place."""
    call = _invoke(fun)
    return install_jvp(fun, lambda argpos, t, ans, args, kwargs: call_with(call, argpos, t, args, kwargs))


def call_with(call, argpos, t, args, kwargs):
    """``call(*args, **kwargs)`` with the argument at ``argpos`` replaced by ``t``; for an item of a sequence
    argument the other items become zeros (the function is linear in the sequence as a whole)."""
    kwargs = dict(kwargs or {})
    if type(argpos) is str:
        kwargs[argpos] = t
        return call(*args, **kwargs)
    args = list(args)
    if type(argpos) is tuple:
        i, j = argpos
        args[i] = type(args[i])(t if k == j else _zeros_like(x) for k, x in enumerate(args[i]))
    else:
        args[argpos] = t
    return call(*args, **kwargs)


def _zeros_like(x):
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        dtype = onp.asarray(x).dtype
    if dtype.kind not in "fc":
        dtype = onp.dtype(onp.float64)
    return np.zeros(onp.shape(x) if not hasattr(x, "shape") else tuple(x.shape), dtype=dtype)


class _RuleView:
    """HIPS autograd's ``primitive_vjps``/``primitive_jvps`` (``autograd.core``), a mapping from primitive
    functions to their rules, as a view of these tables: ``pop``, ``get``, ``in`` and item assignment take the
    ``minpy.numpy`` function (or a primitive) and move the internal rule."""

    def __init__(self, forward):
        self.forward = forward

    def _where(self, fun):
        op = _operator_of(fun)
        if op is None:
            return _carrier(fun), "jrule" if self.forward else "rule"
        return (JVPS if self.forward else VJPS), op.name

    def get(self, fun, default=None):
        where, key = self._where(fun)
        value = where.get(key) if isinstance(where, dict) else getattr(where, key, None)
        return default if value is None else value

    def __getitem__(self, fun):
        value = self.get(fun)
        if value is None:
            raise KeyError(fun)
        return value

    def __contains__(self, fun):
        return self.get(fun) is not None

    def __setitem__(self, fun, rule):
        (install_jvp if self.forward else install_vjp)(fun, rule)

    def pop(self, fun, *default):
        where, key = self._where(fun)
        if isinstance(where, dict):
            value = where.pop(key, None)
            op = _operator_of(fun)
            (_JVP_BY_REF if self.forward else _VJP_BY_REF).pop(id(op.ref), None)
        else:
            value = getattr(where, key, None)
            setattr(where, key, None)
        if value is None:
            if default:
                return default[0]
            raise KeyError(fun)
        return value


primitive_vjps = _RuleView(forward=False)
primitive_jvps = _RuleView(forward=True)

__all__ = ["VJPS", "JVPS", "READS", "SETITEM", "reads", "rule_for", "jvp_for", "check_rules_cover_table",
           "defvjp", "defvjp_argnum", "defvjp_argnums", "defjvp", "defjvp_argnum", "defjvp_argnums",
           "def_linear", "install_vjp", "install_jvp", "primitive_vjps", "primitive_jvps"]
