"""The ``minpy.scipy`` operator table: every ``minpy.scipy`` operator declared here, once.

Like :mod:`minpy.ops.table` for ``minpy.numpy``: a record names the operator (``scipy.<module>.<function>``,
``scipy.stats.norm.pdf``), its reference implementation (the SciPy function of that name unless ``ref`` says
otherwise), the other backends that implement it, its kind, whether it is differentiable, tolerance notes and
test hints. The ``minpy.scipy`` namespaces (:mod:`minpy.scipy._namespace`), the property tests
(``tests/array/test_scipy_ops.py``, ``tests/autograd/test_scipy_grad.py``) are generated from it; the
derivative rules live in ``minpy.autograd.rules.scipy``.

This module is data: it never imports SciPy (SciPy is optional; the names are known without it). Every other
public callable of ``scipy.special`` and ``scipy.linalg`` (:data:`MIRRORED`), and every other method of the
distributions in :data:`DISTRIBUTIONS`, becomes a NumPy-only operator without a gradient when its module is
imported (a traced float reaching one raises, as for ``minpy.numpy``).

``differentiable``: True (a rule in minpy-autograd; ``wrt`` in the test hints says for which arguments: the
others raise when differentiated), False (piecewise constant: no gradient flows, as in HIPS autograd), None
(no rule).

Test hints (``test=``), the vocabulary of ``tests/array/scipy_strategies.py``:

* ``args``: the positional arguments, each a kind. Elementwise arguments are domain names (``"real"``,
  ``"pos"``, ``"unit"``...: floats there, as mutually broadcastable arrays or Python floats; see
  :data:`DOMAINS`); others are ``"order"`` (an int 0..3), ``"vorder"`` (a float order), ``"dim"``
  (an int 1..3), ``"count"`` (non-negative integers as floats), ``"axis"``, ``"square"``, ``"spd"``,
  ``"triangular"``... (see the strategies module);
* ``kwargs``: keyword -> kind, each drawn or left out; ``fixed``: constant keywords;
* ``wrt``: the positions (ints) and keyword names the gradient tests differentiate (default: every float
  argument); ``symmetric``: positions whose matrices the function reads as symmetric (the gradient tests
  differentiate it as a function of ``(a + a.T) / 2``);
* ``complex``: the gradient tests also run on complex inputs (HIPS autograd's convention);
* ``order``: 1 when the second-order gradient test is left out (with a ``note`` saying why).

Tolerances: as in :mod:`minpy.ops.table` (rtol 1e-3 float16, 1e-5/atol 1e-6 float32, 1e-10 float64, for
results of other backends than NumPy; a ``tol`` widens them with a note). Gradients are checked against
central finite differences (step 1e-6) by HIPS autograd's check (``minpy.autograd.test_util.check_grads``:
inner products along random directions agree within 1e-6, absolutely or relatively), in both modes, to second
order, under every dispatch policy; no operator needs a wider tolerance. The exceptions to the plain check are
test hints with a ``note`` saying why: ``order: 1`` (none today), ``fixed`` settings (``odeint``'s integration
tolerances), ``symmetric`` and ``simplex`` arguments.
"""
from minpy.backends.base import Impl
from minpy.scipy import _signal

RECORDS = []
#: operator name -> test hints
TEST_HINTS = {}

#: SciPy modules (under ``scipy.``) whose undeclared public callables ``minpy.scipy`` mirrors as NumPy-only
#: operators without gradients
MIRRORED = ("special", "linalg")

#: the ``minpy.scipy`` modules that hold operators, and the SciPy module each mirrors
MODULES = {"special": "scipy.special", "linalg": "scipy.linalg", "signal": "scipy.signal",
           "integrate": "scipy.integrate", "misc": "scipy.special"}

#: elementwise domains of the test hints: name -> (low, high) of the values drawn
DOMAINS = {
    "real": (-3.0, 3.0), "small": (-1.5, 1.5), "pos": (0.2, 4.0), "gpos": (0.3, 4.0), "unit": (-0.95, 0.95),
    "prob": (0.05, 0.95), "erfc": (0.05, 1.95), "shape": (0.6, 4.0), "gt1": (1.2, 4.0), "mgl": (2.1, 5.0),
    "loc": (-1.0, 1.0), "scale": (0.5, 2.0), "df": (2.5, 8.0), "neg_loc": (-0.3, -0.05), "wide_scale": (1.3, 2.0),
    "bessel": (0.3, 8.0), "vorder": (0.3, 2.5),
    # beta's x: inside the support (loc, loc + scale) for every loc of neg_loc and scale >= 1 (the default)
    "beta_x": (0.05, 0.65),
}

_FLOAT = "f"


def _mx(spec, **kw):
    return {"mxnet": Impl(spec, **kw)}


