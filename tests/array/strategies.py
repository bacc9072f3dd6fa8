"""Hypothesis strategies that build calls of minpy operators from the operator table.

A call is drawn from an operator's record: elementwise operators (kind ``ufunc``) get broadcastable operands
(and Python scalars) from the ufunc's arity and signature, reductions get ``axis``/``keepdims``/``ddof``/
``dtype`` from NumPy's signature, and every other operator follows the ``test`` hints of its record
(``minpy.ops.table.TEST_HINTS``): a tuple of argument kinds and keyword -> argument kind. The argument kinds
(``"array"``, ``"axis"``, ``"newshape"``...) are the vocabulary implemented here, in ``KINDS``.

A drawn :class:`Call` is materialised twice: once with NumPy arrays for the reference, once with minpy Arrays.
"plain" calls (for the check that the MXNet route is really taken) use float32/float64 (or the dtype kinds the
MXNet implementation takes), non-empty arrays of at least one dimension, finite values and ordinary
arguments.
"""
import inspect
import io
import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minpy.ops import table

DTYPES = tuple(np.dtype(t) for t in
               ("float16", "float32", "float64", "int8", "int32", "int64", "uint8", "bool"))
PLAIN_FLOATS = (np.dtype("float32"), np.dtype("float64"))
MAX_DIMS = 3
MAX_SIDE = 4

#: default tolerances (rtol, atol) by result dtype; a record's ``tol`` may widen them, with a note
TOLERANCES = {"float16": (1e-3, 1e-5), "float32": (1e-5, 1e-6), "float64": (1e-10, 1e-12)}

# Reductions: NumPy keyword name -> argument kind (read off NumPy's signature of the reference).
REDUCTION_KEYWORDS = {"axis": "axes", "keepdims": "bool", "ddof": "ddof", "dtype": "reduce_dtype"}

# Float inputs of sums and products (reductions, linear algebra) are halves in [-8, 8]: exact in every float
# dtype, so that the order of summation (which MXNet and NumPy choose differently) does not change the value.
# Integer inputs span the dtype (overflow must wrap the same way).
EXACT_KINDS = ("reduction", "linalg")

_DOMAINS = {  # name -> (min, max, exclude_min)
    "positive": (0, None, True),
    "nonneg": (0, None, False),
    "unit": (-1, 1, False),
    "ge1": (1, None, False),
    "gtm1": (-1, None, True),
}


# NumPy's aliases (abs, acos, concat, row_stack...) are registered from the record of the function they name
_RECORD_OF_REF = {id(record["ref"]): record["name"] for record in table.RECORDS}


def record_name(op):
    """The name of the table record ``op`` comes from (its own, or the aliased function's); None if none."""
    if op.name in table.TEST_HINTS or any(op.name == r["name"] for r in table.RECORDS):
        return op.name
    return _RECORD_OF_REF.get(id(op.ref))


def hints(op):
    return table.TEST_HINTS.get(record_name(op), {})


def nan_allowed(op):
    """NaN and infinity go into an elementwise operator's inputs unless its record has a note about NaN."""
    return "nan" not in str(op.tol.get("note", "")).lower()


