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
property tests use rtol 1e-5 for float32, 1e-12 for float64 by default, widened where a record says so.
"""
import operator as _operator

import numpy as np

from minpy.ops.operator import Impl, Operator

# Dtype kinds MXNet 1.9 computes with NumPy's results (booleans are left to NumPy for arithmetic: MXNet does
# not implement NumPy's bool + bool == logical or).
FLOAT = "f"
NUMERIC = "fiu"
INTEGER = "iu"

RECORDS = []


def _declare(name, ref=None, **fields):
    if ref is None:
        ref = _lookup(name)
    RECORDS.append(dict(name=name, ref=ref, **fields))


def _lookup(name):
    obj = np
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def _mx(spec, **kw):
    return {"mxnet": Impl(spec, **kw)}


# -- argument-pattern predicates (return None when MXNet can take the call, else the reason) ---------------
def _no_empty_first(args, kwargs):
    a = args[0] if args else None
    if a is not None and getattr(a, "size", 1) == 0:
        return "MXNet's reduction of an empty array differs from NumPy's"
    return None


def _axis_int_or_none(args, kwargs):
    axis = kwargs.get("axis", args[1] if len(args) > 1 else None)
    if axis is not None and not isinstance(axis, int):
        return "axis tuples are not taken by this MXNet operator"
    return _no_empty_first(args, kwargs)


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
            from minpy.backends import mxnet_backend

            if not mxnet_backend.supports_dtype(dt):
                return f"MXNet has no dtype {dt}"
        if kwargs.get("order", "C") != "C":
            return "order other than 'C'"
        return None
    return check


def _like_dtype_ok(args, kwargs):
    return _creation_dtype_ok(1)(args, kwargs) if "fill_value" not in kwargs and len(args) < 3 else \
        _creation_dtype_ok(2)(args, kwargs)


def _seq_arrays(args, kwargs):
    seq = args[0] if args else kwargs.get("arrays")
    from minpy.array import Array

    if not isinstance(seq, (list, tuple)) or not seq or not all(type(x) is Array for x in seq):
        return "the sequence holds non-Array items"
    dtypes = {x.dtype for x in seq}
    if len(dtypes) != 1:
        return "mixed dtypes in the sequence"
    if any(x.ndim == 0 for x in seq):
        return "0-d arrays in the sequence"
    return None


def _basic_key(args, kwargs):
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
    a, b = args[0], args[1]
    if not hasattr(a, "ndim") or not hasattr(b, "ndim") or a.ndim == 0 or b.ndim == 0:
        return "scalar operands"
    if a.dtype != b.dtype:
        return "operands of different dtypes"
    return None


def _matmul_ok(args, kwargs):
    reason = _dot_ok(args, kwargs)
    if reason is None and (args[0].ndim < 2 or args[1].ndim < 2):
        return "1-d operands"
    return reason


def _clip_ok(args, kwargs):
    lo = args[1] if len(args) > 1 else kwargs.get("a_min")
    hi = args[2] if len(args) > 2 else kwargs.get("a_max")
    if not all(v is None or type(v) in (int, float) for v in (lo, hi)):
        return "array bounds"
    if lo is None and hi is None:
        return "no bounds"
    return None


def _where_ok(args, kwargs):
    from minpy.array import Array

    if len(args) != 3 or not all(type(x) is Array for x in args):
        return "where with one argument or scalar branches"
    if args[1].dtype != args[2].dtype:
        return "branches of different dtypes"
    return None


def _shape_arg_ok(args, kwargs):
    return _order_c(args, kwargs)


# -- elementwise ----------------------------------------------------------------------------------------------
for _name, _kinds in [("add", NUMERIC), ("subtract", NUMERIC), ("multiply", NUMERIC), ("true_divide", NUMERIC),
                      ("divide", NUMERIC), ("power", FLOAT), ("maximum", NUMERIC), ("minimum", NUMERIC),
                      ("hypot", FLOAT), ("arctan2", FLOAT), ("copysign", FLOAT), ("floor_divide", FLOAT),
                      ("remainder", FLOAT), ("mod", FLOAT)]:
    _declare(_name, kind="ufunc", casting="out", differentiable=_name not in ("floor_divide",),
             impls=_mx("np." + _name, dtypes=_kinds))
for _name in ["logaddexp", "logaddexp2", "fmod", "fmax", "fmin", "nextafter", "ldexp", "float_power"]:
    _declare(_name, kind="ufunc", differentiable=_name in ("logaddexp", "logaddexp2", "fmax", "fmin",
                                                          "float_power"))
for _name in ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal"]:
    _declare(_name, kind="ufunc", casting="common", differentiable=False,
             impls=_mx("np." + _name, dtypes=NUMERIC + "b"))
for _name in ["logical_and", "logical_or", "logical_xor", "gcd", "lcm", "heaviside"]:
    _declare(_name, kind="ufunc", differentiable=False)
for _name in ["bitwise_and", "bitwise_or", "bitwise_xor"]:
    _declare(_name, kind="ufunc", casting="out", differentiable=False, impls=_mx("np." + _name, dtypes=INTEGER))
for _name in ["left_shift", "right_shift"]:
    _declare(_name, kind="ufunc", differentiable=False)
_declare("invert", kind="ufunc", casting="out", differentiable=False, impls=_mx("np.invert", dtypes=INTEGER))
for _name, _kinds in [("negative", "fi"), ("absolute", "fi"), ("sign", "fi"), ("square", "fi"), ("sqrt", FLOAT),
                      ("cbrt", FLOAT), ("exp", FLOAT), ("expm1", FLOAT), ("log", FLOAT), ("log2", FLOAT),
                      ("log10", FLOAT), ("log1p", FLOAT), ("sin", FLOAT), ("cos", FLOAT), ("tan", FLOAT),
                      ("arcsin", FLOAT), ("arccos", FLOAT), ("arctan", FLOAT), ("sinh", FLOAT), ("cosh", FLOAT),
                      ("tanh", FLOAT), ("arcsinh", FLOAT), ("arccosh", FLOAT), ("arctanh", FLOAT),
                      ("degrees", FLOAT), ("radians", FLOAT), ("deg2rad", FLOAT), ("rad2deg", FLOAT),
                      ("floor", FLOAT), ("ceil", FLOAT), ("trunc", FLOAT), ("rint", FLOAT), ("fabs", FLOAT),
                      ("reciprocal", FLOAT)]:
    _declare(_name, kind="ufunc", casting="out",
             differentiable=_name not in ("sign", "floor", "ceil", "trunc", "rint"),
             impls=_mx("np." + _name, dtypes=_kinds))
for _name in ["positive", "conjugate", "exp2", "sinc", "spacing", "frexp", "modf", "divmod", "i0"]:
    if hasattr(np, _name) and isinstance(getattr(np, _name), np.ufunc):
        _declare(_name, kind="ufunc", differentiable=_name in ("positive", "conjugate", "exp2"))
for _name in ["isnan", "isinf", "isfinite", "signbit"]:
    _declare(_name, kind="ufunc", differentiable=False, impls=_mx("np." + _name, dtypes=FLOAT))
_declare("logical_not", kind="ufunc", differentiable=False)

# -- reductions ------------------------------------------------------------------------------------------------
_declare("sum", kind="reduction", differentiable=True,
         impls=_mx("adapter:sum", kwargs=("axis", "dtype", "keepdims"), dtypes="fib", accepts=_no_empty_first))
_declare("prod", kind="reduction", differentiable=True,
         impls=_mx("adapter:prod", kwargs=("axis", "dtype", "keepdims"), dtypes="fi", accepts=_no_empty_first))
_declare("mean", kind="reduction", differentiable=True,
         impls=_mx("np.mean", kwargs=("axis", "keepdims"), dtypes=FLOAT, accepts=_no_empty_first))
for _name in ["max", "min", "amax", "amin"]:
    if hasattr(np, _name):
        _declare(_name, kind="reduction", differentiable=True,
                 impls=_mx("np." + ("max" if "max" in _name else "min"), kwargs=("axis", "keepdims"),
                           dtypes="fi", accepts=_no_empty_first),
                 tol={"note": "NaN inputs: MXNet does not propagate NaN like NumPy; property tests use "
                              "finite values for the MXNet route"})
for _name in ["argmax", "argmin"]:
    _declare(_name, kind="reduction", differentiable=False,
             impls=_mx("np." + _name, kwargs=("axis",), dtypes="fi", accepts=_axis_int_or_none))
for _name in ["std", "var"]:
    _declare(_name, kind="reduction", differentiable=True,
             impls=_mx("np." + _name, kwargs=("axis", "ddof", "keepdims"), dtypes=FLOAT, accepts=_no_empty_first))
for _name in ["all", "any"]:
    _declare(_name, kind="reduction", differentiable=False)
_declare("cumsum", kind="reduction", differentiable=True,
         impls=_mx("adapter:cumsum", kwargs=("axis", "dtype"), dtypes="fi", accepts=_axis_int_or_none))
for _name in ["cumprod", "nansum", "nanmean", "nanmax", "nanmin", "nanprod", "nanstd", "nanvar", "median",
              "average", "ptp", "count_nonzero"]:
    if hasattr(np, _name):
        _declare(_name, kind="reduction",
                 differentiable=_name not in ("count_nonzero",) and None)

# -- linear algebra -----------------------------------------------------------------------------------------------
_declare("dot", kind="linalg", differentiable=True, impls=_mx("np.dot", dtypes=FLOAT, accepts=_dot_ok))
_declare("matmul", kind="linalg", differentiable=True, impls=_mx("np.matmul", dtypes=FLOAT, accepts=_matmul_ok))
_declare("tensordot", kind="linalg", differentiable=True,
         impls=_mx("np.tensordot", kwargs=("axes",), dtypes=FLOAT, accepts=_dot_ok))
_declare("outer", kind="linalg", differentiable=True, impls=_mx("np.outer", dtypes=FLOAT, accepts=_dot_ok))
_declare("inner", kind="linalg", differentiable=True)
_declare("vdot", kind="linalg", differentiable=True)
_declare("einsum", kind="linalg", differentiable=True)
_declare("linalg.norm", kind="linalg", differentiable=True)
_declare("linalg.inv", kind="linalg", differentiable=True, impls=_mx("np.linalg.inv", dtypes=FLOAT))
_declare("linalg.det", kind="linalg", differentiable=True, impls=_mx("np.linalg.det", dtypes=FLOAT))
_declare("linalg.solve", kind="linalg", differentiable=True)
_declare("linalg.cholesky", kind="linalg", differentiable=True)

# -- shape manipulation (values unchanged, dtype kept) ---------------------------------------------------------------
_declare("reshape", kind="shape", differentiable=True,
         impls=_mx("adapter:reshape", kwargs=("newshape", "order", "shape"), accepts=_shape_arg_ok))
_declare("transpose", kind="shape", differentiable=True, impls=_mx("adapter:transpose", kwargs=("axes",)))
_declare("swapaxes", kind="shape", differentiable=True, impls=_mx("np.swapaxes"))
_declare("moveaxis", kind="shape", differentiable=True, impls=_mx("np.moveaxis"))
_declare("expand_dims", kind="shape", differentiable=True, impls=_mx("np.expand_dims", kwargs=("axis",)))
_declare("squeeze", kind="shape", differentiable=True, impls=_mx("np.squeeze", kwargs=("axis",)))
_declare("ravel", kind="shape", differentiable=True, impls=_mx("adapter:ravel", kwargs=("order",),
                                                             accepts=_order_c))
_declare("concatenate", kind="shape", differentiable=True,
         impls=_mx("adapter:concatenate", kwargs=("axis",), accepts=_seq_arrays))
_declare("stack", kind="shape", differentiable=True, impls=_mx("adapter:stack", kwargs=("axis",),
                                                             accepts=_seq_arrays))
for _name in ["vstack", "hstack", "dstack", "column_stack"]:
    _declare(_name, kind="shape", differentiable=True, impls=_mx("np." + _name, accepts=_seq_arrays))
for _name in ["split", "array_split", "hsplit", "vsplit", "dsplit", "atleast_1d", "atleast_2d", "atleast_3d",
              "rot90", "block", "pad", "append", "insert", "delete", "resize", "trim_zeros"]:
    _declare(_name, kind="shape", differentiable=_name not in ("insert", "delete", "resize", "trim_zeros")
             and None)
_declare("flip", kind="shape", differentiable=True, impls=_mx("np.flip", kwargs=("axis",)))
_declare("fliplr", kind="shape", differentiable=True)
_declare("flipud", kind="shape", differentiable=True)
_declare("broadcast_to", kind="shape", differentiable=True, impls=_mx("np.broadcast_to"))
_declare("tile", kind="shape", differentiable=True, impls=_mx("np.tile"))
_declare("repeat", kind="shape", differentiable=True, impls=_mx("np.repeat", kwargs=("axis",),
                                                              accepts=lambda a, k: None if isinstance(
                                                                  a[1] if len(a) > 1 else k.get("repeats"),
                                                                  int) else "repeats given per element"))
_declare("roll", kind="shape", differentiable=True)
for _name in ["tril", "triu"]:
    _declare(_name, kind="shape", differentiable=True, impls=_mx("np." + _name, kwargs=("k",)))
_declare("diag", kind="shape", differentiable=True)
_declare("diagonal", kind="shape", differentiable=True)
_declare("trace", kind="reduction", differentiable=True)
_declare("where", kind="function", differentiable=True, impls=_mx("adapter:where", accepts=_where_ok))
_declare("clip", kind="function", differentiable=True,
         impls=_mx("adapter:clip", dtypes=FLOAT, accepts=_clip_ok, kwargs=()))
_declare("take", kind="index", differentiable=True)
_declare("sort", kind="function", differentiable=True)
_declare("argsort", kind="function", differentiable=False)

# -- creation -------------------------------------------------------------------------------------------------------
for _name in ["zeros", "ones", "empty"]:
    _declare(_name, kind="creation", differentiable=False, float_default=True,
             impls=_mx("adapter:" + _name, kwargs=("dtype", "order"), accepts=_creation_dtype_ok(1)))
_declare("full", kind="creation", differentiable=False, float_default=True,
         impls=_mx("adapter:full", kwargs=("dtype", "order"), accepts=_creation_dtype_ok(2)))
for _name in ["zeros_like", "ones_like", "empty_like"]:
    _declare(_name, kind="creation", differentiable=False,
             impls=_mx("adapter:" + _name, kwargs=("dtype", "shape"), accepts=_creation_dtype_ok(1)))
_declare("full_like", kind="creation", differentiable=False,
         impls=_mx("adapter:full_like", kwargs=("dtype", "shape"), accepts=_creation_dtype_ok(2)))
_declare("eye", kind="creation", differentiable=False, float_default=True,
         impls=_mx("adapter:eye", kwargs=("M", "k", "dtype", "order"), accepts=_creation_dtype_ok(3)))
_declare("identity", kind="creation", differentiable=False, float_default=True,
         impls=_mx("adapter:identity", kwargs=("dtype",), accepts=_creation_dtype_ok(1)))
_HOST_DATA = ("built on NumPy from host data and moved to another backend only when an operator there "
              "needs it (a NumPy->MXNet copy costs ~0.1 ms, which most arrays never need)")
for _name in ["array", "asarray", "asanyarray", "ascontiguousarray", "frombuffer", "fromiter", "fromfunction",
              "loadtxt", "load", "genfromtxt", "fromstring", "copy"]:
    if hasattr(np, _name):
        _declare(_name, kind="creation", differentiable=_name in ("copy",), float_default=_name != "copy",
                 numpy_reason=_HOST_DATA if _name != "copy" else None,
                 impls=_mx("adapter:copy", kwargs=("order",)) if _name == "copy" else None)
for _name in ["arange", "linspace", "logspace", "geomspace", "meshgrid", "indices", "tri"]:
    _declare(_name, kind="creation", differentiable=False, float_default=_name != "indices")

# -- Array methods that have no same-named NumPy function --------------------------------------------------------------
_declare("getitem", ref=_operator.getitem, kind="index", differentiable=True,
         impls=_mx("adapter:getitem", accepts=_basic_key))
_declare("astype", ref=lambda a, dtype, order="K", casting="unsafe", copy=True:
         a.astype(dtype, order=order, casting=casting, copy=copy),
         kind="function", differentiable=True,
         impls=_mx("adapter:astype", kwargs=("order", "casting", "copy"),
                   accepts=_creation_dtype_ok(1)))
_declare("flatten", ref=lambda a, order="C": a.flatten(order), kind="shape", differentiable=True,
         impls=_mx("adapter:flatten", kwargs=("order",), accepts=_order_c))

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