def _no_float16(args, kwargs):
    if any(getattr(a, "dtype", None) is not None and a.dtype.itemsize == 2 and a.dtype.kind == "f"
           for a in args):
        return "float16 (SciPy computes it in float32 or float64; MXNet would round to float16)"
    return None


def _softmax_ok(args, kwargs):
    axis = kwargs.get("axis", args[1] if len(args) > 1 else None)
    if type(axis) is not int:
        return "axis None or a tuple (MXNet's softmax takes one axis)"
    ndim = getattr(args[0], "ndim", 0)
    if ndim == 0 or not -ndim <= axis < ndim:
        return "a 0-d input or an axis out of range"
    if args[0].size == 0:
        return "an empty input"
    return _no_float16(args, kwargs)


def _mx_softmax(x, axis=None):
    # SciPy's formula, exp(x - max) / sum: NaN and infinity come out as SciPy's (npx.softmax gives 0 beside a NaN)
    from mxnet import np as mxnp  # only called once the MXNet backend has loaded

    e = mxnp.exp(x - mxnp.max(x, axis=axis, keepdims=True))
    return e / mxnp.sum(e, axis=axis, keepdims=True)


def declare(name, kind="function", differentiable=True, ref=None, impls=None, tol=None, test=None, **fields):
    """One record: ``name`` is ``module.function`` under ``scipy`` (``special.erf``)."""
    full = "scipy." + name
    RECORDS.append(dict(name=full, ref=ref, kind=kind, differentiable=differentiable, impls=impls, tol=tol,
                        **fields))
    if test:
        TEST_HINTS[full] = test


# -- scipy.special: elementwise functions of one argument ---------------------------------------------------------
# name -> (domain of the tests, complex inputs differentiated too). Exceptions: i0e and i1e are tested on positive
# x (exp(-|x|) has a kink at 0, where finite differences straddle it); the gamma family is not tested on complex
# x (its second derivative needs polygamma, which SciPy has for real x only).
_UNARY = {
    "erf": ("real", True), "erfc": ("real", True), "erfcx": ("small", True), "erfinv": ("unit", False),
    "erfcinv": ("erfc", False), "dawsn": ("real", True), "ndtr": ("real", False), "log_ndtr": ("real", False),
    "ndtri": ("prob", False), "expit": ("real", False), "logit": ("prob", False), "log_expit": ("real", False),
    "gamma": ("gpos", False), "gammaln": ("gpos", False), "loggamma": ("gpos", False), "digamma": ("gpos", False),
    "psi": ("gpos", False), "rgamma": ("gpos", False), "entr": ("pos", False),
    "i0": ("real", False), "i1": ("real", False), "i0e": ("pos", False), "i1e": ("pos", False),
    "j0": ("bessel", False), "j1": ("bessel", False), "y0": ("bessel", False), "y1": ("bessel", False),
    "k0": ("pos", False), "k1": ("pos", False), "k0e": ("pos", False), "k1e": ("pos", False),
    "expm1": ("real", True), "log1p": ("pos", True), "exp2": ("real", False), "exp10": ("small", False),
    "cbrt": ("pos", False),
}
# MXNet's own kernels whose results match SciPy's to the tolerances above (measured on MXNet 1.9.1: float32
# within 4e-7, float64 within 3e-13 relative over the test domains). Where SciPy computes a float16 input in
# float32/float64, the dispatcher casts MXNet's input first ("out" casting), so the dtype is SciPy's.
_MX_UNARY = {"erf": "npx.erf", "erfinv": "npx.erfinv", "gamma": "npx.gamma", "gammaln": "npx.gammaln",
             "expit": "npx.sigmoid"}
_MX_TOL = {
    "gammaln": {"note": "MXNet's gammaln(-inf) is inf (SciPy's is -inf) and it does not overflow for "
                        "subnormal inputs as SciPy does; property tests keep NaN and infinity out of the inputs"},
    "gamma": {"note": "MXNet flushes subnormal inputs to zero (gamma of x below 2.2e-308 is inf there, finite in "
                      "SciPy); property tests draw no subnormal values"},
}
for _name, (_domain, _complex) in _UNARY.items():
    _test = {"args": (_domain,)}
    if _complex:
        _test["complex"] = True
    declare("special." + _name, kind="ufunc", casting="out" if _name in _MX_UNARY else None,
            impls=_mx(_MX_UNARY[_name], dtypes=_FLOAT) if _name in _MX_UNARY else None,
            tol=_MX_TOL.get(_name), test=_test)
# the sign of gamma: piecewise constant (HIPS autograd gives it a zero gradient too)
declare("special.gammasgn", kind="ufunc", differentiable=False, test={"args": ("real",)})

