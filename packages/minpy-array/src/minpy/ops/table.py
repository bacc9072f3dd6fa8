"""The operator table: every ``minpy.numpy`` operator is declared here, once.

A record names the NumPy function (the reference semantics and the NumPy implementation), the other
backends that implement it (with the dtypes, keywords and argument patterns they accept), its kind (which
drives test generation), whether it is differentiable, and tolerance notes. The ``minpy.numpy`` namespace,
the Array methods, the coverage report (``tools/op_coverage.py``) and the property tests are generated from
this table. Every public callable of NumPy that is not declared below is added as a NumPy-only operator by
:func:`minpy.ops.build`, so nothing a NumPy user calls is missing.

Kinds: ``ufunc`` (elementwise, broadcasting), ``reduction`` (axis/keepdims), ``creation``, ``shape``
(reshaping and joining; values unchanged), ``linalg``, ``index``, ``random``, ``info`` (returns Python
values, not arrays), ``function`` (anything else).

``casting`` (elementwise operators on backends other than NumPy): ``"out"`` - inputs are cast to the dtype
of NumPy's result before the call; ``"common"`` - inputs are cast to their common dtype (comparisons);
``None`` - no cast. NumPy's own dtype rules are read off NumPy itself, so they are right for NumPy 1.x and 2.x.

Tolerance notes (``tol``): MXNet's float32 transcendental kernels differ from NumPy's by a few ulp; the
property tests use rtol 1e-3 for float16, 1e-5 (atol 1e-6) for float32 and 1e-10 for float64, widened only where
a record's ``tol`` says so (``tol={"float32": (rtol, atol), "note": why}``). A ``tol`` note that mentions NaN
keeps NaN and infinity out of the property tests' inputs for that operator: the note is the documented
difference. The gradient tests (``tests/autograd/test_grad_property.py``) check every differentiable operator
to second order with rtol 1e-5/atol 1e-6; a ``tol`` may say ``grad_order: 1`` or ``grad_rtol``/``grad_atol``,
always with its note (no record needs to).

Test hints (``test=``): how the property tests (``tests/array/test_ops_property.py``) build arguments for an
operator, declared next to the record and kept in :data:`TEST_HINTS` (they are not Operator fields).
Elementwise operators and reductions need none beyond an input ``domain``; their arguments follow from the
kind and NumPy's signature. The vocabulary (argument kinds such as ``"array"``, ``"axis"``, ``"newshape"``) is
implemented in ``tests/array/strategies.py``. Keys: ``args`` (argument kinds of the positional arguments; a
kind ending in ``*`` gives several), ``kwargs`` (keyword -> argument kind; each may be left out),
``required`` (keywords never left out), ``fixed`` (constant keywords), ``domain`` (``"positive"``,
``"nonneg"``, ``"unit"``, ``"ge1"``, ``"gtm1"``: where inputs mostly lie), ``min_ndim``/``max_ndim`` (of the
first array), ``min_side`` (1: no empty arrays), ``values=False`` (only shape and dtype are defined, e.g. ``empty``), ``plain`` (overrides for
the call that checks the MXNet route is taken, e.g. ``{"min_ndim": 2}``; ``{"inputs": "mxnet"}`` when the
operator runs where its input data is).
"""
import operator as _operator

import numpy as np

from minpy.array import Array
from minpy.backends import mxnet_backend
from minpy.backends.base import Impl

# Dtype kinds MXNet 1.9 computes with NumPy's results (booleans are left to NumPy for arithmetic: MXNet does
# not implement NumPy's bool + bool == logical or).
FLOAT = "f"
NUMERIC = "fiu"
INTEGER = "iu"

RECORDS = []
#: operator name -> test hints (see the module docstring)
TEST_HINTS = {}


def _declare(name, ref=None, test=None, **fields):
    if ref is None:
        ref = _lookup(name)
    RECORDS.append(dict(name=name, ref=ref, **fields))
    if test:
        TEST_HINTS[name] = test


def _lookup(name):
    obj = np
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def _mx(spec, **kw):
    return {"mxnet": Impl(spec, **kw)}


# -- argument-pattern predicates (return None when MXNet can take the call, else the reason) ---------------
# A predicate sees the call's arguments as the user gave them: an array argument may be a Python list, tuple or
# scalar (np.prod(shape_tuple)), which MXNet's functions do not take. Each predicate reads arrays through
# _array_at, so such calls are refused with a reason and run on NumPy.
_HOST_VALUES = "Python values (lists, tuples, scalars) as array arguments"


def _array_at(args, i):
    """``args[i]`` when it is a minpy Array, else None (missing, or a Python value)."""
    a = args[i] if len(args) > i else None
    return a if isinstance(a, Array) else None


def _no_empty_first(args, kwargs):
    a = _array_at(args, 0)
    if a is None:
        return _HOST_VALUES
    if a.size == 0:
        return "MXNet's reduction of an empty array differs from NumPy's"
    return _reduce_dims_ok(args, kwargs)


def _reduce_dims_ok(args, kwargs):
    # MXNet's reduction kernels take at most 5 dimensions once neighbouring axes that are both reduced (or
    # both kept) are merged, a length-1 axis counting as kept; past that they raise, asynchronously (so the
    # NumPy fallback cannot catch it). Found by trying every shape of 1s and 2s up to 7 dimensions with every
    # set of axes.
    a = _array_at(args, 0)
    ndim = a.ndim if a is not None else 0
    axis = kwargs.get("axis", args[1] if len(args) > 1 else None)
    if ndim <= 5 or axis is None or not isinstance(axis, (int, tuple, list)):
        return None
    axes = {axis % ndim} if isinstance(axis, int) else {int(x) % ndim for x in axis}
    reduced = [i in axes and a.shape[i] != 1 for i in range(ndim)]
    if 1 + sum(x != y for x, y in zip(reduced, reduced[1:])) > 5:
        return "more than 5 dimensions once adjacent reduced/kept axes are merged"
    return None


def _reduce_ok(args, kwargs):
    dtype = kwargs.get("dtype")
    if dtype is not None and np.dtype(dtype).kind not in "fiu":
        return f"dtype={dtype!r} (NumPy accumulates bool as logical or/and)"
    if dtype is not None and np.dtype(dtype) == np.float16 and args[0].dtype.kind in "iub":
        return "integers summed in float16 (MXNet casts integers beyond float16's range to NaN, NumPy to inf)"
    return _no_empty_first(args, kwargs)


