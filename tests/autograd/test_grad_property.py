"""Gradient property tests generated from the operator table: every VJP and JVP rule, to second order.

Every operator the table marks ``differentiable=True`` (NumPy's aliases of them included: they share the
record and the rules) is called on random float64 arguments built from the record's test hints
(``minpy.ops.table.TEST_HINTS``, implemented by ``tests/array/strategies.py``), under every dispatch policy
(the costlier checks with a smaller example budget under the MXNet policies than under only_numpy):

* reverse mode: its VJP rule is compared with central finite differences by ``minpy.autograd.check_grads``,
  first order, and second order (the rules are ``minpy.numpy`` code, so they are differentiated too) unless the
  record's ``tol`` says ``grad_order: 1`` with a note;
* forward mode: its JVP (the rule, or the transposed VJP for operators without one) must agree with the VJP,
  ``<u, J v> == <J^T u, v>``; at second order the JVP of the VJP (forward-over-reverse) must match finite
  differences of the VJP, and the VJP of the JVP (reverse-over-forward) must equal it;
* complex numbers: every operator that takes complex input is checked again on complex arguments, both modes,
  to second order, with HIPS autograd's convention (see ``minpy.autograd.rules.complex``).

Operators the table marks ``differentiable=False`` must let a traced value through and contribute no gradient.
Nothing here lists operators by hand but their input domains (where to stay off kinks and poles), the
operators that take no complex input, and output transforms for decompositions with a gauge freedom.

Inputs: every differentiated array is float64 with distinct values on a grid (each array of a call on its own
offset of the grid), so that elements of one array, and of different arrays of one call, differ by far more
than the finite-difference step and none is 0: ``abs``, ``maximum``, ``sort``, ``max``, ``clip`` and the like
are differentiated away from their kinks. Values lie inside the record's ``domain`` (away from its edge).
Complex arguments add an imaginary part on a grid of positive values, which keeps them off the branch cuts of
``log``, ``sqrt``, the inverse trigonometric functions and ``angle`` (all on the real axis).
"""
import importlib.util
import inspect
import math
import pathlib
import warnings

import numpy
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minpy.numpy as np
from minpy.array import Array
from minpy.autograd import AutogradError, check_grads, make_jvp, stop_gradient, vjp
from minpy.autograd import tracer as _tracer
from minpy.autograd.registry import check_rules_cover_table, rule_for
from minpy.dispatch.policy import resolve_policy
from minpy.ops import table
from minpy.ops.operator import all_operators


