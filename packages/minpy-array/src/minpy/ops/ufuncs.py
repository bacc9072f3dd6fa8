"""NumPy's ufuncs in ``minpy.numpy``: their attributes and methods.

``minpy.numpy.add`` is the ``add`` operator's public function, a plain Python function: calling it costs what it
cost before (an object whose ``__call__`` ran the operator would add a Python call to every ``a + b``). The
function carries NumPy's ufunc attributes (``nin``, ``nout``, ``nargs``, ``identity``, ``ntypes``, ``types``,
``signature``, ``__name__``) and methods (``reduce``, ``accumulate``, ``reduceat``, ``outer``, ``at``) with
NumPy's semantics. It is not an instance of ``numpy.ufunc`` (no Python object can be one: the type cannot be
subclassed), so ``isinstance(np.add, numpy.ufunc)`` is False; code that calls the methods works.

Where a method is another operator (``np.add.reduce`` is ``np.sum`` along axis 0, ``np.add.accumulate`` is
``np.cumsum``, ``ufunc.outer`` is the ufunc on broadcast operands: :data:`minpy.ops.table.UFUNC_METHOD_AS`) it
runs as that operator: on the backend the policy picks for it, with its gradient. Other calls run the
method's own operator (``"add.reduceat"``...), which runs NumPy's method; ``at`` writes into a minpy Array in
place (the write is recorded: version bumped, cached copies on other backends invalidated).
"""
import inspect

import numpy as np

from minpy.array import _OPS
from minpy.ops import table
from minpy.ops.operator import Operator, register

_NO_VALUE = np._NoValue
ATTRIBUTES = ("nin", "nout", "nargs", "identity", "ntypes", "types", "signature")


def numpy_ufuncs():
    """{NumPy's name of the ufunc: the ufunc} for every ufunc in NumPy's namespace (aliases once)."""
    found = {}
    for attr in dir(np):
        obj = getattr(np, attr, None)
        if isinstance(obj, np.ufunc):
            found.setdefault(obj.__name__, obj)
    return found


def methods_of(ufunc):
    """The methods NumPy defines for ``ufunc`` (the others exist on it but always raise)."""
    if ufunc.signature is not None:
        return ()
    binary = ufunc.nin == 2
    single = ufunc.nout == 1
    found = []
    if binary and single:
        found += ["reduce", "accumulate", "reduceat"]
    if binary:
        found.append("outer")
    if single:
        found.append("at")
    return tuple(found)


def method_operators(custom_at):
    """Register one operator per (ufunc, method NumPy defines for it); ``custom_at`` dispatches ``at`` (a write
    into its first argument). Returns {ufunc name: {method: operator}}."""
    built = {}
    for uname, ufunc in numpy_ufuncs().items():
        ops = built[uname] = {}
        for method in methods_of(ufunc):
            name = f"{uname}.{method}"
            differentiable = True if name in table.UFUNC_METHOD_DIFFERENTIABLE else None
            op = Operator(name, ref=getattr(ufunc, method), kind="ufunc_method", differentiable=differentiable,
                          custom=custom_at if method == "at" else None)
            public = op.public
            public.__name__ = method
            public.__qualname__ = f"{uname}.{method}"
            public.__module__ = "minpy.numpy"
            ops[method] = register(op)
    return built


def attach(public, ufunc, method_ops):
    """Give the public function of a ufunc operator NumPy's ufunc attributes and methods."""
    for attr in ATTRIBUTES:
        setattr(public, attr, getattr(ufunc, attr))
    public.__name__ = ufunc.__name__
    methods = _methods(ufunc, method_ops)
    for method in table.UFUNC_METHODS:
        setattr(public, method, methods[method])


_BUILT = {}  # ufunc name -> {method: function}, shared by a ufunc's aliases


