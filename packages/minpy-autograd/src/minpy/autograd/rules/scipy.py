"""Rules of ``minpy.scipy``'s operators (the table :mod:`minpy.scipy._table`): ``special``, the ``stats``
distributions, ``signal.convolve``, ``linalg`` and ``integrate.odeint``.

``minpy.scipy``'s modules register their operators when first imported, which may be after minpy.autograd
was: :func:`install` declares the rules of one module, and runs (through ``registry.LOADERS``) the first time
an operator of that module is looked up. Only the operators present are given rules (:func:`declared`).

The rules are written in ``minpy.numpy`` and ``minpy.scipy`` (so they are differentiable again), as partial
derivatives for elementwise functions, as formulas traced on demand (:func:`formula`) where a function is an
expression of others (a density, a linear solve), or by hand (``odeint``'s adjoint method).
"""
import math
import threading

import numpy as onp

import minpy.numpy as np
from minpy.autograd import registry
from minpy.autograd.errors import NoRuleError
from minpy.autograd.rules._util import (composite, declared, is_complex, match, shape_of, swapT, unbroadcast,
                                        value_of)
from minpy.stats import public_name

_LOCK = threading.Lock()
_INSTALLED = set()
_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_LOG_2PI = math.log(2.0 * math.pi)


def install(op_name):
    """Declare the rules of the ``minpy.scipy`` module holding ``op_name`` (``scipy.special.erf`` ->
    ``special``; ``scipy.stats.norm.pdf`` -> ``stats.norm``), once."""
    parts = op_name.split(".")
    module = ".".join(parts[1:3]) if parts[1] == "stats" else parts[1]
    with _LOCK:
        if module in _INSTALLED:
            return
        _INSTALLED.add(module)
        family = module.partition(".")[0]
        _FAMILIES[family](module)


# -- forms ----------------------------------------------------------------------------------------------------
def _bind(params, defaults, args, kwargs):
    values = dict(defaults)
    values.update(zip(params, args))
    if kwargs:
        values.update(kwargs)
    return values


def elementwise(name, params, partials, defaults=None):
    """An elementwise operator of broadcasting arguments named ``params`` (positional or by keyword), with the
    partial derivative ``partials[p](v, ans)`` for each differentiable parameter ``p`` (``v``: the call's
    arguments by name). The other parameters have no derivative (an error names them)."""
    name = "scipy." + name
    if not declared(name):
        return
    defaults = dict(defaults or {})

    def which(argpos):
        p = params[argpos] if type(argpos) is int and argpos < len(params) else argpos
        if p not in partials:
            raise NoRuleError(f"{public_name(name)}: no derivative with respect to argument {argpos!r}")
        return p

    def vjp_rule(argpos, g, ans, args, kwargs):
        p = which(argpos)
        v = _bind(params, defaults, args, kwargs)
        x = v[p]
        return match(unbroadcast(g * partials[p](v, ans), x), x)

    def jvp_rule(argpos, t, ans, args, kwargs):
        p = which(argpos)
        out = t * partials[p](_bind(params, defaults, args, kwargs), ans)
        shape = shape_of(ans)
        return out if shape_of(out) == shape else np.broadcast_to(out, shape)
    registry.install_vjp(name, vjp_rule)
    registry.install_jvp(name, jvp_rule)


def formula(name, fn, positions):
    """Rules of ``name`` from ``fn``, the same function written in ``minpy.numpy``/``minpy.scipy`` (traced when
    a rule runs): for ``positions`` (ints and keyword names)."""
    name = "scipy." + name
    if declared(name):
        composite(name, fn, positions)


def _params_positions(params, wrt):
    return tuple(i for i, p in enumerate(params) if p in wrt) + tuple(wrt)