# -- scipy.special: several arguments ---------------------------------------------------------------------------
_NARY = {  # name -> (argument kinds, the arguments differentiated)
    "beta": (("shape", "shape"), (0, 1)),
    "betaln": (("shape", "shape"), (0, 1)),
    "betainc": (("shape", "shape", "prob"), (2,)),
    "betaincc": (("shape", "shape", "prob"), (2,)),
    "gammainc": (("shape", "pos"), (1,)),
    "gammaincc": (("shape", "pos"), (1,)),
    "jv": (("vorder", "bessel"), (1,)),
    "jn": (("order", "bessel"), (1,)),
    "yv": (("vorder", "bessel"), (1,)),
    "yn": (("order", "bessel"), (1,)),
    "iv": (("vorder", "pos"), (1,)),
    "ive": (("vorder", "pos"), (1,)),
    "kv": (("vorder", "pos"), (1,)),
    "kve": (("vorder", "pos"), (1,)),
    "xlogy": (("real", "pos"), (0, 1)),
    "xlog1py": (("real", "pos"), (0, 1)),
    "rel_entr": (("pos", "pos"), (0, 1)),
    "kl_div": (("pos", "pos"), (0, 1)),
    "zeta": (("gt1", "pos"), (1,)),
}
for _name, (_args, _wrt) in _NARY.items():
    declare("special." + _name, kind="ufunc", test={"args": _args, "wrt": _wrt})
# polygamma is a Python function over the ufunc of its cases; the order n is an integer
declare("special.polygamma", kind="function", test={"args": ("order", "gpos"), "wrt": (1,)})
declare("special.multigammaln", kind="function", test={"args": ("mgl", "dim"), "wrt": (0,)})
declare("special.logsumexp", kind="reduction",
        test={"args": ("real",), "kwargs": {"axis": "axes", "keepdims": "bool", "b": "weights"},
              "wrt": (0, "b"), "min_ndim": 0, "complex": True})
declare("special.softmax", kind="function",
        impls=_mx(_mx_softmax, kwargs=("axis",), dtypes=_FLOAT, accepts=_softmax_ok),
        test={"args": ("real",), "kwargs": {"axis": "axes"}, "plain": {"axis": True}, "complex": True})
declare("special.log_softmax", kind="function", test={"args": ("real",), "kwargs": {"axis": "axes"},
                                                      "complex": True})

# -- scipy.stats: the distributions HIPS autograd has -------------------------------------------------------------
#: distribution -> (shape parameters (name, test domain), discrete, x's test domain, the shape parameters whose
#: log density has a derivative rule, loc's and scale's test domains)
DISTRIBUTIONS = {
    "norm": ((), False, "real", (), "loc", "scale"),
    "t": ((("df", "df"),), False, "real", ("df",), "loc", "scale"),
    "gamma": ((("a", "shape"),), False, "pos", ("a",), "neg_loc", "scale"),
    "beta": ((("a", "shape"), ("b", "shape")), False, "beta_x", ("a", "b"), "neg_loc", "wide_scale"),
    "chi2": ((("df", "df"),), False, "pos", ("df",), "neg_loc", "scale"),
    "poisson": ((("mu", "pos"),), True, "count", ("mu",), None, None),
}
#: the methods of a univariate distribution that have rules: x (or q) first, then the shape parameters, loc
#: and scale (loc only, for a discrete one)
CONTINUOUS_METHODS = ("pdf", "logpdf", "cdf", "logcdf", "sf", "logsf", "ppf", "isf")
DISCRETE_METHODS = ("pmf", "logpmf", "cdf", "logcdf", "sf", "logsf")
#: the multivariate distributions' methods with rules: method -> (argument kinds, differentiated)
MULTIVARIATE = {
    "multivariate_normal": {"pdf": (("mvn_x", "mvn_mean", "spd"), (0, 1, 2)),
                            "logpdf": (("mvn_x", "mvn_mean", "spd"), (0, 1, 2)),
                            "entropy": (("mvn_mean", "spd"), (0, 1))},
    "dirichlet": {"pdf": (("simplex", "alpha"), (0, 1)), "logpdf": (("simplex", "alpha"), (0, 1))},
}


def method_params(dist, method):
    """The parameter names of a univariate distribution's method, in SciPy's order (x or q first)."""
    shapes, discrete = DISTRIBUTIONS[dist][:2]
    first = "q" if method in ("ppf", "isf") else ("k" if discrete else "x")
    return (first, *[s for s, _ in shapes], "loc", *(() if discrete else ("scale",)))


