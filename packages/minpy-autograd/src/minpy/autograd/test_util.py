"""HIPS autograd's ``autograd.test_util``: ``check_grads(fun, argnum=0, modes=('fwd', 'rev'), order=2)`` returns
a function of ``fun``'s arguments that checks its derivatives against finite differences, in forward mode
(JVPs), reverse mode (VJPs) or both, up to ``order`` (the derivatives of the derivatives, mixing the modes);
``combo_check`` runs it over every combination of argument values. (``minpy.autograd.check_grads``, called
with the arguments directly, is MinPy's own form.)

The numbers are HIPS autograd's: central differences with a step of 1e-6, and values agree when their
difference is below 1e-6 absolutely or relatively. Directions come from NumPy's global random generator
(``np.random.seed`` makes them repeatable).
"""
import itertools

from minpy.autograd.differential_operators import make_jvp, make_vjp
from minpy.autograd.vspace import vspace

TOL = 1e-6
RTOL = 1e-6
EPS = 1e-6


def _number(x):
    return complex(x).real if hasattr(x, "dtype") and x.dtype.kind == "c" else float(x)


def scalar_close(a, b):
    a, b = _number(a), _number(b)
    return abs(a - b) < TOL or abs(a - b) / abs(a + b) < RTOL


def make_numerical_jvp(f, x):
    """``v -> (f(x + eps v / 2) - f(x - eps v / 2)) / eps``."""
    y = f(x)
    x_vs, y_vs = vspace(x), vspace(y)

    def jvp(v):
        hi = f(x_vs.add(x, x_vs.scalar_mul(v, EPS / 2)))
        lo = f(x_vs.add(x, x_vs.scalar_mul(v, -EPS / 2)))
        return y_vs.scalar_mul(y_vs.add(hi, y_vs.scalar_mul(lo, -1.0)), 1.0 / EPS)
    return jvp


def _name(f):
    return getattr(f, "__name__", "[unknown name]")


def check_vjp(f, x):
    """``<v, VJP(u)>`` equals ``<u, J v>`` (finite differences) for random ``u`` and ``v``."""
    vjp, y = make_vjp(f)(x)
    numeric_jvp = make_numerical_jvp(f, x)
    x_vs, y_vs = vspace(x), vspace(y)
    x_v, y_v = x_vs.randn(), y_vs.randn()
    vjp_y = x_vs.covector(vjp(y_vs.covector(y_v)))
    assert vspace(vjp_y) == x_vs, f"the VJP of {_name(f)} lies in {vspace(vjp_y)}, its argument in {x_vs}"
    exact = x_vs.inner_prod(x_v, vjp_y)
    numeric = y_vs.inner_prod(y_v, numeric_jvp(x_v))
    assert scalar_close(numeric, exact), (f"Derivative (VJP) check of {_name(f)} failed with arg {x}:\n"
                                          f"analytic: {exact}\nnumeric:  {numeric}")


def check_jvp(f, x):
    """The JVP along a random ``v`` equals finite differences along ``v``."""
    jvp = make_jvp(f)(x)
    numeric_jvp = make_numerical_jvp(f, x)
    v = vspace(x).randn()
    check_equivalent(jvp(v)[1], numeric_jvp(v))


def check_equivalent(x, y):
    x_vs, y_vs = vspace(x), vspace(y)
    assert x_vs == y_vs, f"VSpace mismatch:\nx: {x_vs}\ny: {y_vs}"
    v = x_vs.randn()
    assert scalar_close(x_vs.inner_prod(x, v), x_vs.inner_prod(y, v)), f"Value mismatch:\nx: {x}\ny: {y}"


def check_grads(f, argnum=0, modes=("fwd", "rev"), order=2):
    """A function of ``f``'s arguments that checks ``f``'s derivatives with respect to argument(s) ``argnum``
    in ``modes`` up to ``order``; raises AssertionError on a mismatch."""
    modes = tuple(modes)
    if not set(modes) <= {"fwd", "rev"}:
        raise ValueError(f"modes must be 'fwd' and/or 'rev', got {modes!r}")

    def checked(*args, **kwargs):
        def unary(x):
            call = list(args)
            if isinstance(argnum, int):
                call[argnum] = x
            else:
                for i, xi in zip(argnum, x):
                    call[i] = xi
            return f(*call, **kwargs)
        unary.__name__ = _name(f)
        x = args[argnum] if isinstance(argnum, int) else tuple(args[i] for i in argnum)
        _check(unary, x, modes, order)
    checked.__name__ = f"check_grads_of_{_name(f)}_wrt_argnum_{argnum}"
    return checked


def _check(f, x, modes, order):
    if "fwd" in modes:
        check_jvp(f, x)
        if order > 1:
            def jvp_f(x, v):
                return make_jvp(f)(x)(v)[1]
            jvp_f.__name__ = f"jvp_{_name(f)}"
            v = vspace(x).randn()
            check_grads(jvp_f, (0, 1), modes, order=order - 1)(x, v)
    if "rev" in modes:
        check_vjp(f, x)
        if order > 1:
            def vjp_f(x, v):
                return make_vjp(f)(x)[0](v)
            vjp_f.__name__ = f"vjp_{_name(f)}"
            v = vspace(f(x)).randn()
            check_grads(vjp_f, (0, 1), modes, order=order - 1)(x, v)


def combo_check(fun, *args, **kwargs):
    """``combo_check(fun, argnum, **check_kwargs)(*value_lists, **keyword_value_lists)`` runs ``check_grads``
    on every combination of the given values."""
    def run(*value_lists, **keyword_lists):
        keyword_choices = [[(k, v) for v in vs] for k, vs in keyword_lists.items()]
        for values in itertools.product(*value_lists):
            for keywords in itertools.product(*keyword_choices):
                check_grads(fun, *args, **kwargs)(*values, **dict(keywords))
    return run


__all__ = ["check_grads", "combo_check", "check_vjp", "check_jvp", "check_equivalent", "make_numerical_jvp",
           "scalar_close"]