# -- scipy.special ----------------------------------------------------------------------------------------------
def _special(module):
    import minpy.scipy.special as sp

    def one(fn_name, deriv):
        elementwise("special." + fn_name, ("x",), {"x": lambda v, ans: deriv(v["x"], ans)})

    one("erf", lambda x, ans: (2.0 / _SQRT_PI) * np.exp(-x * x))
    one("erfc", lambda x, ans: (-2.0 / _SQRT_PI) * np.exp(-x * x))
    one("erfcx", lambda x, ans: 2.0 * x * ans - 2.0 / _SQRT_PI)
    one("erfinv", lambda x, ans: (_SQRT_PI / 2.0) * np.exp(ans * ans))
    one("erfcinv", lambda x, ans: (-_SQRT_PI / 2.0) * np.exp(ans * ans))
    one("dawsn", lambda x, ans: 1.0 - 2.0 * x * ans)
    one("ndtr", lambda x, ans: np.exp(-0.5 * x * x) / _SQRT_2PI)
    one("log_ndtr", lambda x, ans: np.exp(-0.5 * x * x - ans) / _SQRT_2PI)
    one("ndtri", lambda x, ans: _SQRT_2PI * np.exp(0.5 * ans * ans))
    one("expit", lambda x, ans: ans * (1.0 - ans))
    one("logit", lambda x, ans: 1.0 / (x * (1.0 - x)))
    one("log_expit", lambda x, ans: sp.expit(-x))
    one("gamma", lambda x, ans: ans * sp.digamma(x))
    one("gammaln", lambda x, ans: sp.digamma(x))
    one("loggamma", lambda x, ans: sp.digamma(x))
    one("digamma", lambda x, ans: sp.polygamma(1, x))
    one("psi", lambda x, ans: sp.polygamma(1, x))
    one("rgamma", lambda x, ans: -ans * sp.digamma(x))
    one("entr", lambda x, ans: -np.log(x) - 1.0)
    # Bessel functions: recurrences that avoid dividing by x (finite at 0)
    one("i0", lambda x, ans: sp.i1(x))
    # I2 through the scaled ive: SciPy's iv(2, x) is nan for subnormal x (ive is not), and so is iv(v, x) in its
    # own derivative
    one("i1", lambda x, ans: 0.5 * (sp.i0(x) + sp.ive(2.0, x) * np.exp(np.abs(x))))
    one("i0e", lambda x, ans: sp.i1e(x) - np.sign(x) * ans)
    one("i1e", lambda x, ans: 0.5 * (sp.i0e(x) + sp.ive(2.0, x)) - np.sign(x) * ans)
    one("j0", lambda x, ans: -sp.j1(x))
    one("j1", lambda x, ans: 0.5 * (sp.j0(x) - sp.jv(2.0, x)))
    one("y0", lambda x, ans: -sp.y1(x))
    one("y1", lambda x, ans: 0.5 * (sp.y0(x) - sp.yv(2.0, x)))
    one("k0", lambda x, ans: -sp.k1(x))
    one("k1", lambda x, ans: -0.5 * (sp.k0(x) + sp.kv(2.0, x)))
    one("k0e", lambda x, ans: ans - sp.k1e(x))
    one("k1e", lambda x, ans: ans - 0.5 * (sp.k0e(x) + sp.kve(2.0, x)))
    one("expm1", lambda x, ans: ans + 1.0)
    one("log1p", lambda x, ans: 1.0 / (1.0 + x))
    one("exp2", lambda x, ans: ans * math.log(2.0))
    one("exp10", lambda x, ans: ans * math.log(10.0))
    one("cbrt", lambda x, ans: 1.0 / (3.0 * ans * ans))

    def two(fn_name, params, partials):
        elementwise("special." + fn_name, params, partials)

    def psi_diff(v):
        return sp.digamma(v["a"]) - sp.digamma(v["a"] + v["b"])

    two("beta", ("a", "b"), {"a": lambda v, ans: ans * (sp.digamma(v["a"]) - sp.digamma(v["a"] + v["b"])),
                             "b": lambda v, ans: ans * (sp.digamma(v["b"]) - sp.digamma(v["a"] + v["b"]))})
    two("betaln", ("a", "b"), {"a": lambda v, ans: psi_diff(v),
                               "b": lambda v, ans: sp.digamma(v["b"]) - sp.digamma(v["a"] + v["b"])})

    def beta_density(v):  # the derivative of the regularised incomplete beta function in x
        a, b, x = v["a"], v["b"], v["x"]
        return np.exp(sp.xlogy(a - 1.0, x) + sp.xlog1py(b - 1.0, -x) - sp.betaln(a, b))
    two("betainc", ("a", "b", "x"), {"x": lambda v, ans: beta_density(v)})
    two("betaincc", ("a", "b", "x"), {"x": lambda v, ans: -beta_density(v)})

    def gamma_density(v):
        a, x = v["a"], v["x"]
        return np.exp(sp.xlogy(a - 1.0, x) - x - sp.gammaln(a))
    two("gammainc", ("a", "x"), {"x": lambda v, ans: gamma_density(v)})
    two("gammaincc", ("a", "x"), {"x": lambda v, ans: -gamma_density(v)})
    # Bessel functions of order v: d/dx from the neighbouring orders
    two("jv", ("v", "z"), {"z": lambda v, ans: 0.5 * (sp.jv(v["v"] - 1.0, v["z"]) - sp.jv(v["v"] + 1.0, v["z"]))})
    two("jn", ("n", "x"), {"x": lambda v, ans: 0.5 * (sp.jv(v["n"] - 1.0, v["x"]) - sp.jv(v["n"] + 1.0, v["x"]))})
    two("yv", ("v", "z"), {"z": lambda v, ans: 0.5 * (sp.yv(v["v"] - 1.0, v["z"]) - sp.yv(v["v"] + 1.0, v["z"]))})
    two("yn", ("n", "x"), {"x": lambda v, ans: 0.5 * (sp.yv(v["n"] - 1.0, v["x"]) - sp.yv(v["n"] + 1.0, v["x"]))})
    two("iv", ("v", "z"), {"z": lambda v, ans: 0.5 * (sp.iv(v["v"] - 1.0, v["z"]) + sp.iv(v["v"] + 1.0, v["z"]))})
    two("ive", ("v", "z"), {"z": lambda v, ans: 0.5 * (sp.ive(v["v"] - 1.0, v["z"]) + sp.ive(v["v"] + 1.0, v["z"]))
                            - np.sign(v["z"]) * ans})
    two("kv", ("v", "z"), {"z": lambda v, ans: -0.5 * (sp.kv(v["v"] - 1.0, v["z"]) + sp.kv(v["v"] + 1.0, v["z"]))})
    two("kve", ("v", "z"), {"z": lambda v, ans: ans - 0.5 * (sp.kve(v["v"] - 1.0, v["z"])
                                                            + sp.kve(v["v"] + 1.0, v["z"]))})
    two("xlogy", ("x", "y"), {"x": lambda v, ans: np.log(v["y"]),
                              "y": lambda v, ans: v["x"] / v["y"]})
    two("xlog1py", ("x", "y"), {"x": lambda v, ans: np.log1p(v["y"]),
                                "y": lambda v, ans: v["x"] / (1.0 + v["y"])})
    two("rel_entr", ("x", "y"), {"x": lambda v, ans: np.log(v["x"] / v["y"]) + 1.0,
                                 "y": lambda v, ans: -v["x"] / v["y"]})
    two("kl_div", ("x", "y"), {"x": lambda v, ans: np.log(v["x"] / v["y"]),
                               "y": lambda v, ans: 1.0 - v["x"] / v["y"]})
    two("zeta", ("x", "q"), {"q": lambda v, ans: -v["x"] * sp.zeta(v["x"] + 1.0, v["q"])})
    two("polygamma", ("n", "x"), {"x": lambda v, ans: sp.polygamma(v["n"] + 1, v["x"])})

    def multigammaln(a, d):
        d = int(value_of(d))
        return sum(sp.gammaln(a - 0.5 * j) for j in range(d)) + 0.25 * d * (d - 1) * math.log(math.pi)
    formula("special.multigammaln", multigammaln, (0, "a"))

    def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
        if return_sign:
            raise NoRuleError("minpy.scipy.special.logsumexp(..., return_sign=True): no derivative")
        top = onp.max(_host(a), axis=axis, keepdims=True)  # a constant: the derivative does not depend on it
        top = onp.where(onp.isfinite(top), top, 0.0)
        shifted = np.exp(a - top) if b is None else b * np.exp(a - top)
        total = np.sum(shifted, axis=axis, keepdims=True)
        out = np.log(total) + top
        if not keepdims:
            out = np.squeeze(out, axis=axis) if axis is not None else np.reshape(out, ())
        elif len(shape_of(a)) == 0:
            out = np.reshape(out, _lse_keepdims_shape())
        return out
    formula("special.logsumexp", logsumexp, (0, "a", "b"))

    def normaliser(x, axis):
        lse = sp.logsumexp(x, axis=axis, keepdims=True)
        return np.reshape(lse, ()) if len(shape_of(x)) == 0 else lse  # SciPy's keepdims result of 0-d x is 1-d

    def softmax(x, axis=None):
        return np.exp(x - normaliser(x, axis))

    def log_softmax(x, axis=None):
        return x - normaliser(x, axis)
    formula("special.softmax", softmax, (0, "x"))
    formula("special.log_softmax", log_softmax, (0, "x"))