def tolerance(op, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        dtype = np.dtype(dtype.char.lower())
    override = op.tol.get(dtype.name)
    return override if override is not None else TOLERANCES.get(dtype.name, (0, 0))


# -- calls ----------------------------------------------------------------------------------------------
class Fresh:
    """An argument made anew for each run (files and iterators are used up by a call)."""

    def __init__(self, make, label):
        self.make = make
        self.label = label

    def __repr__(self):
        return self.label


class Call:
    """Positional and keyword arguments; NumPy arrays in them become minpy Arrays for the minpy run."""

    def __init__(self, args, kwargs):
        self.args = list(args)
        self.kwargs = dict(kwargs)

    def __repr__(self):
        parts = [_show(a) for a in self.args] + [f"{k}={_show(v)}" for k, v in self.kwargs.items()]
        return f"Call({', '.join(parts)})"

    def materialise(self, to_array):
        return ([_materialise(a, to_array) for a in self.args],
                {k: _materialise(v, to_array) for k, v in self.kwargs.items()})

    def numpy(self):
        return self.materialise(np.copy)


def _show(v):
    if isinstance(v, np.ndarray):
        return f"np.array({v.tolist()!r}, dtype={v.dtype.name})" + (f".reshape({v.shape})" if v.size == 0 else "")
    if type(v) in (list, tuple) and any(isinstance(x, np.ndarray) for x in v):
        inner = ", ".join(_show(x) for x in v)
        return f"[{inner}]" if type(v) is list else f"({inner},)"
    return repr(v)


def _materialise(v, to_array):
    if isinstance(v, np.ndarray):
        return to_array(v)
    if isinstance(v, Fresh):
        return v.make()
    if type(v) in (list, tuple):
        return type(v)(_materialise(x, to_array) for x in v)
    return v


# -- elements and arrays ------------------------------------------------------------------------------------
def elements(dtype, mode="general", domain=None, plain=False):
    """Values of ``dtype``. ``mode``: ``"general"`` (finite values of the dtype, small integers often),
    ``"special"`` (general plus NaN and infinities), ``"exact"`` (floats: halves in [-8, 8]; integers as in
    general). ``domain``: where
    values mostly lie (outside values are drawn too, except in plain calls)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return st.booleans()
    if dtype.kind == "c":  # (out= buffers of complex results) parts as the float of half the width
        part = elements(np.dtype(f"f{dtype.itemsize // 2}"), mode, None, plain)
        return st.builds(complex, part, part)
    lo, hi, exclude = _DOMAINS.get(domain, (None, None, False))
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        dlo = info.min if lo is None else max(info.min, math.floor(lo) + (1 if exclude else 0))
        dhi = info.max if hi is None else min(info.max, math.floor(hi))
        if plain:
            inside = st.integers(max(dlo, -8), min(dhi, 8))
        else:
            inside = st.one_of(st.integers(max(dlo, -10), min(dhi, 10)), st.integers(dlo, dhi))
        if domain is None or plain:
            return inside
        return st.one_of(inside, elements(dtype, mode, None))
    width = dtype.itemsize * 8
    if mode == "exact":
        inside = st.integers(-16, 16).map(lambda k: k / 2)
        if lo is not None:
            inside = inside.filter(lambda x: x > lo if exclude else x >= lo)
        if hi is not None:
            inside = inside.filter(lambda x: x <= hi)
        return inside
    bounds = dict(min_value=lo, max_value=hi, exclude_min=exclude and lo is not None)
    if plain:
        return st.floats(width=width, allow_nan=False, allow_infinity=False,
                         min_value=-100.0 if lo is None else lo, max_value=100.0 if hi is None else hi,
                         exclude_min=exclude)
    small = st.integers(-10, 10).map(float)
    if lo is not None:
        small = small.filter(lambda x: x > lo if exclude else x >= lo)
    if hi is not None:
        small = small.filter(lambda x: x <= hi)
    inside = st.one_of(small, st.floats(width=width, allow_nan=False, allow_infinity=False, **bounds))
    if domain is not None:
        inside = st.one_of(inside, elements(dtype, "general"))
    if mode == "special":
        inside = st.one_of(inside, st.sampled_from([math.nan, math.inf, -math.inf]))
    return inside


def shapes(min_dims=0, max_dims=MAX_DIMS, plain=False, min_side=0):
    return hnp.array_shapes(min_dims=max(min_dims, 1) if plain else min_dims, max_dims=max(max_dims, min_dims),
                            min_side=1 if plain else min_side, max_side=MAX_SIDE)


class Ctx:
    """What the argument kinds of one call share: the operator, the mode, the first array drawn."""

    def __init__(self, op, plain):
        self.op = op
        self.plain = plain
        h = dict(hints(op))
        if plain:
            h.update(h.get("plain", {}))
        self.hints = h
        self.domain = h.get("domain")
        if op.kind in EXACT_KINDS:
            self.mode = "exact"
        elif op.kind == "ufunc" and nan_allowed(op) and not plain:
            self.mode = "special"
        else:
            self.mode = "general"
        self.plain_dtypes = plain_dtypes(op)
        self.primary = None
        self.scratch = {}

    def dtype(self, draw):
        if self.plain:  # one dtype for every array of a plain call
            if "plain_dtype" not in self.scratch:
                self.scratch["plain_dtype"] = draw(st.sampled_from(self.plain_dtypes))
            return self.scratch["plain_dtype"]
        if self.primary is not None and draw(st.booleans()):
            return self.primary.dtype
        return draw(st.sampled_from(DTYPES))

    def array(self, draw, shape, dtype=None):
        dtype = self.dtype(draw) if dtype is None else np.dtype(dtype)
        a = draw(hnp.arrays(dtype, shape, elements=elements(dtype, self.mode, self.domain, self.plain)))
        if self.primary is None:
            self.primary = a
        return a

    def shape(self, draw):
        return draw(shapes(self.hints.get("min_ndim", 0), self.hints.get("max_ndim", MAX_DIMS), self.plain,
                           self.hints.get("min_side", 0)))


def plain_dtypes(op):
    """The dtypes of a plain call: float32/float64 where the MXNet implementation takes floats."""
    impl = op.impls.get("mxnet")
    kinds = impl.dtypes if impl is not None and impl.dtypes is not None else "f"
    if "f" in kinds:
        return PLAIN_FLOATS
    if "i" in kinds:
        return (np.dtype("int32"), np.dtype("int64"))
    return (np.dtype("uint8"),) if "u" in kinds else (np.dtype("bool"),)


# -- argument kinds -------------------------------------------------------------------------------------------
KINDS = {}


def kind(name):
    def register(fn):
        KINDS[name] = fn
        return fn
    return register


def _ndim(ctx):
    return 0 if ctx.primary is None else ctx.primary.ndim


@kind("array")
def _array(draw, ctx):
    return ctx.array(draw, ctx.shape(draw))


@kind("array_same")
def _array_same(draw, ctx):
    return ctx.array(draw, ctx.primary.shape)


@kind("array_bcast")
def _array_bcast(draw, ctx):
    """An array whose shape broadcasts with the first array's (the same shape in plain calls)."""
    shape = ctx.primary.shape
    if not ctx.plain:
        shape = tuple(1 if draw(st.integers(0, 3)) == 0 else n for n in shape)
        shape = shape[draw(st.integers(0, len(shape))):] if draw(st.booleans()) else shape
    return ctx.array(draw, shape)


@kind("array_any")
def _array_any(draw, ctx):
    return ctx.array(draw, draw(shapes(plain=ctx.plain)))


@kind("array_samesize")
def _array_samesize(draw, ctx):
    return ctx.array(draw, _reshaped(draw, ctx.primary.shape, allow_minus_one=False))


@kind("vector")
def _vector(draw, ctx):
    return ctx.array(draw, (draw(st.integers(1 if ctx.plain else 0, MAX_SIDE)),))


@kind("cond")
def _cond(draw, ctx):
    cond = draw(hnp.arrays(np.bool_, ctx.shape(draw), elements=st.booleans()))
    ctx.primary = cond
    return cond


@kind("array_like")
def _array_like(draw, ctx):
    a = ctx.array(draw, ctx.shape(draw))
    return a.tolist() if not ctx.plain and draw(st.booleans()) else a


@kind("arrays")
def _arrays(draw, ctx):
    shape = ctx.shape(draw)
    first = ctx.array(draw, shape)
    n = 2 if ctx.plain else draw(st.integers(1, 3))
    return [first] + [ctx.array(draw, shape) for _ in range(n - 1)]


@kind("arrays_concat")
def _arrays_concat(draw, ctx):
    shape = ctx.shape(draw)
    nd = len(shape)
    if nd == 0:
        axis = None if draw(st.booleans()) else 0
    elif ctx.plain:
        axis = draw(st.integers(-nd, nd - 1))
    else:
        axis = draw(st.one_of(st.none(), st.integers(-nd, nd - 1)))
    ctx.scratch["join_axis"] = axis
    n = 2 if ctx.plain else draw(st.integers(1, 3))
    out = []
    for _ in range(n):
        s = list(shape)
        if axis is not None and nd:
            s[axis] = draw(st.integers(1 if ctx.plain else 0, MAX_SIDE))
        elif out and nd:
            s = list(draw(shapes(plain=ctx.plain)))
        out.append(ctx.array(draw, tuple(s)))
    return out


@kind("join_axis")
def _join_axis(draw, ctx):
    return ctx.scratch["join_axis"]


@kind("axis")
def _axis(draw, ctx):
    nd = _ndim(ctx)
    return draw(st.integers(-nd, nd - 1)) if nd else draw(st.sampled_from([0, -1]))


@kind("axes")
def _axes(draw, ctx):
    nd = _ndim(ctx)
    single = st.integers(-nd, nd - 1) if nd else st.nothing()
    if ctx.plain:
        return draw(st.one_of(st.none(), single))
    return draw(st.one_of(st.none(), single, hnp.valid_tuple_axes(nd)))


@kind("method_axis")
def _method_axis(draw, ctx):
    """One axis of the first array (ufunc methods: ``accumulate``, ``reduceat``); the axis ``reduceat_indices``
    drew, when it did."""
    if "method_axis" in ctx.scratch:
        return ctx.scratch["method_axis"]
    nd = _ndim(ctx)
    return draw(st.integers(-nd, nd - 1)) if nd else 0


@kind("reduceat_indices")
def _reduceat_indices(draw, ctx):
    """``ufunc.reduceat``'s indices along an axis it draws (and ``method_axis`` then gives): in range, in any
    order (a decreasing pair takes one element), or out of range outside plain calls (NumPy raises)."""
    a = ctx.primary
    axis = ctx.scratch["method_axis"] = draw(st.integers(-a.ndim, a.ndim - 1)) if a.ndim else 0
    n = a.shape[axis] if a.ndim else 0
    if n == 0:
        return [] if ctx.plain else draw(st.sampled_from([[], [0]]))
    inside = st.lists(st.integers(0, n - 1), min_size=1, max_size=4)
    if ctx.plain:
        return sorted(draw(inside))
    return draw(st.one_of(inside, st.lists(st.integers(-1, n), min_size=1, max_size=3)))


@kind("new_axis")
def _new_axis(draw, ctx):
    nd = _ndim(ctx)
    return draw(st.integers(-(nd + 1), nd))


@kind("permutation")
def _permutation(draw, ctx):
    nd = _ndim(ctx)
    perm = draw(st.permutations(range(nd)))
    if not ctx.plain:
        perm = [p - nd if draw(st.booleans()) else p for p in perm]
        if draw(st.integers(0, 3)) == 0:
            return None
    return tuple(perm)


@kind("unit_axis")
def _unit_axis(draw, ctx):
    shape = ctx.primary.shape
    ones = [i for i, s in enumerate(shape) if s == 1]
    choices = [st.none()]
    if ones:
        choices.append(st.sampled_from(ones))
        choices.append(st.lists(st.sampled_from(ones), unique=True, max_size=len(ones)).map(tuple))
    if not ctx.plain and shape:
        choices.append(st.integers(-len(shape), len(shape) - 1))  # not of length 1: NumPy raises
    return draw(st.one_of(*choices))


def _reshaped(draw, shape, allow_minus_one=True):
    size = math.prod(shape)
    ndim = draw(st.integers(0 if size == 1 else 1, MAX_DIMS))
    if size == 0:
        dims = list(draw(hnp.array_shapes(min_dims=max(ndim, 1), max_dims=max(ndim, 1), min_side=0,
                                          max_side=MAX_SIDE)))
        dims[draw(st.integers(0, len(dims) - 1))] = 0
        return tuple(dims)
    dims = [1] * ndim
    n, p = size, 2
    factors = []
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    for f in factors:
        dims[draw(st.integers(0, ndim - 1))] *= f
    if allow_minus_one and ndim and draw(st.booleans()):
        dims[draw(st.integers(0, ndim - 1))] = -1
    return tuple(dims)


@kind("newshape")
def _newshape(draw, ctx):
    shape = _reshaped(draw, ctx.primary.shape, allow_minus_one=not ctx.plain)
    if len(shape) == 1 and not ctx.plain and draw(st.booleans()):
        return shape[0]
    return shape


@kind("sections")
def _sections(draw, ctx):
    as_int = st.integers(1, 3)
    indices = st.lists(st.integers(0, MAX_SIDE), max_size=3).map(sorted)
    return draw(as_int if ctx.plain else st.one_of(as_int, indices))


@kind("index")
def _index(draw, ctx):
    n = ctx.primary.size
    return draw(st.integers(-n, n))


@kind("pad_width")
def _pad_width(draw, ctx):
    nd = _ndim(ctx)
    pair = st.tuples(st.integers(0, 2), st.integers(0, 2))
    return draw(st.one_of(st.integers(0, 2), st.lists(pair, min_size=nd, max_size=nd).map(tuple)))


@kind("pad_mode")
def _pad_mode(draw, ctx):
    return draw(st.sampled_from(["constant", "edge", "wrap", "reflect", "symmetric"]))


@kind("broadcast_target")
def _broadcast_target(draw, ctx):
    shape = [draw(st.integers(1 if ctx.plain else 0, 3)) if s == 1 else s for s in ctx.primary.shape]
    lead = draw(st.lists(st.integers(1 if ctx.plain else 0, 3), max_size=2))
    return tuple(lead + shape)


@kind("reps")
def _reps(draw, ctx):
    low = 1 if ctx.plain else 0
    return draw(st.one_of(st.integers(low, 3), st.lists(st.integers(low, 3), max_size=3).map(tuple)))


@kind("count")
def _count(draw, ctx):
    return draw(st.integers(1 if ctx.plain else 0, 4))


@kind("size_small")
def _size_small(draw, ctx):
    return draw(st.integers(1 if ctx.plain else 0, 4))


@kind("size_or_none")
def _size_or_none(draw, ctx):
    return draw(st.one_of(st.none(), st.integers(1 if ctx.plain else 0, 4)))


@kind("int_small")
def _int_small(draw, ctx):
    return draw(st.integers(-3, 3))


@kind("bool")
def _bool(draw, ctx):
    return draw(st.booleans())


@kind("ddof")
def _ddof(draw, ctx):
    return draw(st.integers(0, 1))


@kind("shape")
def _shape(draw, ctx):
    shape = draw(shapes(plain=ctx.plain))
    if not ctx.plain and len(shape) == 1 and draw(st.booleans()):
        return shape[0]
    return shape


@kind("shape_or_none")
def _shape_or_none(draw, ctx):
    return None if draw(st.booleans()) else _shape(draw, ctx)


@kind("dtype")
def _dtype(draw, ctx):
    return draw(st.sampled_from(PLAIN_FLOATS if ctx.plain else DTYPES))


@kind("dtype_or_none")
def _dtype_or_none(draw, ctx):
    return draw(st.one_of(st.none(), st.sampled_from(PLAIN_FLOATS if ctx.plain else DTYPES)))


@kind("reduce_dtype")
def _reduce_dtype(draw, ctx):
    return None if ctx.plain else _dtype_or_none(draw, ctx)


@kind("order")
def _order(draw, ctx):
    return "C" if ctx.plain else draw(st.sampled_from(["C", "F", "A"]))


@kind("order_cf")
def _order_cf(draw, ctx):
    return "C" if ctx.plain else draw(st.sampled_from(["C", "F"]))


def _python_scalar(allow_special=False, wide_ints=True):
    ints = st.integers(-10, 10)
    if wide_ints:
        ints = st.one_of(ints, st.integers(-300, 300))
    floats = st.one_of(st.integers(-20, 20).map(lambda k: k / 4),
                       st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False))
    if allow_special:
        floats = st.one_of(floats, st.sampled_from([math.nan, math.inf, -math.inf]))
    return st.one_of(ints, floats)


