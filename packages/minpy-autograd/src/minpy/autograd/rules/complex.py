"""Complex numbers: ``real``, ``imag``, ``angle``, ``conj``/``conjugate``, ``abs``/``absolute``,
``real_if_close``.

HIPS autograd's convention (its tutorial, "Complex numbers"): for ``f(z) = u(x, y) + i v(x, y)`` the
gradient is ``du/dx - i du/dy``; a VJP maps the result's gradient ``g = g_x + i g_y`` to
``g_x (du/dx - i du/dy) - g_y (dv/dx - i dv/dy)``, which for a holomorphic function is ``g f'(z)`` (the
elementwise rules' form) and for these non-holomorphic ones is written out below. A real input receives the
real part of its gradient (``_util.match``). The JVPs are the plain directional derivatives.

``abs`` does not use ``sign`` for complex input: NumPy 2 defines ``sign(z) = z / |z|`` where NumPy 1 gave the
sign of the real part, so the rule divides by ``|z|`` itself (and is 0 at 0, as for real input).
"""
import numpy as onp

import minpy.numpy as np
from minpy.autograd.rules._util import is_complex, jvp, match, real, vjp

_DEG = 180.0 / onp.pi

vjp("real", lambda g, ans, x: match(g, x))
jvp("real", lambda t, ans, x: real(t))

vjp("imag", lambda g, ans, x: match(-1j * g, x))
jvp("imag", lambda t, ans, x: np.imag(t) if is_complex(t) else 0.0 * t)

for _name in ("conjugate", "conj"):
    vjp(_name, lambda g, ans, x, **k: match(np.conjugate(g), x))
    jvp(_name, lambda t, ans, x, **k: np.conjugate(t))


def _safe(ans):
    return np.where(ans == 0, 1.0, ans)


def _abs_vjp(g, ans, x, **k):
    if is_complex(x):
        # d|z| = Re(conj(z) dz) / |z|: the VJP is g conj(z) / |z| (0 at z == 0)
        return g * np.conjugate(x) / _safe(ans)
    return match(g * np.sign(x), x)


def _abs_jvp(t, ans, x, **k):
    if is_complex(x):
        return np.real(t * np.conjugate(x)) / _safe(ans)
    return real(t) * np.sign(x)


for _name in ("absolute", "abs"):
    vjp(_name, _abs_vjp)
    jvp(_name, _abs_jvp)


def _angle_factor(x, deg):
    # d angle(z) = Im(dz / z) = Re(conj(i z) dz) / |z|^2; 0 where z == 0 (angle is constant there)
    sq = np.real(x * np.conjugate(x)) if is_complex(x) else x * x
    factor = np.conjugate(x * 1j) / np.where(sq == 0, 1.0, sq)
    return factor * _DEG if deg else factor


def _angle_vjp(g, ans, z, deg=False):
    if not is_complex(z):  # a real number's angle is 0 or pi: constant
        return match(0.0 * g, z)
    return g * _angle_factor(z, deg)


def _angle_jvp(t, ans, z, deg=False):
    if not is_complex(z):
        return 0.0 * real(t)
    return np.real(t * _angle_factor(z, deg))


vjp("angle", _angle_vjp)
jvp("angle", _angle_jvp)

# real_if_close drops an imaginary part that is all but zero: the identity on what it keeps
vjp("real_if_close", lambda g, ans, x, *a, **k: match(g, x))
jvp("real_if_close", lambda t, ans, x, *a, **k: match(t, ans))
