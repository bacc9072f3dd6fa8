"""Discrete Fourier transforms: the 16 differentiable functions of ``numpy.fft`` (``fft``, ``ifft``, ``fft2``,
``ifft2``, ``fftn``, ``ifftn``, ``rfft``, ``irfft``, ``rfft2``, ``irfft2``, ``rfftn``, ``irfftn``, ``hfft``,
``ihfft``, ``fftshift``, ``ifftshift``).

Each transform is linear (over the reals), so its JVP is the transform of the tangent. Its VJP is built from
the one-dimensional steps NumPy performs, in NumPy's order (``fftn`` is one ``fft`` per axis, ``rfftn`` an
``rfft`` then ``fft`` s, ``hfft`` a conjugate then an ``irfft``...): the adjoints of the steps are applied in
reverse. A step's adjoint, with its length ``n`` and the input's length ``m`` along its axis:

* ``fft``/``ifft`` (the DFT matrix is symmetric): the same transform of the gradient, cut or zero-padded to ``m``;
* ``rfft`` (real input): the real part of the ``fft`` of the gradient zero-padded to ``n``;
* ``irfft`` (real output from a half spectrum): ``c_k ifft(g)_k`` for ``k <= n // 2``, with ``c_k = 2`` except
  ``c_0 = 1`` and, for even ``n``, ``c_{n/2} = 1`` (NumPy ignores the imaginary parts there);
* a conjugation: the conjugate.

All lengths work, odd ones included (HIPS autograd refuses odd ``rfft`` lengths), and repeated axes too.
"""
import numpy as onp

import minpy.numpy as np
from minpy.autograd import registry
from minpy.autograd.errors import AutogradError
from minpy.autograd.rules._util import declared, linear, match, shape_of

_SWAP = {None: "forward", "backward": "forward", "ortho": "ortho", "forward": "backward"}


def _bind(names, args, kwargs, defaults):
    call = dict(defaults)
    call.update(zip(names, args))
    call.update({k: v for k, v in (kwargs or {}).items() if k != "out"})
    return call


def _one_axis(kind, args, kwargs, shape):
    call = _bind(("a", "n", "axis", "norm"), args, kwargs, {"n": None, "axis": -1, "norm": None})
    ax = call["axis"] % len(shape)
    m = shape[ax]
    norm = call["norm"]
    if kind in ("fft", "ifft", "rfft"):
        return [(kind, ax, call["n"] or m, norm)]
    if kind == "irfft":
        return [("irfft", ax, call["n"] or 2 * (m - 1), norm)]
    if kind == "hfft":  # irfft(conj(a), n, norm swapped)
        return [("conj", None, None, None), ("irfft", ax, call["n"] or 2 * (m - 1), _SWAP[norm])]
    if kind == "ihfft":  # conj(rfft(a, n, norm swapped))
        return [("rfft", ax, call["n"] or m, _SWAP[norm]), ("conj", None, None, None)]
    raise AssertionError(kind)


def _cook(args, kwargs, shape, default_axes, inverse_real):
    call = _bind(("a", "s", "axes", "norm"), args, kwargs, {"s": None, "axes": default_axes, "norm": None})
    s, axes = call["s"], call["axes"]
    nd = len(shape)
    if axes is None:
        axes = list(range(-len(s), 0)) if s is not None else list(range(nd))
    axes = [a % nd for a in axes]
    if s is None:
        s = [shape[a] for a in axes]
        if inverse_real:
            s[-1] = 2 * (shape[axes[-1]] - 1)
    s = [shape[a] if n == -1 else n for n, a in zip(s, axes)]
    return list(s), axes, call["norm"]