# -- scipy.stats --------------------------------------------------------------------------------------------------
def _stats(module):
    import minpy.scipy.special as sp
    from minpy.scipy import _table

    dist = module.partition(".")[2]
    if dist in _table.DISTRIBUTIONS:
        _univariate(dist, sp, _table)
    elif dist == "multivariate_normal":
        _multivariate_normal()
    elif dist == "dirichlet":
        _dirichlet(sp)


def _host(x):
    x = value_of(x)
    return x.asnumpy() if hasattr(x, "asnumpy") else onp.asarray(x)


def _standard(x, loc, scale):
    return (x - loc) / scale


def _univariate(dist, sp, table):
    import importlib

    ops = importlib.import_module("minpy.scipy.stats." + dist)
    shapes, discrete = table.DISTRIBUTIONS[dist][:2]
    shape_names = tuple(s for s, _ in shapes)
    if discrete:
        _poisson(ops, sp, table)
        return

    def log_density(z, *shape_values):  # the standard density's logarithm at z
        if dist == "norm":
            return -0.5 * z * z - 0.5 * _LOG_2PI
        if dist == "t":
            (df,) = shape_values
            return (sp.gammaln(0.5 * (df + 1.0)) - sp.gammaln(0.5 * df) - 0.5 * np.log(df * math.pi)
                    - 0.5 * (df + 1.0) * np.log1p(z * z / df))
        if dist == "gamma":
            (a,) = shape_values
            return sp.xlogy(a - 1.0, z) - z - sp.gammaln(a)
        if dist == "beta":
            a, b = shape_values
            return sp.xlogy(a - 1.0, z) + sp.xlog1py(b - 1.0, -z) - sp.betaln(a, b)
        if dist == "chi2":
            (df,) = shape_values
            k = 0.5 * df
            return sp.xlogy(k - 1.0, z) - 0.5 * z - sp.gammaln(k) - k * math.log(2.0)
        raise AssertionError(dist)

    params = ("x", *shape_names, "loc", "scale")
    defaults = {"loc": 0.0, "scale": 1.0}

    def split(args, kwargs):
        v = _bind(params, defaults, args, kwargs)
        return v["x"], [v[s] for s in shape_names], v["loc"], v["scale"]

    def logpdf(*args, **kwargs):
        x, sv, loc, scale = split(args, kwargs)
        return log_density(_standard(x, loc, scale), *sv) - np.log(scale)

    def pdf(*args, **kwargs):
        return np.exp(ops.logpdf(*args, **kwargs))
    everything = _params_positions(params, params)
    formula(f"stats.{dist}.logpdf", logpdf, everything)
    formula(f"stats.{dist}.pdf", pdf, everything)

    # distribution functions and their inverses: in x (or q), loc and scale, through the density
    def through_density(method, sign, log):
        def factor(v, ans):
            dens_args = (v["x"], *[v[s] for s in shape_names])
            if log:
                return sign * np.exp(ops.logpdf(*dens_args, loc=v["loc"], scale=v["scale"]) - ans)
            return sign * ops.pdf(*dens_args, loc=v["loc"], scale=v["scale"])
        partials = {"x": factor,
                    "loc": lambda v, ans: -factor(v, ans),
                    "scale": lambda v, ans: -factor(v, ans) * _standard(v["x"], v["loc"], v["scale"])}
        elementwise(f"stats.{dist}.{method}", params, partials, defaults)
    through_density("cdf", 1.0, False)
    through_density("sf", -1.0, False)
    through_density("logcdf", 1.0, True)
    through_density("logsf", -1.0, True)

    qparams = ("q", *shape_names, "loc", "scale")

    def inverse(method, sign):
        def dq(v, ans):
            return sign / ops.pdf(ans, *[v[s] for s in shape_names], loc=v["loc"], scale=v["scale"])
        partials = {"q": dq, "loc": lambda v, ans: 1.0,
                    "scale": lambda v, ans: _standard(ans, v["loc"], v["scale"])}
        elementwise(f"stats.{dist}.{method}", qparams, partials, defaults)
    inverse("ppf", 1.0)
    inverse("isf", -1.0)