def _prod_ok(args, kwargs):
    a = _array_at(args, 0)
    if a is None:
        return _HOST_VALUES
    dtype = kwargs.get("dtype")
    if a.dtype == np.float16 or (dtype is not None and np.dtype(dtype) == np.float16):
        return "float16 (NumPy multiplies in float16, overflowing to inf where MXNet's float32 does not)"
    return _reduce_ok(args, kwargs)


def _axis_int_or_none(args, kwargs):
    axis = kwargs.get("axis", args[1] if len(args) > 1 else None)
    if axis is not None and not isinstance(axis, int):
        return "axis tuples are not taken by this MXNet operator"
    return _reduce_ok(args, kwargs)


def _order_c(args, kwargs):
    order = kwargs.get("order", "C")
    if order not in ("C", "K", "A", None):
        return f"order={order!r}"
    return None


def _creation_dtype_ok(position):
    def check(args, kwargs):
        dtype = kwargs.get("dtype", args[position] if len(args) > position else None)
        if dtype is not None:
            try:
                dt = np.dtype(dtype)
            except TypeError:
                return f"dtype {dtype!r}"
            if not mxnet_backend.supports_dtype(dt):
                return f"MXNet has no dtype {dt}"
        # MXNet arrays are always C-ordered; 'K' and 'A' give C order for the arrays minpy hands MXNet, and
        # layout is not observable through an Array. Only Fortran order is left to NumPy.
        if kwargs.get("order", "C") not in ("C", "K", "A"):
            return "order='F'"
        return None
    return check


def _like_ok(position):
    """``zeros_like`` and friends: the prototype must be an Array (a Python list goes to NumPy)."""
    check = _creation_dtype_ok(position)

    def like(args, kwargs):
        if _array_at(args, 0) is None:
            return _HOST_VALUES
        return check(args, kwargs)
    return like


def _full_ok(args, kwargs):
    fill = args[1] if len(args) > 1 else kwargs.get("fill_value")
    if type(fill) not in (int, float, bool):
        return "a fill value that is not a Python scalar"
    return _creation_dtype_ok(2)(args, kwargs)


def _full_like_ok(args, kwargs):
    fill = args[1] if len(args) > 1 else kwargs.get("fill_value")
    if type(fill) not in (int, float, bool):
        return "a fill value that is not a Python scalar"
    return _like_ok(2)(args, kwargs)


def _like_dtype_ok(args, kwargs):
    return _creation_dtype_ok(1)(args, kwargs) if "fill_value" not in kwargs and len(args) < 3 else \
        _creation_dtype_ok(2)(args, kwargs)


def _seq_arrays(args, kwargs):
    seq = args[0] if args else kwargs.get("arrays")
    if not isinstance(seq, (list, tuple)) or not seq or not all(type(x) is Array for x in seq):
        return "the sequence holds non-Array items"
    dtypes = {x.dtype for x in seq}
    if len(dtypes) != 1:
        return "mixed dtypes in the sequence"
    if any(x.ndim == 0 for x in seq):
        return "0-d arrays in the sequence"
    return None


def _basic_key(args, kwargs):
    if _array_at(args, 0) is None:
        return _HOST_VALUES
    key = args[1]
    keys = key if type(key) is tuple else (key,)
    for k in keys:
        if type(k) is slice:
            if k.step is not None and (not isinstance(k.step, int) or k.step < 0):
                return "negative or non-integer slice steps"
            continue
        if k is None or k is Ellipsis or (type(k) is int):
            continue
        return "advanced indexing"
    return None


def _dot_ok(args, kwargs):
    a, b = _array_at(args, 0), _array_at(args, 1)
    if a is None or b is None:
        return _HOST_VALUES
    if a.ndim == 0 or b.ndim == 0:
        return "scalar operands"
    if a.dtype != b.dtype:
        return "operands of different dtypes"
    if a.dtype == np.float16:
        return "float16 (MXNet's CPU tensordot kernel takes float32/float64 only)"
    return None


def _square_ok(args, kwargs):
    a = _array_at(args, 0)
    if a is None:
        return _HOST_VALUES
    if a.dtype == np.float16:
        return "float16 (NumPy's linalg rejects it; MXNet would compute)"
    if a.size == 0:
        return "empty matrices (MXNet's det of a 0x0 matrix is not 1)"
    return None


def _tile_ok(args, kwargs):
    a = _array_at(args, 0)
    if a is None:
        return _HOST_VALUES
    reps = args[1] if len(args) > 1 else kwargs.get("reps")
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    if not all(type(r) is int for r in reps):
        return "reps that are not Python ints"
    # MXNet tiles by broadcasting, in at most 5 dimensions: one per axis, plus one per axis that is both
    # repeated and longer than 1 (found by trying every shape and reps of 1s and 2s up to 4 dimensions)
    d = max(a.ndim, len(reps))
    shape = (1,) * (d - a.ndim) + tuple(a.shape)
    reps = (1,) * (d - len(reps)) + reps
    if d + sum(1 for r, n in zip(reps, shape) if r != 1 and n != 1) > 5:
        return "more than 5 dimensions when broadcast"
    return None


def _repeat_ok(args, kwargs):
    repeats = args[1] if len(args) > 1 else kwargs.get("repeats")
    a = _array_at(args, 0)
    if a is None:
        return _HOST_VALUES
    if type(repeats) is not int:
        return "repeats given per element"
    if repeats < 1:
        return "repeats < 1 (MXNet flattens the result even with an axis)"
    if a.ndim == 0:
        return "0-d input"
    if a.size == 0:  # the shape is right, but the kernel fails (reported only at exit, asynchronously)
        return "empty input"
    return None


def _tril_ok(args, kwargs):
    a = _array_at(args, 0)
    if a is None:
        return _HOST_VALUES
    if a.ndim == 0:
        return "0-d input (NumPy raises)"
    return None


def _clip_ok(args, kwargs):
    a = _array_at(args, 0)
    if a is None:
        return _HOST_VALUES
    if a.ndim == 0:
        return "0-d input (NumPy 1.x promotes by value: clip(float16 0-d, None, 0) is float64)"
    return _clip_bounds_ok(args, kwargs)