@kind("scalar")
def _scalar(draw, ctx):
    if ctx.plain:
        return draw(st.integers(-20, 20).map(lambda k: k / 4))
    return draw(st.one_of(st.integers(-10, 10), st.integers(-20, 20).map(lambda k: k / 4)))


@kind("exponent")
def _exponent(draw, ctx):
    return draw(st.one_of(st.integers(-3, 3), st.integers(-12, 12).map(lambda k: k / 4)))


@kind("bound")
def _bound(draw, ctx):
    scalar = _python_scalar(wide_ints=False)
    if ctx.plain:
        return draw(st.integers(-20, 20).map(lambda k: k / 4))
    bound_array = hnp.arrays(ctx.primary.dtype, ctx.primary.shape,
                             elements=elements(ctx.primary.dtype, ctx.mode))
    return draw(st.one_of(st.none(), scalar, bound_array))


@kind("range*")
def _range(draw, ctx):
    if ctx.plain:
        return [draw(st.integers(1, 10))]
    number = st.one_of(st.integers(-10, 10), st.integers(-40, 40).map(lambda k: k / 4))
    n = draw(st.integers(1, 3))
    values = [draw(number) for _ in range(min(n, 2))]
    if n == 3:
        values.append(draw(st.one_of(st.integers(-3, 3), st.sampled_from([0.5, -0.5, 0.25, 1.5, -2.5]))))
    return values


