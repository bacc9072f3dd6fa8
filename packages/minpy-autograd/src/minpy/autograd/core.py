"""HIPS autograd's ``autograd.core`` names, for code that imports them from there: ``make_vjp(fun, x)`` and
``make_jvp(fun, x)`` for a function of one argument, the rule tables (``primitive_vjps``, ``primitive_jvps``)
and the functions that fill them, ``vspace``/``VSpace``, ``SparseObject``, and the node types of the two
modes (``VJPNode`` for reverse traces, ``JVPNode`` for forward ones)."""
from minpy.autograd.backward import SparseObject
from minpy.autograd.differential_operators import make_jvp as _make_jvp, make_vjp as _make_vjp
from minpy.autograd.primitive import primitive
from minpy.autograd.registry import (def_linear, defjvp, defjvp_argnum, defjvp_argnums, defvjp, defvjp_argnum,
                                     defvjp_argnums, primitive_jvps, primitive_vjps)
from minpy.autograd.tracer import Node as VJPNode
from minpy.autograd.tracer import Tangent as JVPNode
from minpy.autograd.vspace import VSpace, vspace


def make_vjp(fun, x):
    """``(vjp, ans)`` for a function of one argument ``x``."""
    return _make_vjp(fun)(x)


def make_jvp(fun, x):
    """``jvp`` for a function of one argument ``x``: ``jvp(v)`` is ``(ans, tangent)``."""
    return _make_jvp(fun)(x)


__all__ = ["make_vjp", "make_jvp", "VJPNode", "JVPNode", "primitive", "primitive_vjps",
           "primitive_jvps", "defvjp", "defvjp_argnum", "defvjp_argnums", "defjvp", "defjvp_argnum",
           "defjvp_argnums", "def_linear", "vspace", "VSpace", "SparseObject"]