def _eye_ok(position):
    def check(args, kwargs):
        dtype = kwargs.get("dtype", args[position] if len(args) > position else None)
        if dtype is not None and np.dtype(dtype) == np.bool_:
            return "dtype bool (MXNet's eye has no bool)"
        return _creation_dtype_ok(position)(args, kwargs)
    return check


def _matmul_ok(args, kwargs):
    reason = _dot_ok(args, kwargs)
    if reason is None and (args[0].ndim < 2 or args[1].ndim < 2):  # both Arrays: _dot_ok checked
        return "1-d operands"
    return reason


def _clip_bounds_ok(args, kwargs):
    a = _array_at(args, 0)
    if a is None:
        return _HOST_VALUES
    lo = args[1] if len(args) > 1 else kwargs.get("a_min")
    hi = args[2] if len(args) > 2 else kwargs.get("a_max")
    if not all(v is None or type(v) in (int, float) for v in (lo, hi)):
        return "array bounds"
    if lo is None and hi is None:
        return "no bounds"
    if a.dtype != np.float64 and any(v is not None and v != 0 and not 1.2e-38 < abs(v) < 3.4e38
                                           for v in (lo, hi)):
        return "bounds outside float32's normal range (MXNet's clip parameters are float32)"
    return None


def _where_ok(args, kwargs):
    if len(args) != 3 or not all(type(x) is Array for x in args):
        return "where with one argument or scalar branches"
    if args[1].dtype != args[2].dtype:
        return "branches of different dtypes"
    return None


def _shape_arg_ok(args, kwargs):
    if _array_at(args, 0) is None:
        return _HOST_VALUES
    return _order_c(args, kwargs)


def _array_first(args, kwargs):
    """Operators whose first argument is the array they work on (transpose, squeeze...)."""
    if _array_at(args, 0) is None:
        return _HOST_VALUES
    return None


def _array_first_order_c(args, kwargs):
    return _array_first(args, kwargs) or _order_c(args, kwargs)


# -- elementwise ----------------------------------------------------------------------------------------------
# MXNet kernels that differ from NumPy's, run through adapters (minpy.backends.mxnet_ops) that fix them:
# copysign ignores the sign of -0.0; mod(x, 0) is 0, not nan; sign(nan) is 0; rint rounds halves down;
# degrees/radians multiply float64 data by a float32 constant (5e-8 relative error).
_ADAPTED = {"copysign": "copysign", "remainder": "remainder", "mod": "remainder", "sign": "sign", "rint": "rint",
            "degrees": "degrees", "rad2deg": "degrees", "radians": "radians", "deg2rad": "radians"}


def _no_float16(args, kwargs):
    if any(getattr(a, "dtype", None) == np.float16 for a in args):
        return "float16 (MXNet's kernel rejects it)"
    return None


def _ints_fit(args, kwargs):
    """Python ints outside an integer operand's range go to NumPy. NumPy 1.x promotes by value there
    (int8 + 200 is int16, which MXNet lacks anyway), and the dispatcher's cast cache keys Python ints by
    min_scalar_type, which does not tell 100 from 200 for int8: after int8 + 100, int8 + 200 came back int8
    with wrapped values. NumPy 2 raises OverflowError for these."""
    ints = [a for a in args if type(a) is int]
    if ints:
        for a in args:
            dtype = getattr(a, "dtype", None)
            if dtype is not None and dtype.kind in "iu":
                info = np.iinfo(dtype)
                if not all(info.min <= v <= info.max for v in ints):
                    return f"a Python int outside {dtype}'s range"
    return None


def _rint_ok(args, kwargs):  # rint runs as mx.np.round, which has no float16 kernel
    return _no_float16(args, kwargs) or _ints_fit(args, kwargs)


def _mx_ufunc(name, kinds):
    return _mx("adapter:" + _ADAPTED[name] if name in _ADAPTED else "np." + name, dtypes=kinds,
               accepts=_rint_ok if name == "rint" else _ints_fit)


for _name, _kinds in [("add", NUMERIC), ("subtract", NUMERIC), ("multiply", NUMERIC), ("true_divide", NUMERIC),
                      ("divide", NUMERIC), ("power", FLOAT), ("maximum", NUMERIC), ("minimum", NUMERIC),
                      ("hypot", FLOAT), ("arctan2", FLOAT), ("copysign", FLOAT), ("remainder", FLOAT),
                      ("mod", FLOAT)]:
    _declare(_name, kind="ufunc", casting="out", differentiable=True, impls=_mx_ufunc(_name, _kinds))
# MXNet 1.9 has no np.floor_divide, and floor(a / b) is not NumPy's floor_divide (1 // 0.1 == 9.0)
_declare("floor_divide", kind="ufunc", differentiable=False)
for _name in ["logaddexp", "logaddexp2", "fmod", "fmax", "fmin", "nextafter", "ldexp", "float_power"]:
    _declare(_name, kind="ufunc", differentiable=_name in ("logaddexp", "logaddexp2", "fmod", "fmax", "fmin",
                                                          "float_power"))
for _name in ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal"]:
    _declare(_name, kind="ufunc", casting="common", differentiable=False,
             impls=_mx("np." + _name, dtypes=NUMERIC + "b", accepts=_ints_fit))
for _name in ["logical_and", "logical_or", "logical_xor", "gcd", "lcm", "heaviside"]:
    _declare(_name, kind="ufunc", differentiable=False)
for _name in ["bitwise_and", "bitwise_or", "bitwise_xor"]:
    _declare(_name, kind="ufunc", casting="out", differentiable=False,
             impls=_mx("np." + _name, dtypes=INTEGER, accepts=_ints_fit))
for _name in ["left_shift", "right_shift"]:
    _declare(_name, kind="ufunc", differentiable=False)
# Where the inputs of the property tests mostly lie (they also get values outside, which give NaN).
_DOMAINS = {"sqrt": "positive", "log": "positive", "log2": "positive", "log10": "positive", "log1p": "gtm1",
            "arcsin": "unit", "arccos": "unit", "arctanh": "unit", "arccosh": "ge1"}
