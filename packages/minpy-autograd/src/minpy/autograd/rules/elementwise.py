"""Elementwise operators: arithmetic, powers, exponentials and logarithms, trigonometric and hyperbolic
functions, and dtype casts. Each is declared once by its derivative; its VJP and JVP both come from it."""
import numpy as onp

import minpy.numpy as np
from minpy.array import Array
from minpy.autograd.rules._util import (applied, balanced_eq, binary, dtype_of, float_mask, is_complex, jvp, match,
                                        unary, vjp)
from minpy.autograd.tracer import Tracer

_LN2 = float(onp.log(2.0))
_LN10 = float(onp.log(10.0))
_ARRAY = (Array, Tracer)

# -- arithmetic ------------------------------------------------------------------------------------------------
binary("add", 1, 1, reads=({0: (), 1: ()}, False))
binary("subtract", 1, -1, reads=({0: (), 1: ()}, False))
binary("multiply", applied(lambda g, x, y, ans: g * y), applied(lambda g, x, y, ans: g * x),
       reads=({0: (1,), 1: (0,)}, False))
binary(("true_divide", "divide"), applied(lambda g, x, y, ans: g / y),
       applied(lambda g, x, y, ans: -g * x / (y * y)), reads=({0: (1,), 1: (0, 1)}, False))


def _is_array(x):
    return isinstance(x, _ARRAY) or onp.ndim(x) > 0


def _pow_dx(x, y, ans):
    # y * x ** (y - 1), with x ** -1 never formed where y == 0 (0 ** -1 is inf, and 0 * inf is nan)
    if _is_array(y):
        return y * np.power(x, np.where(y != 0, y - 1, 0.0))
    return y * np.power(x, y - 1 if y != 0 else 0.0)


def _pow_dy(x, y, ans):
    # log(x) * x ** y; where x is 0 the derivative is taken as 0 (log(1)), as HIPS autograd does. A real
    # negative base has a real power only for integral y, where the derivative in y does not exist; it is
    # taken as 0 there too.
    if is_complex(x) or is_complex(y):
        safe = np.where(x != 0, x, 1.0) if _is_array(x) else (x if x != 0 else 1.0)
        return np.log(safe) * ans
    if _is_array(x):
        return np.log(np.where(x > 0, x, 1.0)) * ans
    return (onp.log(x) if x > 0 else 0.0) * ans


binary(("power", "float_power"), _pow_dx, _pow_dy)
binary(("maximum", "minimum", "fmax", "fmin"), lambda x, y, ans: balanced_eq(x, ans, y),
       lambda x, y, ans: balanced_eq(y, ans, x))
binary("hypot", lambda x, y, ans: x / ans, lambda x, y, ans: y / ans)
binary("arctan2", lambda x, y, ans: y / (x * x + y * y), lambda x, y, ans: -x / (x * x + y * y))
binary("logaddexp", lambda x, y, ans: np.exp(x - ans), lambda x, y, ans: np.exp(y - ans))
binary("logaddexp2", lambda x, y, ans: np.exp2(x - ans), lambda x, y, ans: np.exp2(y - ans))
binary("copysign", lambda x, y, ans: np.sign(x) * np.sign(ans), lambda x, y, ans: 0.0 * y)
binary(("remainder", "mod"), 1, lambda x, y, ans: -np.floor_divide(x, y))
# fmod truncates (C's remainder): fmod(x, y) = x - trunc(x / y) * y
binary("fmod", 1, lambda x, y, ans: -np.trunc(x / y))

# -- one argument ----------------------------------------------------------------------------------------------
unary(("negative",), lambda x, ans: -1.0, reads_x=False)
unary(("positive",), lambda x, ans: 1.0, reads_x=False)
unary("fabs", lambda x, ans: np.sign(x))  # fabs takes no complex input
unary("square", lambda x, ans: 2.0 * x)
unary("sqrt", lambda x, ans: 0.5 / ans, reads_x=False, reads_ans=True)
unary("cbrt", lambda x, ans: 1.0 / (3.0 * ans * ans), reads_x=False, reads_ans=True)
unary("exp", lambda x, ans: ans, reads_x=False, reads_ans=True)
unary("exp2", lambda x, ans: ans * _LN2, reads_x=False, reads_ans=True)
unary("expm1", lambda x, ans: ans + 1.0, reads_x=False, reads_ans=True)
unary("log", lambda x, ans: 1.0 / x)
unary("log2", lambda x, ans: 1.0 / (x * _LN2))
unary("log10", lambda x, ans: 1.0 / (x * _LN10))
unary("log1p", lambda x, ans: 1.0 / (x + 1.0))
unary("sin", lambda x, ans: np.cos(x))
unary("cos", lambda x, ans: -np.sin(x))
unary("tan", lambda x, ans: 1.0 / np.square(np.cos(x)))
unary("arcsin", lambda x, ans: 1.0 / np.sqrt(1.0 - x * x))
unary("arccos", lambda x, ans: -1.0 / np.sqrt(1.0 - x * x))
unary("arctan", lambda x, ans: 1.0 / (1.0 + x * x))
unary("sinh", lambda x, ans: np.cosh(x))
unary("cosh", lambda x, ans: np.sinh(x))
unary("tanh", lambda x, ans: 1.0 - ans * ans, reads_x=False, reads_ans=True)
unary("arcsinh", lambda x, ans: 1.0 / np.sqrt(x * x + 1.0))
unary("arccosh", lambda x, ans: 1.0 / np.sqrt(x * x - 1.0))
unary("arctanh", lambda x, ans: 1.0 / (1.0 - x * x))
unary(("degrees", "rad2deg"), lambda x, ans: 180.0 / onp.pi, reads_x=False)
unary(("radians", "deg2rad"), lambda x, ans: onp.pi / 180.0, reads_x=False)
unary("reciprocal", lambda x, ans: -ans * ans, reads_x=False, reads_ans=True)


def _sinc_deriv(x, ans):
    # d/dx sin(pi x) / (pi x) = (cos(pi x) - sinc(x)) / x, and 0 at x == 0 (sinc is even)
    nonzero = x != 0
    safe = np.where(nonzero, x, 1.0)
    return np.where(nonzero, (np.cos(onp.pi * x) - ans) / safe, 0.0)


unary("sinc", _sinc_deriv, reads_ans=True)


# -- piecewise constant where finite --------------------------------------------------------------------------------
def _finite_mask(x, like):
    return float_mask(np.isfinite(x), like)


def _nan_to_num_vjp(g, ans, x, *a, **k):
    # nan_to_num keeps finite values and replaces the others by constants
    return match(g * _finite_mask(x, g), x)


vjp("nan_to_num", _nan_to_num_vjp)
jvp("nan_to_num", lambda t, ans, x, *a, **k: t * _finite_mask(x, t))


# -- dtype casts --------------------------------------------------------------------------------------------------
def _astype_vjp(g, ans, x, *a, **k):
    # A cast to integers or bool is piecewise constant: zero gradient, whatever the input's dtype.
    if dtype_of(x).kind not in "fc" or dtype_of(ans).kind not in "fc":
        return match(g * 0.0, x)
    return match(g, x)


def _astype_jvp(t, ans, x, dtype, *a, **k):
    dtype = onp.dtype(dtype)
    if dtype.kind not in "fc":
        return None
    return (np.real(t) if is_complex(t) and dtype.kind != "c" else t).astype(dtype)


vjp("astype", _astype_vjp)
jvp("astype", _astype_jvp)
