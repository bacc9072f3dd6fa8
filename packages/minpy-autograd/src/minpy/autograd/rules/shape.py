"""Shape manipulation: reshaping, transposing, joining and splitting, tiling and padding, diagonals and
triangles, differences, and ``linspace``. Values move without being combined, so every one of these is linear
in its array arguments: the JVP is the operator applied to the tangent (:func:`linear`), and the VJP puts the
gradient back where each value came from."""
import numpy as onp

import minpy.numpy as np
from minpy.array import Array
from minpy.autograd import registry
from minpy.autograd.backward import gradients, trace_reverse
from minpy.autograd.errors import AutogradError
from minpy.autograd.rules._util import (declared, dtype_of, jvp, linear, match, ndim_of, shape_of, unbroadcast,
                                        value_of, vjp, vjp_items)
from minpy.autograd.rules.indexing import functional_setitem, scatter_add
from minpy.ops.operator import get_operator


def linear_transpose(fn, x, g):
    """``L^T g`` for the map ``L = fn``, linear in its argument (shaped like ``x``): the VJP of ``fn`` traced
    at zeros. Lets a rule reuse a ``minpy.numpy`` formula of a linear operator for its adjoint."""
    dt = onp.result_type(*[d for d in (dtype_of(x), dtype_of(g)) if d.kind in "fc"] or [onp.float64])
    zeros = np.zeros(shape_of(x), dtype=dt)
    out, trace, boxed, starts = trace_reverse(fn, (zeros,), {}, (0,))
    return gradients(out, trace, boxed, starts, g, free=True)[0]


def _axis_permutation(fn, nd, *args):
    """The permutation of axes an axis-moving function applies to an ``nd``-dimensional array (read off a
    zero-memory array whose axis lengths are all different)."""
    dummy = onp.broadcast_to(onp.zeros(()), tuple(range(2, nd + 2)))
    return [n - 2 for n in fn(dummy, *args).shape]


# -- reshaping -------------------------------------------------------------------------------------------------------
def _read_order(x, order):
    """The index order in which reshape/ravel/flatten read ``x``: NumPy's 'A' and 'K' follow its layout."""
    if order == "F":
        return "F"
    if order in ("A", "K"):
        x = value_of(x)
        flags = x.flags if isinstance(x, Array) else onp.asarray(x).flags
        if flags.f_contiguous and not flags.c_contiguous:
            return "F"
    return "C"


def _order_of(a, k, position):
    return k.get("order", a[position] if len(a) > position else "C")


def _reordering_vjp(order_position):
    """Rule of reshape-like operators with an ``order`` (positional after ``order_position`` others): the
    gradient is read back in the same index order."""
    def rule(g, ans, x, *a, **k):
        return match(np.reshape(g, shape_of(x), order=_read_order(x, _order_of(a, k, order_position))), x)
    return rule


def _reordering_jvp(order_position):
    def rule(t, ans, x, *a, **k):
        return np.reshape(t, shape_of(ans), order=_read_order(x, _order_of(a, k, order_position)))
    return rule


vjp("reshape", _reordering_vjp(1))
jvp("reshape", _reordering_jvp(1))
for _name in ("ravel", "flatten"):
    vjp(_name, _reordering_vjp(0))
    jvp(_name, _reordering_jvp(0))


def _as_shape_of(g, ans, x, *a, **k):
    return match(np.reshape(g, shape_of(x)), x)


for _name in ("squeeze", "expand_dims"):
    vjp(_name, _as_shape_of)
    linear(_name)
vjp("copy", lambda g, ans, x, *a, **k: match(g, x))
linear("copy")


def _atleast_vjp(argpos, g, ans, args, kwargs):
    if type(argpos) is not int:
        raise AutogradError(f"no gradient with respect to argument {argpos!r}")
    x = args[argpos]
    piece = g[argpos] if len(args) > 1 else g
    return match(np.reshape(piece, shape_of(x)), x)


for _name in ("atleast_1d", "atleast_2d", "atleast_3d"):
    registry.install_vjp(_name, _atleast_vjp)
    registry.install_jvp(_name, (lambda name: lambda argpos, t, ans, args, kwargs: get_operator(name).public(t))(_name))