_declare("invert", kind="ufunc", casting="out", differentiable=False, impls=_mx("np.invert", dtypes=INTEGER))
# square and absolute: MXNet computes them for integers in floating point (square(int32 4097) == 16785408,
# absolute(int64 2**53 + 1) == 2**53), so integers stay on NumPy
for _name, _kinds in [("negative", "fi"), ("absolute", FLOAT), ("sign", "fi"), ("square", FLOAT), ("sqrt", FLOAT),
                      ("cbrt", FLOAT), ("exp", FLOAT), ("expm1", FLOAT), ("log", FLOAT), ("log2", FLOAT),
                      ("log10", FLOAT), ("log1p", FLOAT), ("sin", FLOAT), ("cos", FLOAT), ("tan", FLOAT),
                      ("arcsin", FLOAT), ("arccos", FLOAT), ("arctan", FLOAT), ("sinh", FLOAT), ("cosh", FLOAT),
                      ("tanh", FLOAT), ("arcsinh", FLOAT), ("arccosh", FLOAT), ("arctanh", FLOAT),
                      ("degrees", FLOAT), ("radians", FLOAT), ("deg2rad", FLOAT), ("rad2deg", FLOAT),
                      ("floor", FLOAT), ("ceil", FLOAT), ("trunc", FLOAT), ("rint", FLOAT), ("fabs", FLOAT),
                      ("reciprocal", FLOAT)]:
    _declare(_name, kind="ufunc", casting="out",
             differentiable=_name not in ("sign", "floor", "ceil", "trunc", "rint"),
             impls=_mx_ufunc(_name, _kinds),
             test={"domain": _DOMAINS[_name]} if _name in _DOMAINS else None)
for _name in ["positive", "conjugate", "exp2", "sinc", "spacing", "frexp", "modf", "divmod", "i0"]:
    if hasattr(np, _name) and isinstance(getattr(np, _name), np.ufunc):
        _declare(_name, kind="ufunc", differentiable=_name in ("positive", "conjugate", "exp2"))
# sinc and i0 are Python functions (not ufuncs) in NumPy
_declare("sinc", kind="function", differentiable=True)
for _name in ["isnan", "isinf", "isfinite", "signbit"]:
    _declare(_name, kind="ufunc", differentiable=False, impls=_mx("np." + _name, dtypes=FLOAT))
_declare("logical_not", kind="ufunc", differentiable=False)

# -- reductions ------------------------------------------------------------------------------------------------
# cumulative reductions take one axis (an int or None); the others get their keywords from NumPy's signature
_REDUCTION_TESTS = {"cumprod": {"kwargs": {"axis": "axis_or_none"}}, "nancumsum": {"kwargs": {"axis": "axis_or_none"}},
                    "nancumprod": {"kwargs": {"axis": "axis_or_none"}},
                    "average": {"kwargs": {"axis": "axis", "weights": "weights"}},
                    "median": {"kwargs": {"axis": "axis", "keepdims": "bool"}}}
_declare("sum", kind="reduction", differentiable=True,
         impls=_mx("adapter:sum", kwargs=("axis", "dtype", "keepdims"), dtypes="fib", accepts=_reduce_ok))
_declare("prod", kind="reduction", differentiable=True,
         impls=_mx("adapter:prod", kwargs=("axis", "dtype", "keepdims"), dtypes="fi", accepts=_prod_ok))
_declare("mean", kind="reduction", differentiable=True,
         impls=_mx("adapter:mean", kwargs=("axis", "keepdims"), dtypes=FLOAT, accepts=_no_empty_first))
for _name in ["max", "min", "amax", "amin"]:
    if hasattr(np, _name):
        _declare(_name, kind="reduction", differentiable=True,
                 impls=_mx("np." + ("max" if "max" in _name else "min"), kwargs=("axis", "keepdims"),
                           dtypes="fi", accepts=_no_empty_first),
                 tol={"note": "NaN inputs: MXNet does not propagate NaN like NumPy; property tests use "
                              "finite values for the MXNet route"})
for _name in ["argmax", "argmin"]:
    _declare(_name, kind="reduction", differentiable=False,
             impls=_mx("adapter:" + _name, kwargs=("axis", "keepdims"), dtypes="fi", accepts=_axis_int_or_none))
for _name in ["std", "var"]:
    _declare(_name, kind="reduction", differentiable=True,
             impls=_mx("np." + _name, kwargs=("axis", "ddof", "keepdims"), dtypes=FLOAT, accepts=_no_empty_first))
for _name in ["all", "any"]:
    _declare(_name, kind="reduction", differentiable=False)
def _cumsum_ok(args, kwargs):
    axis = kwargs.get("axis", args[1] if len(args) > 1 else None)
    if axis is not None and getattr(args[0], "ndim", 1) == 0:
        # NumPy accumulates a 0-d array as a 1-d one; MXNet rejects the axis, asynchronously (not catchable)
        return "an axis on a 0-d input"
    return _axis_int_or_none(args, kwargs)


_declare("cumsum", kind="reduction", differentiable=True,
         impls=_mx("adapter:cumsum", kwargs=("axis", "dtype"), dtypes="fi", accepts=_cumsum_ok))
for _name in ["cumprod", "nansum", "nanmean", "nanmax", "nanmin", "nanprod", "nanstd", "nanvar", "median",
              "average", "ptp", "count_nonzero", "nancumsum", "nancumprod"]:
    if hasattr(np, _name):
        _declare(_name, kind="reduction", differentiable=_name != "count_nonzero",
                 test=_REDUCTION_TESTS.get(_name))

# -- linear algebra -----------------------------------------------------------------------------------------------
_declare("dot", kind="linalg", differentiable=True, impls=_mx("np.dot", dtypes=FLOAT, accepts=_dot_ok),
         test={"args": ("array", "dot_rhs")})
_declare("matmul", kind="linalg", differentiable=True, impls=_mx("np.matmul", dtypes=FLOAT, accepts=_matmul_ok),
         test={"args": ("array", "matmul_rhs"), "min_ndim": 1, "plain": {"min_ndim": 2}})
_declare("tensordot", kind="linalg", differentiable=True,
         impls=_mx("np.tensordot", kwargs=("axes",), dtypes=FLOAT, accepts=_dot_ok),
         test={"args": ("array", "tensordot_rhs"), "kwargs": {"axes": "tensordot_axes"}, "required": ("axes",)})
