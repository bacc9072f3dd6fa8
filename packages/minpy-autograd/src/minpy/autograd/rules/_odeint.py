"""The derivative rules of ``minpy.scipy.integrate.odeint(func, y0, t, args=(), ...)``.

Reverse mode is the adjoint method: one integration backwards in time of the state, its adjoint ``a`` (the
gradient of the loss with respect to the state at that time: ``a' = -a^T df/dy``) and the adjoint of the extra
arguments (``-a^T df/dargs``), the output's gradient added to ``a`` at each requested time. The gradient for a
time ``t[i]`` (i > 0) is ``g[i] . f(y[i], t[i])`` and for ``t[0]`` ``-a . f(y0, t[0])``, with ``a`` the
adjoint at ``t[0]`` before ``g[0]`` is added (y[0] is y0 wherever t[0] is). Forward mode
integrates the sensitivities forwards (``s' = df/dy s + df/dargs u``).

The products with ``df/dy`` and ``df/dargs`` are taken by minpy.autograd on ``func`` itself; the integrations
run on SciPy, outside any trace, so these rules give first derivatives only: differentiating them again
(a Hessian, a VJP inside a JVP) raises :class:`NoRuleError` rather than giving a wrong answer.
"""
import threading

import numpy as onp

from minpy.array import Array
from minpy.autograd import registry
from minpy.autograd.errors import NoRuleError
from minpy.autograd.rules._util import declared, match
from minpy.autograd.tracer import Tracer

NAME = "scipy.integrate.odeint"
PARAMS = ("func", "y0", "t", "args")
_CACHE = threading.local()


def _host(x):
    if isinstance(x, Array):
        return x.asnumpy()
    return onp.asarray(x, dtype=float)


def _nested(*values):
    """Whether a value is boxed by a trace (the rule runs inside another derivative)."""
    def boxed(v):
        if isinstance(v, (tuple, list)):
            return any(boxed(x) for x in v)
        return isinstance(v, Tracer)
    return any(boxed(v) for v in values)


def _bind(args, kwargs):
    v = {"args": ()}
    v.update(zip(PARAMS, args))
    v.update({k: kwargs[k] for k in ("func", "y0", "t", "args") if kwargs and k in kwargs})
    options = {k: val for k, val in (kwargs or {}).items() if k not in PARAMS}
    extra = v["args"]
    return v["func"], v["y0"], v["t"], tuple(extra) if isinstance(extra, (tuple, list)) else (extra,), options


def _which(argpos):
    if argpos in (1, "y0"):
        return "y0", None
    if argpos in (2, "t"):
        return "t", None
    if type(argpos) is tuple and argpos[0] in (3, "args"):
        return "args", argpos[1]
    raise NoRuleError(f"minpy.scipy.integrate.odeint: no derivative with respect to argument {argpos!r}")


def _second_order():
    return NoRuleError("minpy.scipy.integrate.odeint: its derivative rules (the adjoint method on SciPy) give "
                       "first derivatives only; a second derivative of odeint is not available")


def _vjp_parts(func, t, extra):
    """``(f(y, t), a^T df/dy, a^T df/dargs)`` as host arrays, by minpy.autograd on ``func``."""
    from minpy.autograd.differential_operators import make_vjp

    def parts(y, time, a):
        vjp, f = make_vjp(lambda yy, xs: func(yy, time, *xs), (0, 1))(Array(y), tuple(Array(e) for e in extra))
        gy, gargs = vjp(Array(a))
        return _host(f), _host(gy), [_host(g) for g in gargs]
    return parts