# -- moving axes -----------------------------------------------------------------------------------------------------
def _transpose_vjp(g, ans, x, axes=None):
    if axes is None:
        return match(np.transpose(g), x)
    return match(np.transpose(g, tuple(onp.argsort([a % ndim_of(x) for a in axes]))), x)


vjp("transpose", _transpose_vjp)
linear("transpose")


def _permuting_vjp(name):
    ref = get_operator(name).ref

    def rule(g, ans, x, *a, **k):
        perm = _axis_permutation(lambda d: ref(d, *a, **k), ndim_of(x))
        return match(np.transpose(g, tuple(onp.argsort(perm))), x)
    return rule


for _name in ("swapaxes", "moveaxis", "rollaxis"):
    vjp(_name, _permuting_vjp(_name))
    linear(_name)
vjp("broadcast_to", lambda g, ans, x, *a, **k: match(unbroadcast(g, x), x))
linear("broadcast_to")
vjp("flip", lambda g, ans, x, axis=None: match(np.flip(g, axis), x))
vjp("fliplr", lambda g, ans, x: match(np.fliplr(g), x))
vjp("flipud", lambda g, ans, x: match(np.flipud(g), x))
for _name in ("flip", "fliplr", "flipud"):
    linear(_name)


def _roll_vjp(g, ans, x, shift, axis=None):
    neg = tuple(-s for s in shift) if isinstance(shift, (tuple, list)) else -shift
    return match(np.roll(g, neg, axis), x)


vjp("roll", _roll_vjp)
linear("roll")
vjp("rot90", lambda g, ans, m, k=1, axes=(0, 1): match(np.rot90(g, -k, axes), m))
linear("rot90")


# -- triangles and diagonals -----------------------------------------------------------------------------------------
def _triangle_vjp(name):
    def rule(g, ans, x, k=0):
        masked = getattr(np, name)(g, k)
        # a 1-d input is broadcast to the rows of a square matrix first
        return match(np.sum(masked, axis=0) if ndim_of(x) == 1 else masked, x)
    return rule


for _name in ("tril", "triu"):
    vjp(_name, _triangle_vjp(_name))
    linear(_name)


def _diag_positions(length, k):
    idx = onp.arange(length)
    return idx + max(-k, 0), idx + max(k, 0)


def _diag_vjp(g, ans, v, k=0):
    vs = shape_of(v)
    if len(vs) == 1:
        return match(np.diagonal(g, k), v)
    rows, cols = _diag_positions(shape_of(g)[0], k)
    return match(functional_setitem(np.zeros(vs, dtype=dtype_of(g)), (np.array(rows), np.array(cols)), g), v)


vjp("diag", _diag_vjp)
linear("diag")
if declared("diagflat"):
    vjp("diagflat", lambda g, ans, v, k=0: match(np.reshape(np.diagonal(g, k), shape_of(v)), v))
    linear("diagflat")


def diagonal_scatter(gdiag, x, offset, axis1, axis2):
    """Zeros shaped like ``x`` with ``gdiag`` on the diagonal ``diagonal(x, offset, axis1, axis2)`` reads."""
    xs = shape_of(x)
    nd = len(xs)
    a1, a2 = axis1 % nd, axis2 % nd
    rest = [i for i in range(nd) if i not in (a1, a2)]
    moved_shape = tuple(xs[i] for i in rest) + (xs[a1], xs[a2])
    rows, cols = _diag_positions(shape_of(gdiag)[-1], offset)
    full = functional_setitem(np.zeros(moved_shape, dtype=dtype_of(gdiag)),
                              (Ellipsis, np.array(rows), np.array(cols)), gdiag)
    return np.moveaxis(full, (nd - 2, nd - 1), (a1, a2))


vjp("diagonal", lambda g, ans, x, offset=0, axis1=0, axis2=1: match(diagonal_scatter(g, x, offset, axis1, axis2), x))
linear("diagonal")


