"""The tracer: boxes that flow through ``minpy.numpy`` operators and the nodes they leave behind.

The design is HIPS autograd's: a differentiation call boxes its inputs in :class:`Tracer` objects tagged with a
trace number; minpy-array's interceptor hook (``minpy.extend``) hands every operator call to
:func:`intercept`, which unboxes the tracers of the newest trace, runs the operator (recursively, so boxes
of outer traces are handled by their own level), and boxes the result (:func:`record`). A trace is one of two
kinds, told by the node its boxes carry:

* reverse mode (``grad``, ``vjp``): the node is a :class:`Node` that remembers the operator, its (unboxed)
  arguments and result; the backward pass (:mod:`minpy.autograd.backward`) walks the nodes from the output
  and calls each operator's vector-Jacobian product;
* forward mode (``make_jvp``, ``deriv``): the node is a :class:`Tangent`, the box's tangent, computed as the
  value is (:mod:`minpy.autograd.forward`).

The rules are ``minpy.numpy`` code, so when an outer trace is active they are traced too: that is what makes
``grad(grad(f))``, forward-over-reverse and reverse-over-forward exact. This module knows no rule: it asks the
rule tables (:mod:`minpy.autograd.registry`), and the higher layers install what it calls (the forward-mode
tangent computation, the functional write behind ``tracer[key] = value``) with :func:`install`.

Outside a differentiation call no interceptor is installed, so operators pay nothing for autograd. Traces are per
thread: the interceptor is installed for the thread that runs the call only, and trace numbers are unique
across threads.
"""
import itertools
import math
import threading

import numpy as onp

from minpy import extend
from minpy.array import Array
from minpy.autograd import registry
from minpy.autograd.errors import AutogradError, NoRuleError  # noqa: F401  (AutogradError: its old home)
from minpy.ops.operator import get_operator
from minpy.stats import public_name

_TRACE_NUMBERS = itertools.count(1)  # next() on a count is atomic: threads never share a trace number


class _ThreadTracing(threading.local):
    def __init__(self):
        self.active = 0  # how many gradient calls this thread is running (the interceptor is installed while > 0)


_tracing_state = _ThreadTracing()

#: what the higher layers install (see :func:`install`): "forward" -> the forward-mode boxing of a result,
#: "setitem" -> the functional write primitive
_HOOKS = {"forward": None, "setitem": None}


def install(name, fn):
    """Install a piece of the higher layers this module calls: ``"forward"`` (``fn(op, args, kwargs, ans,
    parents, trace)`` boxes a result in a forward trace) or ``"setitem"`` (``fn(x, key, value)``: the
    functional update behind ``tracer[key] = value``)."""
    if name not in _HOOKS:
        raise KeyError(name)
    _HOOKS[name] = fn


class Node:
    """One recorded operator application. ``parents`` pairs each traced argument position (an int, or
    (i, j) for item j of a sequence argument i) with the node that produced it; ``versions`` holds the
    write counters of its untraced Array arguments (see :func:`record_versions`)."""

    __slots__ = ("op", "args", "kwargs", "ans", "parents", "versions", "__weakref__")

    def __init__(self, op, args, kwargs, ans, parents, versions=None):
        self.op = op
        self.args = args
        self.kwargs = kwargs
        self.ans = ans
        self.parents = parents
        self.versions = versions


class Meta:
    """What the tape keeps of an argument (or result) whose values the operator's VJP rule never reads: its
    shape and dtype. Keeping only these lets the array itself be freed during the forward pass, so a traced
    computation holds about as much memory as hand-written backprop keeps for its caches."""

    __slots__ = ("shape", "dtype")

    def __init__(self, x):
        self.shape = tuple(x.shape)
        self.dtype = x.dtype

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return math.prod(self.shape)

    def __repr__(self):
        return f"Meta(shape={self.shape}, dtype={self.dtype})"


class Start:
    """The node of a gradient call's input."""

    __slots__ = ("parents", "__weakref__")

    def __init__(self):
        self.parents = ()