def _adjoint(func, y0, t, extra, ans, g, options):
    """Gradients for ``y0``, ``t`` and each of ``args``."""
    from scipy.integrate import odeint

    ys, g, times = _host(ans), _host(g), _host(t)
    extra = tuple(_host(e) for e in extra)
    n = ys.shape[1]
    sizes = [e.size for e in extra]
    parts = _vjp_parts(func, times, extra)

    def dynamics(state, time):
        y, a = state[:n], state[n:2 * n]
        f, ay, aargs = parts(y, time, a)
        return onp.concatenate([f, -ay] + [-x.ravel() for x in aargs])

    a = g[-1].copy()
    aargs = onp.zeros(sum(sizes))
    gt = onp.zeros_like(times)
    for i in range(len(times) - 1, 0, -1):
        f = parts(ys[i], times[i], a)[0]
        gt[i] = g[i] @ f
        state = onp.concatenate([ys[i], a, aargs])
        rtol, atol = options.get("rtol"), options.get("atol")
        state = odeint(dynamics, state, onp.array([times[i], times[i - 1]]), rtol=rtol, atol=atol,
                       mxstep=options.get("mxstep", 0))[-1]
        a = state[n:2 * n] + g[i - 1]
        aargs = state[2 * n:]
    f0 = parts(ys[0], times[0], a)[0]
    gt[0] = -((a - g[0]) @ f0)  # moving t[0] moves the later states, not y[0] (which is y0)
    out, start = [], 0
    for e, size in zip(extra, sizes):
        out.append(aargs[start:start + size].reshape(e.shape))
        start += size
    return a, gt, out


def _vjp(argpos, g, ans, args, kwargs):
    which, item = _which(argpos)
    if _nested(g, ans, args, kwargs):
        raise _second_order()
    func, y0, t, extra, options = _bind(args, kwargs)
    cached = getattr(_CACHE, "last", None)
    if cached is not None and cached[0] is g and cached[1] is ans:
        grads = cached[2]
    else:
        grads = _adjoint(func, y0, t, extra, ans, g, options)
        _CACHE.last = (g, ans, grads)  # the backward pass asks for y0, t and args in turn
    gy0, gt, gargs = grads
    if which == "y0":
        return match(Array(gy0), y0)
    if which == "t":
        return match(Array(gt), t)
    return match(Array(gargs[item]), extra[item])


def _jvp(argpos, tangent, ans, args, kwargs):
    from scipy.integrate import odeint

    from minpy.autograd.differential_operators import make_jvp

    which, item = _which(argpos)
    if _nested(tangent, ans, args, kwargs):
        raise _second_order()
    func, y0, t, extra, options = _bind(args, kwargs)
    ys, times = _host(ans), _host(t)
    extra = tuple(_host(e) for e in extra)
    n = ys.shape[1]
    u = _host(tangent)

    def f_at(y, time):
        return _host(func(Array(y), time, *[Array(e) for e in extra]))

    def along(y, time, s):  # df/dy s (+ df/dargs u for the argument differentiated)
        if which == "args":
            xs = [Array(e) for e in extra]

            def h(yy, x):
                call = list(xs)
                call[item] = x
                return func(yy, time, *call)
            return _host(make_jvp(h, (0, 1))(Array(y), Array(extra[item]))((Array(s), Array(u)))[1])
        return _host(make_jvp(lambda yy: func(yy, time, *[Array(e) for e in extra]))(Array(y))(Array(s))[1])

    if which == "y0":
        s0 = u
    elif which == "t":
        s0 = -f_at(ys[0], times[0]) * u[0]
    else:
        s0 = onp.zeros(n)

    def dynamics(state, time):
        y, s = state[:n], state[n:]
        return onp.concatenate([f_at(y, time), along(y, time, s)])

    sens = odeint(dynamics, onp.concatenate([ys[0], s0]), times, rtol=options.get("rtol"),
                  atol=options.get("atol"), mxstep=options.get("mxstep", 0))[:, n:]
    if which == "t":
        for i in range(1, len(times)):
            sens[i] += f_at(ys[i], times[i]) * u[i]
        sens[0] = 0.0  # y(t[0]) is y0 wherever t[0] is
    return Array(sens.astype(ys.dtype, copy=False))


def install():
    if declared(NAME):
        _vjp.items = True
        _jvp.items = True
        registry.install_vjp(NAME, _vjp)
        registry.install_jvp(NAME, _jvp)