def _poisson(ops, sp, table):
    params = ("k", "mu", "loc")
    defaults = {"loc": 0.0}

    def logpmf(*args, **kwargs):
        v = _bind(params, defaults, args, kwargs)
        k = v["k"] - v["loc"]
        return sp.xlogy(k, v["mu"]) - v["mu"] - sp.gammaln(k + 1.0)

    def pmf(*args, **kwargs):
        return np.exp(ops.logpmf(*args, **kwargs))
    where = _params_positions(params, ("mu",))
    formula("stats.poisson.logpmf", logpmf, where)
    formula("stats.poisson.pmf", pmf, where)

    def last(v):  # the last count the distribution function sums
        return onp.floor(onp.asarray(value_of(v["k"]), dtype=float) - onp.asarray(value_of(v["loc"]), dtype=float))

    def through_pmf(method, sign, log):
        def dmu(v, ans):
            k = last(v)
            if log:
                return sign * np.exp(ops.logpmf(k, v["mu"]) - ans)
            return sign * ops.pmf(k, v["mu"])
        elementwise(f"stats.poisson.{method}", params, {"mu": dmu}, defaults)
    # d/dmu of P(K <= k) is -pmf(k)
    through_pmf("cdf", -1.0, False)
    through_pmf("sf", 1.0, False)
    through_pmf("logcdf", -1.0, True)
    through_pmf("logsf", 1.0, True)