@kind("bytes")
def _bytes(draw, ctx):
    return draw(st.binary(max_size=4).map(lambda b: b * 8))


@kind("iterable")
def _iterable(draw, ctx):
    values = draw(st.lists(st.one_of(st.integers(0, 100), st.integers(-8, 8).map(lambda k: k / 2)), max_size=5))
    return Fresh(lambda: iter(values), f"iter({values!r})")


def _sum_of_indices(*idx):
    return sum(idx)


def _first_index(*idx):
    return idx[0] * 2 - 1


def _product_of_indices(*idx):
    return math.prod(idx) if idx else 1


@kind("index_function")
def _index_function(draw, ctx):
    return draw(st.sampled_from([_sum_of_indices, _first_index, _product_of_indices]))


def _table_text(draw):
    rows = draw(st.integers(1, 3))
    cols = draw(st.integers(1, 3))
    data = draw(hnp.arrays(np.float64, (rows, cols), elements=st.integers(-16, 16).map(lambda k: k / 4)))
    buf = io.StringIO()
    np.savetxt(buf, data)
    return buf.getvalue()


@kind("text_file")
def _text_file(draw, ctx):
    text = _table_text(draw)
    return Fresh(lambda: io.StringIO(text), f"io.StringIO({text!r})")


@kind("text_string")
def _text_string(draw, ctx):
    return " ".join(_table_text(draw).split())