_declare("outer", kind="linalg", differentiable=True, impls=_mx("np.outer", dtypes=FLOAT, accepts=_dot_ok),
         test={"args": ("array", "array_any")})
_declare("inner", kind="linalg", differentiable=True, test={"args": ("array", "inner_rhs")})
_declare("vdot", kind="linalg", differentiable=True, test={"args": ("array", "array_samesize")})
_declare("einsum", kind="linalg", differentiable=True, test={"args": ("einsum*",)})
_declare("linalg.norm", kind="linalg", differentiable=True,
         test={"kwargs": {"ord": "norm_ord", "axis": "axes", "keepdims": "bool"}})
_declare("linalg.inv", kind="linalg", differentiable=True,
         impls=_mx("np.linalg.inv", dtypes=FLOAT, accepts=_square_ok),
         test={"args": ("square",)})
_declare("linalg.det", kind="linalg", differentiable=True,
         impls=_mx("np.linalg.det", dtypes=FLOAT, accepts=_square_ok),
         test={"args": ("square",)})
_declare("linalg.solve", kind="linalg", differentiable=True, test={"args": ("square", "solve_rhs")})
_declare("linalg.cholesky", kind="linalg", differentiable=True, test={"args": ("spd",)})
# numpy.linalg functions HIPS autograd differentiates (and eigvalsh/eigvals, their eigenvalue halves)
_declare("linalg.slogdet", kind="linalg", differentiable=True, test={"args": ("square",)})
_declare("linalg.pinv", kind="linalg", differentiable=True, test={"min_ndim": 2, "max_ndim": 3})
_declare("linalg.matrix_power", kind="linalg", differentiable=True, test={"args": ("square", "int_small")})
_declare("linalg.eigh", kind="linalg", differentiable=True, test={"args": ("spd",), "kwargs": {"UPLO": "uplo"}})
_declare("linalg.eigvalsh", kind="linalg", differentiable=True,
         test={"args": ("spd",), "kwargs": {"UPLO": "uplo"}})
_declare("linalg.eig", kind="linalg", differentiable=True, test={"args": ("square",)})
_declare("linalg.eigvals", kind="linalg", differentiable=True, test={"args": ("square",)})
_declare("linalg.svd", kind="linalg", differentiable=True,
         test={"min_ndim": 2, "max_ndim": 3, "fixed": {"full_matrices": False}, "kwargs": {"compute_uv": "bool"}})
_declare("linalg.qr", kind="linalg", differentiable=True,
         test={"min_ndim": 2, "max_ndim": 3, "kwargs": {"mode": "qr_mode"}})
_declare("kron", kind="linalg", differentiable=True, test={"args": ("array", "array_any"), "max_ndim": 2})
_declare("cross", kind="linalg", differentiable=True, test={"args": ("cross*",)})

# -- complex numbers ----------------------------------------------------------------------------------------------
for _name in ["real", "imag", "angle", "real_if_close"]:
    _declare(_name, kind="function", differentiable=True)

# -- discrete Fourier transforms (NumPy only: MXNet 1.9's np.fft lacks NumPy's n/norm semantics) -------------------
# Test hints: non-empty arrays (NumPy 2's transforms of an empty array padded by s/n return uninitialised memory).
_FFT_TESTS = {"n": "fft_n", "axis": "axis", "norm": "fft_norm"}
_FFTN_TESTS = {"axes": "fft_axes", "s": "fft_s", "norm": "fft_norm"}  # axes first: s has one length per axis
for _name in ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"]:
    _declare("fft." + _name, kind="function", differentiable=True,
             test={"min_ndim": 1, "min_side": 1, "kwargs": _FFT_TESTS})
for _name in ["fft2", "ifft2", "rfft2", "irfft2"]:
    _declare("fft." + _name, kind="function", differentiable=True,
             test={"min_ndim": 2, "min_side": 1, "kwargs": {"axes": "fft_axes2", "s": "fft_s", "norm": "fft_norm"}})
for _name in ["fftn", "ifftn", "rfftn", "irfftn"]:
    _declare("fft." + _name, kind="function", differentiable=True,
             test={"min_ndim": 1, "min_side": 1, "kwargs": _FFTN_TESTS})
for _name in ["fftshift", "ifftshift"]:
    _declare("fft." + _name, kind="function", differentiable=True, test={"kwargs": {"axes": "axes"}})

# -- shape manipulation (values unchanged, dtype kept) ---------------------------------------------------------------
_declare("reshape", kind="shape", differentiable=True,
         impls=_mx("adapter:reshape", kwargs=("newshape", "order", "shape"), accepts=_shape_arg_ok),
         test={"args": ("array", "newshape"), "kwargs": {"order": "order"}})
# NUMERIC: MXNet 1.9's transpose/swapaxes/moveaxis/flip/tril and the *stack kernels have no bool ("Unknown type
# enum 7", raised asynchronously, so the NumPy fallback cannot catch it).
_declare("transpose", kind="shape", differentiable=True,
         impls=_mx("adapter:transpose", kwargs=("axes",), dtypes=NUMERIC),
         test={"kwargs": {"axes": "permutation"}})
_declare("swapaxes", kind="shape", differentiable=True, impls=_mx("np.swapaxes", dtypes=NUMERIC),
         test={"args": ("array", "axis", "axis")})
_declare("moveaxis", kind="shape", differentiable=True, impls=_mx("np.moveaxis", dtypes=NUMERIC),
         test={"args": ("array", "axis", "axis")})
_declare("expand_dims", kind="shape", differentiable=True, impls=_mx("np.expand_dims", kwargs=("axis",)),
         test={"args": ("array", "new_axis")})
_declare("squeeze", kind="shape", differentiable=True, impls=_mx("np.squeeze", kwargs=("axis",)),
         test={"kwargs": {"axis": "unit_axis"}})
_declare("ravel", kind="shape", differentiable=True, impls=_mx("adapter:ravel", kwargs=("order",),
                                                             accepts=_order_c),
         test={"kwargs": {"order": "order"}})
_declare("concatenate", kind="shape", differentiable=True,
         impls=_mx("adapter:concatenate", kwargs=("axis",), accepts=_seq_arrays),
         test={"args": ("arrays_concat",), "kwargs": {"axis": "join_axis"}, "required": ("axis",)})
