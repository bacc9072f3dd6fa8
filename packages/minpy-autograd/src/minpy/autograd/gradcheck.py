"""Checking gradients against finite differences."""
import numpy as onp

import minpy.numpy as np
from minpy.array import Array
from minpy.autograd.differential import vjp


def _as_host(x):
    if isinstance(x, Array):
        return onp.array(x.asnumpy(), dtype=onp.float64)
    return onp.asarray(x, dtype=onp.float64)


def _directional(f, x, v, eps):
    """Central difference of ``f`` at ``x`` along ``v``, in float64."""
    hi = _as_host(f(np.array(x + eps * v)))
    lo = _as_host(f(np.array(x - eps * v)))
    return (hi - lo) / (2 * eps)


def check_grads(f, *args, modes=("rev",), order=1, eps=1e-6, rtol=1e-5, atol=1e-6, argnum=None, seed=0):
    """Check ``f``'s reverse-mode gradients against central finite differences, up to ``order``.

    For each argument (or only ``argnum``), along a random direction ``v`` and a random output cotangent
    ``u``: ``u . (f(x + eps v) - f(x - eps v)) / 2 eps`` must equal ``vjp(u) . v``. With ``order=2`` the same
    is checked for the function ``x -> vjp(u)(x) . v``, i.e. second derivatives. Raises AssertionError
    with the two numbers on a mismatch. Arguments are taken in float64.
    """
    if tuple(modes) != ("rev",):
        raise ValueError("only reverse mode ('rev') is implemented")
    rng = onp.random.default_rng(seed)
    hosts = [_as_host(a) for a in args]
    nums = range(len(args)) if argnum is None else ([argnum] if isinstance(argnum, int) else argnum)
    for n in nums:
        _check_one(f, hosts, n, order, eps, rtol, atol, rng)


def _check_one(f, hosts, n, order, eps, rtol, atol, rng):
    def f_n(x):
        call = list(hosts)
        call[n] = x
        return f(*[np.array(a) if isinstance(a, onp.ndarray) else a for a in call])

    x = hosts[n]
    value = _as_host(f_n(np.array(x)))
    u = rng.standard_normal(value.shape)
    v = rng.standard_normal(x.shape)
    numeric = float(onp.sum(u * _directional(f_n, x, v, eps)))
    _, vjp_fn = vjp(f_n, np.array(x))
    analytic = float(onp.sum(_as_host(vjp_fn(np.array(u))) * v))
    if not onp.isclose(numeric, analytic, rtol=rtol, atol=atol):
        raise AssertionError(f"gradient check failed for argument {n}: finite differences give {numeric!r}, "
                             f"the VJP gives {analytic!r} (rtol={rtol}, atol={atol})")
    if order > 1:
        def directional_grad(x_):
            _, fn = vjp(f_n, x_)
            return np.sum(fn(np.array(u)) * np.array(v))
        check_grads(directional_grad, x, order=order - 1, eps=eps, rtol=rtol, atol=atol,
                    seed=int(rng.integers(1 << 30)))