@kind("npy_file")
def _npy_file(draw, ctx):
    saved = ctx.array(draw, ctx.shape(draw))
    buf = io.BytesIO()
    np.save(buf, saved)
    data = buf.getvalue()
    return Fresh(lambda: io.BytesIO(data), f"io.BytesIO(np.save of {_show(saved)})")


@kind("indexing")
def _indexing(draw, ctx):
    return draw(st.sampled_from(["xy", "ij"]))


@kind("norm_ord")
def _norm_ord(draw, ctx):
    return draw(st.sampled_from([None, 1, 2, -1, 0, math.inf, -math.inf, "fro", "nuc"]))


@kind("key")
def _key(draw, ctx):
    """An index for the first array: per-axis ints and slices (for the leading axes, or after an Ellipsis for
    the trailing ones), with None (new axes) between them; outside plain calls also negative steps, advanced
    indices (lists, boolean masks) and ints out of range."""
    shape = ctx.primary.shape
    k = draw(st.integers(0, len(shape)))
    trailing = draw(st.booleans())
    dims = shape[len(shape) - k:] if trailing else shape[:k]
    parts = []
    for n in dims:
        choice = draw(st.integers(0, 2 if ctx.plain else 3))
        if choice == 0 and n:
            parts.append(draw(st.integers(-n, n - 1)))
        elif choice <= 2:
            start = draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
            stop = draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
            steps = [None, 1, 2] if ctx.plain else [None, 1, 2, -1, -2]
            parts.append(slice(start, stop, draw(st.sampled_from(steps))))
        else:  # advanced indexing (NumPy's route) or an index out of range
            parts.append(draw(st.one_of(st.integers(-n - 2, n + 1),
                                        st.lists(st.integers(-n, n - 1), max_size=3) if n else st.just([]),
                                        hnp.arrays(np.bool_, (n,), elements=st.booleans()))))
    for _ in range(draw(st.integers(0, 2))):
        parts.insert(draw(st.integers(0, len(parts))), None)
    if trailing:
        parts.insert(0, Ellipsis)
    elif draw(st.booleans()):
        parts.append(Ellipsis)
    if len(parts) == 1 and draw(st.booleans()):
        return parts[0]
    return tuple(parts)