class Tangent:
    """The node of a box in a forward-mode trace: its tangent ``t`` (an array of the value's shape and dtype,
    itself boxed by outer traces when they differentiate it)."""

    __slots__ = ("t",)
    parents = ()

    def __init__(self, t):
        self.t = t


class Tracer:
    """A value being differentiated. It behaves like a minpy Array: operators, methods, indexing."""

    __slots__ = ("_value", "_node", "_trace", "__weakref__")
    __array_priority__ = 200.0

    def __init__(self, value, node, trace):
        self._value = value
        self._node = node
        self._trace = trace

    shape = property(lambda self: self._value.shape)
    dtype = property(lambda self: self._value.dtype)
    ndim = property(lambda self: self._value.ndim)
    size = property(lambda self: self._value.size)
    itemsize = property(lambda self: self._value.itemsize)
    nbytes = property(lambda self: self._value.nbytes)
    context = property(lambda self: self._value.context)
    backend = property(lambda self: self._value.backend)

    def __len__(self):
        return len(self._value)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __bool__(self):
        return bool(self._value)

    def __float__(self):
        return float(self._value)

    def __int__(self):
        return int(self._value)

    def __complex__(self):
        return complex(self._value)

    def __index__(self):
        return self._value.__index__()

    def asnumpy(self):
        return self._value.asnumpy()

    def __array__(self, dtype=None, copy=None):
        # A conversion to integers or booleans (``numpy.int64(x)``) is piecewise constant: no gradient is
        # lost, so it is allowed, as the integer casts of minpy.numpy are.
        if dtype is not None and onp.dtype(dtype).kind in "biu":
            return onp.asarray(self.asnumpy()).astype(dtype)
        # NumPy converts a tracer when a plain NumPy function is called on it, or when minpy-array wraps
        # it into an untraced Array (``w *= x`` into an untraced ``w``). Either would drop the gradient
        # silently, so it is an error; ``asnumpy()`` and ``stop_gradient`` drop it explicitly.
        raise AutogradError(
            "a traced value is being converted to a NumPy array, which would cut its gradient (a NumPy "
            "function called on it, or an in-place operator writing it into an untraced minpy Array). Use "
            "minpy.numpy operators on traced values; x.asnumpy() or minpy.autograd.stop_gradient(x) drops "
            "the gradient explicitly")

    def __repr__(self):
        return f"Tracer({self._value!r}, trace={self._trace})"

    def __setitem__(self, key, value):
        # A write into a traced array is recorded as a functional update: the tracer now stands for the
        # updated array, whose gradient flows to the old value (outside ``key``) and to ``value``.
        updated = _HOOKS["setitem"](self, key, value)
        if not isinstance(updated, Tracer):
            raise AutogradError("internal error: a traced write produced no trace")
        self._value, self._node, self._trace = updated._value, updated._node, updated._trace

    __hash__ = None


def _borrow_array_methods():
    """Array's operators and op-backed methods work on tracers unchanged: each calls a minpy.numpy operator,
    which the interceptor sees. Methods that touch an Array's storage are not borrowed."""
    skip = {"__init__", "__setitem__", "__iter__", "__len__", "__bool__", "__float__", "__int__", "__index__",
            "__complex__", "__array__", "__array_ufunc__", "__array_function__", "__repr__", "__str__",
            "__format__", "__reduce__", "__copy__", "__deepcopy__", "asnumpy", "tolist", "item", "tobytes",
            "view", "dump", "wait_to_read", "fill", "sort", "__hash__", "__eq__", "__ne__"}
    for klass in reversed(Array.__mro__[:-1]):
        for name, attr in vars(klass).items():
            if name in skip or name in Tracer.__dict__ or name.startswith("_") and not name.startswith("__"):
                continue
            if name.startswith("__i") and name not in ("__invert__",):
                continue  # in-place operators: Python falls back to the plain operator and rebinds
            if callable(attr) or (isinstance(attr, property) and name in ("T", "mT", "real", "imag")):
                setattr(Tracer, name, attr)
    Tracer.__eq__ = Array.__eq__
    Tracer.__ne__ = Array.__ne__
    Tracer.__hash__ = None


