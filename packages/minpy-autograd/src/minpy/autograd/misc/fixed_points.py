"""Fixed points with gradients (HIPS autograd's ``autograd.misc.fixed_points``)."""
from minpy.autograd.differential_operators import make_vjp
from minpy.autograd.primitive import Primitive
from minpy.autograd.vspace import vspace


def _fixed_point(f, a, x0, distance, tol):
    step = f(a)
    x, previous = step(x0), x0
    while distance(x, previous) > tol:
        x, previous = step(x), x
    return x


def _fixed_point_vjp(g, ans, f, a, x0, distance, tol):
    # x* = f(a)(x*): the gradient for a is vjp_a(w) where w solves w = g + vjp_x(w) (the adjoint fixed point,
    # found by the same iteration), by the implicit function theorem
    vjp_x, _ = make_vjp(f(a))(ans)
    vjp_a, _ = make_vjp(lambda a_, x_: f(a_)(x_))(a, ans)
    x_vs = vspace(ans)

    def adjoint_step(_):
        return lambda w: x_vs.add(vjp_x(w), g)
    w = fixed_point(adjoint_step, None, x_vs.zeros(), distance, tol)
    return vjp_a(w)


#: ``fixed_point(f, a, x0, distance, tol)``: iterate ``x = f(a)(x)`` from ``x0`` until ``distance(x, x_prev) <=
#: tol``; differentiable with respect to ``a``
fixed_point = Primitive(_fixed_point, name="fixed_point")
fixed_point.defvjp(None, _fixed_point_vjp, None, None, None)

__all__ = ["fixed_point"]