_declare("stack", kind="shape", differentiable=True, impls=_mx("adapter:stack", kwargs=("axis",),
                                                             accepts=_seq_arrays),
         test={"args": ("arrays",), "kwargs": {"axis": "new_axis"}})
for _name in ["vstack", "hstack", "dstack", "column_stack"]:
    _declare(_name, kind="shape", differentiable=True, impls=_mx("np." + _name, dtypes=NUMERIC,
                                                                 accepts=_seq_arrays),
             test={"args": ("arrays",)})
_SHAPE_TESTS = {
    "split": {"args": ("array", "sections"), "kwargs": {"axis": "axis"}},
    "array_split": {"args": ("array", "sections"), "kwargs": {"axis": "axis"}},
    "hsplit": {"args": ("array", "sections"), "min_ndim": 1}, "vsplit": {"args": ("array", "sections"), "min_ndim": 2},
    "dsplit": {"args": ("array", "sections"), "min_ndim": 3},
    "rot90": {"kwargs": {"k": "int_small"}},
    "block": {"args": ("arrays",)},
    "pad": {"args": ("array", "pad_width"), "kwargs": {"mode": "pad_mode"}},
    "append": {"args": ("array", "array_same"), "kwargs": {"axis": "axis"}},
    "insert": {"args": ("array", "index", "scalar"), "kwargs": {"axis": "axis"}},
    "delete": {"args": ("array", "index"), "kwargs": {"axis": "axis"}},
    "resize": {"args": ("array", "shape")},
    "trim_zeros": {"args": ("vector",)},
}
for _name in ["split", "array_split", "hsplit", "vsplit", "dsplit", "atleast_1d", "atleast_2d", "atleast_3d",
              "rot90", "block", "pad", "append", "insert", "delete", "resize", "trim_zeros"]:
    _declare(_name, kind="shape", differentiable={"block": None, "insert": False, "delete": False, "resize": False,
                                                  "trim_zeros": False}.get(_name, True),
             test=_SHAPE_TESTS.get(_name))
_declare("rollaxis", kind="shape", differentiable=True, test={"args": ("array", "axis", "rollaxis_start")})
_declare("diff", kind="shape", differentiable=True, test={"min_ndim": 1, "kwargs": {"n": "count", "axis": "axis"}})
_declare("gradient", kind="function", differentiable=True,
         test={"min_ndim": 1, "kwargs": {"axis": "axis_or_none", "edge_order": "edge_order"}})
_declare("diagflat", kind="shape", differentiable=True, test={"kwargs": {"k": "int_small"}, "max_ndim": 2})
_declare("nan_to_num", kind="function", differentiable=True)
_declare("select", kind="function", differentiable=True, test={"args": ("condlist", "choicelist"),
                                                                "kwargs": {"default": "select_default"}})
_declare("partition", kind="function", differentiable=True,
         test={"args": ("array", "kth"), "min_ndim": 1, "kwargs": {"axis": "kth_axis"}, "required": ("axis",)})
if hasattr(np, "msort"):  # removed in NumPy 2
    _declare("msort", kind="function", differentiable=True, test={"min_ndim": 1})
_declare("take_along_axis", kind="index", differentiable=True,
         test={"args": ("array", "along_indices", "along_axis"), "min_ndim": 1})


def _make_diagonal(D, offset=0, axis1=0, axis2=1):
    """HIPS autograd's complement of ``diagonal`` (``autograd.numpy.make_diagonal``): a new array whose diagonal
    ``diagonal(result, offset, axis1, axis2)`` is ``D``, zeros elsewhere. As in HIPS autograd, only
    ``offset=0, axis1=-1, axis2=-2`` (the last axis of ``D`` spread over the last two): a stack of diagonal
    matrices."""
    if not (offset == 0 and axis1 == -1 and axis2 == -2):
        raise NotImplementedError("make_diagonal supports only offset=0, axis1=-1, axis2=-2 (as in HIPS autograd)")
    D = np.asarray(D)
    out = np.zeros(D.shape + D.shape[-1:], dtype=D.dtype)
    idx = np.arange(D.shape[-1])
    out[..., idx, idx] = D
    return out


_declare("make_diagonal", ref=_make_diagonal, kind="shape", differentiable=True,
         test={"min_ndim": 1, "fixed": {"axis1": -1, "axis2": -2}})
_declare("flip", kind="shape", differentiable=True, impls=_mx("adapter:flip", kwargs=("axis",), dtypes=NUMERIC),
         test={"kwargs": {"axis": "axes"}})
_declare("fliplr", kind="shape", differentiable=True)
_declare("flipud", kind="shape", differentiable=True)
_declare("broadcast_to", kind="shape", differentiable=True, impls=_mx("np.broadcast_to"),
         test={"args": ("array", "broadcast_target")})
_declare("tile", kind="shape", differentiable=True, impls=_mx("np.tile", accepts=_tile_ok),
         test={"args": ("array", "reps"), "plain": {"max_ndim": 2}})
_declare("repeat", kind="shape", differentiable=True, impls=_mx("np.repeat", kwargs=("axis",), accepts=_repeat_ok),
         test={"args": ("array", "count"), "kwargs": {"axis": "axis"}})
_declare("roll", kind="shape", differentiable=True, test={"args": ("array", "int_small"), "kwargs": {"axis": "axis"}})
_declare("tril", kind="shape", differentiable=True,
         impls=_mx("np.tril", kwargs=("k",), dtypes=NUMERIC, accepts=_tril_ok), test={"kwargs": {"k": "int_small"}})
# mx.np has no triu (masking with tril through mx.np.where crashed MXNet on empty inputs)
_declare("triu", kind="shape", differentiable=True, test={"kwargs": {"k": "int_small"}})
_declare("diag", kind="shape", differentiable=True, test={"kwargs": {"k": "int_small"}, "max_ndim": 2})
_declare("diagonal", kind="shape", differentiable=True, test={"kwargs": {"offset": "int_small"}, "min_ndim": 2})
_declare("trace", kind="reduction", differentiable=True, test={"min_ndim": 2, "kwargs": {"offset": "int_small"}})
_declare("where", kind="function", differentiable=True, impls=_mx("adapter:where", accepts=_where_ok),
         test={"args": ("cond", "array_bcast", "array_bcast")})