_borrow_array_methods()


def new_trace():
    return next(_TRACE_NUMBERS)


class tracing:
    """Context manager: this thread's interceptor is installed while at least one of its gradient calls runs."""

    __slots__ = ()

    def __enter__(self):
        state = _tracing_state
        if state.active == 0:
            extend.push_interceptor(intercept)
        state.active += 1
        return self

    def __exit__(self, *exc):
        state = _tracing_state
        state.active -= 1
        if state.active == 0:
            extend.pop_interceptor(intercept)
        return False


def _find_top(args, kwargs):
    top = 0
    for a in args:
        if type(a) is Tracer:
            if a._trace > top:
                top = a._trace
        elif type(a) in (list, tuple):
            for x in a:
                if type(x) is Tracer:
                    if x._trace > top:
                        top = x._trace
                elif type(x) in (list, tuple):  # nested lists (np.array([[x, y], [z, w]]))
                    inner = _find_top(x, None)
                    if inner > top:
                        top = inner
    if kwargs:
        for a in kwargs.values():
            t = type(a)
            if t is Tracer:
                if a._trace > top:
                    top = a._trace
            elif t is list or t is tuple:  # a sequence by keyword (odeint's args=(...))
                inner = _find_top(a, None)
                if inner > top:
                    top = inner
    return top


# Conversions that may receive (nested lists of) traced values: np.array([x, y]) is built by stacking.
_CONVERSIONS = frozenset(("array", "asarray", "asanyarray", "ascontiguousarray"))
_ASARRAY = [get_operator("asarray")]
# Operators without a rule whose result still depends on the values of their arguments: creation
# (np.full(3, x)), random (loc=x), shape edits (np.delete) and these ufuncs. A traced float reaching them
# is an error; passing it through untraced would be a silently wrong gradient.
_VALUE_KINDS = frozenset(("creation", "random", "shape"))
_VALUE_NAMES = frozenset(("modf", "divmod", "ldexp", "frexp", "nextafter"))


def intercept(op, args, kwargs):
    if op.name in _CONVERSIONS and _has_tracer(args, kwargs):
        return _traced_array(op, args, kwargs)
    top = _find_top(args, kwargs)
    if top == 0:
        return op.invoke(args, kwargs)
    if kwargs and kwargs.get("out") is not None:
        raise AutogradError(f"{public_name(op.name)}(..., out=...) with a traced argument writes into an array "
                            "outside the trace, which would cut the gradient; use the returned value instead")
    if op.name == "fill":  # a.fill(x): a write, like a[...] = x
        return traced_setitem_error((args[0], Ellipsis, args[1]))
    rule = registry.rule_for(op)
    if rule is None:  # not differentiable: compute on the plain values; the result carries no trace
        ans = op.invoke(*_unbox_all(args, kwargs))
        if (op.kind in _VALUE_KINDS or op.name in _VALUE_NAMES) and _feeds_floats(op, args, kwargs) and (
                ans is None or _holds_floats(ans)):
            raise NoRuleError(
                f"{public_name(op.name)} has no gradient rule, and a traced value reached it (its result "
                f"depends on it). Give it one with minpy.autograd.defvjp('{op.name}', ...), or pass "
                "minpy.autograd.stop_gradient(x) if no gradient should flow")
        return ans
    if rule is registry.SETITEM:
        return traced_setitem_error(args)
    if type(rule) is registry.CheckOutput:  # no rule: fine only if nothing differentiable comes out
        ans = op.invoke(*_unbox_all(args, kwargs))
        # None: the operator wrote in place (copyto, fill_diagonal), into an array outside the trace or
        # into a recorded one; either way the gradient would be wrong.
        if _holds_floats(ans) or ans is None and _feeds_floats(op, args, kwargs):
            raise rule.error()
        return ans
    if not getattr(rule, "items", False) and _list_holds_tracer(args):
        # a list of traced values where NumPy reads an array (np.sum([x, y]), np.append([1.0, x], y)): the
        # array it stands for, built by a traced np.array, takes its place
        return intercept(op, tuple(_traced_array(_ASARRAY[0], (a,), None) if type(a) in (list, tuple)
                                   and _has_tracer(a) else a for a in args), kwargs)
    uargs, ukwargs, parents = _unbox(args, kwargs, top)
    # boxes of outer traces left (higher-order gradients): their own level records them; else just run it
    ans = intercept(op, uargs, ukwargs) if _find_top(uargs, ukwargs) else op.invoke(uargs, ukwargs)
    return record(op, uargs, ukwargs, ans, parents, top, registry.READS.get(op.name))