def _mvn_parts(x, mean, cov):
    ndim = len(shape_of(cov))
    if ndim < 2:  # a variance, or the variances of independent components
        if ndim == 1:
            cov = np.diag(cov)
        else:
            d = shape_of(mean)[-1] if mean is not None and len(shape_of(mean)) else (
                shape_of(x)[-1] if len(shape_of(x)) else 1)
            cov = cov * np.eye(d)
    d = shape_of(cov)[0]
    if mean is None:
        mean = np.zeros(d)
    return mean, cov, d


def _lse_keepdims_shape():
    """The shape of SciPy's ``logsumexp(x, keepdims=True)`` for a 0-d ``x`` (``(1,)`` in recent SciPy, ``()``
    before)."""
    import scipy.special

    return onp.shape(scipy.special.logsumexp(0.0, keepdims=True))


def _negligible(cov):
    """SciPy's cutoff for a covariance's eigenvalues (``stats._multivariate._PSD``): those at most ``eps`` count as
    zero; ``(eps, how many do)``."""
    s = onp.linalg.eigvalsh(onp.asarray(_host(cov)))
    factor = 1e3 if s.dtype == onp.float32 else 1e6
    eps = factor * onp.finfo(s.dtype).eps * onp.max(onp.abs(s))
    return eps, int(onp.sum(s <= eps))


def _singular_logpdf(dev, cov, d, eps):
    # A covariance of rank r < d: the density of the r-dimensional normal on its support (SciPy's
    # allow_singular=True): the pseudo-inverse and pseudo-determinant over the eigenvectors kept, and -inf off
    # the support (a deviation with a component along a dropped eigenvector longer than 1e3 eps).
    s, u = np.linalg.eigh(cov)
    keep = onp.asarray(_host(s)) > eps
    rank = int(onp.sum(keep))
    kept_idx = onp.nonzero(keep)[0]
    dropped_idx = onp.nonzero(~keep)[0]
    proj = np.matmul(dev, np.take(u, kept_idx, axis=1))      # coordinates along the kept eigenvectors
    maha = np.sum(proj * proj / np.take(s, kept_idx), axis=-1)
    log_pdet = np.sum(np.log(np.take(s, kept_idx)))
    out = -0.5 * (rank * _LOG_2PI + log_pdet + maha)
    off = onp.linalg.norm(onp.asarray(_host(np.matmul(dev, np.take(u, dropped_idx, axis=1)))), axis=-1)
    outside = off >= 1e3 * eps
    if onp.any(outside):
        out = np.where(outside, -onp.inf, out)
    return out