_declare("clip", kind="function", differentiable=True,
         impls=_mx("adapter:clip", dtypes=FLOAT, accepts=_clip_ok, kwargs=()),
         test={"args": ("array", "bound", "bound")})
_declare("take", kind="index", differentiable=True)
_declare("sort", kind="function", differentiable=True)
_declare("argsort", kind="function", differentiable=False)

# -- creation -------------------------------------------------------------------------------------------------------
_CREATE_KW = {"dtype": "dtype_or_none", "order": "order_cf"}
_LIKE_KW = {"dtype": "dtype_or_none", "shape": "shape_or_none"}
for _name in ["zeros", "ones", "empty"]:
    _declare(_name, kind="creation", differentiable=False, float_default=True,
             impls=_mx("adapter:" + _name, kwargs=("dtype", "order"), accepts=_creation_dtype_ok(1)),
             test={"args": ("shape",), "kwargs": _CREATE_KW, "values": _name != "empty"})
_declare("full", kind="creation", differentiable=False, float_default=True,
         impls=_mx("adapter:full", kwargs=("dtype", "order"), accepts=_full_ok),
         test={"args": ("shape", "scalar"), "kwargs": _CREATE_KW})
for _name in ["zeros_like", "ones_like", "empty_like"]:
    _declare(_name, kind="creation", differentiable=False,
             impls=_mx("adapter:" + _name, kwargs=("dtype", "shape"), accepts=_like_ok(1)),
             test={"args": ("array",), "kwargs": _LIKE_KW, "values": _name != "empty_like"})
_declare("full_like", kind="creation", differentiable=False,
         impls=_mx("adapter:full_like", kwargs=("dtype", "shape"), accepts=_full_like_ok),
         test={"args": ("array", "scalar"), "kwargs": _LIKE_KW})
_declare("eye", kind="creation", differentiable=False, float_default=True,
         impls=_mx("adapter:eye", kwargs=("M", "k", "dtype", "order"), accepts=_eye_ok(3)),
         test={"args": ("size_small",), "kwargs": {"M": "size_or_none", "k": "int_small", **_CREATE_KW}})
_declare("identity", kind="creation", differentiable=False, float_default=True,
         impls=_mx("adapter:identity", kwargs=("dtype",), accepts=_eye_ok(1)),
         test={"args": ("size_small",), "kwargs": {"dtype": "dtype_or_none"}})
_HOST_DATA = ("built on NumPy from host data and moved to another backend only when an operator there "
              "needs it (a NumPy->MXNet copy costs ~0.1 ms, which most arrays never need)")
_FROM_TESTS = {
    "array": {"args": ("array_like",), "kwargs": {"dtype": "dtype_or_none"}},
    "asarray": {"args": ("array_like",), "kwargs": {"dtype": "dtype_or_none"}},
    "asanyarray": {"args": ("array_like",), "kwargs": {"dtype": "dtype_or_none"}},
    "ascontiguousarray": {"args": ("array_like",), "kwargs": {"dtype": "dtype_or_none"}},
    "frombuffer": {"args": ("bytes",), "kwargs": {"dtype": "dtype"}},
    "fromiter": {"args": ("iterable", "dtype")},
    "fromfunction": {"args": ("index_function", "shape"), "kwargs": {"dtype": "dtype"}},
    "loadtxt": {"args": ("text_file",), "kwargs": {"dtype": "dtype_or_none"}},
    "genfromtxt": {"args": ("text_file",)},
    "load": {"args": ("npy_file",)},
    "fromstring": {"args": ("text_string",), "fixed": {"sep": " "}, "kwargs": {"dtype": "dtype"}},
    "copy": {"kwargs": {"order": "order"}},
}
for _name in ["array", "asarray", "asanyarray", "ascontiguousarray", "frombuffer", "fromiter", "fromfunction",
              "loadtxt", "load", "genfromtxt", "fromstring", "copy"]:
    if hasattr(np, _name):
        _declare(_name, kind="creation", differentiable=_name in ("copy",), float_default=_name != "copy",
                 numpy_reason=_HOST_DATA if _name != "copy" else None,
                 impls=_mx("adapter:copy", kwargs=("order",), accepts=_array_first) if _name == "copy" else None,
                 test=_FROM_TESTS[_name])
_SPACE_KW = {"num": "count", "endpoint": "bool", "dtype": "dtype_or_none"}
_RANGE_TESTS = {
    "arange": {"args": ("range*",), "kwargs": {"dtype": "dtype_or_none"}},
    "linspace": {"args": ("scalar", "scalar"), "kwargs": {**_SPACE_KW, "retstep": "bool"}},
    "logspace": {"args": ("exponent", "exponent"), "kwargs": _SPACE_KW},
    "geomspace": {"args": ("scalar", "scalar"), "kwargs": _SPACE_KW},
    "meshgrid": {"args": ("vector", "vector"), "kwargs": {"indexing": "indexing", "sparse": "bool"}},
    "indices": {"args": ("shape",), "kwargs": {"dtype": "dtype_or_none", "sparse": "bool"}},
    "tri": {"args": ("size_small",), "kwargs": {"M": "size_or_none", "k": "int_small", "dtype": "dtype_or_none"}},
}
for _name in ["arange", "linspace", "logspace", "geomspace", "meshgrid", "indices", "tri"]:
    # linspace is differentiable in start and stop (HIPS autograd differentiates it)
    _declare(_name, kind="creation", differentiable=_name == "linspace", float_default=_name != "indices",
             test=_RANGE_TESTS[_name])

# -- Array methods that have no same-named NumPy function --------------------------------------------------------------
_declare("getitem", ref=_operator.getitem, kind="index", differentiable=True,
         impls=_mx("adapter:getitem", accepts=_basic_key),
         # basic indexing gives views where the data is (NumPy-held arrays index on NumPy)
         test={"args": ("array", "key"), "plain": {"inputs": "mxnet"}})
_declare("astype", ref=lambda a, dtype, order="K", casting="unsafe", copy=True:
         a.astype(dtype, order=order, casting=casting, copy=copy),
         kind="function", differentiable=True,
         impls=_mx("adapter:astype", kwargs=("order", "casting", "copy"),
                   accepts=_like_ok(1)),
         test={"args": ("array", "dtype"), "kwargs": {"copy": "bool"}})