def _list_holds_tracer(args):
    for a in args:
        if (type(a) is list or type(a) is tuple) and _has_tracer(a):
            return True
    return False


def record(op, args, kwargs, ans, parents, trace, reads=None):
    """Box ``ans``, the result of ``op`` on the unboxed ``args``, at ``trace``, whose boxes among the arguments
    are ``parents`` (``(position, node)`` pairs). A reverse trace keeps a :class:`Node` (only what ``reads``
    says the VJP reads, when given: see ``registry.READS``); a forward trace computes the result's tangent."""
    if type(parents[0][1]) is Tangent:
        return _HOOKS["forward"](op, args, kwargs, ans, parents, trace)
    if reads is None:
        node = Node(op, args, kwargs, ans, parents, record_versions(args, kwargs))
    else:
        kept = _slim(args, parents, reads[0])
        # a rule that never reads the result gets None for it (backward reads node.ans only for several outputs)
        node = Node(op, kept, kwargs, ans if reads[1] or type(ans) not in (Array, Tracer) else None,
                    parents, record_versions(kept, kwargs))
    return box(ans, node, trace)


def traced_setitem_error(args):
    target, key, value = args
    raise AutogradError(
        f"a traced value is being written into a minpy Array that is not traced (target shape "
        f"{tuple(getattr(target, 'shape', ()))}, key {key!r}); the write would cut the gradient. Build the "
        "result from traced values instead (e.g. collect rows in a list and use np.stack), or write into a "
        "traced array")


def _slim(args, parents, reads):
    """``args`` with the arrays no rule of the traced positions reads replaced by their :class:`Meta`."""
    needed = set()
    for pos, _ in parents:
        wanted = reads.get(pos if type(pos) is not tuple else pos[0])
        if wanted is None:
            return args  # a position the declaration does not cover: keep everything
        needed.update(wanted)
    kept = list(args)
    for i, a in enumerate(args):
        if i in needed:
            continue
        t = type(a)
        if t is Array or t is Tracer:
            kept[i] = Meta(a)
        elif (t is list or t is tuple) and a and all(type(x) in (Array, Tracer) for x in a):
            kept[i] = t(Meta(x) for x in a)
    return tuple(kept)


def record_versions(args, kwargs):
    """``((position or keyword, write counter), ...)`` for the Array arguments a rule may read in the
    backward pass, keyword ones included (``np.clip(x, a_min=lo)``); None when there are none."""
    versions = None
    i = 0
    for a in args:
        if type(a) is Array:
            owner = a._root if a._root is not None else a
            if versions is None:
                versions = []
            versions.append((i, owner._version))
        i += 1
    if kwargs:
        for k, v in kwargs.items():
            if type(v) is Array:
                if versions is None:
                    versions = []
                versions.append((k, v._owner()._version))
    return None if versions is None else tuple(versions)


