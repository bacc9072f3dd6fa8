"""Checking derivatives against finite differences (MinPy's form: the arguments are given directly).

For HIPS autograd's form, ``check_grads(fun, argnum, modes, order)(*args)``, see
:mod:`minpy.autograd.test_util`.
"""
import numpy as onp

import minpy.numpy as np
from minpy.array import Array
from minpy.autograd.differential_operators import make_jvp, vjp


def _as_host(x):
    if isinstance(x, Array):
        x = x.asnumpy()
    x = onp.asarray(x)
    return onp.array(x, dtype=onp.complex128 if x.dtype.kind == "c" else onp.float64)


def _random_like(rng, shape, complex_):
    v = rng.standard_normal(shape)
    return v + 1j * rng.standard_normal(shape) if complex_ else v


def _real(x):
    return np.real(x) if x.dtype.kind == "c" else x


def _inner(a, b):
    """The real inner product ``Re(sum(conj(a) * b))`` (host arrays)."""
    return float(onp.real(onp.sum(onp.conj(a) * b)))


def check_grads(f, *args, modes=("rev",), order=1, eps=1e-6, rtol=1e-5, atol=1e-6, argnum=None, seed=0):
    """Check ``f``'s derivatives against central finite differences, up to ``order``, in ``modes`` (``"rev"``:
    vector-Jacobian products; ``"fwd"``: Jacobian-vector products).

    For each argument (or only ``argnum``), along a random direction ``v`` and a random output cotangent
    ``u`` (complex where the argument or the result is): ``<u, (f(x + eps v) - f(x - eps v)) / 2 eps>`` must
    equal ``<v, conj(VJP(conj(u)))>`` (reverse) and ``<u, JVP(v)>`` (forward), ``<a, b> = Re(sum(conj(a) b))``:
    HIPS autograd's convention for complex numbers. With ``order=2`` the same is checked for the function
    ``x -> <v, conj(VJP(conj(u)))(x)>`` (and its forward counterpart), i.e. second derivatives. Raises
    AssertionError with the two numbers on a mismatch. Arguments are taken in float64 (complex128).
    """
    modes = tuple(modes)
    if not modes or not set(modes) <= {"rev", "fwd"}:
        raise ValueError(f"modes must name 'rev' and/or 'fwd', got {modes!r}")
    rng = onp.random.default_rng(seed)
    hosts = [_as_host(a) for a in args]
    nums = range(len(args)) if argnum is None else ([argnum] if isinstance(argnum, int) else argnum)
    for n in nums:
        for mode in modes:
            _check_one(f, hosts, n, mode, order, eps, rtol, atol, rng)


def _check_one(f, hosts, n, mode, order, eps, rtol, atol, rng):
    def f_n(x):
        call = list(hosts)
        call[n] = x
        return f(*[np.array(a) if isinstance(a, onp.ndarray) else a for a in call])

    x = hosts[n]
    value = _as_host(f_n(np.array(x)))
    u = _random_like(rng, value.shape, value.dtype.kind == "c")
    v = _random_like(rng, x.shape, x.dtype.kind == "c")
    numeric = _inner(u, (_as_host(f_n(np.array(x + eps * v))) - _as_host(f_n(np.array(x - eps * v)))) / (2 * eps))
    if mode == "rev":
        _, vjp_fn = vjp(f_n, np.array(x))
        analytic = _inner(v, onp.conj(_as_host(vjp_fn(np.array(onp.conj(u))))))
    else:
        analytic = _inner(u, _as_host(make_jvp(f_n)(np.array(x))(np.array(v))[1]))
    if not onp.isclose(numeric, analytic, rtol=rtol, atol=atol):
        raise AssertionError(f"{'gradient' if mode == 'rev' else 'forward-mode'} check failed for argument {n}: "
                             f"finite differences give {numeric!r}, the {'VJP' if mode == 'rev' else 'JVP'} "
                             f"gives {analytic!r} (rtol={rtol}, atol={atol})")
    if order > 1:
        if mode == "rev":
            def directional(x_):
                _, fn = vjp(f_n, x_)
                return _real(np.sum(np.array(v) * fn(np.array(onp.conj(u)))))
        else:
            def directional(x_):
                t = make_jvp(f_n)(x_)(np.array(v))[1]
                return _real(np.sum(np.array(onp.conj(u)) * t))
        check_grads(directional, x, modes=(mode,), order=order - 1, eps=eps, rtol=rtol, atol=atol,
                    seed=int(rng.integers(1 << 30)))