_declare("flatten", ref=lambda a, order="C": a.flatten(order), kind="shape", differentiable=True,
         impls=_mx("adapter:flatten", kwargs=("order",), accepts=_order_c), test={"kwargs": {"order": "order"}})

# -- random: NumPy's generator, so that a seed gives NumPy's own numbers --------------------------------------------------
_RANDOM = ("random numbers come from NumPy's generator so that a seed reproduces NumPy's stream exactly; the "
           "arrays move to another backend lazily")
_RANDOM_FLOAT = {"rand", "randn", "random", "random_sample", "ranf", "sample", "normal", "uniform",
                 "standard_normal", "exponential", "gamma", "beta", "standard_exponential", "standard_gamma",
                 "laplace", "logistic", "lognormal", "rayleigh", "vonmises", "wald", "weibull", "chisquare",
                 "f", "gumbel", "pareto", "power", "standard_cauchy", "standard_t", "triangular",
                 "noncentral_chisquare", "noncentral_f", "dirichlet", "multivariate_normal"}
for _name in sorted(n for n in dir(np.random.mtrand) if not n.startswith("_")
                    and callable(getattr(np.random, n, None))
                    and not isinstance(getattr(np.random, n), type)):
    _declare("random." + _name, kind="random", differentiable=False, numpy_reason=_RANDOM,
             float_default=_name in _RANDOM_FLOAT,
             wrap_result=_name not in ("get_state", "set_state", "seed", "shuffle", "get_bit_generator",
                                       "set_bit_generator"))

# Functions that return Python values or dtypes rather than arrays.
INFO = ["shape", "ndim", "size", "result_type", "can_cast", "promote_types", "min_scalar_type", "isscalar",
        "iscomplexobj", "isrealobj", "isfortran", "allclose", "array_equal", "array_equiv", "may_share_memory",
        "shares_memory", "get_printoptions", "set_printoptions", "printoptions", "array2string", "array_repr",
        "array_str", "save", "savez", "savez_compressed", "savetxt", "geterr", "seterr", "errstate", "info",
        "common_type", "issubdtype", "isdtype", "iterable", "typename", "mintypecode", "format_float_positional",
        "format_float_scientific", "binary_repr", "base_repr", "ndindex", "ndenumerate", "broadcast_shapes",
        "obj2sctype", "sctype2char", "find_common_type", "issubsctype", "issctype", "get_include", "show_config",
        "show_runtime", "lookfor", "source", "who", "deprecate", "deprecate_with_doc", "byte_bounds",
        "set_string_function", "setbufsize", "getbufsize", "seterrcall", "geterrcall", "disp", "safe_eval",
        "add_newdoc", "add_docstring", "add_newdoc_ufunc", "asscalar", "fastCopyAndTranspose"]

# Functions that write into their first argument (NumPy semantics: the caller's array changes).
MUTATING = ["copyto", "place", "put", "putmask", "fill_diagonal", "put_along_axis", "random.shuffle"]

# Functions whose NumPy result can be a view of their first argument. A backend other than NumPy that runs one
# (MXNet copies where NumPy makes views) has its result checked against NumPy's own rule and kept in step with
# the argument where NumPy's would share its memory (see "Detached views" in minpy.array). Calls NumPy runs need
# no list: minpy sees the memory NumPy's result shares.
VIEWS = frozenset([
    "reshape", "ravel", "transpose", "swapaxes", "moveaxis", "rollaxis", "expand_dims", "squeeze", "atleast_1d",
    "atleast_2d", "atleast_3d", "broadcast_to", "broadcast_arrays", "flip", "fliplr", "flipud", "rot90",
    "diagonal", "real", "imag", "split", "array_split", "hsplit", "vsplit", "dsplit", "asarray", "asanyarray",
    "ascontiguousarray", "asfortranarray", "require", "astype", "matrix_transpose", "permute_dims", "unstack",
    "trim_zeros", "meshgrid", "linalg.matrix_transpose"])

# -- ufunc methods ------------------------------------------------------------------------------------------------------
#: The methods of NumPy's ufuncs. minpy.ops builds one operator for each ufunc and each method NumPy defines for it
#: (reduce, accumulate and reduceat of the binary ufuncs with one output, outer of the binary ones, at of those with
#: one output), named like "add.reduce" after NumPy's name of the ufunc; it runs NumPy's method. ``np.add`` carries
#: them as ``np.add.reduce``... (see minpy.ops.ufuncs), and an alias (``np.mod``) carries its original's.
UFUNC_METHODS = ("reduce", "accumulate", "reduceat", "outer", "at")
#: (ufunc, method) -> the operator that computes the method with NumPy's semantics, so that it runs where that
#: operator runs fastest and has its gradient: np.add.reduce(a, axis) is np.sum(a, axis) (NumPy's sum *is*
#: add.reduce). Calls these operators cannot take (a 0-d input, a dtype amax does not take...) run NumPy's method.
#: ``outer`` of every binary ufunc is the ufunc itself on operands reshaped to broadcast (its backends, its
#: gradient).
UFUNC_METHOD_AS = {("add", "reduce"): "sum", ("multiply", "reduce"): "prod", ("maximum", "reduce"): "amax",
                   ("minimum", "reduce"): "amin", ("add", "accumulate"): "cumsum",
                   ("multiply", "accumulate"): "cumprod"}
#: method operators with a gradient rule (minpy-autograd); ``add.at``/``subtract.at`` write in place, so a traced
#: target is updated functionally, as ``a[key] = v`` is
UFUNC_METHOD_DIFFERENTIABLE = ("add.reduceat", "maximum.accumulate", "minimum.accumulate", "fmax.accumulate",
                               "fmin.accumulate")
UFUNC_METHOD_IN_PLACE_GRAD = ("add.at", "subtract.at")
for _name in UFUNC_METHOD_DIFFERENTIABLE:
    TEST_HINTS[_name] = ({"args": ("array", "reduceat_indices"), "kwargs": {"axis": "method_axis"},
                          "required": ("axis",), "min_ndim": 1}
                         if _name.endswith("reduceat") else {"kwargs": {"axis": "method_axis"}, "min_ndim": 1})