def _multivariate_normal():
    def logpdf(x, mean=None, cov=1, allow_singular=False):
        mean, cov, d = _mvn_parts(x, mean, cov)
        points = np.reshape(x, (-1, d))
        dev = points - mean
        if allow_singular:
            eps, zero = _negligible(cov)
            if zero:
                return np.squeeze(_singular_logpdf(dev, cov, d, eps))
        sol = np.linalg.solve(cov, swapT(dev))
        maha = np.sum(swapT(dev) * sol, axis=0)
        return np.squeeze(-0.5 * (d * _LOG_2PI + np.linalg.slogdet(cov)[1] + maha))  # SciPy squeezes too

    def pdf(x, mean=None, cov=1, allow_singular=False):
        return np.exp(logpdf(x, mean, cov, allow_singular))

    def entropy(mean=None, cov=1):
        mean, cov, d = _mvn_parts(mean if mean is not None else np.zeros(1), mean, cov)
        return 0.5 * (d * (1.0 + _LOG_2PI) + np.linalg.slogdet(cov)[1])
    formula("stats.multivariate_normal.logpdf", logpdf, (0, 1, 2, "x", "mean", "cov"))
    formula("stats.multivariate_normal.pdf", pdf, (0, 1, 2, "x", "mean", "cov"))
    formula("stats.multivariate_normal.entropy", entropy, (0, 1, "mean", "cov"))


def _dirichlet(sp):
    def logpdf(x, alpha):
        k = shape_of(alpha)[0]
        if shape_of(x)[0] == k - 1:  # SciPy's short form: the last component is 1 - the others
            x = np.concatenate([x, 1.0 - np.sum(x, axis=0, keepdims=True)], axis=0)
        a = alpha if len(shape_of(x)) == 1 else np.reshape(alpha, (k,) + (1,) * (len(shape_of(x)) - 1))
        return np.squeeze(np.sum(sp.xlogy(a - 1.0, x), axis=0) + sp.gammaln(np.sum(alpha))
                          - np.sum(sp.gammaln(alpha)))

    def pdf(x, alpha):
        return np.exp(logpdf(x, alpha))
    formula("stats.dirichlet.logpdf", logpdf, (0, 1, "x", "alpha"))
    formula("stats.dirichlet.pdf", pdf, (0, 1, "x", "alpha"))


# -- scipy.signal ---------------------------------------------------------------------------------------------------
def _signal(module):
    formula("signal.convolve", convolve_formula, (0, 1, "in1", "in2"))


def convolve_formula(in1, in2, axes=None, dot_axes=((), ()), mode="full", method="auto"):
    """``minpy.scipy.signal.convolve`` in ``minpy.numpy`` (its derivative): the full convolution by windows of
    the zero-padded second input (one ``take`` per convolved axis) contracted with the first by ``einsum``,
    then the part ``mode`` keeps."""
    from minpy.scipy._signal import _norm

    if isinstance(axes, str):
        mode, axes = axes, None
    a, b = in1, in2
    nda, ndb = len(shape_of(a)), len(shape_of(b))
    dot_a, dot_b = _norm(tuple(dot_axes[0]), nda), _norm(tuple(dot_axes[1]), ndb)
    if axes is None:
        axes = ([i for i in range(nda) if i not in dot_a], [j for j in range(ndb) if j not in dot_b])
    conv_a, conv_b = _norm(tuple(axes[0]), nda), _norm(tuple(axes[1]), ndb)
    sa, sb = shape_of(a), shape_of(b)
    # windows of b: axis j becomes (n, k) with b_padded[n + na - 1 - k] = b[n - k]
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    a_sub = [next(letters) for _ in range(nda)]
    b_sub = [next(letters) for _ in range(ndb)]
    full_sub = []
    win = b
    win_sub = list(b_sub)
    for i, j in zip(conv_a, conv_b):
        na, nb = sa[i], sb[j]
        pad = [(0, 0)] * len(win_sub)
        where = win_sub.index(b_sub[j])
        pad[where] = (na - 1, na - 1)
        win = np.pad(win, pad)
        index = onp.arange(na + nb - 1)[:, None] + (na - 1) - onp.arange(na)[None, :]
        win = np.take(win, index, axis=where)
        n_letter = next(letters)
        win_sub[where:where + 1] = [n_letter, a_sub[i]]  # k pairs with a's convolved axis
        full_sub.append(n_letter)
    for i, j in zip(dot_a, dot_b):
        win_sub[win_sub.index(b_sub[j])] = a_sub[i]
    ign_a = [a_sub[i] for i in range(nda) if i not in conv_a and i not in dot_a]
    ign_b = [b_sub[j] for j in range(ndb) if j not in conv_b and j not in dot_b]
    out = np.einsum("".join(a_sub) + "," + "".join(win_sub) + "->" + "".join(ign_a + ign_b + full_sub), a, win)
    if mode == "full":
        return out
    first = len(ign_a) + len(ign_b)
    index = [slice(None)] * first
    for i, j in zip(conv_a, conv_b):
        na, nb = sa[i], sb[j]
        if mode == "valid":
            index.append(slice(min(na, nb) - 1, max(na, nb)))
        else:  # "same": the centre, of in1's size
            start = (nb - 1) // 2
            index.append(slice(start, start + na))
    return out[tuple(index)]