# linear algebra
@kind("dot_rhs")
def _dot_rhs(draw, ctx):
    a = ctx.primary
    if a.ndim == 0:
        return ctx.array(draw, draw(shapes(plain=ctx.plain)))
    k = a.shape[-1]
    if draw(st.booleans()):
        return ctx.array(draw, (k,))
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=1)))
    return ctx.array(draw, batch + (k, draw(st.integers(1 if ctx.plain else 0, 3))))


@kind("matmul_rhs")
def _matmul_rhs(draw, ctx):
    a = ctx.primary
    if a.ndim == 0:
        return ctx.array(draw, draw(shapes(plain=ctx.plain)))
    k = a.shape[-1]
    m = draw(st.integers(1 if ctx.plain else 0, 3))
    if not ctx.plain and draw(st.booleans()):
        return ctx.array(draw, (k,))
    batch = [draw(st.sampled_from([s, 1])) for s in a.shape[:-2]]
    batch = batch[draw(st.integers(0, len(batch))):] if batch else batch
    return ctx.array(draw, tuple(batch) + (k, m))


@kind("inner_rhs")
def _inner_rhs(draw, ctx):
    a = ctx.primary
    if a.ndim == 0:
        return ctx.array(draw, draw(shapes(plain=ctx.plain)))
    lead = tuple(draw(st.lists(st.integers(1 if ctx.plain else 0, 3), max_size=2)))
    return ctx.array(draw, lead + (a.shape[-1],))


@kind("tensordot_rhs")
def _tensordot_rhs(draw, ctx):
    a = ctx.primary
    k = draw(st.integers(0, min(a.ndim, 2)))
    tail = tuple(draw(st.lists(st.integers(1 if ctx.plain else 0, 3), min_size=1 if ctx.plain and not k else 0,
                               max_size=2)))
    b = ctx.array(draw, a.shape[a.ndim - k:] + tail)
    if not ctx.plain and k and draw(st.booleans()):
        ctx.scratch["tensordot_axes"] = (list(range(a.ndim - k, a.ndim)), list(range(k)))
    else:
        ctx.scratch["tensordot_axes"] = k
    return b


@kind("tensordot_axes")
def _tensordot_axes(draw, ctx):
    return ctx.scratch["tensordot_axes"]


@kind("square")
def _square(draw, ctx):
    n = draw(st.integers(1 if ctx.plain else 0, 3))
    batch = tuple(draw(st.lists(st.integers(1, 2), max_size=0 if ctx.plain else 1)))
    dtype = ctx.dtype(draw)
    if dtype.kind == "b":
        return ctx.array(draw, batch + (n, n), dtype)
    m = draw(hnp.arrays(np.float64, batch + (n, n), elements=st.integers(-4 if dtype.kind != "u" else 0, 4)))
    m = m + (4 * n + 1) * np.eye(n)  # strictly diagonally dominant: well conditioned
    a = m.astype(dtype)
    if ctx.primary is None:
        ctx.primary = a
    return a


@kind("spd")
def _spd(draw, ctx):
    n = draw(st.integers(1 if ctx.plain else 0, 3))
    dtype = ctx.dtype(draw)
    b = draw(hnp.arrays(np.float64, (n, n), elements=st.integers(-2, 2)))
    a = (b @ b.T + n * np.eye(n) + np.eye(n)).astype(dtype)
    if ctx.primary is None:
        ctx.primary = a
    return a


