"""Reductions: sums, means, products, extremes, variances, cumulative sums and products, and their ``nan``
versions. ``axis`` (an int, a tuple or None) and ``keepdims`` are honoured; complex inputs follow HIPS
autograd's convention (``var``/``std`` of complex data use ``|x - mean|^2``)."""
import math

import numpy as onp

import minpy.numpy as np
from minpy.autograd import registry
from minpy.autograd.errors import AutogradError
from minpy.autograd.rules._util import (axes_tuple, composite, conj, count, declared, dtype_of, expand_reduced,
                                        float_mask, jvp, linear, match, ndim_of, real, shape_of, vjp)

_KW = ("axis", "dtype", "out", "keepdims")


def _sum_vjp(g, ans, x, axis=None, dtype=None, out=None, keepdims=False, **kw):
    return match(expand_reduced(g, x, axis, keepdims), x)


def _mean_vjp(g, ans, x, axis=None, dtype=None, out=None, keepdims=False, **kw):
    return match(expand_reduced(g, x, axis, keepdims) / count(x, axis), x)


vjp("sum", _sum_vjp)
linear("sum")
vjp("mean", _mean_vjp)
linear("mean")
registry.reads(("sum", "mean"), {0: ()}, False)


def _prod_vjp(g, ans, x, axis=None, dtype=None, out=None, keepdims=False, **kw):
    return match(expand_reduced(g * ans, x, axis, keepdims) / x, x) if not _has_zero(x) else \
        match(expand_reduced(g, x, axis, keepdims) * _prod_others(x, axis), x)


def _prod_jvp(t, ans, x, axis=None, dtype=None, out=None, keepdims=False, **kw):
    if not _has_zero(x):
        return ans * np.sum(t / x, axis=axis, keepdims=keepdims)
    return np.sum(t * _prod_others(x, axis), axis=axis, keepdims=keepdims)


def _has_zero(x):
    # dividing the product by an element is exact only where no element of its group is zero
    return bool(np.any(np.equal(x, 0)))


def _prod_others(x, axis):
    """For each element, the product of the other elements of its reduction group (exact with zeros): the
    product of the elements before it times the product of those after it, along the flattened group."""
    nd = len(shape_of(x))
    axes = axes_tuple(axis, nd)
    if not nd:
        return np.ones_like(x)
    rest = [a for a in range(nd) if a not in axes]
    moved = np.transpose(x, rest + list(axes))
    lead = shape_of(moved)[:len(rest)]
    flat = np.reshape(moved, lead + (-1,))
    ones = np.ones(lead + (1,), dtype=flat.dtype)
    before = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    after = np.flip(np.cumprod(np.flip(np.concatenate([flat[..., 1:], ones], axis=-1), -1), axis=-1), -1)
    others = np.reshape(before * after, shape_of(moved))
    return np.transpose(others, list(onp.argsort(rest + list(axes))))


vjp("prod", _prod_vjp)
jvp("prod", _prod_jvp)


def _chosen(x, ans, axis, keepdims):
    """Where ``x`` equals its reduction's result, as weights that share the gradient between ties."""
    rep = expand_reduced(ans, x, axis, keepdims)
    hit = float_mask(np.equal(x, rep), x)
    ties = np.sum(hit, axis=axes_tuple(axis, len(shape_of(x))), keepdims=True)
    return hit / ties


def _extreme_vjp(g, ans, x, axis=None, out=None, keepdims=False, **kw):
    return match(expand_reduced(g, x, axis, keepdims) * _chosen(x, ans, axis, keepdims), x)


def _extreme_jvp(t, ans, x, axis=None, out=None, keepdims=False, **kw):
    return np.sum(t * _chosen(x, ans, axis, keepdims), axis=axis, keepdims=keepdims)


for _name in ("max", "min", "amax", "amin"):
    if declared(_name):
        vjp(_name, _extreme_vjp)
        jvp(_name, _extreme_jvp)


def _centred(x, axis):
    return x - np.mean(x, axis=axis, keepdims=True)