# -- scipy.linalg -------------------------------------------------------------------------------------------------
def _tri(a, lower):
    return np.tril(a) if lower else np.triu(a)


def _herm(a):
    return np.conjugate(swapT(a)) if is_complex(a) else swapT(a)


def _linalg(module):
    import minpy.scipy.linalg as sl

    formula("linalg.inv", lambda a, *r, **k: np.linalg.inv(a), (0, "a"))
    formula("linalg.det", lambda a, *r, **k: np.linalg.det(a), (0, "a"))

    def solve(a, b, lower=False, overwrite_a=False, overwrite_b=False, check_finite=True, assume_a=None,
              transposed=False):
        if assume_a in ("sym", "symmetric", "her", "hermitian", "pos", "positive definite"):
            t = _tri(a, lower)
            other = _herm(t) if assume_a in ("her", "hermitian", "pos", "positive definite") else swapT(t)
            a = t + other - np.diag(np.diagonal(a)) if shape_of(a)[-1] else a
        if transposed:
            a = swapT(a)
        return np.linalg.solve(a, b)
    formula("linalg.solve", solve, (0, 1, "a", "b"))

    def triangular(a, lower, unit_diagonal):
        t = _tri(a, lower)
        if unit_diagonal:
            n = shape_of(a)[-1]
            t = t - np.diag(np.diagonal(t)) + np.eye(n, dtype=t.dtype)
        return t

    def solve_triangular(a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False, check_finite=True):
        t = triangular(a, lower, unit_diagonal)
        if trans in (1, "T"):
            t = swapT(t)
        elif trans in (2, "C"):
            t = _herm(t)
        return np.linalg.solve(t, b)
    formula("linalg.solve_triangular", solve_triangular, (0, 1, "a", "b"))

    def solve_banded(l_and_u, ab, b, overwrite_ab=False, overwrite_b=False, check_finite=True):
        lower, upper = (int(v) for v in l_and_u)
        rows, n = shape_of(ab)
        i = onp.arange(n)[:, None]
        j = onp.arange(n)[None, :]
        band = upper + i - j  # the row of ab holding a[i, j]
        inside = (band >= 0) & (band < rows)
        flat = onp.where(inside, band * n + j, 0)
        full = np.where(inside, np.take(np.reshape(ab, (-1,)), flat), 0.0)
        return np.linalg.solve(full, b)
    formula("linalg.solve_banded", solve_banded, (1, 2, "ab", "b"))

    def solve_sylvester(a, b, q):
        # A X + X B = Q as one linear system in X's columns stacked (column-major vec)
        n, m = shape_of(a)[0], shape_of(b)[0]
        system = np.kron(np.eye(m), a) + np.kron(swapT(b), np.eye(n))
        x = np.linalg.solve(system, np.reshape(swapT(q), (-1,)))
        return swapT(np.reshape(x, (m, n)))
    formula("linalg.solve_sylvester", solve_sylvester, (0, 1, 2, "a", "b", "q"))
    formula("linalg.solve_continuous_lyapunov", lambda a, q: solve_sylvester(a, _herm(a), q),
            (0, 1, "a", "q"))

    def cholesky(a, lower=False, overwrite_a=False, check_finite=True):
        factor = np.linalg.cholesky(a)
        return factor if lower else _herm(factor)
    formula("linalg.cholesky", cholesky, (0, "a"))

    def cho_factor(a, lower=False, overwrite_a=False, check_finite=True):
        # SciPy leaves a's entries in the triangle it does not write
        c = cholesky(a, lower)
        n = shape_of(a)[-1]
        mask = onp.tril(onp.ones((n, n), dtype=bool)) if lower else onp.triu(onp.ones((n, n), dtype=bool))
        return np.where(mask, c, a), lower
    formula("linalg.cho_factor", cho_factor, (0, "a"))
    _cho_solve()

    # matrix functions: f([[A, E], [0, A]]) = [[f(A), L(A, E)], [0, f(A)]], with L the Frechet derivative of f
    # at A in the direction E; the VJP is L(A^T, G) (for f with a power series of real coefficients)
    for fn_name in ("expm", "logm"):
        _matrix_function(fn_name, getattr(sl, fn_name))
    _sqrtm(sl)


