"""Hypothesis strategies that build calls of ``minpy.scipy``'s operators from the test hints of their table
(:mod:`minpy.scipy._table`; the vocabulary is documented there).

Three modes: ``"value"`` (the property tests against SciPy: float16/32/64 arrays, values mostly in the domain
and sometimes outside it or NaN/infinity, empty arrays too), ``"plain"`` (float32/float64, in the domain,
non-empty: the check that an MXNet route is taken) and ``"grad"`` (float64, inside the domain, non-empty: the
gradient tests). Elementwise arguments (domain kinds) get mutually broadcastable shapes or are Python floats.
"""
import math

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minpy.numpy as mnp
from minpy.scipy import _table

MAX_DIMS = 2
MAX_SIDE = 3
#: default tolerances (rtol, atol) by result dtype; a record's ``tol`` may widen them, with a note
TOLERANCES = {"float16": (1e-3, 1e-5), "float32": (1e-5, 1e-6), "float64": (1e-10, 1e-12)}
VALUE_DTYPES = (np.dtype("float64"), np.dtype("float32"), np.dtype("float16"))
PLAIN_DTYPES = (np.dtype("float64"), np.dtype("float32"))
F64 = np.dtype("float64")


def hints(op):
    return _table.TEST_HINTS.get(op.name, {})


def nan_allowed(op):
    return "nan" not in str((op.tol or {}).get("note", "")).lower()