@kind("solve_rhs")
def _solve_rhs(draw, ctx):
    a = ctx.primary
    n = a.shape[-1]
    if draw(st.booleans()):
        return ctx.array(draw, a.shape[:-2] + (n,))
    return ctx.array(draw, a.shape[:-2] + (n, draw(st.integers(1, 2))))


@kind("einsum*")
def _einsum(draw, ctx):
    letters = "abcd"
    sizes = {c: draw(st.integers(1 if ctx.plain else 0, 3)) for c in letters}
    nops = draw(st.integers(1, 2))
    operand_terms = []
    for _ in range(nops):
        term = "".join(draw(st.lists(st.sampled_from(letters), max_size=3, unique=ctx.plain)))
        operand_terms.append(term)
    used = sorted(set("".join(operand_terms)))
    spec = ",".join(operand_terms)
    if draw(st.booleans()):
        out = draw(st.lists(st.sampled_from(used), unique=True, max_size=len(used))) if used else []
        spec += "->" + "".join(out)
    operands = [ctx.array(draw, tuple(sizes[c] for c in term)) for term in operand_terms]
    return [spec] + operands


@kind("axis_or_none")
def _axis_or_none(draw, ctx):
    return None if draw(st.booleans()) else KINDS["axis"](draw, ctx)


# -- Fourier transforms ---------------------------------------------------------------------------------------
@kind("fft_n")
def _fft_n(draw, ctx):
    return draw(st.one_of(st.none(), st.integers(1 if ctx.plain else 0, MAX_SIDE + 1)))


@kind("fft_norm")
def _fft_norm(draw, ctx):
    return draw(st.sampled_from([None, "backward", "ortho", "forward"]))


@kind("fft_axes")
def _fft_axes(draw, ctx):
    """Distinct axes of the array (some of them, in any order); ``fft_s`` gives one length per axis."""
    nd = _ndim(ctx)
    axes = draw(st.lists(st.integers(-nd, nd - 1), min_size=1, max_size=nd, unique_by=lambda a: a % nd)) \
        if nd else []
    ctx.scratch["fft_axes"] = axes
    return axes


@kind("fft_axes2")
def _fft_axes2(draw, ctx):
    nd = _ndim(ctx)
    axes = draw(st.lists(st.integers(-nd, nd - 1), min_size=2, max_size=2, unique_by=lambda a: a % nd))
    ctx.scratch["fft_axes"] = axes
    return axes


@kind("fft_s")
def _fft_s(draw, ctx):
    """Lengths, one per transformed axis (those drawn before; NumPy 2 deprecates s without axes, so without
    axes only fft2's default pair gets lengths, else None)."""
    axes = ctx.scratch.get("fft_axes")
    if axes is None:
        if not ctx.op.name.endswith("2"):
            return None
        n = 2
    else:
        n = len(axes)
    return draw(st.lists(st.integers(1, MAX_SIDE + 1), min_size=n, max_size=n))


# -- linear algebra ---------------------------------------------------------------------------------------------
@kind("uplo")
def _uplo(draw, ctx):
    return draw(st.sampled_from(["L", "U"]))


@kind("qr_mode")
def _qr_mode(draw, ctx):
    return draw(st.sampled_from(["reduced", "complete", "r"]))


@kind("cross*")
def _cross(draw, ctx):
    """Two stacks of 2- or 3-vectors (last axis) whose leading dimensions broadcast."""
    lead = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, min_side=1,
                                                  max_side=3)).input_shapes
    # 2-vectors are deprecated in NumPy 2 (a DeprecationWarning)
    dims = [draw(st.sampled_from([2, 3] if np.lib.NumpyVersion(np.__version__) < "2.0.0" else [3]))
            for _ in range(2)]
    return [ctx.array(draw, tuple(s) + (d,)) for s, d in zip(lead, dims)]


# -- shapes, selection, sorting ---------------------------------------------------------------------------------
@kind("rollaxis_start")
def _rollaxis_start(draw, ctx):
    nd = _ndim(ctx)
    return draw(st.integers(-nd, nd))


@kind("edge_order")
def _edge_order(draw, ctx):
    return draw(st.sampled_from([1, 2]))


@kind("condlist")
def _condlist(draw, ctx):
    shape = ctx.shape(draw)
    n = draw(st.integers(1, 3))
    conds = [draw(hnp.arrays(np.bool_, shape, elements=st.booleans())) for _ in range(n)]
    ctx.scratch["select"] = (shape, n)
    return conds


@kind("choicelist")
def _choicelist(draw, ctx):
    shape, n = ctx.scratch["select"]
    return [ctx.array(draw, shape) for _ in range(n)]


