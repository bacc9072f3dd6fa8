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

Writes. A write into a traced array (``x[k] = v``, ``x += y``, ``x.fill(v)``, ``out=x``) is recorded as a
functional update, and the :class:`Tracer` object itself takes the updated value, so every name bound to it
(``y = x``) sees the write, as in NumPy. Views of a traced array (``x[0:2]``, ``x.T``, ``x.reshape(...)``:
whatever NumPy makes a view) are remembered with the operators that made them (a :class:`_Family`); a write
into the array or into any of its views updates the array (the view's elements scattered into it) and then
every live view is taken again from the updated array. Values and gradients are therefore NumPy's. A write
that cannot be carried so (into an array outside the trace, a traced value of an inner gradient call written
into an array of an outer one, a NumPy function writing in place) raises :class:`AutogradError` naming the
line that wrote.
"""
import itertools
import math
import sys
import threading
import weakref

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
        self.replaying = False  # views are being taken again after a write (they are members already)


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


def user_line():
    """``file:line`` of the innermost caller outside minpy and NumPy (the user's line), for error messages."""
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__") or ""
        top = module.partition(".")[0]
        if top not in ("minpy", "numpy", "contextlib", "functools") or module == "minpy.__main__":
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown line>"


def write_error(message):
    """An AutogradError for a write that cannot be carried through, naming the user's line."""
    return AutogradError(f"{message} (at {user_line()})")


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
    """A value being differentiated. It behaves like a minpy Array: operators, methods, indexing, writes."""

    __slots__ = ("_value", "_node", "_trace", "_family", "__weakref__")
    __array_priority__ = 200.0

    def __init__(self, value, node, trace):
        self._value = value
        self._node = node
        self._trace = trace
        # (family, steps from its root) once it is a view; (weak reference to its family, ()) once a view is
        # taken of it (see _note_views)
        self._family = None

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
        assign(self, _HOOKS["setitem"](self, key, value))

    def fill(self, value):
        self[...] = value

    def sort(self, axis=-1, kind=None, order=None):
        import minpy.numpy as np

        self[...] = np.sort(self, axis=axis, kind=kind, order=order)

    def put(self, indices, values, mode="raise"):
        """``a.flat[indices] = values`` (NumPy's ``put``), as a traced write."""
        import minpy.numpy as np

        indices = onp.asarray(indices.asnumpy() if isinstance(indices, (Array, Tracer)) else indices)
        if mode == "raise":
            if indices.size and (indices.max() >= self.size or indices.min() < -self.size):
                raise IndexError(f"index {int(indices.max())} is out of bounds for size {self.size}")
        elif mode == "wrap":
            indices = indices % self.size
        else:
            indices = onp.clip(indices, 0, self.size - 1)
        flat = indices.reshape(-1)
        count = flat.size
        values = np.ravel(values)
        if values.size != count and count and values.size:
            values = np.concatenate([values] * -(-count // values.size))[:count]  # repeated, as NumPy does
        updated = _HOOKS["setitem"](np.ravel(self), flat, values)
        assign(self, np.reshape(updated, self.shape))

    __hash__ = None


def _inplace_operator(name):
    def method(self, other):
        import minpy.numpy as np

        result = getattr(np, name)(self, other)
        if result.dtype != self.dtype:
            if not onp.can_cast(result.dtype, self.dtype, "same_kind"):
                raise TypeError(f"minpy.numpy.{name} (in place): Cannot cast ufunc '{name}' output from "
                                f"{result.dtype!r} to {self.dtype!r} with casting rule 'same_kind'")
        if tuple(result.shape) != tuple(self.shape):
            raise ValueError(f"minpy.numpy.{name} (in place): non-broadcastable output operand with shape "
                             f"{self.shape} doesn't match the broadcast shape {result.shape}")
        if result.dtype != self.dtype:
            result = result.astype(self.dtype)
        assign(self, result)
        return self
    method.__name__ = f"__i{name}__"
    return method


# In-place operators update the tracer itself, so that every name bound to it sees the write (``y = x;
# y += 1`` changes ``x``, as in NumPy), and its views see it too.
for _dunder, _name in (("__iadd__", "add"), ("__isub__", "subtract"), ("__imul__", "multiply"),
                       ("__itruediv__", "true_divide"), ("__ifloordiv__", "floor_divide"),
                       ("__imod__", "remainder"), ("__ipow__", "power"), ("__imatmul__", "matmul"),
                       ("__iand__", "bitwise_and"), ("__ior__", "bitwise_or"), ("__ixor__", "bitwise_xor"),
                       ("__ilshift__", "left_shift"), ("__irshift__", "right_shift")):
    setattr(Tracer, _dunder, _inplace_operator(_name))


# -- writes: aliases and views -------------------------------------------------------------------------------------
class _Family:
    """A traced array (``root``) and the traced views taken of it (``members``: weak references; each view's
    ``_family`` holds the steps that take it from the root: ``(operator, args, kwargs, position of the parent
    in args, index of the result or None)``)."""

    __slots__ = ("root", "members", "__weakref__")

    def __init__(self, root):
        self.root = root
        self.members = []


#: the _family of a view of a traced value of an outer gradient call: writes into it raise
_OUTER_VIEW = (None, None)


def _note_views(op, args, results, top):
    """Remember the results that are views of a traced argument of this trace (NumPy's rule, as minpy-array
    applies it: the result shares the argument's buffer)."""
    multi = type(results) in (tuple, list)
    for i, r in enumerate(results if multi else (results,)):
        if type(r) is not Tracer:
            continue
        inner = _innermost(r)
        if type(inner) is not Array:
            continue
        owner = inner._root if inner._root is not None else inner
        for pos, a in _traced_positions(args):
            arg = _innermost(a)
            if type(arg) is not Array or (arg is not inner and (
                    arg._root if arg._root is not None else arg) is not owner):
                continue
            if inner._root is None and arg is not inner:
                continue  # the result owns its buffer: not a view
            if a._trace != top:
                r._family = _OUTER_VIEW
                break
            family = _family_of(a)
            if family is None or family[0] is None:
                fam = _Family(a)
                # the root holds its family weakly (its views hold it strongly, and through it the root): a
                # strong link both ways would put the traced graph in a reference cycle, freed only by the
                # cyclic collector, whose finalizers (MXNet executors, NDArrays) then run at arbitrary times
                a._family = (weakref.ref(fam), ())
                family = (fam, ())
            steps = family[1] + ((op, args, None, pos, i if multi else None),)
            r._family = (family[0], steps)
            members = family[0].members
            n = len(members)
            if n >= 16 and not n & (n - 1):
                members[:] = [m for m in members if m() is not None]
            members.append(weakref.ref(r))
            break


def _family_of(t):
    """``t._family`` with its family object: None when ``t`` has none (or a root's family no view holds any
    more), :data:`_OUTER_VIEW` as it is."""
    family = t._family
    if family is None or type(family[0]) is not weakref.ref:
        return family
    fam = family[0]()
    return None if fam is None else (fam, ())


def _innermost(x):
    while type(x) is Tracer:
        x = x._value
    return x


def _traced_positions(args):
    for i, a in enumerate(args):
        if type(a) is Tracer:
            yield i, a
        elif type(a) in (list, tuple):
            for j, x in enumerate(a):
                if type(x) is Tracer:
                    yield (i, j), x


def _replay(steps, value, kwargs_of=None):
    """The view ``steps`` take of ``value`` (traced when ``value`` is)."""
    for op, args, kwargs, pos, index in steps:
        args = list(args)
        if type(pos) is tuple:
            seq = list(args[pos[0]])
            seq[pos[1]] = value
            args[pos[0]] = type(args[pos[0]])(seq)
        else:
            args[pos] = value
        value = op.public(*args, **(kwargs or {}))
        if index is not None:
            value = value[index]
    return value


def _host(x):
    x = _innermost(x)
    if isinstance(x, Array):
        return x.asnumpy()
    if type(x) in (list, tuple):
        return type(x)(_host(v) for v in x)
    return x


def _positions(steps, shape):
    """Where the elements of the view ``steps`` take of an array of ``shape`` sit in it (flat positions, as
    NumPy's own views of an index array say), and whether NumPy lets the view be written."""
    value = onp.arange(math.prod(shape)).reshape(shape)
    for op, args, kwargs, pos, index in steps:
        args = [_host(a) for a in args]
        if type(pos) is tuple:
            seq = list(args[pos[0]])
            seq[pos[1]] = value
            args[pos[0]] = seq
        else:
            args[pos] = value
        value = op.ref(*args, **(kwargs or {}))
        if index is not None:
            value = value[index]
    value = onp.asarray(value)
    return value, bool(value.flags.writeable)


def assign(target, new):
    """``target`` (a Tracer) takes the value ``new`` (its updated value, traced), and so do its aliases: its
    views (and, when it is a view, its base and the base's other views) are taken again from the update."""
    if type(new) is not Tracer or new._trace < target._trace:
        # the write did not involve this trace (e.g. target's value is a constant of it): box it anyway
        new = _rebox(new, target)
    if new._trace != target._trace:
        raise write_error(
            f"a value traced by an inner gradient call is being written into an array traced by an outer one "
            f"(shape {target.shape}); the outer gradient cannot see the write. Compute the value outside the "
            "inner call, or write into a copy")
    family = _family_of(target)
    if family is None:
        _take(target, new)
        return
    if family is _OUTER_VIEW:
        raise write_error(
            f"a write into a view (shape {target.shape}) of a value traced by an outer gradient call; the outer "
            "gradient cannot see it. Write into a copy (np.copy) instead")
    fam, steps = family
    root = fam.root
    if target is root:
        updated = new
    else:
        positions, writeable = _positions(steps, tuple(root.shape))
        if not writeable:
            raise ValueError("assignment destination is read-only")
        import minpy.numpy as np

        flat = np.ravel(root)
        updated = np.reshape(_HOOKS["setitem"](flat, positions.reshape(-1), np.ravel(new)),
                             root.shape)
    state = _tracing_state
    _take(root, updated)
    replaying, state.replaying = state.replaying, True
    try:
        live = []
        for ref in fam.members:
            member = ref()
            if member is None:
                continue
            live.append(ref)
            _take(member, _replay(member._family[1], root))
        fam.members = live
    finally:
        state.replaying = replaying


def _take(target, new):
    target._value, target._node, target._trace = new._value, new._node, new._trace


def _rebox(value, like):
    """``value`` as a Tracer of ``like``'s trace (a constant of it: no gradient flows to it; in a forward
    trace, its tangent is zero)."""
    if type(like._node) is Tangent:
        import minpy.numpy as np

        return Tracer(value, Tangent(np.zeros_like(value)), like._trace)
    return Tracer(value, Start(), like._trace)


def _borrow_array_methods():
    """Array's operators and op-backed methods work on tracers unchanged: each calls a minpy.numpy operator,
    which the interceptor sees. Methods that touch an Array's storage are not borrowed."""
    skip = {"__init__", "__setitem__", "__iter__", "__len__", "__bool__", "__float__", "__int__", "__index__",
            "__complex__", "__array__", "__array_ufunc__", "__array_function__", "__repr__", "__str__",
            "__format__", "__reduce__", "__copy__", "__deepcopy__", "asnumpy", "tolist", "item", "tobytes",
            "view", "dump", "wait_to_read", "fill", "sort", "__hash__", "__eq__", "__ne__", "put"}
    for klass in reversed(Array.__mro__[:-1]):
        for name, attr in vars(klass).items():
            if name in skip or name in Tracer.__dict__ or name.startswith("_") and not name.startswith("__"):
                continue
            if name.startswith("__i") and name not in ("__invert__",):
                continue  # in-place operators: Tracer's own update the tracer itself (see _inplace_operator)
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
        return _traced_out(op, args, kwargs)
    if op.name in _WRITES_FIRST:
        if type(args[0]) is Tracer:
            return _traced_write_call(op, args, kwargs)
        raise write_error(f"{public_name(op.name)} would write a traced value into an array outside the trace "
                          f"(shape {getattr(args[0], 'shape', '?')}), which would cut the gradient; write into a "
                          "traced array, or build the result from traced values")
    if op.name == "fill":  # a.fill(x): a write, like a[...] = x
        return traced_setitem_error((args[0], Ellipsis, args[1]))
    in_place = registry.IN_PLACE.get(op.name)
    if in_place is not None:  # np.add.at(a, ...): a functional update of a traced a, or an error before writing
        return in_place(op, args, kwargs)
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
    result = record(op, uargs, ukwargs, ans, parents, top, registry.READS.get(op.name))
    if _may_be_view(ans) and not _tracing_state.replaying:
        _note_views(op, args, result, top)
    return result


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
    raise write_error(
        f"a traced value is being written into a minpy Array that is not traced (target shape "
        f"{tuple(getattr(target, 'shape', ()))}, key {key!r}); the write would cut the gradient. Build the "
        "result from traced values instead (e.g. collect rows in a list and use np.stack), or write into a "
        "traced array")


def _may_be_view(ans):
    """Whether a result may be a view of an argument (cheap: most results own their buffer)."""
    if type(ans) in (tuple, list):
        return any(_may_be_view(a) for a in ans)
    ans = _innermost(ans)
    return type(ans) is Array and (ans._root is not None or ans._views is not None)


#: NumPy functions that write into their first argument; a traced first argument takes the write as a traced
#: update where minpy knows its gradient (copyto), else the call is refused before anything is written
_WRITES_FIRST = frozenset(("copyto", "put", "place", "putmask", "fill_diagonal", "put_along_axis",
                           "random.shuffle"))


def _traced_write_call(op, args, kwargs):
    import minpy.numpy as np

    target = args[0]
    if op.name == "copyto":
        src = args[1] if len(args) > 1 else kwargs.get("src")
        where = kwargs.get("where", args[3] if len(args) > 3 else True)
        casting = kwargs.get("casting", args[2] if len(args) > 2 else "same_kind")
        src_dtype = src.dtype if isinstance(src, (Array, Tracer)) else onp.asarray(src).dtype
        if not onp.can_cast(src_dtype, target.dtype, casting):
            raise TypeError(f"minpy.numpy.copyto: Cannot cast array data from {src_dtype!r} to "
                            f"{target.dtype!r} according to the rule {casting!r}")
        value = np.broadcast_to(src, target.shape)
        if where is not True:
            value = np.where(where, value, target)
        target[...] = value
        return None
    if op.name == "put":
        target.put(*args[1:], **kwargs)
        return None
    raise write_error(
        f"{public_name(op.name)} writes into a traced array in place, which autograd cannot record; write "
        "through indexing instead (x[mask] = v, x[idx] = v), which it records")


def _traced_out(op, args, kwargs):
    """``op(..., out=t)``: computed as a new value, then written into each output; traced outputs take it as
    a traced update (see :func:`assign`), an untraced output cannot hold a traced value."""
    out = kwargs["out"]
    outs = out if type(out) is tuple else (out,)
    rest = {k: v for k, v in kwargs.items() if k != "out"}
    result = op.public(*args, **rest)
    results = result if type(result) is tuple else (result,)
    if len(results) != len(outs):
        raise ValueError(f"{public_name(op.name)}: out= needs {len(results)} arrays, got {len(outs)}")
    for target, value in zip(outs, results):
        if type(target) is not Tracer:
            if type(value) is Tracer:
                raise write_error(
                    f"{public_name(op.name)}(..., out=...) writes a traced value into an array outside the "
                    "trace, which would cut the gradient; use the returned value (or a traced out=)")
            target[...] = value
            continue
        if tuple(value.shape) != tuple(target.shape):
            import minpy.numpy as np

            value = np.broadcast_to(value, target.shape)
        if value.dtype != target.dtype:
            if not onp.can_cast(value.dtype, target.dtype, "same_kind"):
                raise TypeError(f"{public_name(op.name)}: Cannot cast output from {value.dtype!r} to "
                                f"{target.dtype!r} with casting rule 'same_kind'")
            value = value.astype(target.dtype)
        assign(target, value)
    return out


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