def tolerance(op, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        dtype = np.dtype(dtype.char.lower())
    override = (op.tol or {}).get(dtype.name)
    return override if override is not None else TOLERANCES.get(dtype.name, (0, 0))


class Call:
    """Positional and keyword arguments; NumPy arrays in them (one level into tuples and lists too) become
    minpy Arrays for the minpy run."""

    def __init__(self, args, kwargs):
        self.args = list(args)
        self.kwargs = dict(kwargs)

    def __repr__(self):
        parts = [_show(a) for a in self.args] + [f"{k}={_show(v)}" for k, v in self.kwargs.items()]
        return f"Call({', '.join(parts)})"

    def materialise(self, to_array):
        return [_materialise(a, to_array) for a in self.args], {k: _materialise(v, to_array)
                                                                for k, v in self.kwargs.items()}

    def numpy(self):
        return self.materialise(np.copy)


def _show(v):
    if isinstance(v, np.ndarray):
        return f"np.array({v.tolist()!r}, dtype={v.dtype.name})" + (f".reshape({v.shape})" if v.size == 0 else "")
    if type(v) in (list, tuple):
        inner = ", ".join(_show(x) for x in v)
        return f"[{inner}]" if type(v) is list else f"({inner},)"
    return getattr(v, "__name__", None) or repr(v)


def _materialise(v, to_array):
    if isinstance(v, np.ndarray):
        return to_array(v)
    if type(v) in (list, tuple):
        return type(v)(_materialise(x, to_array) for x in v)
    return v


class Ctx:
    """What the arguments of one call share."""

    def __init__(self, op, mode, draw):
        self.op = op
        self.mode = mode
        self.hints = hints(op)
        self.draw = draw
        self.scratch = {}
        self.nan = mode == "value" and nan_allowed(op)

    def dtype(self):
        if self.mode == "grad":
            return F64
        if self.mode == "plain":
            if "dtype" not in self.scratch:
                self.scratch["dtype"] = self.draw(st.sampled_from(PLAIN_DTYPES))
            return self.scratch["dtype"]
        return self.draw(st.sampled_from(VALUE_DTYPES if self.op.kind == "ufunc" else PLAIN_DTYPES[:1] * 3
                                         + PLAIN_DTYPES[1:]))

    def n(self, key="n", low=1, high=3):
        """A size shared by the arguments of the call (a matrix's order, a distribution's dimension)."""
        if key not in self.scratch:
            self.scratch[key] = self.draw(st.integers(low, high))
        return self.scratch[key]

    def values(self, shape, domain, dtype=None, finite=False):
        """An array of ``shape`` in ``domain``; in value mode, some values outside it (and NaN, infinity)
        unless ``finite``."""
        dtype = self.dtype() if dtype is None else dtype
        lo, hi = _table.DOMAINS[domain]
        # no subnormal values: MXNet's kernels flush them to zero (gamma, gammaln: the table's notes), so a
        # call on MXNet differs from SciPy's there by design
        inside = st.floats(lo, hi, allow_subnormal=False)
        if self.mode == "value" and not finite:
            span = hi - lo
            outside = st.floats(lo - span, hi + span, allow_subnormal=False)
            special = st.sampled_from([math.nan, math.inf, -math.inf, 0.0]) if self.nan else st.just(lo)
            elements = st.one_of(inside, inside, inside, outside, special)
        else:
            elements = inside
        values = self.draw(st.lists(elements, min_size=math.prod(shape), max_size=math.prod(shape)))
        return np.array(values, dtype=np.float64).reshape(shape).astype(dtype)

    def matrix(self, shape, scale=1.0, dtype=None):
        dtype = self.dtype() if dtype is None else dtype
        values = self.draw(st.lists(st.floats(-1.0, 1.0), min_size=math.prod(shape), max_size=math.prod(shape)))
        return (np.array(values).reshape(shape) * scale).astype(dtype)


# -- argument kinds (other than elementwise domains) -----------------------------------------------------------
KINDS = {}


def kind(name):
    def register(fn):
        KINDS[name] = fn
        return fn
    return register


@kind("order")
def _order(ctx):
    return ctx.draw(st.integers(0, 3))


@kind("dim")
def _dim(ctx):
    return ctx.draw(st.integers(1, 3))


@kind("bool")
def _bool(ctx):
    return ctx.draw(st.booleans())


@kind("axes")
def _axes(ctx):
    """None, an axis or a tuple of distinct axes of the first array."""
    ndim = np.ndim(ctx.scratch["first"])
    choice = ctx.draw(st.integers(0, 2))
    if choice == 0 or ndim == 0:
        return None
    if choice == 1:
        return ctx.draw(st.integers(-ndim, ndim - 1))
    return tuple(ctx.draw(st.permutations(range(ndim)))[:ctx.draw(st.integers(1, ndim))])


@kind("weights")
def _weights(ctx):
    """logsumexp's ``b``: None, or positive weights of the first array's shape."""
    first = ctx.scratch["first"]
    if ctx.draw(st.booleans()):
        return None
    return ctx.values(np.shape(first), "pos", dtype=np.asarray(first).dtype if ctx.mode != "grad" else F64)


@kind("square")
def _square(ctx):
    # entries in [-1, 1] plus (n + 1) on the diagonal: every eigenvalue has real part >= 1 (Gershgorin), so
    # the matrix is invertible and Lyapunov/Sylvester equations with it are not singular (with n, [[-1]] + 1
    # drew a zero matrix)
    n = ctx.n()
    dtype = ctx.dtype()
    return ctx.matrix((n, n), dtype=dtype) + (n + 1) * np.eye(n, dtype=dtype)


@kind("square_small")
def _square_small(ctx):
    n = ctx.n()
    return ctx.matrix((n, n), scale=0.7)


@kind("spd")
def _spd(ctx):
    n = ctx.n()
    b = ctx.matrix((n, n))
    return (b @ b.T + n * np.eye(n, dtype=b.dtype)).astype(b.dtype)


@kind("triangular")
def _triangular(ctx):
    return _square(ctx)


@kind("rhs")
def _rhs(ctx):
    n = ctx.n()
    shape = (n,) if ctx.draw(st.booleans()) else (n, ctx.draw(st.integers(1, 2)))
    return ctx.matrix(shape, scale=2.0)


@kind("trans")
def _trans(ctx):
    return ctx.draw(st.sampled_from([0, 1, 2, "N", "T", "C"]))


@kind("l_and_u")
def _l_and_u(ctx):
    lu = (ctx.draw(st.integers(0, 2)), ctx.draw(st.integers(0, 2)))
    ctx.scratch["l_and_u"] = lu
    return lu


@kind("banded")
def _banded(ctx):
    lower, upper = ctx.scratch["l_and_u"]
    n = ctx.n()
    ab = ctx.matrix((lower + upper + 1, n))
    ab[upper] += lower + upper + 2.0  # the diagonal: diagonally dominant, so well conditioned
    return ab


@kind("banded_rhs")
def _banded_rhs(ctx):
    return _rhs(ctx)


@kind("square_b")
def _square_b(ctx):
    m = ctx.n("m")
    dtype = ctx.dtype()
    return ctx.matrix((m, m), dtype=dtype) + (m + 1) * np.eye(m, dtype=dtype)  # as "square"


@kind("sylvester_q")
def _sylvester_q(ctx):
    return ctx.matrix((ctx.n(), ctx.scratch.get("m", ctx.n())), scale=2.0)


@kind("cho_factor")
def _cho_factor(ctx):
    import scipy.linalg

    lower = ctx.draw(st.booleans())
    c, lower = scipy.linalg.cho_factor(_spd(ctx), lower=lower)
    return (np.ascontiguousarray(c), lower)


@kind("mvn_x")
def _mvn_x(ctx):
    d = ctx.n()
    shape = (d,) if ctx.draw(st.booleans()) else (ctx.draw(st.integers(1, 3)), d)
    return ctx.values(shape, "small")


@kind("mvn_mean")
def _mvn_mean(ctx):
    return ctx.values((ctx.n(),), "small")


@kind("simplex")
def _simplex(ctx):
    k = ctx.n("k", 2, 4)
    shape = (k,) if ctx.draw(st.booleans()) else (k, ctx.draw(st.integers(1, 2)))
    x = ctx.values(shape, "pos", dtype=F64, finite=True) + 0.3  # a point of the simplex, always
    return (x / x.sum(axis=0)).astype(ctx.dtype() if ctx.mode != "grad" else F64)


@kind("alpha")
def _alpha(ctx):
    return ctx.values((ctx.n("k", 2, 4),), "shape")


@kind("conv_a")
def _conv_a(ctx):
    ndim = ctx.n("ndim", 1, 2)
    shape = tuple(ctx.draw(st.integers(1, 4)) for _ in range(ndim))
    return ctx.values(shape, "real")


@kind("conv_b")
def _conv_b(ctx):
    shape = tuple(ctx.draw(st.integers(1, 4)) for _ in range(ctx.n("ndim", 1, 2)))
    return ctx.values(shape, "real")


@kind("conv_mode")
def _conv_mode(ctx):
    return ctx.draw(st.sampled_from(["full", "valid", "same"]))


def ode_func(y, t, arg1=0.0, arg2=0.0):
    """HIPS autograd's test dynamics (written here anew): any differentiable function of y, t and the args."""
    return -mnp.sqrt(t) - y + arg1 - mnp.mean((y + arg2) ** 2)


@kind("ode_func")
def _ode_func(ctx):
    return ode_func


@kind("ode_y0")
def _ode_y0(ctx):
    # LSODA on NaN or infinity gives results that differ from run to run: finite values only
    return ctx.values((ctx.n("d", 1, 3),), "small", finite=True)


@kind("ode_t")
def _ode_t(ctx):
    steps = ctx.draw(st.lists(st.floats(0.02, 0.1), min_size=1, max_size=3))
    return (0.1 + np.concatenate([[0.0], np.cumsum(steps)])).astype(F64)


@kind("ode_args")
def _ode_args(ctx):
    d = ctx.n("d", 1, 3)
    return (ctx.values((d,), "small", finite=True), ctx.values((d,), "small", finite=True))


# -- calls -----------------------------------------------------------------------------------------------------
def is_elementwise(k):
    return k in _table.DOMAINS or k == "count"


@st.composite
def calls(draw, op, mode="value"):
    """A call of ``op`` drawn from its test hints."""
    ctx = Ctx(op, mode, draw)
    h = ctx.hints
    arg_kinds = list(h.get("args", ("real",)))
    kw_kinds = {name: k for name, k in h.get("kwargs", {}).items() if draw(st.booleans())}
    elementwise = [("arg", i, k) for i, k in enumerate(arg_kinds) if is_elementwise(k)]
    elementwise += [("kw", name, k) for name, k in kw_kinds.items() if is_elementwise(k)]
    values = {}
    if elementwise:
        min_dims = max(h.get("min_ndim", 0), mode == "plain")
        shapes = draw(hnp.mutually_broadcastable_shapes(
            num_shapes=len(elementwise), min_dims=min_dims, max_dims=MAX_DIMS,
            min_side=0 if mode == "value" else 1, max_side=MAX_SIDE)).input_shapes
        for (where, key, k), shape in zip(elementwise, shapes):
            if k == "count":
                v = np.array(draw(st.lists(st.integers(0, 6), min_size=math.prod(shape),
                                           max_size=math.prod(shape))), dtype=F64).reshape(shape)
            else:
                v = ctx.values(shape, k)
            if shape == () and (mode == "grad" or draw(st.booleans())) and k != "count":
                v = float(v)  # a Python float
            values[where, key] = v
    args = []
    for i, k in enumerate(arg_kinds):
        v = values["arg", i] if ("arg", i) in values else KINDS[k](ctx)
        if i == 0:
            ctx.scratch["first"] = v
        args.append(v)
    kwargs = dict(h.get("fixed", {}))
    for name, k in kw_kinds.items():
        kwargs[name] = values["kw", name] if ("kw", name) in values else KINDS[k](ctx)
    if mode != "value":
        assume(all(np.size(a) for a in args if isinstance(a, np.ndarray)))
    return Call(args, kwargs)


def wrt(op):
    """The positions and keywords the gradient of ``op`` is taken for (``(i, j)``: item j of argument i)."""
    return tuple(hints(op).get("wrt", ()))
