"""MinPy 0.3's gradient checker: the gradient of a function along one random direction.

    import minpy.utils.gradient_checker as gradient_checker
    assert gradient_checker.quick_grad_check(lambda x: np.sum(np.tanh(x)), numpy.random.randn(10, 5))

For a full check of every argument and direction, use :func:`minpy.autograd.check_grads`.
"""
import numpy as onp

from minpy.array import Array
from minpy.autograd import grad


def _scalar(value):
    if isinstance(value, Array):
        value = value.asnumpy()
    return float(onp.asarray(value, dtype=onp.float64).reshape(()))


def quick_grad_check(fun, arg, verbose=True, eps=1e-2, rtol=1e-2, atol=1e-2, rs=None):
    """Compare the gradient of ``fun`` (scalar-valued) with respect to ``arg`` against a central finite
    difference, along one random unit direction.

    ``eps`` is the width of the difference, ``rtol`` / ``atol`` the tolerances, ``rs`` a
    ``numpy.random.RandomState`` for the direction. Returns whether the two agree; with ``verbose`` the two
    numbers are printed.
    """
    if rs is None:
        rs = onp.random.RandomState()
    point = arg.asnumpy() if isinstance(arg, Array) else onp.asarray(arg, dtype=onp.float64)
    direction = rs.standard_normal(point.shape)
    direction = direction / onp.sqrt(onp.sum(direction * direction))

    def along(t):
        return _scalar(fun(Array(point + t * direction)))

    numeric = (along(eps / 2) - along(-eps / 2)) / eps
    gradient = grad(fun)(Array(point))
    analytic = float(onp.sum(onp.asarray(gradient.asnumpy() if isinstance(gradient, Array) else gradient)
                             * direction))
    passed = bool(onp.allclose(numeric, analytic, rtol=rtol, atol=atol))
    if verbose:
        if passed:
            print(f"Gradient projection OK (numeric grad: {numeric}, analytic grad: {analytic})")
        else:
            print(f"Check failed! numeric={numeric}, analytic={analytic}")
    return passed


__all__ = ["quick_grad_check"]
