"""HIPS autograd's ``autograd.extend``: what a library needs to give its own functions derivatives.

``primitive`` wraps a function; ``defvjp``/``defjvp`` (and the ``_argnum``/``_argnums`` forms, ``def_linear``)
give it rules; ``vspace``/``VSpace`` describe values; ``Box`` is the class of traced values (MinPy's
:class:`~minpy.autograd.tracer.Tracer`); ``notrace_primitive`` wraps a function whose result carries no
derivative; ``SparseObject`` is a gradient given as an in-place addition."""
from minpy.autograd.backward import SparseObject
from minpy.autograd.primitive import getval, isbox, notrace_primitive, primitive
from minpy.autograd.registry import (def_linear, defjvp, defjvp_argnum, defjvp_argnums, defvjp, defvjp_argnum,
                                     defvjp_argnums)
from minpy.autograd.tracer import Tracer as Box
from minpy.autograd.vspace import VSpace, vspace

__all__ = ["Box", "primitive", "notrace_primitive", "defvjp", "defvjp_argnum", "defvjp_argnums", "defjvp",
           "defjvp_argnum", "defjvp_argnums", "def_linear", "vspace", "VSpace", "SparseObject", "getval", "isbox"]
