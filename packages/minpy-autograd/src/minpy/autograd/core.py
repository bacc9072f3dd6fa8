"""HIPS autograd's ``autograd.core`` names, for code that imports them from there: ``make_vjp(fun, x)`` and
``make_jvp(fun, x)`` for a function of one argument, the rule tables (``primitive_vjps``, ``primitive_jvps``)
and the functions that fill them, ``vspace``/``VSpace``, ``SparseObject``, and the node types of the two
modes (``VJPNode`` for reverse traces, ``JVPNode`` for forward ones).

``core.primitive`` is HIPS autograd's too: its primitives also take the rule forms HIPS autograd deprecated
(``f.defgrad(maker, argnum)``, ``f.defvjp(vjp, argnum)`` with ``vjp(g, ans, vs, gvs, *args)``,
``f.defvjp_is_zero(argnums)``), with a ``DeprecationWarning`` each, as there. (``minpy.autograd.primitive`` is
MinPy's: its ``.defvjp`` takes one rule per argument, the gradient first.)"""
import warnings

from minpy.autograd.backward import SparseObject
from minpy.autograd.differential_operators import make_jvp as _make_jvp, make_vjp as _make_vjp
from minpy.autograd.primitive import primitive as _primitive
from minpy.autograd.registry import (def_linear, defjvp, defjvp_argnum, defjvp_argnums, defvjp, defvjp_argnum,
                                     defvjp_argnums, primitive_jvps, primitive_vjps)
from minpy.autograd.tracer import Node as VJPNode
from minpy.autograd.tracer import Tangent as JVPNode
from minpy.autograd.vspace import VSpace, vspace


def _deprecated(method):
    warnings.warn(f"the primitive method {method} is deprecated (as in HIPS autograd); use "
                  "minpy.autograd.extend.defvjp(fun, *vjp_makers, argnums=...)", DeprecationWarning, stacklevel=3)


def primitive(f_raw):
    """``minpy.autograd.primitive(f_raw)``, with HIPS autograd's deprecated rule methods: ``defgrad(maker,
    argnum=0)`` (``maker(ans, *args)`` returns ``g -> gradient``), ``defvjp(vjp, argnum=0)`` (``vjp(g, ans, vs,
    gvs, *args)``, ``vs``/``gvs`` the spaces of the argument and of ``g``) and ``defvjp_is_zero(argnums=(0,))``.
    Rules given by these methods accumulate: each call adds or replaces the rule of one argument."""
    fun = _primitive(f_raw)
    makers = {}  # argnum -> maker(ans, *args, **kwargs) returning g -> gradient (None: zero)

    def install():
        argnums = sorted(makers)
        defvjp(fun, *[makers[i] for i in argnums], argnums=argnums)

    def defgrad(maker, argnum=0):
        _deprecated("defgrad")
        makers[argnum] = maker
        install()

    def defvjp_old(vjp, argnum=0):
        _deprecated("defvjp")

        def maker(ans, *args, **kwargs):
            return lambda g: vjp(g, ans, vspace(args[argnum]), vspace(g), *args, **kwargs)
        makers[argnum] = maker
        install()

    def defvjp_is_zero(argnums=(0,)):
        _deprecated("defvjp_is_zero")
        for i in argnums:
            makers[i] = None
        install()

    fun.defgrad, fun.defvjp, fun.defvjp_is_zero = defgrad, defvjp_old, defvjp_is_zero
    return fun


def make_vjp(fun, x):
    """``(vjp, ans)`` for a function of one argument ``x``."""
    return _make_vjp(fun)(x)


def make_jvp(fun, x):
    """``jvp`` for a function of one argument ``x``: ``jvp(v)`` is ``(ans, tangent)``."""
    return _make_jvp(fun)(x)


__all__ = ["make_vjp", "make_jvp", "VJPNode", "JVPNode", "primitive", "primitive_vjps",
           "primitive_jvps", "defvjp", "defvjp_argnum", "defvjp_argnums", "defjvp", "defjvp_argnum",
           "defjvp_argnums", "def_linear", "vspace", "VSpace", "SparseObject"]