def _trace_vjp(g, ans, x, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    length = onp.diagonal(onp.broadcast_to(onp.zeros(()), shape_of(x)), offset, axis1, axis2).shape[-1]
    gd = np.broadcast_to(np.expand_dims(g, -1), shape_of(g) + (length,))
    return match(diagonal_scatter(gd, x, offset, axis1, axis2), x)


vjp("trace", _trace_vjp)
linear("trace")

if declared("make_diagonal"):  # HIPS autograd's complement of diagonal (minpy.numpy has it too)
    vjp("make_diagonal", lambda g, ans, d, offset=0, axis1=0, axis2=1: match(np.diagonal(g, offset, axis1, axis2),
                                                                            d))
    linear("make_diagonal")


# -- joining -----------------------------------------------------------------------------------------------------------
def _concat_item(g, ans, j, seq, axis=0, **kw):
    if axis is None:
        sizes = [int(onp.prod(shape_of(s))) for s in seq]
        start = sum(sizes[:j])
        return match(np.reshape(g[start:start + sizes[j]], shape_of(seq[j])), seq[j])
    ax = axis % g.ndim
    sizes = [shape_of(s)[ax] for s in seq]
    start = sum(sizes[:j])
    return match(g[(slice(None),) * ax + (slice(start, start + sizes[j]),)], seq[j])


vjp_items("concatenate", _concat_item)
vjp_items("stack", lambda g, ans, j, seq, axis=0, **kw: match(g[(slice(None),) * (axis % g.ndim) + (j,)], seq[j]))
for _name in ("concatenate", "stack"):
    linear(_name)
registry.reads(("concatenate", "stack"), {0: ()}, False)  # the rules read the items' shapes only


def _joined(promote, axis_of):
    def item(g, ans, j, seq, *a, **kw):
        promoted = [promote(s) for s in seq]
        ax = axis_of(promoted)
        sizes = [p[ax] for p in promoted]
        start = sum(sizes[:j])
        piece = g[(slice(None),) * ax + (slice(start, start + sizes[j]),)]
        return match(np.reshape(piece, shape_of(seq[j])), seq[j])
    return item


def _shape_atleast(n):
    def promote(x):
        s = shape_of(x)
        if len(s) >= n:
            return s
        if n == 2:
            return (1,) * (2 - len(s)) + s
        return {0: (1, 1, 1), 1: (1,) + s + (1,), 2: s + (1,)}[len(s)]
    return promote


_JOINS = {"vstack": _joined(_shape_atleast(2), lambda p: 0),
          "row_stack": _joined(_shape_atleast(2), lambda p: 0),
          "hstack": _joined(lambda x: shape_of(x) or (1,), lambda p: 0 if len(p[0]) == 1 else 1),
          "dstack": _joined(_shape_atleast(3), lambda p: 2),
          "column_stack": _joined(lambda x: {0: (1, 1), 1: shape_of(x) + (1,)}.get(ndim_of(x), shape_of(x)),
                                  lambda p: 1)}
for _name, _item in _JOINS.items():
    if declared(_name):
        vjp_items(_name, _item)
        linear(_name)


def _append_vjp(argpos, g, ans, args, kwargs):
    arr, values = args[0], args[1]
    axis = kwargs.get("axis", args[2] if len(args) > 2 else None) if kwargs else (args[2] if len(args) > 2
                                                                                   else None)
    if argpos not in (0, 1):
        raise AutogradError(f"minpy.numpy.append: no gradient with respect to argument {argpos!r}")
    if axis is None:
        n = int(onp.prod(shape_of(arr)))
        piece = g[:n] if argpos == 0 else g[n:]
    else:
        ax = axis % len(shape_of(arr))
        n = shape_of(arr)[ax]
        piece = g[(slice(None),) * ax + ((slice(None, n),) if argpos == 0 else (slice(n, None),))]
    target = arr if argpos == 0 else values
    return match(np.reshape(piece, shape_of(target)), target)


registry.install_vjp("append", _append_vjp)
linear("append", (0, 1))


def _split_vjp(axis_of):
    def rule(g, ans, x, indices_or_sections, *a, **k):
        axis = axis_of(x, a, k)
        pieces = [gi if gi is not None else np.zeros(shape_of(p), dtype=dtype_of(x)) for gi, p in zip(g, ans)]
        return match(np.concatenate(pieces, axis=axis), x)
    return rule


_SPLITS = {"split": lambda x, a, k: k.get("axis", a[0] if a else 0),
           "array_split": lambda x, a, k: k.get("axis", a[0] if a else 0),
           "vsplit": lambda x, a, k: 0,
           "hsplit": lambda x, a, k: 1 if ndim_of(x) > 1 else 0,
           "dsplit": lambda x, a, k: 2}
for _name, _axis_of in _SPLITS.items():
    vjp(_name, _split_vjp(_axis_of))
    linear(_name)


# -- repeating ---------------------------------------------------------------------------------------------------------
def _tile_vjp(g, ans, x, reps):
    xs = shape_of(x)
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    d = max(len(xs), len(reps))
    xs_p = (1,) * (d - len(xs)) + tuple(xs)
    reps_p = (1,) * (d - len(reps)) + reps
    inter = []
    for r, s in zip(reps_p, xs_p):
        inter += [r, s]
    summed = np.sum(np.reshape(g, tuple(inter)), axis=tuple(range(0, 2 * d, 2)))
    return match(np.reshape(summed, xs), x)


vjp("tile", _tile_vjp)
linear("tile")


def _repeat_vjp(g, ans, x, repeats, axis=None):
    xs = shape_of(x)
    counts = onp.asarray(value_of(repeats).asnumpy() if isinstance(value_of(repeats), Array) else repeats)
    if axis is None or not xs:  # NumPy repeats the flattened array
        flat_g, n, ax = g, int(onp.prod(xs)), 0
    else:
        flat_g, ax = g, axis % len(xs)
        n = xs[ax]
    if counts.size == 1:
        r = int(counts.reshape(()))
        if axis is None or not xs:
            return match(np.reshape(np.sum(np.reshape(flat_g, (n, r)), axis=1), xs), x)
        shape = xs[:ax] + (xs[ax], r) + xs[ax + 1:]
        return match(np.sum(np.reshape(flat_g, shape), axis=ax + 1), x)
    # one count per element: each element's gradient is the sum of its segment (cumulative sums at the ends)
    ends = onp.cumsum(counts)
    gm = np.moveaxis(flat_g, ax, 0)
    cum = np.concatenate([np.zeros((1,) + shape_of(gm)[1:], dtype=dtype_of(gm)), np.cumsum(gm, axis=0)], axis=0)
    seg = np.take(cum, np.array(ends), axis=0) - np.take(cum, np.array(ends - counts), axis=0)
    seg = np.moveaxis(seg, 0, ax)
    return match(np.reshape(seg, xs), x)


vjp("repeat", _repeat_vjp)
linear("repeat")


# -- padding -----------------------------------------------------------------------------------------------------------
_COPY_MODES = ("edge", "wrap", "reflect", "symmetric")


def _pad_vjp(g, ans, x, pad_width, mode="constant", **kw):
    xs = shape_of(x)
    nd = len(xs)
    if mode == "constant":
        widths = onp.broadcast_to(onp.asarray(pad_width, dtype=int), (nd, 2))  # NumPy's forms of pad_width
        return match(g[tuple(slice(int(lo), int(lo) + n) for (lo, _), n in zip(widths, xs))], x)
    if mode in _COPY_MODES and kw.get("reflect_type", "even") == "even":
        # every padded element is a copy of one input element: pad the input's flat indices the same way
        # and add the gradient up at them
        index = onp.pad(onp.arange(int(onp.prod(xs))).reshape(xs), pad_width, mode=mode, **kw)
        flat = scatter_add((int(onp.prod(xs)),), dtype_of(g), np.array(index.ravel()), np.ravel(g))
        return match(np.reshape(flat, xs), x)
    raise AutogradError(f"minpy.numpy.pad: gradient implemented for the modes 'constant', "
                        f"{', '.join(repr(m) for m in _COPY_MODES)} (even reflection), not {mode!r}")


def _pad_jvp(t, ans, x, pad_width, mode="constant", **kw):
    if mode == "constant":
        kw = {k: v for k, v in kw.items() if k != "constant_values"}  # the constants have no tangent
    return np.pad(t, pad_width, mode=mode, **kw)


vjp("pad", _pad_vjp)
jvp("pad", _pad_jvp)


# -- differences -------------------------------------------------------------------------------------------------------
def _undiff(g, axis):
    """The adjoint of one first difference along ``axis``: ``(-g_0, g_0 - g_1, ..., g_{m-1})``."""
    ax = axis % g.ndim
    if shape_of(g)[ax] == 0:
        shape = list(shape_of(g))
        shape[ax] = 1
        return np.zeros(tuple(shape), dtype=dtype_of(g))
    first = (slice(None),) * ax + (slice(0, 1),)
    last = (slice(None),) * ax + (slice(-1, None),)
    return np.concatenate([-g[first], -np.diff(g, axis=ax), g[last]], axis=ax)


def _diff_vjp(argpos, g, ans, args, kwargs):
    kwargs = dict(kwargs or {})
    a = args[0]
    n = kwargs.get("n", args[1] if len(args) > 1 else 1)
    axis = kwargs.get("axis", args[2] if len(args) > 2 else -1)
    nd = ndim_of(a)
    ax = axis % nd
    for _ in range(n):
        g = _undiff(g, ax)
    # prepend/append were joined to ``a`` along ``axis`` (a scalar or a shorter array broadcast first)
    pre, post = kwargs.get("prepend", onp._NoValue), kwargs.get("append", onp._NoValue)
    sizes = [_joined_length(pre, a, ax), shape_of(a)[ax], _joined_length(post, a, ax)]
    bounds = onp.cumsum([0] + sizes)
    part = {0: 1, "prepend": 0, "append": 2}.get(argpos)
    if part is None:
        raise AutogradError(f"minpy.numpy.diff: no gradient with respect to argument {argpos!r}")
    piece = g[(slice(None),) * ax + (slice(int(bounds[part]), int(bounds[part + 1])),)]
    target = (pre, a, post)[part]
    return match(unbroadcast(piece, target), target)


def _joined_length(extra, a, ax):
    if extra is onp._NoValue or extra is None:
        return 0
    shape = shape_of(extra)
    return shape[ax] if len(shape) == ndim_of(a) else 1


registry.install_vjp("diff", _diff_vjp)
linear("diff", (0, "prepend", "append"))


def _gradient_formula(f, spacing, axes, edge_order):
    """NumPy's ``gradient`` written in ``minpy.numpy`` (linear in ``f``), from which its adjoint is traced."""
    outs = []
    for h, ax in zip(spacing, axes):
        m = shape_of(f)[ax]

        def take(sl):
            return f[(slice(None),) * ax + (sl,)]
        coords = onp.asarray(h, dtype=float)
        if coords.ndim == 0:
            d = onp.full(m - 1, float(coords))
        else:
            d = onp.diff(coords)
        shape = [1] * len(shape_of(f))
        shape[ax] = -1

        def col(v):
            return np.array(onp.asarray(v, dtype=float).reshape(shape))
        d1, d2 = d[:-1], d[1:]
        a = -d2 / (d1 * (d1 + d2))
        b = (d2 - d1) / (d1 * d2)
        c = d1 / (d2 * (d1 + d2))
        inner = col(a) * take(slice(None, -2)) + col(b) * take(slice(1, -1)) + col(c) * take(slice(2, None))
        if edge_order == 1:
            first = (take(slice(1, 2)) - take(slice(0, 1))) / d[0]
            last = (take(slice(-1, None)) - take(slice(-2, -1))) / d[-1]
        else:
            e1, e2 = d[0], d[1]
            a0, b0, c0 = -(2 * e1 + e2) / (e1 * (e1 + e2)), (e1 + e2) / (e1 * e2), -e1 / (e2 * (e1 + e2))
            first = a0 * take(slice(0, 1)) + b0 * take(slice(1, 2)) + c0 * take(slice(2, 3))
            e1, e2 = d[-2], d[-1]
            a1, b1, c1 = e2 / (e1 * (e1 + e2)), -(e2 + e1) / (e1 * e2), (2 * e2 + e1) / (e2 * (e1 + e2))
            last = a1 * take(slice(-3, -2)) + b1 * take(slice(-2, -1)) + c1 * take(slice(-1, None))
        outs.append(np.concatenate([first, inner, last], axis=ax))
    return outs


def _gradient_args(f, varargs, kwargs):
    nd = ndim_of(f)
    axis = kwargs.get("axis")
    axes = list(range(nd)) if axis is None else ([axis % nd] if isinstance(axis, int) else
                                                  [a % nd for a in axis])
    spacing = [1.0] * len(axes) if not varargs else (list(varargs) * len(axes) if len(varargs) == 1 else
                                                     list(varargs))
    spacing = [onp.asarray(value_of(h).asnumpy() if isinstance(value_of(h), Array) else h) for h in spacing]
    return spacing, axes, kwargs.get("edge_order", 1), axis


def _gradient_vjp(argpos, g, ans, args, kwargs):
    if argpos != 0:
        raise AutogradError(f"minpy.numpy.gradient: gradients with respect to the array only, not {argpos!r}")
    f = args[0]
    spacing, axes, edge_order, axis = _gradient_args(f, args[1:], kwargs or {})
    single = len(axes) == 1 and not isinstance(ans, (list, tuple))
    gs = [g] if single else list(g)

    def formula(x):
        outs = _gradient_formula(x, spacing, axes, edge_order)
        return sum(np.sum(o * gi) for o, gi in zip(outs, gs) if gi is not None)
    return match(linear_transpose_scalar(formula, f), f)


def linear_transpose_scalar(formula, x):
    """The gradient of ``formula`` (linear in its argument, scalar-valued), traced at zeros shaped like ``x``."""
    return linear_transpose(formula, x, np.array(1.0))


registry.install_vjp("gradient", _gradient_vjp)
linear("gradient")


# -- linspace ----------------------------------------------------------------------------------------------------------
def _linspace_weights(num, endpoint, axis, ndim_out, dtype):
    """Weights ``w`` with ``linspace(start, stop) = start (1 - w) + stop w``, shaped to broadcast along ``axis``
    of a result of ``ndim_out`` dimensions."""
    w = onp.linspace(0.0, 1.0, num, endpoint=endpoint)
    shape = [1] * ndim_out
    shape[axis % ndim_out] = num
    return w.reshape(shape)


def _linspace_parts(ans, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    samples = ans[0] if retstep else ans
    nd = ndim_of(samples)
    w = _linspace_weights(num, endpoint, axis, nd, dtype)
    div = (num - 1 if endpoint else num) if num > 0 else 1
    return w, div, axis % nd if nd else 0


def _linspace_vjp(argpos, g, ans, args, kwargs):
    kwargs = dict(kwargs or {})
    names = ("start", "stop", "num", "endpoint", "retstep", "dtype", "axis")
    call = dict(zip(names, args))
    call.update(kwargs)
    if argpos not in (0, 1, "start", "stop"):
        raise AutogradError(f"minpy.numpy.linspace: no gradient with respect to argument {argpos!r}")
    first = argpos in (0, "start")
    target = call["start" if first else "stop"]
    out_dtype = call.get("dtype")
    if out_dtype is not None and onp.dtype(out_dtype).kind not in "fc":
        return match(0.0 * np.sum(np.zeros(shape_of(target))), target)
    w, div, ax = _linspace_parts(ans, **call)
    weight = np.array(1.0 - w if first else w)
    retstep = call.get("retstep", False)
    gs = g[0] if retstep else g
    total = np.sum(gs * weight, axis=ax) if ndim_of(gs) else gs * weight
    if retstep and g[1] is not None and div:
        total = total + (-g[1] if first else g[1]) / div
    return match(unbroadcast(total, target), target)


def _linspace_jvp(argpos, t, ans, args, kwargs):
    names = ("start", "stop", "num", "endpoint", "retstep", "dtype", "axis")
    call = dict(zip(names, args))
    call.update(kwargs or {})
    first = argpos in (0, "start")
    w, div, ax = _linspace_parts(ans, **call)
    weight = np.array(1.0 - w if first else w)
    samples = np.expand_dims(t, ax) * weight if ndim_of(t) or ndim_of(weight) > 1 else t * weight
    if call.get("retstep", False):
        return samples, (-t if first else t) / div
    return samples


registry.install_vjp("linspace", _linspace_vjp)
registry.install_jvp("linspace", _linspace_jvp)