def _many_axes(kind, args, kwargs, shape):
    two = kind.endswith("2")
    base = kind[:-1]  # fft2 -> fft, rfftn -> rfft
    s, axes, norm = _cook(args, kwargs, shape, [-2, -1] if two else None, base == "irfft")
    if base in ("fft", "ifft"):  # NumPy transforms the last listed axis first
        return [(base, axes[i], s[i], norm) for i in reversed(range(len(axes)))]
    if base == "rfft":
        return [("rfft", axes[-1], s[-1], norm)] + [("fft", axes[i], s[i], norm)
                                                     for i in reversed(range(len(axes) - 1))]
    if base == "irfft":
        return [("ifft", axes[i], s[i], norm) for i in range(len(axes) - 1)] + [("irfft", axes[-1], s[-1], norm)]
    raise AssertionError(kind)


def _fit(x, axis, length):
    """``x`` cut or zero-padded to ``length`` along ``axis`` (what NumPy does to an input of another length)."""
    m = shape_of(x)[axis]
    if m > length:
        return x[(slice(None),) * axis + (slice(0, length),)]
    if m < length:
        widths = [(0, 0)] * len(shape_of(x))
        widths[axis] = (0, length - m)
        return np.pad(x, widths)
    return x


def _irfft_weights(n, k, axis, nd):
    c = onp.full(k, 2.0)
    c[0] = 1.0
    if n % 2 == 0 and k - 1 == n // 2:
        c[-1] = 1.0
    shape = [1] * nd
    shape[axis] = k
    return np.array(c.reshape(shape))


def _adjoint(step, g, m):
    kind, ax, n, norm = step
    if kind == "conj":
        return np.conjugate(g)
    if kind == "fft":
        return _fit(np.fft.fft(g, axis=ax, norm=norm), ax, m)
    if kind == "ifft":
        return _fit(np.fft.ifft(g, axis=ax, norm=norm), ax, m)
    if kind == "rfft":
        return _fit(np.real(np.fft.fft(_fit(g, ax, n), axis=ax, norm=norm)), ax, m)
    if kind == "irfft":
        k = n // 2 + 1
        half = np.fft.ifft(g, axis=ax, norm=norm)[(slice(None),) * ax + (slice(0, k),)]
        return _fit(half * _irfft_weights(n, k, ax, len(shape_of(g))), ax, m)
    raise AssertionError(kind)


def _lengths(steps, shape):
    """The input length along each step's axis (the shape before the step)."""
    shape = list(shape)
    before = []
    for kind, ax, n, _ in steps:
        before.append(None if ax is None else shape[ax])
        if kind in ("fft", "ifft", "irfft"):
            shape[ax] = n
        elif kind == "rfft":
            shape[ax] = n // 2 + 1
    return before


_STEPS = {name: (lambda kind: lambda args, kwargs, shape: _one_axis(kind, args, kwargs, shape))(name)
          for name in ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft")}
_STEPS.update({name: (lambda kind: lambda args, kwargs, shape: _many_axes(kind, args, kwargs, shape))(name)
               for name in ("fft2", "ifft2", "fftn", "ifftn", "rfft2", "irfft2", "rfftn", "irfftn")})


def _transform_vjp(name):
    def rule(argpos, g, ans, args, kwargs):
        if argpos not in (0, "a"):
            raise AutogradError(f"minpy.numpy.fft.{name}: no gradient with respect to argument {argpos!r}")
        x = args[0] if args else kwargs["a"]
        steps = _STEPS[name](args, kwargs, shape_of(x))
        lengths = _lengths(steps, shape_of(x))
        for step, m in zip(reversed(steps), reversed(lengths)):
            g = _adjoint(step, g, m)
        return match(g, x)
    return rule


for _name in _STEPS:
    full = "fft." + _name
    if declared(full):
        registry.install_vjp(full, _transform_vjp(_name))
        linear(full)


def _shift_vjp(inverse):
    def rule(g, ans, x, axes=None):
        return match((np.fft.fftshift if inverse else np.fft.ifftshift)(g, axes), x)
    return rule


registry.defvjp("fft.fftshift", _shift_vjp(False))
registry.defvjp("fft.ifftshift", _shift_vjp(True))
for _name in ("fft.fftshift", "fft.ifftshift"):
    linear(_name)
