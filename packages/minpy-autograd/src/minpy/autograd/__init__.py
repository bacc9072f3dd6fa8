"""minpy.autograd: reverse-mode automatic differentiation of any Python function of ``minpy.numpy`` arrays.

The dataflow graph is recorded while the function runs, so ``if``/``for``/``while``, recursion and closures
all work. Built on minpy-array's public extension point (``minpy.extend``); outside a gradient call it costs
operators nothing.

    from minpy.autograd import grad
    import minpy.numpy as np

    def foo(x):
        if x >= 0:
            return x
        else:
            return 2 * x
    grad(foo)(3)    # 1.0
    grad(foo)(-1)   # 2.0
"""
from minpy.autograd.differential import (elementwise_grad, grad, grad_and_loss, hessian, jacobian, stop_gradient,
                                         value_and_grad, vjp)
from minpy.autograd.custom import customop
from minpy.autograd.gradcheck import check_grads
from minpy.autograd.primitives import Primitive, defvjp, defvjp_seq, primitive
from minpy.autograd.tracer import AutogradError, Tracer

__all__ = ["grad", "value_and_grad", "grad_and_loss", "vjp", "elementwise_grad", "jacobian", "hessian",
           "stop_gradient", "check_grads", "defvjp", "defvjp_seq", "primitive", "Primitive", "AutogradError",
           "Tracer", "customop"]
