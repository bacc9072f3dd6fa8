"""minpy.autograd: automatic differentiation of any Python function of ``minpy.numpy`` arrays, in reverse and
forward mode, to any order, with HIPS autograd's API.

The dataflow graph is recorded while the function runs, so ``if``/``for``/``while``, recursion and closures
all work. Built on minpy-array's public extension point (``minpy.extend``); outside a differentiation call it
costs operators nothing. A program written for HIPS autograd runs after renaming its imports
(``autograd`` -> ``minpy.autograd``, ``autograd.numpy`` -> ``minpy.numpy``).

    from minpy.autograd import grad
    import minpy.numpy as np

    def foo(x):
        if x >= 0:
            return x
        else:
            return 2 * x
    grad(foo)(3)    # 1.0
    grad(foo)(-1)   # 2.0

Layout: the machinery (:mod:`.tracer`, :mod:`.registry`, :mod:`.primitive`, :mod:`.backward`,
:mod:`.forward`, :mod:`.vspace`) apart from the rules (:mod:`.rules`, one module per family of operators).
"""
from minpy.autograd import rules  # noqa: F401  (installs the derivative rules)
from minpy.autograd.custom import customop
from minpy.autograd.differential_operators import (checkpoint, deriv, elementwise_grad, grad, grad_and_aux,
                                                   grad_and_loss, grad_named, hessian, hessian_tensor_product,
                                                   hessian_vector_product, holomorphic_grad, jacobian, make_ggnvp,
                                                   make_hvp, make_jvp, make_vjp, multigrad_dict, stop_gradient,
                                                   tensor_jacobian_product, value_and_grad,
                                                   vector_jacobian_product, vjp)
from minpy.autograd.errors import AutogradError, NoRuleError
from minpy.autograd.gradcheck import check_grads
from minpy.autograd.primitive import Primitive, notrace_primitive, primitive
from minpy.autograd.registry import (def_linear, defjvp, defjvp_argnum, defjvp_argnums, defvjp, defvjp_argnum,
                                     defvjp_argnums)
from minpy.autograd.rules._util import vjp_items as defvjp_seq
from minpy.autograd.tracer import Tracer
from minpy.autograd.vspace import vspace
from minpy.autograd.builtins import dict, isinstance, list, tuple, type  # noqa: A001  (HIPS autograd's names)

__all__ = ["grad", "value_and_grad", "grad_and_aux", "grad_and_loss", "vjp", "make_vjp", "make_jvp", "deriv",
           "elementwise_grad", "jacobian", "hessian", "holomorphic_grad", "grad_named", "multigrad_dict",
           "make_hvp", "hessian_tensor_product", "hessian_vector_product", "tensor_jacobian_product",
           "vector_jacobian_product", "make_ggnvp", "checkpoint", "stop_gradient", "check_grads", "primitive",
           "notrace_primitive", "Primitive", "defvjp", "defvjp_argnum", "defvjp_argnums", "defjvp",
           "defjvp_argnum", "defjvp_argnums", "def_linear", "defvjp_seq", "vspace", "AutogradError",
           "NoRuleError", "Tracer", "customop"]
# (``tuple``, ``list``, ``dict``, ``isinstance`` and ``type`` are importable by name, as from HIPS autograd, but
# left out of ``__all__`` so that ``from minpy.autograd import *`` does not shadow the builtins)