@kind("select_default")
def _select_default(draw, ctx):
    shape, _ = ctx.scratch["select"]
    return ctx.array(draw, shape) if draw(st.booleans()) else KINDS["scalar"](draw, ctx)


@kind("kth")
def _kth(draw, ctx):
    """Partition indices (one or several) along an axis it chooses (``kth_axis`` gives that axis)."""
    a = ctx.primary
    axis = draw(st.integers(-a.ndim, a.ndim - 1)) if a.ndim else -1
    ctx.scratch["kth_axis"] = axis
    n = a.shape[axis] if a.ndim else 0
    if n == 0:
        return 0
    one = st.integers(-n, n - 1)
    return draw(st.one_of(one, st.lists(one, min_size=1, max_size=2)))


@kind("kth_axis")
def _kth_axis(draw, ctx):
    return ctx.scratch["kth_axis"]


@kind("along_indices")
def _along_indices(draw, ctx):
    """Indices for ``take_along_axis`` along an axis it chooses (``along_axis`` gives that axis)."""
    a = ctx.primary
    axis = draw(st.integers(-a.ndim, a.ndim - 1))
    ctx.scratch["along_axis"] = axis
    n = a.shape[axis]
    shape = tuple(draw(st.integers(0, 3)) if i == axis % a.ndim else draw(st.sampled_from([1, d]))
                  for i, d in enumerate(a.shape))
    if n == 0:
        return np.zeros(tuple(0 if i == axis % a.ndim else d for i, d in enumerate(shape)), dtype=np.int64)
    return draw(hnp.arrays(np.int64, shape, elements=st.integers(-n, n - 1)))


@kind("along_axis")
def _along_axis(draw, ctx):
    return ctx.scratch["along_axis"]


@kind("weights")
def _weights(draw, ctx):
    """``average``'s weights: the array's shape."""
    return ctx.array(draw, ctx.primary.shape)


# -- calls from records --------------------------------------------------------------------------------------
def _signature_keywords(ref):
    try:
        params = inspect.signature(ref).parameters
    except (TypeError, ValueError):
        return {}
    return {name: kind for name, kind in REDUCTION_KEYWORDS.items() if name in params}


def call_kinds(op):
    """(positional argument kinds, keyword -> argument kind) for a non-elementwise operator."""
    h = hints(op)
    args = h.get("args", ("array",))
    kwargs = dict(_signature_keywords(op.ref)) if op.kind == "reduction" else {}
    kwargs.update(h.get("kwargs", {}))
    unknown = [k for k in list(args) + list(kwargs.values()) if k not in KINDS]
    if unknown:
        raise KeyError(f"{op.name}: test hints name unknown argument kinds {unknown}")
    return args, kwargs


@st.composite
def hinted_call(draw, op, plain=False):
    ctx = Ctx(op, plain)
    arg_kinds, kw_kinds = call_kinds(op)
    required = ctx.hints.get("required", ())
    args = []
    for k in arg_kinds:
        value = KINDS[k](draw, ctx)
        if k.endswith("*"):
            args.extend(value)
        else:
            args.append(value)
    kwargs = dict(ctx.hints.get("fixed", {}))
    for name, k in kw_kinds.items():
        if name in required or draw(st.booleans()):
            kwargs[name] = KINDS[k](draw, ctx)
    return Call(args, kwargs)


@st.composite
def ufunc_call(draw, op, plain=False):
    ctx = Ctx(op, plain)
    ufunc = op.ref
    nin = ufunc.nin
    if plain:
        shape = draw(shapes(plain=True))
        dtype = draw(st.sampled_from(ctx.plain_dtypes))
        return Call([ctx.array(draw, shape, dtype) for _ in range(nin)], {})
    if ufunc.signature:
        in_shapes = draw(hnp.mutually_broadcastable_shapes(signature=ufunc.signature, max_dims=2, min_side=0,
                                                           max_side=MAX_SIDE)).input_shapes
    elif nin == 1:
        in_shapes = [draw(shapes())]
    else:
        in_shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=nin, min_dims=0, max_dims=MAX_DIMS,
                                                           min_side=0, max_side=MAX_SIDE)).input_shapes
    args = [ctx.array(draw, s) for s in in_shapes]
    if nin == 2 and not ufunc.signature and draw(st.integers(0, 2)) == 0:
        position = draw(st.sampled_from([1, 1, 0]))
        args[position] = draw(_python_scalar(allow_special=ctx.mode == "special"))
    return Call(args, {})


def calls(op, plain=False):
    """The strategy of calls of ``op`` (``plain``: the ordinary call the MXNet route must take)."""
    if op.kind == "ufunc" and "args" not in hints(op):
        return ufunc_call(op, plain)
    return hinted_call(op, plain)
