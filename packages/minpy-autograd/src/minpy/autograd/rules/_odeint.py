"""The derivative rules of ``minpy.scipy.integrate.odeint(func, y0, t, args=(), ...)``.

Reverse mode is the adjoint method: one integration backwards in time of the state, its adjoint ``a`` (the
gradient of the loss with respect to the state at that time: ``a' = -a^T df/dy``) and the adjoint of the extra
arguments (``-a^T df/dargs``), the output's gradient added to ``a`` at each requested time. The gradient for a
time ``t[i]`` (i > 0) is ``g[i] . f(y[i], t[i])`` and for ``t[0]`` ``-a . f(y0, t[0])``, with ``a`` the
adjoint at ``t[0]`` before ``g[0]`` is added (y[0] is y0 wherever t[0] is). Forward mode
integrates the sensitivities forwards (``s' = df/dy s + df/dargs u``).

Both are written in ``minpy.numpy`` around ``odeint`` itself: the augmented systems are integrated by the
``minpy.scipy.integrate.odeint`` operator, with the values the rule depends on (the solution, the output's
gradient or the tangent, the times, the extra arguments) passed as its initial state, times and ``args``, and
the products with ``df/dy`` and ``df/dargs`` taken by minpy.autograd on ``func`` inside the augmented dynamics.
So when an outer trace differentiates a rule, it differentiates ``odeint`` of the augmented system by these
same rules: derivatives to any order, in both modes and across them (each order integrates a system twice the
size of the one before).
"""
import threading

import minpy.numpy as np
from minpy.autograd import registry
from minpy.autograd.errors import NoRuleError
from minpy.autograd.rules._util import declared, match, shape_of

NAME = "scipy.integrate.odeint"
PARAMS = ("func", "y0", "t", "args")
_CACHE = threading.local()


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


def _odeint(func, y0, times, extra, options):
    """The ``odeint`` operator (traced where its arguments are), with the caller's integration options."""
    import minpy.scipy.integrate as integrate

    settings = {k: options[k] for k in ("rtol", "atol", "mxstep", "hmax", "hmin", "h0", "mxordn", "mxords",
                                        "tcrit", "ixpr", "mxhnil") if options.get(k) is not None}
    return integrate.odeint(func, y0, times, args=tuple(extra), **settings)


def _flat(x):
    return np.reshape(x, (-1,))


def _adjoint(func, t, extra, ans, g, options):
    """Gradients for ``y0``, ``t`` and each of ``args``: ``(gy0, gt, [gargs])``."""
    from minpy.autograd.differential_operators import make_vjp

    points, n = shape_of(ans)
    sizes = [int(_size(e)) for e in extra]

    def dynamics(state, time, *xs):
        # (y, a, a_args)' = (f, -a^T df/dy, -a^T df/dargs); xs are odeint's args: the extra arguments
        y, a = state[:n], state[n:2 * n]
        vjp, f = make_vjp(lambda yy, xx: func(yy, time, *xx), (0, 1))(y, tuple(xs))
        gy, gxs = vjp(a)
        return np.concatenate([f, -gy] + [-_flat(gx) for gx in gxs])

    a = g[points - 1]
    a_args = np.zeros(sum(sizes), dtype=ans.dtype)
    gt = [None] * points
    for i in range(points - 1, 0, -1):
        gt[i] = np.dot(g[i], func(ans[i], t[i], *extra))
        state = np.concatenate([ans[i], a, a_args])
        state = _odeint(dynamics, state, _vector([t[i], t[i - 1]]), extra, options)[1]
        a = state[n:2 * n] + g[i - 1]
        a_args = state[2 * n:]
    # moving t[0] moves the later states, not y[0] (which is y0)
    gt[0] = -np.dot(a - g[0], func(ans[0], t[0], *extra))
    gargs, start = [], 0
    for e, size in zip(extra, sizes):
        gargs.append(np.reshape(a_args[start:start + size], shape_of(e)))
        start += size
    return a, _vector(gt), gargs


def _vector(scalars):
    """A 1-d array of 0-d values (traced or not)."""
    return np.concatenate([np.reshape(s, (1,)) for s in scalars])


def _size(x):
    size = 1
    for d in shape_of(x):
        size *= d
    return size


def _vjp(argpos, g, ans, args, kwargs):
    which, item = _which(argpos)
    func, y0, t, extra, options = _bind(args, kwargs)
    cached = getattr(_CACHE, "last", None)
    if cached is not None and cached[0] is g and cached[1] is ans:
        grads = cached[2]
    else:
        grads = _adjoint(func, t, extra, ans, g, options)
        _CACHE.last = (g, ans, grads)  # the backward pass asks for y0, t and args in turn
    gy0, gt, gargs = grads
    if which == "y0":
        return match(gy0, y0)
    if which == "t":
        return match(gt, t)
    return match(gargs[item], extra[item])


def _jvp(argpos, tangent, ans, args, kwargs):
    from minpy.autograd.differential_operators import make_jvp

    which, item = _which(argpos)
    func, y0, t, extra, options = _bind(args, kwargs)
    points, n = shape_of(ans)
    k = len(extra)

    def dynamics(state, time, *xs):
        # (y, s)' = (f, df/dy s [+ df/dargs u]); xs: the extra arguments, then u for an extra argument
        y, s = state[:n], state[n:]
        if which == "args":
            def h(yy, x):
                call = list(xs[:k])
                call[item] = x
                return func(yy, time, *call)
            f, ds = make_jvp(h, (0, 1))(y, xs[item])((s, xs[k]))
        else:
            f, ds = make_jvp(lambda yy: func(yy, time, *xs[:k]))(y)(s)
        return np.concatenate([f, ds])

    if which == "y0":
        s0 = np.reshape(tangent, (n,))
    elif which == "t":
        s0 = -func(ans[0], t[0], *extra) * tangent[0]
    else:
        s0 = np.zeros(n, dtype=ans.dtype)
    passed = tuple(extra) + ((tangent,) if which == "args" else ())
    sens = _odeint(dynamics, np.concatenate([ans[0], s0]), t, passed, options)[:, n:]
    if which == "t":
        # y(t[i]) moves with t[i] along f; y(t[0]) is y0 wherever t[0] is
        rows = [np.zeros(n, dtype=ans.dtype)] + [sens[i] + func(ans[i], t[i], *extra) * tangent[i]
                                                 for i in range(1, points)]
        sens = np.stack(rows)
    return sens


def install():
    if declared(NAME):
        _vjp.items = True
        _jvp.items = True
        registry.install_vjp(NAME, _vjp)
        registry.install_jvp(NAME, _jvp)