def _var_vjp(g, ans, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
    n = count(x, axis)
    # complex data: var is the mean of |x - mean|^2, whose gradient (HIPS autograd's convention) is conjugated
    return match(expand_reduced(g, x, axis, keepdims) * 2.0 * conj(_centred(x, axis)) / (n - ddof), x)


def _var_jvp(t, ans, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
    n = count(x, axis)
    return 2.0 * np.sum(real(t * conj(_centred(x, axis))), axis=axis, keepdims=keepdims) / (n - ddof)


def _std_vjp(g, ans, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
    # sqrt(var): where the variance is 0 (all elements equal) the gradient is taken as 0, not nan/inf, as
    # in HIPS autograd (a group of one element has zero variance for any input)
    safe = np.where(ans == 0, 1.0, ans)
    scale = np.where(ans == 0, 0.0, g / (2.0 * safe))
    return _var_vjp(scale, None, x, axis=axis, ddof=ddof, keepdims=keepdims)


def _std_jvp(t, ans, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
    safe = np.where(ans == 0, 1.0, ans)
    dvar = _var_jvp(t, None, x, axis=axis, ddof=ddof, keepdims=keepdims)
    return np.where(ans == 0, 0.0, dvar / (2.0 * safe))


vjp("var", _var_vjp)
jvp("var", _var_jvp)
vjp("std", _std_vjp)
jvp("std", _std_jvp)


def _cumsum_vjp(g, ans, x, axis=None, dtype=None, out=None):
    if axis is None:
        return match(np.reshape(np.flip(np.cumsum(np.flip(g))), shape_of(x)), x)
    # (a 0-d input is accumulated as a 1-d one)
    return match(np.reshape(np.flip(np.cumsum(np.flip(g, axis), axis), axis), shape_of(x)), x)


vjp("cumsum", _cumsum_vjp)
linear("cumsum")


def _cumprod_vjp(g, ans, x, axis=None, dtype=None, out=None):
    # d ans_j / d x_i = ans_j / x_i for j >= i: the reversed cumulative sum of g * ans, divided by x. Inputs
    # with zeros take the exact (quadratic) form: the Jacobian of each prefix product.
    if axis is None or ndim_of(x) == 0:  # flattened (a 0-d input is accumulated as a 1-d one)
        flat = np.ravel(x)
        return np.reshape(_cumprod_vjp(np.ravel(g), np.ravel(ans), flat, axis=0), shape_of(x))
    if not _has_zero(x):
        return match(np.flip(np.cumsum(np.flip(g * ans, axis), axis), axis) / x, x)
    n = shape_of(x)[axis]
    xm = np.moveaxis(x, axis, -1)
    gm = np.moveaxis(g, axis, -1)
    total = []
    for i in range(n):  # gradient of element i: sum over j >= i of g_j * prod_{k <= j, k != i} x_k
        others = np.concatenate([xm[..., :i], np.ones_like(xm[..., i:i + 1]), xm[..., i + 1:]], axis=-1)
        prefix = np.cumprod(others, axis=-1)
        total.append(np.sum(gm[..., i:] * prefix[..., i:], axis=-1))
    return match(np.moveaxis(np.stack(total, axis=-1), -1, axis), x)


def _cumprod_jvp(t, ans, x, axis=None, dtype=None, out=None):
    if axis is None or ndim_of(x) == 0:
        return np.reshape(_cumprod_jvp(np.ravel(t), np.ravel(ans), np.ravel(x), axis=0), shape_of(ans))
    if not _has_zero(x):
        return ans * np.cumsum(t / x, axis=axis)
    n = shape_of(x)[axis]
    xm = np.moveaxis(x, axis, -1)
    tm = np.moveaxis(t, axis, -1)
    total = None
    for i in range(n):  # tangent of element j: sum over i <= j of t_i * prod_{k <= j, k != i} x_k
        others = np.concatenate([xm[..., :i], np.ones_like(xm[..., i:i + 1]), xm[..., i + 1:]], axis=-1)
        later = float_mask(np.array(onp.arange(n) >= i), xm)
        term = np.expand_dims(tm[..., i], -1) * np.cumprod(others, axis=-1) * later
        total = term if total is None else total + term
    return np.moveaxis(total, -1, axis)


for _name in ("cumprod", "cumproduct"):
    if declared(_name):
        vjp(_name, _cumprod_vjp)
        jvp(_name, _cumprod_jvp)


# -- reductions built from others: their rules are those of a minpy.numpy formula of the same function ------------
def _ptp(a, axis=None, out=None, keepdims=False):
    return np.max(a, axis=axis, keepdims=keepdims) - np.min(a, axis=axis, keepdims=keepdims)


def _average(a, axis=None, weights=None, returned=False, keepdims=False):
    if weights is None:
        avg = np.mean(a, axis=axis, keepdims=keepdims)
        total = np.broadcast_to(np.array(float(count(a, axis)), dtype=avg.dtype), shape_of(avg))
    else:
        if ndim_of(weights) != ndim_of(a):  # 1-d weights along the one axis
            shape = [1] * ndim_of(a)
            shape[axis % ndim_of(a)] = shape_of(weights)[0]
            weights = np.reshape(weights, tuple(shape))
        total = np.sum(weights + 0.0 * a, axis=axis, keepdims=keepdims)
        avg = np.sum(a * weights, axis=axis, keepdims=keepdims) / total
    return (avg, total) if returned else avg


def _nan_free(a, fill):
    return np.where(np.isnan(a), fill, a)


def _nansum(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
    return np.sum(_nan_free(a, 0.0), axis=axis, keepdims=keepdims)


def _nanprod(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
    return np.prod(_nan_free(a, 1.0), axis=axis, keepdims=keepdims)


def _nanmean(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
    kept = float_mask(np.logical_not(np.isnan(a)), a)
    return np.sum(_nan_free(a, 0.0), axis=axis, keepdims=keepdims) / np.sum(kept, axis=axis, keepdims=keepdims)


def _nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
    kept = float_mask(np.logical_not(np.isnan(a)), a)
    n = np.sum(kept, axis=axis, keepdims=True)
    mean = np.sum(_nan_free(a, 0.0), axis=axis, keepdims=True) / n
    dev = _nan_free(a, 0.0) - mean * kept
    sq = real(dev * conj(dev))
    var = np.sum(sq, axis=axis, keepdims=True) / (n - ddof)
    return var if keepdims else np.squeeze(var, axis=axes_tuple(axis, ndim_of(a)))


def _nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
    # a zero variance (one element) has a zero derivative, as for std: sqrt is taken of 1 there, and masked
    var = _nanvar(a, axis=axis, ddof=ddof, keepdims=keepdims)
    zero = var == 0
    return np.where(zero, 0.0, np.sqrt(np.where(zero, 1.0, var)))


def _nan_extreme(pick, fill):
    def formula(a, axis=None, out=None, keepdims=False, **kw):
        return pick(_nan_free(a, fill), axis=axis, keepdims=keepdims)
    return formula


def _nancumsum(a, axis=None, dtype=None, out=None):
    return np.cumsum(_nan_free(a, 0.0), axis=axis)


def _nancumprod(a, axis=None, dtype=None, out=None):
    return np.cumprod(_nan_free(a, 1.0), axis=axis)


def _median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    # the mean of the middle one or two elements of the sorted values along the axes
    nd = ndim_of(a)
    axes = axes_tuple(axis, nd)
    rest = [i for i in range(nd) if i not in axes]
    n = count(a, axis)
    if n == 0 or math.prod(shape_of(a)) == 0:  # an empty result (or NumPy's nan): nothing to differentiate
        return 0.0 * np.sum(a, axis=axis, keepdims=keepdims)
    moved = np.transpose(a, rest + list(axes))
    flat = np.reshape(moved, tuple(shape_of(moved)[:len(rest)]) + (n,))
    ordered = np.sort(flat, axis=-1)
    lo, hi = (n - 1) // 2, n // 2
    mid = 0.5 * (ordered[..., lo] + ordered[..., hi])
    if keepdims:
        shape = list(shape_of(a))
        for i in axes:
            shape[i] = 1
        mid = np.reshape(mid, tuple(shape))
    return mid


_COMPOSITES = {"ptp": (_ptp, (0, "a")), "average": (_average, (0, "a", "weights", 2)),
               "nansum": (_nansum, (0, "a")), "nanprod": (_nanprod, (0, "a")), "nanmean": (_nanmean, (0, "a")),
               "nanvar": (_nanvar, (0, "a")), "nanstd": (_nanstd, (0, "a")),
               "nanmax": (_nan_extreme(np.max, -onp.inf), (0, "a")),
               "nanmin": (_nan_extreme(np.min, onp.inf), (0, "a")),
               "nancumsum": (_nancumsum, (0, "a")), "nancumprod": (_nancumprod, (0, "a")),
               "median": (_median, (0, "a"))}
for _name, (_formula, _positions) in _COMPOSITES.items():
    if declared(_name):
        composite(_name, _formula, _positions)


# -- a real dtype= on complex data -------------------------------------------------------------------------------
_REAL_VALUED = ("var", "std", "nanvar", "nanstd")


def _refuse_real_cast(name, rule, reverse):
    """NumPy casts complex data to a real ``dtype=`` (discarding the imaginary part, with a ComplexWarning) in
    ways that differ between reductions (var keeps |x - mean(Re x)|^2): refused, not silently mis-derived. A
    complex ``dtype=`` of a real-valued reduction (var, std) gives a complex result whose imaginary part is 0:
    the imaginary part of its gradient reaches nothing."""
    def guarded(argpos, g, ans, args, kwargs):
        dtype = (kwargs or {}).get("dtype")
        x = args[0] if args else (kwargs or {}).get("a")
        if dtype is not None and onp.dtype(dtype).kind != "c" and x is not None and dtype_of(x).kind == "c":
            raise AutogradError(f"minpy.numpy.{name}(..., dtype={onp.dtype(dtype)}) of complex data discards its "
                                "imaginary part (NumPy warns so); its derivative is not taken. Pass np.real(x) "
                                "or a complex dtype")
        if reverse and name in _REAL_VALUED and g is not None and dtype_of(g).kind == "c":
            g = np.real(g)
        return rule(argpos, g, ans, args, kwargs)
    return guarded


for _name in ("sum", "mean", "prod", "var", "std", "cumsum", "cumprod", "nansum", "nanmean", "nanprod", "nanvar",
              "nanstd", "nancumsum", "nancumprod"):
    if declared(_name):
        registry.install_vjp(_name, _refuse_real_cast(_name, registry.VJPS[_name], True))
        registry.install_jvp(_name, _refuse_real_cast(_name, registry.JVPS[_name], False))