def _load_strategies():
    # By path, under a name of its own (tests/array is not a package; see tests/array/test_ops_property.py).
    path = pathlib.Path(__file__).resolve().parents[1] / "array" / "strategies.py"
    spec = importlib.util.spec_from_file_location("minpy_autograd_test_strategies", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


S = _load_strategies()

F64 = numpy.dtype("float64")
C128 = numpy.dtype("complex128")
OPS = all_operators()
DECLARED = {record["name"] for record in table.RECORDS}

#: tolerances of check_grads (float64, eps 1e-6); a record's ``tol`` may give ``grad_rtol``/``grad_atol`` with
#: a note
EPS, RTOL, ATOL = 1e-6, 1e-5, 1e-6


def grad_order(op):
    """2 unless the record documents its rule as first-order only (``tol={"grad_order": 1, "note": ...}``)."""
    order = op.tol.get("grad_order", 2)
    assert order == 2 or op.tol.get("note"), f"{op.name}: grad_order {order} without a note"
    return order


FIRST_ORDER = sorted(name for name, op in OPS.items() if op.differentiable is True)
SECOND_ORDER = sorted(name for name in FIRST_ORDER if grad_order(OPS[name]) >= 2)
# Non-differentiable operators whose arguments the strategies can build: elementwise operators, reductions
# and declared functions (argsort); not the writing ones (custom dispatch).
NONDIFF_KINDS = ("ufunc", "reduction", "function")
NON_DIFFERENTIABLE = sorted(name for name, op in OPS.items()
                            if op.differentiable is False and op.kind in NONDIFF_KINDS and op.custom is None
                            and (op.kind == "ufunc" or name in DECLARED))

POLICIES = [pytest.param("prefer_mxnet", marks=pytest.mark.mxnet), "only_numpy",
            pytest.param("auto", marks=pytest.mark.mxnet)]
MXNET_POLICIES = [p for p in POLICIES if not isinstance(p, str)]
# Example budgets. The rules are the same code under every policy; what a policy changes is where operators
# run, so the costlier checks (second order across modes, complex arguments) run their full budget under
# only_numpy and a smaller one under the MXNet policies (prefer_mxnet, auto).
SECOND_ORDER_EXAMPLES = max(1, settings.default.max_examples // 3)
SECOND_ORDER_MXNET_EXAMPLES = max(1, settings.default.max_examples // 8)
COMPLEX_EXAMPLES = max(1, settings.default.max_examples // 8)
COMPLEX_MXNET_EXAMPLES = max(1, settings.default.max_examples // 25)


def _policy(name):
    return resolve_policy(name)


# -- where inputs lie ----------------------------------------------------------------------------------------------
IMAG = (0.1, 1.2)  # the grid of imaginary parts of complex arguments: positive, off the real-axis branch cuts
GRID = 80  # grid points per domain (at least): more than most arrays have (4 ** 3), so their values are distinct
#: table domain -> interval of the grid, inside the domain and away from its edges (poles of log, arctanh...)
DOMAINS = {None: (-1.5, 1.5), "positive": (0.0, 2.0), "nonneg": (0.0, 2.0), "unit": (-0.95, 0.95),
           "ge1": (1.05, 3.0), "gtm1": (-0.95, 2.0), "counts": (0.0, 6.0), "imag": IMAG}
# Divisors of remainder: powers of two, so that x / y (x on the grid) stays away from integers (the jumps).
POW2 = (-2.0, -1.0, -0.5, -0.25, 0.25, 0.5, 1.0, 2.0)
SLOTS = 5  # distinct grid offsets: arrays of one call never share a value

# Per operator (aliases find the entry through the NumPy function they share): domains of single arguments
# (position -> domain), beyond the record's ``domain`` for all of them.
ARG_DOMAINS = {
    "power": {0: "positive"},        # x ** y for real y: base > 0
    "float_power": {0: "positive"},
    "remainder": {1: "pow2"},
    "fmod": {1: "pow2"},
    "average": {1: "positive"},      # weights: their sum divides
}
# Test hints for operators whose record has none that build a differentiable call (kinds below), or whose
# record's hints build calls with nothing to differentiate (linspace's Python-float start and stop).
EXTRA_HINTS = {
    "take": {"args": ("array", "indices"), "kwargs": {"axis": "take_axis"}, "required": ("axis",)},
    "sort": {"kwargs": {"axis": "axis_or_none"}},
    "setitem": {"args": ("array", "key", "setitem_value")},  # a[key] = value
    "linspace": {"args": ("array", "array_same"),
                 "kwargs": {"num": "count", "endpoint": "bool", "retstep": "bool", "axis": "new_axis"}},
}


def _frac_distance(args, kwargs, out):
    q = numpy.asarray(args[0], dtype=float) / numpy.asarray(args[1], dtype=float)
    return bool(numpy.all(numpy.abs(q - numpy.round(q)) > 1e-4))


def _nonzero_result(args, kwargs, out):
    return bool(numpy.all(numpy.asarray(out) != 0)) or all(
        getattr(a, "size", 1) == 0 for a in args if isinstance(a, numpy.ndarray))


# Calls whose rule refuses them with an AutogradError, a documented limitation: none at present (the mapping is
# kept for operators whose gradient exists only for some arguments).
REFUSED = {}


def _unique_extreme(values, axis, largest, margin=1e-4):
    """The largest (smallest) of ``values`` along ``axis`` is ahead of the next by ``margin``."""
    values = numpy.sort(numpy.moveaxis(values, axis, -1), axis=-1)
    if values.shape[-1] < 2:
        return True
    gap = values[..., -1] - values[..., -2] if largest else values[..., 1] - values[..., 0]
    return bool(numpy.all(gap > margin))


def _separated(values, margin=1e-3):
    """The values (along the last axis) differ from each other by more than ``margin`` (compared by modulus for
    complex ones)."""
    v = numpy.sort(numpy.abs(values) if numpy.iscomplexobj(values) else values, axis=-1)
    return v.shape[-1] < 2 or bool(numpy.all(numpy.diff(v, axis=-1) > margin))


def _singular_values_ok(x, margin=0.05):
    """Distinct singular values, none near 0: the singular vectors (and the pseudo-inverse) are smooth there."""
    if x.size == 0:
        return True
    s = numpy.linalg.svd(x, compute_uv=False)
    return bool(numpy.all(s > margin)) and _separated(s, margin)


def _norm_kink_free(args, kwargs, out):
    """|x| at 0; the max/min in the 1/inf norms (of |x|, or of the column or row sums of |x|) is unique; the
    singular values of the 2/-2/nuclear norms are distinct and away from 0."""
    x, ord, axis = args[0], kwargs.get("ord"), kwargs.get("axis")
    if not _nonzero_result(args, kwargs, out):
        return False
    if x.size == 0:
        return True
    axes = tuple(range(x.ndim)) if axis is None else ((axis,) if isinstance(axis, int) else tuple(axis))
    if ord in (2, -2, "nuc") and len(axes) == 2:
        return _singular_values_ok(numpy.moveaxis(x, axes, (-2, -1)))
    if ord not in (1, -1, math.inf, -math.inf):
        return True
    if len(axes) == 2:  # matrix norm: 1/-1 take the column sums, inf/-inf the row sums
        row, col = axes
        summed, other = (row, col) if ord in (1, -1) else (col, row)
        sums = numpy.sum(numpy.abs(x), axis=summed, keepdims=True)
        return _unique_extreme(sums, other, ord > 0)
    if ord in (math.inf, -math.inf):
        return _unique_extreme(numpy.abs(x), axes[0], ord > 0)
    return True


def _eigen_gaps(args, kwargs, out):
    """Distinct eigenvalues: eigenvectors (and sorted eigenvalues) are smooth only there; and eigenvectors in
    a smooth gauge."""
    w = out[0] if isinstance(out, tuple) else out
    return _separated(numpy.asarray(w)) and _vectors_kink_free(args, kwargs, out)


def _full_rank(args, kwargs, out):
    x = args[0]
    return x.ndim < 2 or _singular_values_ok(x, margin=1e-2)


def _svd_kink_free(args, kwargs, out):
    return _singular_values_ok(args[0]) and _vectors_kink_free(args, kwargs, out)


# Kinks that distinct grid values do not rule out: operator -> predicate(args, kwargs, NumPy's result).
KINK_FREE = {
    "remainder": _frac_distance,          # jumps where x / y is an integer
    "fmod": _frac_distance,
    "linalg.norm": _norm_kink_free,
    "linalg.eigh": _eigen_gaps,
    "linalg.eigvalsh": _eigen_gaps,
    "linalg.eig": _eigen_gaps,
    "linalg.eigvals": _eigen_gaps,
    "linalg.svd": _svd_kink_free,
    "linalg.pinv": _full_rank,            # the pseudo-inverse jumps where the rank does
    "linalg.qr": _full_rank,
}

def _by_eigenvalue(w, *vectors):
    """``w`` and the columns of ``vectors`` in the order of ``w``'s values (``eig`` gives no order, and a
    perturbation may change LAPACK's): a fixed permutation near the point, read off the values. Complex values
    are ordered by modulus, as ``_separated`` compares them: NumPy's own order for them (real part first) flips
    under a perturbation where two real parts are equal, as in ``[[9, 1j], [1j, 9+1j]]``."""
    host = _host(stop_gradient(w))
    order = numpy.argsort(numpy.abs(host) if numpy.iscomplexobj(host) else host, axis=-1)
    key = numpy.expand_dims(order, -2)
    return (np.take_along_axis(w, np.array(order), axis=-1),
            *[np.take_along_axis(v, np.array(numpy.broadcast_to(key, v.shape)), axis=-1) for v in vectors])


def _largest(v):
    """Per column of ``v`` (host), the row of its largest component by modulus."""
    return numpy.argmax(numpy.abs(v), axis=-2)


def _gauge_fixed(v):
    """The columns of ``v`` with their phase (sign, for real ones) fixed: each divided by the phase of its
    largest component. Eigen- and singular vectors are defined up to it, and LAPACK may choose it differently
    at x + eps and x - eps; the fixed form is smooth wherever the largest component is unique."""
    if 0 in tuple(v.shape):
        return v
    idx = np.array(numpy.expand_dims(_largest(_host(stop_gradient(v))), -2))
    c = np.take_along_axis(v, idx, axis=-2)
    phase = c / np.abs(c)
    return v * (np.conjugate(phase) if v.dtype.kind == "c" else phase)


def _gauge_fixed_rows(vh):
    return np.swapaxes(_gauge_fixed(np.swapaxes(vh, -1, -2)), -1, -2)


def _unique_largest(v, margin=1e-3):
    top = numpy.sort(numpy.abs(v), axis=-2)
    return v.shape[-2] < 2 or bool(numpy.all(top[..., -1, :] - top[..., -2, :] > margin))


def _vectors_kink_free(args, kwargs, out):
    """Distinct eigen/singular values, and vectors whose largest component is unique (see _gauge_fixed)."""
    if not isinstance(out, tuple):
        return True
    vectors = [out[1]] if len(out) == 2 else [out[0], numpy.swapaxes(out[2], -1, -2)]
    return all(_unique_largest(numpy.asarray(v)) for v in vectors)


# Decompositions whose vectors are defined up to a sign or phase: compared in a fixed gauge (eig's values and
# vectors also in a fixed order: LAPACK's order may change under a perturbation).
OUTPUTS = {
    "linalg.eigh": lambda out: (out[0], _gauge_fixed(out[1])),
    "linalg.eig": lambda out: _by_eigenvalue(out[0], _gauge_fixed(out[1])),
    "linalg.eigvals": lambda out: _by_eigenvalue(out)[0],
    "linalg.svd": lambda out: (_gauge_fixed(out[0]), out[1], _gauge_fixed_rows(out[2])) if isinstance(out, tuple)
    else out,
}
# complex QR: R's diagonal is complex, its phase a gauge too: compared through moduli
COMPLEX_OUTPUTS = {**OUTPUTS,
                   "linalg.qr": lambda out: tuple(np.abs(o) for o in out) if isinstance(out, tuple) else np.abs(out)}


# Operators that take no complex input (NumPy has no complex loop), or whose value on complex input is defined by
# an ordering (lexicographic on complex numbers: piecewise, not differentiable), or that are real casts
# (astype to a real dtype discards the imaginary part with a ComplexWarning): not part of the complex checks.
REAL_ONLY = {
    "arctan2", "hypot", "logaddexp", "logaddexp2", "copysign", "remainder", "mod", "fmod", "fabs", "cbrt",
    "degrees", "radians", "deg2rad", "rad2deg", "maximum", "minimum", "fmax", "fmin", "max", "min", "amax",
    "amin", "nanmax", "nanmin", "ptp", "median", "sort", "msort", "partition", "clip", "astype",
    "linalg.cholesky",   # the rule is the real symmetric one (a complex Hermitian input is not derived)
    # transforms of real input: NumPy 2 rejects complex data, NumPy 1 discards its imaginary part (warning)
    "fft.rfft", "fft.rfft2", "fft.rfftn", "fft.ihfft",
}


def _for_op(mapping, op):
    """``mapping``'s entry for ``op`` or for the operator it is an alias of."""
    if op.name in mapping:
        return mapping[op.name]
    for name, value in mapping.items():
        other = OPS.get(name)
        if other is not None and other.ref is op.ref:
            return value
    return None


COMPLEX = sorted(name for name in FIRST_ORDER if not _for_op({n: True for n in REAL_ONLY}, OPS[name]))


def table_hints(op):
    """The record's test hints; an alias (``acosh``, ``row_stack``) has those of the record it shares."""
    hints = table.TEST_HINTS.get(op.name)
    if hints is None:
        hints = next((table.TEST_HINTS[name] for name in sorted(DECLARED)
                      if name in table.TEST_HINTS and OPS[name].ref is op.ref), {})
    return {**hints, **(_for_op(EXTRA_HINTS, op) or {})}


def grid_values(n, domain, slot):
    """``n`` distinct values of ``domain`` on the grid offset of ``slot``."""
    if domain == "pow2":
        return st.lists(st.sampled_from(POW2), min_size=n, max_size=n)
    points = max(GRID, n)  # a finer grid for the rare larger array (tensordot's right operand)
    lo, hi = DOMAINS[domain]
    step = (hi - lo) / points
    offset = (slot % SLOTS + 1) / (SLOTS + 1)
    # n distinct grid points (drawing n numbers, not a permutation of the whole grid: far fewer draws)
    return st.lists(st.integers(0, points - 1), min_size=n, max_size=n, unique=True).map(
        lambda p: [lo + (m + offset) * step for m in p])


class GradCtx(S.Ctx):
    """The strategies' argument context, drawing float64 (or complex128) arrays of distinct grid values."""

    def __init__(self, op, draw, complex_=False):
        super().__init__(op, plain=False)
        self.hints = table_hints(op)
        self.domain = self.hints.get("domain")
        self.arg_domains = _for_op(ARG_DOMAINS, op) or {}
        self.slot = 0
        self.complex = complex_
        # zero-size arrays in about one call of five (they only check that gradients have the right shape)
        self.min_side = 0 if draw(st.integers(0, 4)) == 0 else 1

    def dtype(self, draw):
        return C128 if self.complex else F64

    def shape(self, draw):
        lo, hi = self.hints.get("min_ndim", 0), self.hints.get("max_ndim", S.MAX_DIMS)
        return draw(hnp.array_shapes(min_dims=lo, max_dims=max(lo, hi),
                                     min_side=max(self.min_side, self.hints.get("min_side", 0)), max_side=S.MAX_SIDE))

    def next_domain(self):
        slot = self.slot
        self.slot += 1
        return self.arg_domains.get(slot, self.domain), slot

    def array(self, draw, shape, dtype=None):
        domain, slot = self.next_domain()
        values = draw(grid_values(math.prod(shape), domain, slot))
        a = numpy.array(values, dtype=F64).reshape(shape)
        if self.complex:
            a = a + 1j * numpy.array(draw(grid_values(math.prod(shape), "imag", slot)), dtype=F64).reshape(shape)
        if self.primary is None:
            self.primary = a
        return a

    def scalar(self, draw):
        domain, slot = self.next_domain()
        value = draw(grid_values(1, domain, slot))[0]
        return complex(value, draw(grid_values(1, "imag", slot))[0]) if self.complex else value


# -- argument kinds: the strategies' vocabulary, with float64-only dtypes and a few additions ----------------------
KINDS = dict(S.KINDS)


def kind(name):
    def register(fn):
        KINDS[name] = fn
        return fn
    return register


@kind("dtype")
def _dtype(draw, ctx):
    # astype's target. Float32/float16 results cannot be checked against float64 finite differences (their
    # rounding is larger than the step); integer and bool targets have zero gradient.
    return draw(st.sampled_from([F64, numpy.dtype("int32"), numpy.dtype("bool")]))


@kind("qr_mode")
def _qr_mode(draw, ctx):
    # a complete Q's extra columns (m > n) are not unique: its gradient is refused, so not drawn here
    return draw(st.sampled_from(["reduced", "r"]))


@kind("square")
def _square(draw, ctx):
    """A well-conditioned (diagonally dominant) square matrix, or a stack of them; complex where asked."""
    a = S.KINDS["square"](draw, ctx)
    if ctx.complex:
        a = a + 1j * draw(hnp.arrays(numpy.float64, a.shape, elements=st.integers(-2, 2)))
        ctx.primary = a
    return a


@kind("spd")
def _spd(draw, ctx):
    """A symmetric (Hermitian where complex) positive definite matrix."""
    a = S.KINDS["spd"](draw, ctx)
    if ctx.complex:
        n = a.shape[-1]
        b = draw(hnp.arrays(numpy.float64, (n, n), elements=st.integers(-2, 2)))
        skew = 1j * (b - b.T)  # Hermitian
        a = a + skew + 2 * n * numpy.eye(n)
        ctx.primary = a
    return a


@kind("dtype_or_none")
@kind("reduce_dtype")
def _float_dtype_or_none(draw, ctx):
    # complex data: its own dtype (a real one would discard the imaginary part; the rules refuse it)
    return draw(st.sampled_from([None, C128 if ctx.complex else F64]))


@kind("bound")
def _bound(draw, ctx):
    """clip's bounds: None, a Python float or an array, on a grid offset of their own (never equal to an
    element of the array or to the other bound)."""
    choice = draw(st.integers(0, 2))
    if choice == 0:
        ctx.next_domain()
        return None
    if choice == 1:
        return ctx.scalar(draw)
    return ctx.array(draw, ctx.primary.shape)


@kind("arrays")
def _arrays(draw, ctx):
    """A sequence of same-shape arrays, or (NumPy iterates it the same way) one array stacking them."""
    arrays = S.KINDS["arrays"](draw, ctx)
    return numpy.stack(arrays) if draw(st.integers(0, 3)) == 0 else arrays


@kind("axis_or_none")
def _axis_or_none(draw, ctx):
    return None if draw(st.booleans()) else S.KINDS["axis"](draw, ctx)


@kind("indices")
def _indices(draw, ctx):
    """take's indices (repeats included): an int array or a Python int, in range for the axis drawn here."""
    a = ctx.primary
    axis = draw(st.one_of(st.none(), st.integers(-a.ndim, a.ndim - 1))) if a.ndim else None
    ctx.scratch["take_axis"] = axis
    n = a.size if axis is None else a.shape[axis]
    if n == 0:
        return numpy.zeros((0,), dtype=numpy.int64)
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=3))
    idx = draw(hnp.arrays(numpy.int64, shape, elements=st.integers(-n, n - 1)))
    return int(idx) if idx.ndim == 0 and draw(st.booleans()) else idx


@kind("take_axis")
def _take_axis(draw, ctx):
    return ctx.scratch["take_axis"]


@kind("key")
def _key(draw, ctx):
    key = S.KINDS["key"](draw, ctx)
    ctx.scratch["key"] = key
    return key


@kind("setitem_value")
def _setitem_value(draw, ctx):
    """A value for ``a[key] = value``: an array whose shape broadcasts to ``a[key]``'s."""
    try:
        target = ctx.primary[ctx.scratch["key"]].shape
    except (IndexError, TypeError, ValueError):
        assume(False)
    shape = tuple(1 if draw(st.integers(0, 3)) == 0 else n for n in target)
    shape = shape[draw(st.integers(0, len(shape))):]
    return ctx.array(draw, shape)


# -- calls ---------------------------------------------------------------------------------------------------------
def call_kinds(op):
    """(positional argument kinds, keyword -> argument kind), as the strategies read them off the record."""
    hints = table_hints(op)
    kwargs = {}
    if op.kind == "reduction":
        params = inspect.signature(op.ref).parameters
        kwargs = {name: k for name, k in S.REDUCTION_KEYWORDS.items() if name in params}
    return hints.get("args", ("array",)), {**kwargs, **hints.get("kwargs", {})}


@st.composite
def grad_call(draw, op, complex_=False):
    """A call of ``op`` on float64 (``complex_``: complex128) arrays; ``call.symmetric`` holds the positions of
    symmetric (Hermitian) matrices."""
    ctx = GradCtx(op, draw, complex_)
    symmetric = set()
    if op.kind == "ufunc" and "args" not in ctx.hints:
        nin = op.ref.nin
        if nin == 1:
            in_shapes = [ctx.shape(draw)]
        else:
            in_shapes = draw(hnp.mutually_broadcastable_shapes(
                num_shapes=nin, min_dims=0, max_dims=S.MAX_DIMS, min_side=ctx.min_side,
                max_side=S.MAX_SIDE)).input_shapes
        scalar_at = draw(st.sampled_from([None, None, 0, 1])) if nin == 2 else None
        args = [ctx.scalar(draw) if i == scalar_at else ctx.array(draw, s) for i, s in enumerate(in_shapes)]
        call = S.Call(args, {})
    else:
        arg_kinds, kw_kinds = call_kinds(op)
        required = ctx.hints.get("required", ())
        args = []
        for k in arg_kinds:
            value = KINDS[k](draw, ctx)
            if k == "spd":  # cholesky and eigh read one triangle: differentiated as functions of sym(x)
                symmetric.add(len(args))
            if k.endswith("*"):
                args.extend(value)
            else:
                args.append(value)
        kwargs = dict(ctx.hints.get("fixed", {}))
        for name, k in kw_kinds.items():
            if name in required or draw(st.booleans()):
                kwargs[name] = KINDS[k](draw, ctx)
        call = S.Call(args, kwargs)
    call.symmetric = symmetric
    return call


_STRATEGIES = {}


def calls(op, complex_=False):
    key = (op.name, complex_)
    strategy = _STRATEGIES.get(key)
    if strategy is None:
        strategy = _STRATEGIES[key] = grad_call(op, complex_)
    return strategy


def _differentiated(x):
    return isinstance(x, numpy.ndarray) and x.dtype in (F64, C128)


def _float_paths(call):
    """Where the float (complex) arrays of ``call`` are: ("arg", i), ("item", i, j) or ("kw", name)."""
    paths = []
    for i, a in enumerate(call.args):
        if _differentiated(a):
            paths.append(("arg", i))
        elif type(a) in (list, tuple):
            paths += [("item", i, j) for j, x in enumerate(a) if _differentiated(x)]
    paths += [("kw", k) for k, v in call.kwargs.items() if _differentiated(v)]
    return paths


def _get(call, path):
    if path[0] == "arg":
        return call.args[path[1]]
    if path[0] == "item":
        return call.args[path[1]][path[2]]
    return call.kwargs[path[1]]


def _sym(x):
    """The symmetric (Hermitian, for complex data) part of a matrix: what a one-triangle reader sees."""
    t = np.swapaxes(x, -1, -2)
    return (x + (np.conjugate(t) if x.dtype.kind == "c" else t)) * 0.5


def _sym_host(x):
    t = numpy.swapaxes(x, -1, -2)
    return (x + numpy.conj(t)) * 0.5


def _joined(out, lib):
    """Several results (a tuple or list) as one 1-d array, so that one check covers them all."""
    if isinstance(out, (list, tuple)):
        parts = [lib.ravel(o) for o in out]
        return lib.concatenate(parts) if parts else lib.zeros(0)
    return out


def _transform(op, call):
    """The output transform of ``op`` for this call (decompositions with a gauge freedom), or None."""
    complex_ = any(isinstance(a, numpy.ndarray) and a.dtype == C128 for a in call.args)
    return _for_op(COMPLEX_OUTPUTS if complex_ else OUTPUTS, op)


def _function_of_floats(op, call, paths):
    """``f(*floats)``: ``op`` called with ``call``'s arguments, its float arrays replaced by ``floats`` (several
    results joined into one array)."""
    fn = op.public
    transform = _transform(op, call)
    if op.name == "setitem":
        # Reached through ``a[key] = value`` (on a traced ``a`` the tracer records a functional update), which
        # is what its reference does. Writing a traced value into an untraced array is refused by design, so
        # ``a`` is made to carry ``value``'s trace (with a zero contribution) when only ``value`` is traced.
        def fn(a, key, value):
            return op.ref(a + 0.0 * np.sum(value), key, value)

    def f(*floats):
        args, kwargs = call.materialise(lambda a: Array(a.copy()))
        for path, x in zip(paths, floats):
            if path[0] == "arg":
                args[path[1]] = _sym(x) if path[1] in call.symmetric else x
            elif path[0] == "item":
                seq = list(args[path[1]])
                seq[path[2]] = x
                args[path[1]] = seq if type(call.args[path[1]]) is list else tuple(seq)
            else:
                kwargs[path[1]] = x
        out = fn(*args, **kwargs)
        return _joined(transform(out) if transform is not None else out, np)
    return f


def _quietly(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with numpy.errstate(all="ignore"):
            return fn(*args, **kwargs)


def _reference(op, call):
    """NumPy's result of ``call``; rejects calls NumPy refuses and points off the operator's smooth part."""
    np_args, np_kwargs = call.numpy()
    for i in call.symmetric:
        np_args[i] = _sym_host(np_args[i])
    try:
        out = _quietly(op.ref, *np_args, **np_kwargs)
    except Exception:  # NumPy refuses these arguments (the hints also draw invalid ones)
        assume(False)
    joined = _joined(out, numpy)
    assume(numpy.asarray(joined).dtype.kind in "fc" and numpy.all(numpy.isfinite(joined)))
    refused = _for_op(REFUSED, op)
    if refused is not None:
        assume(not refused(np_args, np_kwargs))
    kink_free = _for_op(KINK_FREE, op)
    if kink_free is not None:
        assume(kink_free(np_args, np_kwargs, out))
    transform = _transform(op, call)
    if transform is not None:
        out = tuple(_host(o) for o in transform(_as_minpy(out))) if isinstance(out, tuple) else \
            _host(transform(_as_minpy(out)))
    return _joined(out, numpy)


def _as_minpy(out):
    return tuple(np.array(o) for o in out) if isinstance(out, tuple) else np.array(out)


def _tolerances(op):
    if "grad_rtol" in op.tol or "grad_atol" in op.tol:
        assert op.tol.get("note"), f"{op.name}: gradient tolerance without a note"
    return op.tol.get("grad_rtol", RTOL), op.tol.get("grad_atol", ATOL)


def _host(x):
    return numpy.array(x.asnumpy() if isinstance(x, Array) else x)


def _random(rng, shape, complex_):
    v = rng.standard_normal(shape)
    return v + 1j * rng.standard_normal(shape) if complex_ else v


def _inner(a, b):
    """The real inner product ``Re(sum(conj(a) b))`` of host arrays."""
    return float(numpy.real(numpy.sum(numpy.conj(a) * b)))


def _check_shapes(f, floats, expected, seed):
    """The traced call gives NumPy's value; the VJP runs and gives each argument a gradient of its shape and
    dtype, zeros where nothing flows (zero-size arguments or results); the JVP agrees with it:
    ``<u, J v> == <v, conj(VJP(conj(u)))>`` (for real data ``<u, J v> == <J^T u, v>``). Returns the result's
    size."""
    argnum = tuple(range(len(floats)))
    value, vjp_fn = vjp(f, *[np.array(x) for x in floats], argnum=argnum)
    numpy.testing.assert_allclose(_host(value), numpy.asarray(expected), rtol=1e-9, atol=1e-12,
                                  err_msg="the traced call's value")
    rng = numpy.random.default_rng(seed)
    u = _random(rng, tuple(value.shape), value.dtype.kind == "c")
    grads = vjp_fn(np.array(numpy.conj(u)))
    for i, (g, x) in enumerate(zip(grads, floats)):
        g = _host(g)
        assert g.shape == x.shape, f"gradient of argument {i}: shape {g.shape}, the argument's is {x.shape}"
        assert g.dtype == x.dtype, f"gradient of argument {i}: dtype {g.dtype}, the argument's is {x.dtype}"
        if x.size == 0 or value.size == 0:
            numpy.testing.assert_array_equal(g, numpy.zeros(x.shape), err_msg=f"gradient of argument {i}")
        else:
            assert numpy.all(numpy.isfinite(g)), f"gradient of argument {i} is not finite: {g}"
    v = [_random(rng, x.shape, x.dtype.kind == "c") for x in floats]
    jvp_value, tangent = make_jvp(f, argnum)(*[np.array(x) for x in floats])(tuple(np.array(t) for t in v))
    tangent = _host(tangent)
    assert tangent.shape == tuple(value.shape) and tangent.dtype == value.dtype, \
        f"tangent: shape {tangent.shape}, dtype {tangent.dtype}; the result's {tuple(value.shape)}, {value.dtype}"
    forward = _inner(u, tangent)
    reverse = sum(_inner(t, numpy.conj(_host(g))) for t, g in zip(v, grads))
    assert math.isclose(forward, reverse, rel_tol=1e-7, abs_tol=1e-9), \
        f"forward mode gives <u, J v> = {forward!r}, reverse mode <J^T u, v> = {reverse!r}"
    return value.size


def _check_mixed(f, floats, seed, rtol, atol):
    """Second order across the modes, for random ``u``, ``v``: with ``F(x) = VJP(conj(u))`` (reverse) and
    ``G(x) = JVP(v)`` (forward), the JVP of ``F`` along ``v`` (forward-over-reverse) matches finite differences
    of ``F``, and the VJP of ``G`` at ``conj(u)`` (reverse-over-forward) equals it (both are the Hessian of
    ``Re<u, f>`` applied to ``v``)."""
    argnum = tuple(range(len(floats)))
    xs = [np.array(x) for x in floats]
    rng = numpy.random.default_rng(seed + 1)
    value = _host(f(*xs))
    u = np.array(numpy.conj(_random(rng, value.shape, value.dtype.kind == "c")))
    v = tuple(np.array(_random(rng, x.shape, x.dtype.kind == "c")) for x in floats)

    def F(*a):
        return vjp(f, *a, argnum=argnum)[1](u)

    def G(*a):
        return make_jvp(f, argnum)(*a)(v)[1]
    over_reverse = [_host(t) for t in make_jvp(F, argnum)(*xs)(v)[1]]
    over_forward = [_host(g) for g in vjp(G, *xs, argnum=argnum)[1](u)]
    hi = F(*[x + EPS * t for x, t in zip(xs, v)])
    lo = F(*[x - EPS * t for x, t in zip(xs, v)])
    numeric = [(_host(a) - _host(b)) / (2 * EPS) for a, b in zip(hi, lo)]
    w = [_random(rng, x.shape, x.dtype.kind == "c") for x in floats]
    by_forward = sum(_inner(wi, t) for wi, t in zip(w, over_reverse))
    by_reverse = sum(_inner(wi, t) for wi, t in zip(w, over_forward))
    by_differences = sum(_inner(wi, t) for wi, t in zip(w, numeric))
    assert math.isclose(by_forward, by_differences, rel_tol=rtol, abs_tol=atol), \
        f"forward-over-reverse gives {by_forward!r}, finite differences of the VJP {by_differences!r}"
    assert math.isclose(by_forward, by_reverse, rel_tol=1e-7, abs_tol=1e-9), \
        f"forward-over-reverse gives {by_forward!r}, reverse-over-forward {by_reverse!r}"


def check_call(op, call, policy, order):
    paths = _float_paths(call)
    assume(paths)  # e.g. a call whose only array was replaced by a Python scalar
    expected = _reference(op, call)
    floats = [_get(call, p) for p in paths]
    f = _function_of_floats(op, call, paths)
    rtol, atol = _tolerances(op)
    with policy, warnings.catch_warnings():
        # NumPy's own warnings on zero-size inputs (the mean of an empty slice); values are checked below
        warnings.simplefilter("ignore", RuntimeWarning)
        size = _check_shapes(f, floats, expected, seed=len(floats))
        checked = [i for i, x in enumerate(floats) if x.size]
        if size and checked:
            check_grads(f, *floats, order=order, eps=EPS, rtol=rtol, atol=atol, argnum=checked)
            if order > 1:
                _check_mixed(f, floats, seed=len(floats), rtol=rtol, atol=atol)


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("name", FIRST_ORDER)
@given(data=st.data())
def test_first_order(name, policy, data):
    op = OPS[name]
    call = data.draw(calls(op), label="call")
    check_call(op, call, _policy(policy), order=1)


def _second_order(name, policy, data):
    op = OPS[name]
    call = data.draw(calls(op), label="call")
    check_call(op, call, _policy(policy), order=2)


@pytest.mark.parametrize("name", SECOND_ORDER)
@settings(max_examples=SECOND_ORDER_EXAMPLES)
@given(data=st.data())
def test_second_order(name, data):
    _second_order(name, "only_numpy", data)


@pytest.mark.parametrize("policy", MXNET_POLICIES)
@pytest.mark.parametrize("name", SECOND_ORDER)
@settings(max_examples=SECOND_ORDER_MXNET_EXAMPLES)
@given(data=st.data())
def test_second_order_mxnet(name, policy, data):
    _second_order(name, policy, data)


def _complex(name, policy, data):
    """Complex arguments, both modes, to second order (HIPS autograd's convention for complex numbers)."""
    op = OPS[name]
    call = data.draw(calls(op, complex_=True), label="call")
    check_call(op, call, _policy(policy), order=grad_order(op))


@pytest.mark.parametrize("name", COMPLEX)
@settings(max_examples=COMPLEX_EXAMPLES)
@given(data=st.data())
def test_complex(name, data):
    _complex(name, "only_numpy", data)


@settings(max_examples=1)
@given(st.just(None))   # check_call filters points with Hypothesis' assume
def test_eig_where_two_eigenvalues_share_their_real_part(_):
    """Found by test_complex: eigenvalues 9 + 1.618j and 9 - 0.618j; sorted by real part first, their order
    flipped between x + eps and x - eps and the finite differences of the fixed-order outputs jumped."""
    op = OPS["linalg.eig"]
    call = S.Call([numpy.array([[9 + 0j, 1j], [1j, 9 + 1j]])], {})
    call.symmetric = ()
    check_call(op, call, _policy("only_numpy"), order=grad_order(op))


@pytest.mark.parametrize("policy", MXNET_POLICIES)
@pytest.mark.parametrize("name", COMPLEX)
@settings(max_examples=COMPLEX_MXNET_EXAMPLES)
@given(data=st.data())
def test_complex_mxnet(name, policy, data):
    _complex(name, policy, data)


# -- non-differentiable operators ----------------------------------------------------------------------------------
def _ufunc_input_dtypes(ufunc):
    """The dtypes a ufunc is called with here: its loop with the most float64 inputs among the loops of
    float64, int64 and bool inputs."""
    loops = [t.split("->")[0] for t in ufunc.types]
    loops = [ins for ins in loops if all(c in "dlq?" for c in ins)]
    assert loops, f"{ufunc.__name__}: no loop of float64, int64 or bool inputs"
    best = max(loops, key=lambda ins: ins.count("d"))
    return [numpy.dtype(c) for c in best]


@st.composite
def nondiff_call(draw, op):
    """(call, dtypes): same-shape float64 arrays for an elementwise operator (cast to the dtypes of the loop
    it is called with, inside the function), or a reduction/function call from the hints."""
    ctx = GradCtx(op, draw)
    if op.kind == "ufunc":
        dtypes = _ufunc_input_dtypes(op.ref)
        # small non-negative integers where the loop takes integers (shift counts, gcd...)
        ctx.arg_domains = {i: "counts" for i, dt in enumerate(dtypes) if dt.kind != "f"}
        shape = ctx.shape(draw)
        return S.Call([ctx.array(draw, shape) for _ in dtypes], {}), dtypes
    arg_kinds, kw_kinds = call_kinds(op)
    args = [KINDS[k](draw, ctx) for k in arg_kinds]
    kwargs = {name: KINDS[k](draw, ctx) for name, k in kw_kinds.items() if draw(st.booleans())}
    call = S.Call(args, kwargs)
    return call, [F64] * len(_float_paths(call))


def _value_dependent(op):
    """Operators without a rule whose result still carries the input's value (modf, ldexp...): the tracer
    raises rather than pass a traced float through untraced (a silently wrong gradient)."""
    return op.kind in _tracer._VALUE_KINDS or op.name in _tracer._VALUE_NAMES


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("name", NON_DIFFERENTIABLE)
@given(data=st.data())
def test_non_differentiable_passes_through(name, policy, data):
    """``grad(sum(x * op(x)))`` (elementwise) or ``grad(sum(x) * sum(op(x)))`` is what it is with ``op``'s
    result held constant: the traced input goes through ``op`` and no gradient comes back from it."""
    op = OPS[name]
    call, dtypes = data.draw(nondiff_call(op), label="call")
    paths = _float_paths(call)
    assert all(p[0] == "arg" for p in paths), paths
    floats = [_get(call, p) for p in paths]
    np_args, np_kwargs = call.numpy()
    for path, dtype in zip(paths, dtypes):
        np_args[path[1]] = np_args[path[1]].astype(dtype)
    try:
        r = _quietly(op.ref, *np_args, **np_kwargs)
    except Exception:
        assume(False)
    elementwise = op.kind == "ufunc"
    if isinstance(r, tuple):
        assert _value_dependent(op), f"{name} returns several results; the test needs one"
    else:
        r = numpy.asarray(r)
        if elementwise:
            expected = [numpy.broadcast_to(r.astype(F64), x.shape) for x in floats]
        else:
            expected = [numpy.full(x.shape, float(numpy.sum(r.astype(F64)))) for x in floats]

    def f(*xs):
        args, kwargs = call.materialise(lambda a: Array(a.copy()))
        for path, x, dtype in zip(paths, xs, dtypes):
            args[path[1]] = x if dtype == F64 else x.astype(dtype)
        out = op.public(*args, **kwargs)
        if elementwise:
            return sum(np.sum(x * out) for x in xs)
        return sum(np.sum(x) for x in xs) * np.sum(out * 1.0)

    with _policy(policy):
        inputs = [np.array(x) for x in floats]
        argnum = tuple(range(len(inputs)))
        if _value_dependent(op):
            with pytest.raises(AutogradError):
                vjp(f, *inputs, argnum=argnum)
            return
        assert rule_for(op) is None, f"{name} is declared non-differentiable but has a VJP rule"
        value, vjp_fn = _quietly(vjp, f, *inputs, argnum=argnum)
        grads = _quietly(vjp_fn, np.array(1.0))
    for i, (g, e) in enumerate(zip(grads, expected)):
        numpy.testing.assert_allclose(_host(g), e, rtol=1e-12, atol=0, equal_nan=True,
                                      err_msg=f"gradient of argument {i}")


# -- table and rules agree -----------------------------------------------------------------------------------------
def test_rules_cover_table():
    assert check_rules_cover_table() == []


def test_generated_sets():
    """The generated sets are what the table declares (and nothing is silently left out)."""
    assert len(FIRST_ORDER) > 100
    assert set(SECOND_ORDER) <= set(FIRST_ORDER)
    assert len(NON_DIFFERENTIABLE) > 30
    for name in FIRST_ORDER:
        op = OPS[name]
        if op.kind == "ufunc" and "args" not in table_hints(op):
            continue
        for k in list(call_kinds(op)[0]) + list(call_kinds(op)[1].values()):
            assert k in KINDS, f"{name}: unknown argument kind {k}"
    unknown = [name for mapping in (ARG_DOMAINS, EXTRA_HINTS, KINK_FREE, REFUSED, OUTPUTS, COMPLEX_OUTPUTS)
               for name in mapping if name not in OPS]
    unknown += [name for name in REAL_ONLY if name not in OPS and name != "msort"]  # msort: NumPy < 2 only
    assert not unknown, unknown
    assert len(COMPLEX) > 100 and set(COMPLEX) <= set(FIRST_ORDER)


def test_declared_non_differentiable_have_no_rule():
    """The table and the rules agree the other way too: an operator marked non-differentiable has no rule
    (else it would be differentiated after all)."""
    with_rule = sorted(name for name, op in OPS.items() if op.differentiable is False and rule_for(op) is not None)
    assert with_rule == []


def test_singular_value_norms():
    """The matrix 2-, -2- and nuclear norms are differentiated through the singular value decomposition."""
    x = numpy.arange(1.0, 7.0).reshape(2, 3) ** 1.5
    for ord in (2, -2, "nuc"):
        check_grads(lambda a: np.linalg.norm(a, ord=ord), x, modes=("rev", "fwd"), order=2)