for _dist, (_shapes, _discrete, _xdom, _diff_shapes, _locdom, _scaledom) in DISTRIBUTIONS.items():
    for _method in DISCRETE_METHODS if _discrete else CONTINUOUS_METHODS:
        _params = method_params(_dist, _method)
        _first = "prob" if _method in ("ppf", "isf") else _xdom
        _args = (_first, *[d for _, d in _shapes])
        if _discrete:
            _wrt = tuple(i for i, p in enumerate(_params) if p in _diff_shapes)
            _kw = {}
        else:
            density = _method in ("pdf", "logpdf")
            _wrt = (0, *[i + 1 for i, (s, _) in enumerate(_shapes) if density and s in _diff_shapes],
                    "loc", "scale")
            _kw = {"loc": _locdom, "scale": _scaledom}
        _test = {"args": _args, "kwargs": _kw, "wrt": _wrt, "elementwise": True}
        if _dist == "t" and _method in ("ppf", "isf"):
            # SciPy 1.15+ finds Student's t quantiles by a root finder accurate to ~1e-10: central differences
            # with HIPS's step (1e-6) are then off by ~1e-4 of the derivative, which is exact (1 / pdf)
            _test["grad_rtol"] = 1e-3
            _test["note"] = "gradient checked against finite differences to 1e-3 (SciPy's quantile accuracy)"
        declare(f"stats.{_dist}.{_method}", test=_test)
for _dist, _methods in MULTIVARIATE.items():
    for _method, (_args, _wrt) in _methods.items():
        declare(f"stats.{_dist}.{_method}",
                test={"args": _args, "wrt": _wrt, "symmetric": (_args.index("spd"),) if "spd" in _args else ()})

#: the methods of every distribution above that are random (the others not declared have no gradient)
RANDOM_METHODS = ("rvs",)

# -- scipy.signal ----------------------------------------------------------------------------------------------
# HIPS autograd's convolve (axes to convolve, axes to contract), with SciPy's as the special case; see _signal.
declare("signal.convolve", ref=_signal.convolve,
        test={"args": ("conv_a", "conv_b"), "kwargs": {"mode": "conv_mode"}, "wrt": (0, 1)})

# -- scipy.linalg ----------------------------------------------------------------------------------------------
_LINALG = {
    "sqrtm": {"complex": True, "args": ("spd",), "symmetric": (0,)},
    "expm": {"complex": True, "args": ("square_small",)},
    "logm": {"complex": True, "args": ("spd",), "symmetric": (0,)},
    "inv": {"complex": True, "args": ("square",)},
    "det": {"complex": True, "args": ("square",)},
    "solve": {"complex": True, "args": ("square", "rhs")},
    "solve_triangular": {"complex": True, "args": ("triangular", "rhs"), "kwargs": {"trans": "trans", "lower": "bool",
                                                                  "unit_diagonal": "bool"}},
    "solve_banded": {"complex": True, "args": ("l_and_u", "banded", "banded_rhs"), "wrt": (1, 2)},
    "solve_sylvester": {"complex": True, "args": ("square", "square_b", "sylvester_q")},
    "solve_continuous_lyapunov": {"complex": True, "args": ("square", "sylvester_q")},
    "cholesky": {"args": ("spd",), "kwargs": {"lower": "bool"}, "symmetric": (0,)},
    "cho_factor": {"args": ("spd",), "kwargs": {"lower": "bool"}, "symmetric": (0,)},
    "cho_solve": {"args": ("cho_factor", "rhs"), "wrt": ((0, 0), 1)},
}
for _name, _test in _LINALG.items():
    declare("linalg." + _name, kind="linalg", test=_test)

# -- scipy.integrate -------------------------------------------------------------------------------------------
# odeint's gradient is the adjoint method (HIPS autograd's): with respect to y0, the times and the extra arguments,
# to any order (the rules integrate augmented systems with odeint itself).
declare("integrate.odeint", test={"args": ("ode_func", "ode_y0", "ode_t"), "kwargs": {"args": "ode_args"},
                                  "wrt": (1, 2, "args"), "fixed": {"rtol": 1e-10, "atol": 1e-10},
                                  "grad_rtol": 1e-4,
                                  "note": "tight integration tolerances, so that finite differences of 1e-6 "
                                          "resolve the derivatives; checked to 1e-4 relative: LSODA's step "
                                          "choices move with the input, so a difference of 1e-6 carries its "
                                          "1e-10 error as up to 1e-4 of the derivative (a draw was off by "
                                          "1.5e-5 in a second-order check)"})

#: names of ``minpy.scipy.misc`` (HIPS autograd's ``autograd.scipy.misc``): the operators of ``special`` that SciPy
#: once kept in ``scipy.misc``
MISC = ("logsumexp",)


def records_of(module):
    """The records of one ``minpy.scipy`` module (``"special"``, ``"stats.norm"``...)."""
    prefix = "scipy." + module + "."
    return [r for r in RECORDS if r["name"].startswith(prefix) and "." not in r["name"][len(prefix):]]