def _methods(ufunc, method_ops):
    built = _BUILT.get(ufunc.__name__)
    if built is not None:
        return built
    uname = ufunc.__name__
    ops = method_ops.get(uname, {})
    built = {}
    for method in table.UFUNC_METHODS:
        op = ops.get(method)
        fn = op.public if op is not None else _refused(ufunc, method)
        builder = _FAST.get(method)
        target = table.UFUNC_METHOD_AS.get((uname, method))
        if builder is not None and op is not None and (target is not None or method == "outer"):
            fn = builder(ufunc, fn, target)
            fn.__name__ = method
            fn.__qualname__ = f"{uname}.{method}"
            fn.__module__ = "minpy.numpy"
        fn.__doc__ = getattr(ufunc, method).__doc__
        built[method] = fn
    _BUILT[uname] = built
    return built


def _refused(ufunc, method):
    """A method NumPy does not define for this ufunc (``np.exp.reduce``): NumPy's own error, named."""
    bound = getattr(ufunc, method)

    def refused(*args, **kwargs):
        try:
            return bound(*args, **kwargs)
        except Exception as exc:
            raise type(exc)(f"minpy.numpy.{ufunc.__name__}.{method}: {exc}") from None
    refused.__name__ = method
    refused.__qualname__ = f"{ufunc.__name__}.{method}"
    refused.__doc__ = bound.__doc__
    return refused


def _arraylike(x):
    """Whether ``x`` is an array the delegate operator takes as NumPy's method would (Arrays, traced values,
    NumPy arrays: anything with a dtype and at least one dimension)."""
    dtype = getattr(x, "dtype", None)
    return dtype is not None and getattr(x, "ndim", 0) >= 1 and getattr(dtype, "kind", "O") != "O"


def _reduce_as(ufunc, generic, target):
    fast = _OPS[target]
    takes_dtype = "dtype" in inspect.signature(getattr(np, target)).parameters

    def reduce(array, axis=0, dtype=None, out=None, keepdims=False, initial=_NO_VALUE, where=True):
        if not _arraylike(array) or (dtype is not None and not takes_dtype):
            return generic(array, axis, dtype, out, keepdims, initial, where)
        kwargs = {}
        if dtype is not None:
            kwargs["dtype"] = dtype
        if out is not None:
            kwargs["out"] = out
        if keepdims:
            kwargs["keepdims"] = keepdims
        if initial is not _NO_VALUE:
            kwargs["initial"] = initial
        if where is not True:
            kwargs["where"] = where
        return fast(array, axis=axis, **kwargs)
    return reduce


def _accumulate_as(ufunc, generic, target):
    fast = _OPS[target]

    def accumulate(array, axis=0, dtype=None, out=None):
        if not _arraylike(array) or isinstance(axis, (tuple, list)) or axis is None:
            return generic(array, axis, dtype, out)  # NumPy's errors: one axis, not a scalar
        kwargs = {}
        if dtype is not None:
            kwargs["dtype"] = dtype
        if out is not None:
            kwargs["out"] = out
        return fast(array, axis=axis, **kwargs)
    return accumulate


def _outer_as(ufunc, generic, target):
    call = _OPS[ufunc.__name__]
    asarray = _OPS["asarray"]
    reshape = _OPS["reshape"]

    def outer(A, B, /, **kwargs):
        # NumPy's outer: op(A[i..., None...], B[j...]) for every pair, i.e. the ufunc on A reshaped to broadcast
        # against B. Running the ufunc keeps its backends and its gradient.
        if getattr(A, "dtype", None) is None:
            A = asarray(A)
        if getattr(B, "dtype", None) is None:
            B = asarray(B)
        if A.dtype.kind == "O" or B.dtype.kind == "O":
            return generic(A, B, **kwargs)
        return call(reshape(A, tuple(A.shape) + (1,) * B.ndim), B, **kwargs)
    return outer


_FAST = {"reduce": _reduce_as, "accumulate": _accumulate_as, "outer": _outer_as}
