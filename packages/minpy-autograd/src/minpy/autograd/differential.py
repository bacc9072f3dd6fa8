"""Old home of the differential operators (kept so that ``minpy.autograd.differential`` imports keep working):
see :mod:`minpy.autograd.differential_operators` and, for the backward pass, :mod:`minpy.autograd.backward`."""
from minpy.autograd.backward import backward  # noqa: F401
from minpy.autograd.differential_operators import (deriv, elementwise_grad, grad, grad_and_loss,  # noqa: F401
                                                   hessian, jacobian, make_jvp, make_vjp, stop_gradient,
                                                   value_and_grad, vjp)