def box(ans, node, trace):
    t = type(ans)
    if t is tuple or t is list or isinstance(ans, tuple):  # several outputs: one selector node each
        items = [Tracer(v, Node(_SELECT, (i,), None, v, ((0, node),)), trace) if isinstance(
            v, (Array, Tracer)) else v for i, v in enumerate(ans)]
        return t(*items) if hasattr(ans, "_fields") else t(items)  # named tuples (linalg.eigh, svd...)
    return Tracer(ans, node, trace)


class _Select:
    name = "<output selector>"


_SELECT = _Select()


def _unbox(args, kwargs, top):
    parents = []
    uargs = list(args)
    for i, a in enumerate(args):
        t = type(a)
        if t is Tracer:
            if a._trace == top:
                uargs[i] = a._value
                parents.append((i, a._node))
        elif t is list or t is tuple:
            items = None
            for j, x in enumerate(a):
                if type(x) is Tracer and x._trace == top:
                    if items is None:
                        items = list(a)
                    items[j] = x._value
                    parents.append(((i, j), x._node))
            if items is not None:
                uargs[i] = t(items)
    ukwargs = kwargs
    if kwargs:
        ukwargs = dict(kwargs)
        for k, v in kwargs.items():
            t = type(v)
            if t is Tracer:
                if v._trace == top:
                    ukwargs[k] = v._value
                    parents.append((k, v._node))
            elif t is list or t is tuple:
                items = None
                for j, x in enumerate(v):
                    if type(x) is Tracer and x._trace == top:
                        if items is None:
                            items = list(v)
                        items[j] = x._value
                        parents.append(((k, j), x._node))
                if items is not None:
                    ukwargs[k] = t(items)
    return tuple(uargs), ukwargs, tuple(parents)


def _holds_floats(x):
    if isinstance(x, Array):
        return x.dtype.kind in "fc"
    if type(x) in (list, tuple):
        return any(_holds_floats(v) for v in x)
    return isinstance(x, float)


def _has_tracer(*xs):
    for x in xs:
        if type(x) is Tracer:
            return True
        if type(x) in (list, tuple):
            if _has_tracer(*x):
                return True
        elif type(x) is dict and _has_tracer(*x.values()):
            return True
    return False


def _feeds_floats(op, args, kwargs):
    """Whether a traced float reaches ``op`` other than as the prototype of a ``*_like`` creation."""
    if op.name.endswith("_like"):
        args = args[1:]
        kwargs = {k: v for k, v in kwargs.items() if k not in ("a", "prototype")} if kwargs else kwargs

    def floats(x):
        if type(x) is Tracer:
            return x.dtype.kind in "fc"
        return type(x) in (list, tuple) and any(floats(v) for v in x)
    return any(floats(a) for a in args) or bool(kwargs) and any(floats(v) for v in kwargs.values())


def _traced_array(op, args, kwargs):
    """``np.array`` / ``np.asarray`` of data holding tracers: nested lists are stacked (a traced operator);
    ``dtype`` becomes a traced ``astype``. ``np.array`` copies, as NumPy does, so that a later write into
    the result does not rebind the tracer it came from; ``asarray`` of a tracer returns it."""
    import minpy.numpy as np

    kwargs = dict(kwargs or {})
    data = args[0] if args else kwargs.pop("a", kwargs.pop("object", None))
    dtype = args[1] if len(args) > 1 else kwargs.pop("dtype", None)

    def build(x):
        if type(x) is Tracer:
            return x
        if type(x) in (list, tuple) and _has_tracer(*x):
            return np.stack([build(v) for v in x])
        return np.asarray(x)

    value = build(data)
    if dtype is not None and onp.dtype(dtype) != value.dtype:
        return value.astype(dtype)
    if op.name == "array" and value is data:
        return np.copy(value)
    return value


def _unbox_all(args, kwargs):
    def strip(x):
        while type(x) is Tracer:
            x = x._value
        if type(x) in (list, tuple):
            return type(x)(strip(v) for v in x)
        return x
    return tuple(strip(a) for a in args), {k: strip(v) for k, v in kwargs.items()} if kwargs else kwargs