def _frechet(f, a, e):
    n = shape_of(a)[-1]
    zero = np.zeros_like(a)
    block = np.concatenate([np.concatenate([a, e], axis=-1), np.concatenate([zero, a], axis=-1)], axis=-2)
    out = f(block)
    return out[..., :n, n:]


def _matrix_function(fn_name, f):
    name = "scipy.linalg." + fn_name
    if not declared(name):
        return

    def check(argpos):
        if argpos not in (0, "A"):
            raise NoRuleError(f"{public_name(name)}: no derivative with respect to argument {argpos!r}")

    def vjp_rule(argpos, g, ans, args, kwargs):
        check(argpos)
        a = args[0] if args else kwargs["A"]
        # holomorphic: the transpose of L, L(A^T, G), unconjugated (HIPS autograd's convention)
        return match(_frechet(f, swapT(a), g), a)

    def jvp_rule(argpos, t, ans, args, kwargs):
        check(argpos)
        a = args[0] if args else kwargs["A"]
        return _frechet(f, a, t)
    registry.install_vjp(name, vjp_rule)
    registry.install_jvp(name, jvp_rule)


def _sqrtm(sl):
    # S = sqrtm(A): S dS + dS S = dA, a Sylvester equation for dS (its transpose: S^T X + X S^T = G). Better
    # conditioned than the block form, whose 2n (4n at second order) matrix has every eigenvalue
    # repeated, where SciPy's sqrtm loses all accuracy. Holomorphic: transposes, not conjugates.
    name = "scipy.linalg.sqrtm"
    if not declared(name):
        return

    def check(argpos):
        if argpos not in (0, "A"):
            raise NoRuleError(f"{public_name(name)}: no derivative with respect to argument {argpos!r}")

    def root(ans):
        return ans[0] if type(ans) is tuple else ans  # sqrtm(A, disp=False) returns (S, error estimate)

    def vjp_rule(argpos, g, ans, args, kwargs):
        check(argpos)
        a = args[0] if args else kwargs["A"]
        st = swapT(root(ans))
        return match(sl.solve_sylvester(st, st, g), a)

    def jvp_rule(argpos, t, ans, args, kwargs):
        check(argpos)
        s = root(ans)
        return sl.solve_sylvester(s, s, t)
    registry.install_vjp(name, vjp_rule)
    registry.install_jvp(name, jvp_rule)


def _cho_solve():
    from minpy.autograd.backward import gradients, trace_reverse
    from minpy.autograd.forward import trace_forward

    name = "scipy.linalg.cho_solve"
    if not declared(name):
        return

    def solve(c, lower, b):
        t = _tri(c, lower)
        a = np.matmul(t, _herm(t)) if lower else np.matmul(_herm(t), t)
        return np.linalg.solve(a, b)

    def parts(argpos, args, kwargs):
        v = _bind(("c_and_lower", "b"), {}, args, kwargs)
        (c, lower), b = v["c_and_lower"], v["b"]
        if argpos in ((0, 0), ("c_and_lower", 0)):
            return c, lambda z: solve(z, lower, b)
        if argpos in (1, "b"):
            return b, lambda z: solve(c, lower, z)
        raise NoRuleError(f"{public_name(name)}: no derivative with respect to argument {argpos!r}")

    def vjp_rule(argpos, g, ans, args, kwargs):
        x, f = parts(argpos, args, kwargs)
        out, trace, boxed, starts = trace_reverse(f, (x,), {}, (0,))
        return match(gradients(out, trace, boxed, starts, g, free=True)[0], x)

    def jvp_rule(argpos, t, ans, args, kwargs):
        x, f = parts(argpos, args, kwargs)
        return trace_forward(f, (x,), {}, (0,), (t,))[1]
    vjp_rule.items = True
    jvp_rule.items = True
    registry.install_vjp(name, vjp_rule)
    registry.install_jvp(name, jvp_rule)


# -- scipy.integrate --------------------------------------------------------------------------------------------
def _integrate(module):
    from minpy.autograd.rules import _odeint

    _odeint.install()


_FAMILIES = {"special": _special, "misc": _special, "stats": _stats, "signal": _signal, "linalg": _linalg,
             "integrate": _integrate}
