"""Tracing: one eager run of the function with an interceptor and a value reader installed for this thread.

The interceptor (:mod:`minpy.extend`) sees every operator call below ``grad``'s (autograd's interceptor sits
above it and hands it the unboxed forward calls; the backward pass's calls come after), runs it with
:func:`minpy.ops.operator.dispatch_route` (which says where it ran) and records an :class:`~minpy.jit.program.Instr`.
The reader turns each value Python reads into a :class:`~minpy.jit.program.Guard`.

Arrays that are neither arguments nor results of recorded calls were *captured* (closures, globals, attributes
of an argument object): the recording finds where (a path from the function's closure, the globals of the
functions running, or an argument) so that the replay reads that place again and checks it still holds the same
array; an array found nowhere was made by code jit cannot see (``minpy.symbol.Function``, ``Array(...)`` of a
NumPy array), and the function then runs eagerly with a warning naming the line.
"""
import os
import sys

import numpy as onp

from minpy import extend
from minpy.array import Array
from minpy.autograd.tracer import Tracer
from minpy.backends import mxnet_backend as _MXNET
from minpy.backends import numpy_backend as _NUMPY
from minpy.jit.program import Guard, Instr, Ref
from minpy.ops import basic_keys
from minpy.ops.operator import _native_reason, _normalise, describe, dispatch_route, native_dtypes

#: operator kinds whose result shapes follow from argument shapes and constants (no shape guard needed)
STATIC_KINDS = frozenset(("ufunc", "reduction", "linalg", "shape", "creation", "opaque"))
#: operators of those kinds whose result shapes depend on data or on what they read from outside
DATA_SHAPED = frozenset(("repeat", "delete", "insert", "resize", "trim_zeros", "frombuffer", "fromiter",
                         "fromfunction", "loadtxt", "load", "genfromtxt", "fromstring"))
_SEARCH_BUDGET = 4000   # objects looked at per search for a captured array
_SEARCH_DEPTH = 3


class Capture:
    """A captured object (an Array, or a NumPy array passed to an operator) and how to find it again."""

    __slots__ = ("path", "key", "obj", "shape", "dtype", "kind")

    def __init__(self, path, obj):
        self.path = path
        self.key = path_key(path)
        self.obj = obj
        self.kind = "array" if isinstance(obj, Array) else "ndarray"
        self.shape = tuple(obj.shape)
        self.dtype = obj.dtype


class CaptureEvent:
    """Slot ``slot`` is captured object ``index`` (of the function's capture table) from here on."""

    __slots__ = ("slot", "index")

    def __init__(self, slot, index):
        self.slot = slot
        self.index = index

    def same_as(self, other):
        return type(other) is CaptureEvent and other.slot == self.slot and other.index == self.index


class Out:
    """A leaf of the result template: ``("vis", key)`` an argument or captured Array returned as it is;
    ``("new", slot, root)`` a new Array over slot ``slot`` (``root`` says which Array it is a view of);
    ``("nd", value)`` a NumPy array (a copy is returned)."""

    __slots__ = ("kind", "ref", "root")

    def __init__(self, kind, ref, root=None):
        self.kind = kind
        self.ref = ref
        self.root = root

    def __eq__(self, other):
        return type(other) is Out and (self.kind, self.ref, self.root) == (other.kind, other.ref, other.root)

    __hash__ = None


class Problem(Exception):
    pass


class Opaque:
    """An opaque call (``minpy.extend.call_opaque``: a symbol Function's forward or backward pass) seen as an
    operator with its own dispatch: a replay calls it again with the arrays in its slots."""

    kind = "opaque"
    custom = True          # never folded, never dropped as dead code
    ref = None
    impls = {}
    float_default = False
    differentiable = False

    def __init__(self, fn):
        self.fn = fn
        self.name = getattr(fn, "name", repr(fn))

    def dispatch(self, args, kwargs, unread=False):
        """Run the call again; ``unread``: the program reads none of its results (a pass that offers
        ``call_unread`` then skips copying them out). A callable with a ``replay(args, kwargs, unread)`` method
        says itself how it runs in a compiled program (a symbol Function's passes: without an executor)."""
        replay = getattr(self.fn, "replay", None)
        if replay is not None:
            return replay(args, kwargs, unread)
        if unread:
            call_unread = getattr(self.fn, "call_unread", None)
            if call_unread is not None:
                return call_unread(*args, **kwargs)
        return self.fn(*args, **kwargs)

    def __repr__(self):
        return f"<opaque call {self.name}>"


_INTERNAL = []


def _internal_dirs():
    if not _INTERNAL:
        import minpy
        dirs = {os.path.dirname(os.path.abspath(minpy.__file__))}
        for name, module in list(sys.modules.items()):
            if name.startswith("minpy.") and getattr(module, "__file__", None):
                path = os.path.abspath(module.__file__)
                parts = path.split(os.sep)
                if "minpy" in parts:
                    i = len(parts) - 1 - parts[::-1].index("minpy")
                    dirs.add(os.sep.join(parts[:i + 1]))
        _INTERNAL.append(tuple(d + os.sep for d in dirs))
    return _INTERNAL[0]


def user_line(depth=2):
    """``file:line`` of the innermost frame outside minpy (where user code made the call or read)."""
    internal = _internal_dirs()
    frame = sys._getframe(depth)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(internal):
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


def _leaves_of(value, out):
    t = type(value)
    if t is Array or isinstance(value, Array):
        out.append(value)
    elif t in (list, tuple) or (isinstance(value, tuple) and hasattr(value, "_fields")):
        for v in value:
            _leaves_of(v, out)
    elif t is dict:
        for v in value.values():
            _leaves_of(v, out)
    return out


class Recording:
    """The state of one trace (one thread, one call)."""

    def __init__(self, fn, inputs, args, kwargs, captures, statics):
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.statics = statics          # argument positions/keywords passed as objects (paths may start there)
        self.captures = captures        # the function's capture table (shared by its traces; appended to)
        self.slot_of = {}               # id(Array or ndarray) -> slot
        self.keep = []                  # what the ids above refer to, kept alive for the trace
        self.nslots = 0
        self.events = []
        self.visible = {}               # id(caller-visible Array) -> ("input", k) or ("captured", j)
        self.problem = None             # (reason, line): this path cannot be compiled
        self.home = {}                  # slot -> backend of the data at trace time
        self.links = False
        self.frame_stop = sys._getframe(2)
        self.const = set()              # slots whose value is a constant of the program (see _foldable)
        self.input_slots = []
        self.notes = False              # note what the mxnet engine needs (minpy.jit.api sets it)
        self.inside = 0                 # > 0 while an opaque call runs: what it does inside is its own
        for k, a in enumerate(inputs):
            if id(a) not in self.slot_of:
                self._new_slot(a)
            self.input_slots.append(self.slot_of[id(a)])
            self.visible.setdefault(id(a), ("input", k))

    # -- slots ----------------------------------------------------------------------------------------------------
    def _new_slot(self, obj):
        s = self.nslots
        self.nslots += 1
        self.slot_of[id(obj)] = s
        self.keep.append(obj)
        if isinstance(obj, Array):
            self.home[s] = obj._backend
            if obj._link is not None:
                self.links = True  # a detached view (a copy MXNet made for basic indexing): replayed with Arrays
        return s

    def fail(self, reason, line=None):
        if self.problem is None:
            self.problem = (reason, line or user_line(3))

    def slot_for(self, obj):
        s = self.slot_of.get(id(obj))
        if s is not None:
            return s
        return self._capture(obj)

    def _capture(self, obj):
        path = self._locate(obj)
        s = self._new_slot(obj)
        if path is None:
            if isinstance(obj, Array):
                self.fail("an array that is neither an argument, nor made by minpy operators in the function, "
                          "nor found in its closure, globals or arguments (made by code jit cannot see, such as "
                          "minpy.symbol.Function or Array(...) of NumPy data)")
            return s
        for j, cap in enumerate(self.captures):
            if cap.key == path_key(path) and cap.obj is obj:
                break
        else:
            self.captures.append(Capture(path, obj))
            j = len(self.captures) - 1
        if isinstance(obj, Array):
            self.visible.setdefault(id(obj), ("captured", j))
        self.events.append(CaptureEvent(s, j))
        return s

    # -- finding captured objects ---------------------------------------------------------------------------------
    def _roots(self):
        fn = self.fn
        roots = []
        for i, a in self.statics:
            roots.append(((("arg", i),), a))
        target = getattr(fn, "__func__", fn)
        self_obj = getattr(fn, "__self__", None)
        if self_obj is not None:
            roots.append(((("obj", self_obj),), self_obj))
        closure = getattr(target, "__closure__", None) or ()
        for cell in closure:
            try:
                roots.append(((("cell", cell),), cell.cell_contents))
            except ValueError:  # an empty cell
                pass
        seen = set()
        frame = sys._getframe(3)
        while frame is not None and frame is not self.frame_stop:
            g = frame.f_globals
            if id(g) not in seen and not g.get("__name__", "").startswith("minpy.jit"):
                seen.add(id(g))
                roots.append(((("globals", g),), g))
            frame = frame.f_back
        return roots

    def _locate(self, obj):
        """A path to ``obj`` from the function's closure, globals or arguments, or None."""
        budget = [_SEARCH_BUDGET]
        level = []
        for path, value in self._roots():
            if path[0][0] == "globals":
                for name, v in list(value.items()):
                    level.append((path + (("item", name),), v))
            else:
                level.append((path, value))
        seen = set()
        for _ in range(_SEARCH_DEPTH):
            nxt = []
            for path, value in level:
                if value is obj:
                    return path
                if budget[0] <= 0:
                    return None
                if id(value) in seen:
                    continue
                seen.add(id(value))
                budget[0] -= 1
                nxt.extend(_children(path, value))
            level = nxt
        for path, value in level:
            if value is obj:
                return path
        return None

    # -- templates --------------------------------------------------------------------------------------------------
    def template(self, x):
        t = type(x)
        if t is Array or isinstance(x, Array):
            return Ref(self.slot_for(x))
        if t is list or t is tuple:
            return t([self.template(v) for v in x])
        if t is dict:
            return {k: self.template(v) for k, v in x.items()}
        if t is Tracer:
            self.fail("a value traced by an outer gradient call reached the jitted function")
            return x
        if isinstance(x, onp.ndarray):
            s = self.slot_of.get(id(x))
            if s is not None:
                return Ref(s)
            path = self._locate(x)
            if path is None:
                return onp.array(x, copy=True)  # made in the function by NumPy code: a constant, like JAX
            return Ref(self._capture(x))
        if isinstance(x, tuple) and hasattr(x, "_fields"):
            return t(*[self.template(v) for v in x])
        return x

    # -- the hooks ------------------------------------------------------------------------------------------------
    def opaque(self, fn, args, kwargs):
        """Record an opaque call as one instruction (what it computes inside is not recorded)."""
        targs = self.template(tuple(args))
        tkwargs = self.template(kwargs) if kwargs else None
        self.inside += 1
        try:
            result = fn(*args, **kwargs)
        finally:
            self.inside -= 1
        if self.problem is not None:
            return result
        op = Opaque(fn)
        instr = Instr(op, None, None, targs, tkwargs, None, None, op.name)
        if self.notes:
            self._note(instr, op, args, kwargs)
        self._results(instr, op, args, result)
        return result

    def intercept(self, op, args, kwargs):
        if self.inside:
            return dispatch_route(op, args, kwargs)[0]
        line = None
        targs = self.template(args)
        tkwargs = self.template(kwargs) if kwargs else None
        watch = None
        if op.custom is not None or (kwargs and kwargs.get("out") is not None):
            watch = [(a, a._root if a._root is not None else a) for a in _leaves_of(list(args), [])]
            if kwargs:
                watch += [(a, a._root if a._root is not None else a) for a in _leaves_of(list(kwargs.values()), [])]
            watch = [(a, o, o._version) for a, o in watch]
        result, backend, impl = dispatch_route(op, args, kwargs)
        if self.problem is not None:
            return result
        instr = Instr(op, backend, impl, targs, tkwargs, None, line, describe(args, kwargs))
        if self.notes:
            self._note(instr, op, args, kwargs)
        if backend is not None and backend is not _NUMPY:
            instr.numpy_twin = numpy_twin(op, args, kwargs, result)
        if watch:
            writes = []
            for a, owner, version in watch:
                if owner._version != version:
                    key = self._visible_target(a, owner)
                    if key is not None and key not in writes:
                        writes.append(key)
            instr.writes = tuple(writes)
        self._results(instr, op, args, result)
        return result

    def _note(self, instr, op, args, kwargs):
        """What the mxnet engine needs: whether MXNet's implementation of the operator (from the operator
        table) takes this call, the dtype it computes in, and the shapes and dtypes of the array arguments."""
        meta = {}
        for a in _leaves_of(list(args), []) + (_leaves_of(list(kwargs.values()), []) if kwargs else []):
            s = self.slot_of.get(id(a))
            if s is not None:
                meta[s] = (tuple(a.shape), a.dtype)
        instr.argmeta = meta
        if op.name == "setitem" or op.kind in ("random", "opaque"):
            instr.mx = (None, None)  # the engine writes, and draws on NumPy's generator, itself
            return
        if op.custom is not None and op.name != "getitem":  # an operator with its own dispatch: it writes
            instr.mx = ("it writes into its arguments", None)
            return
        impl = op.impls.get("mxnet")
        if impl is None:
            instr.mx = ("MXNet has no implementation of it in the operator table", None)
            return
        nargs, arrays = _normalise(op, args)
        try:
            reason = _native_reason(op, _MXNET, impl, arrays, nargs, kwargs or {})
            dtypes = native_dtypes(op, nargs) if op.casting is not None and reason is None else None
        except Exception as exc:  # a predicate that cannot judge these arguments
            reason, dtypes = f"{type(exc).__name__}: {exc}", None
        instr.mx = (reason, dtypes[0] if dtypes else None)

    def _visible_target(self, a, owner):
        vis = self.visible.get(id(a)) or self.visible.get(id(owner))
        if vis is not None:
            return vis
        for obj in self.keep:
            if isinstance(obj, Array) and obj._root is owner:
                vis = self.visible.get(id(obj))
                if vis is not None:
                    return vis
        return None

    def _results(self, instr, op, args, result):
        t = type(result)
        guards = []
        if t is Array:
            instr.outs = self._result_ref(result, instr)
        elif result is None:
            instr.outs = None
        elif (t is tuple or t is list or (isinstance(result, tuple) and hasattr(result, "_fields"))) and all(
                type(r) is Array for r in result):
            refs = [self._result_ref(r, instr) for r in result]
            instr.outs = t(*refs) if hasattr(result, "_fields") else t(refs)
        else:  # a Python value (info operators, allclose...): the replay compares it
            instr.value = self.nslots
            self.nslots += 1
            instr.outs = None
            self.events.append(instr)
            self.events.append(Guard("value", instr.value, _copy_value(result)))
            return
        ndim0 = []
        shapes = {}
        dtypes = {}
        static = (op.kind in STATIC_KINDS and op.name not in DATA_SHAPED) or op.name == "setitem" or (
            op.name == "getitem" and basic_keys(args[1]) is not None)
        for r in (result,) if t is Array else (result if result is not None else ()):
            s = self.slot_of[id(r)]
            if r.ndim == 0:
                ndim0.append(s)
            shapes[s] = r.shape
            dtypes[s] = r.dtype
            if not static:
                guards.append(Guard("shape", s, r.shape))
        instr.ndim0 = tuple(ndim0)
        instr.shapes = shapes
        instr.dtypes = dtypes
        if self._foldable(instr) and all(type(r) is Array and r._backend is _NUMPY for r in
                                         ((result,) if t is Array else result)):
            instr.folded = {s: r._data for s, r in zip(shapes, (result,) if t is Array else result)}
            self.const.update(shapes)
        self.events.append(instr)
        self.events.extend(guards)

    def _foldable(self, instr):
        """Whether the call's results are constants: a deterministic NumPy kernel whose array arguments are
        constants too (or, for ``*_like``, read for their shape and dtype only). The compiler checks later that
        nothing writes or returns them (see minpy.jit.engines)."""
        op = instr.op
        if instr.backend is not _NUMPY or instr.impl is not None or instr.writes or op.custom is not None:
            return False
        if op.kind not in FOLDABLE_KINDS or op.name in DATA_SHAPED or op.float_default:
            return False
        refs = _refs(instr.args) + _refs(instr.kwargs)
        if op.name.endswith("_like") and instr.args and type(instr.args[0]) is Ref:
            refs = _refs(instr.args[1:]) + _refs(instr.kwargs)
        return all(r.slot in self.const for r in refs)

    def _result_ref(self, r, instr):
        s = self.slot_of.get(id(r))
        if s is None:
            s = self._new_slot(r)
        return Ref(s)

    def read(self, array, kind, value):
        if self.inside:
            return
        s = self.slot_for(array)
        if kind == "bool":
            self.events.append(Guard("bool", s, bool(value), user_line(3)))
        else:
            self.events.append(Guard("array", s, onp.array(value, copy=True), user_line(3)))

    # -- the result ---------------------------------------------------------------------------------------------------
    def output(self, value):
        t = type(value)
        if t is Array or isinstance(value, Array):
            vis = self.visible.get(id(value))
            if vis is not None:
                return Out("vis", vis)
            s = self.slot_for(value)
            root = value._root
            rootref = None
            if root is not None:
                rootref = self.visible.get(id(root))
                if rootref is not None:
                    rootref = ("vis", rootref)
                else:
                    for obj in self.keep:
                        if isinstance(obj, Array) and obj._root is root and id(obj) in self.visible:
                            rootref = ("vroot", self.visible[id(obj)])
                            break
                    else:
                        rs = self.slot_of.get(id(root))
                        rootref = ("slot", rs) if rs is not None else None
            return Out("new", s, rootref)
        if t is list or t is tuple:
            return t([self.output(v) for v in value])
        if t is dict:
            return {k: self.output(v) for k, v in value.items()}
        if isinstance(value, tuple) and hasattr(value, "_fields"):
            return t(*[self.output(v) for v in value])
        if t is Tracer:
            self.fail("the function returned a traced value of an outer gradient call")
            return None
        if isinstance(value, onp.ndarray):
            return Out("nd", onp.array(value, copy=True))
        return value


FOLDABLE_KINDS = frozenset(("ufunc", "reduction", "linalg", "shape", "creation"))
#: operator kinds whose call on another backend the replay may move to NumPy's own kernel (see numpy_twin)
TWIN_KINDS = frozenset(("ufunc", "reduction", "linalg", "shape"))


def numpy_twin(op, args, kwargs, result):
    """Whether NumPy's own kernel (``op.ref``) could have run this call that another backend ran, giving
    results of the same dtypes and ranks: then a replay may run it on NumPy instead (see
    ``minpy.jit.engines.reroute``). Checked by calling the kernel on arrays of one element per dimension with
    the arguments' dtypes and ranks (0-d arguments with their values: NumPy 1.x's value-based casting reads
    them), so it costs microseconds, at trace time only."""
    if op.ref is None or op.custom is not None or op.kind not in TWIN_KINDS or not op.wrap_result:
        return False
    results = (result,) if type(result) is Array else result
    if type(results) not in (tuple, list) or not all(type(r) is Array for r in results):
        return False

    def small(v):
        t = type(v)
        if t is Array or isinstance(v, Array):
            if v.ndim == 0:
                return onp.array(v._get(_NUMPY))
            return onp.zeros((1,) * v.ndim, v.dtype)
        if t is list or t is tuple:
            return t(small(x) for x in v)
        if t is dict:
            return {k: small(x) for k, x in v.items()}
        return v
    try:
        with onp.errstate(all="ignore"):
            got = op.ref(*small(tuple(args)), **(small(kwargs) if kwargs else {}))
    except Exception:
        return False
    got = (got,) if not isinstance(got, (tuple, list)) else got
    if len(got) != len(results):
        return False
    return all(onp.ndim(g) == r.ndim and onp.asarray(g).dtype == r.dtype for g, r in zip(got, results))


def _refs(t, out=None):
    """The Refs inside a template."""
    out = [] if out is None else out
    tt = type(t)
    if tt is Ref:
        out.append(t)
    elif tt in (list, tuple) or isinstance(t, tuple):
        for v in t:
            _refs(v, out)
    elif tt is dict:
        for v in t.values():
            _refs(v, out)
    elif tt is slice:
        _refs((t.start, t.stop, t.step), out)
    return out


def _copy_value(v):
    if isinstance(v, onp.ndarray):
        return onp.array(v, copy=True)
    return v


_LEAF_TYPES = (int, float, complex, bool, str, bytes, type(None))


def _children(path, value):
    t = type(value)
    if t in _LEAF_TYPES or isinstance(value, (type, type(sys))) or callable(value) and not hasattr(value, "__dict__"):
        return []
    if t is dict:
        return [(path + (("item", k),), v) for k, v in list(value.items())
                if type(k) in (str, int) and len(value) < 1000]
    if t is list or t is tuple:
        return [(path + (("item", i),), v) for i, v in enumerate(value)] if len(value) < 1000 else []
    if isinstance(value, (Array, onp.ndarray)) or type(value).__module__.startswith(("numpy", "mxnet")):
        return []
    closure = getattr(value, "__closure__", None)
    if closure:  # a function: what it closes over (grad(f) closes over f, f over its arrays)
        out = []
        for i, cell in enumerate(closure):
            try:
                out.append((path + (("closure", i),), cell.cell_contents))
            except ValueError:
                pass
        wrapped = getattr(value, "__wrapped__", None)
        if wrapped is not None:
            out.append((path + (("attr", "__wrapped__"),), wrapped))
        return out
    d = getattr(value, "__dict__", None)
    if type(d) is dict and not callable(value):
        return [(path + (("attr", k),), v) for k, v in list(d.items()) if type(k) is str]
    return []


def path_key(path):
    head = path[0]
    return ((head[0], id(head[1])) if head[0] in ("obj", "cell", "globals") else head,) + tuple(path[1:])


def resolve(path, args, kwargs):
    """Follow ``path`` (from :meth:`Recording._locate`) in the current call."""
    head = path[0]
    if head[0] == "arg":
        i = head[1]
        obj = args[i] if type(i) is int else kwargs[i]
    elif head[0] == "cell":
        obj = head[1].cell_contents
    else:
        obj = head[1]
    for step, key in path[1:]:
        obj = obj[key] if step == "item" else (obj.__closure__[key].cell_contents if step == "closure" else
                                               getattr(obj, key))
    return obj


def capture_intercept(rec):
    def intercept(op, args, kwargs):
        return rec.intercept(op, args, kwargs)
    return intercept


def install(rec):
    """Start recording this thread's operator calls, opaque calls and value reads into ``rec``."""
    hooks = (capture_intercept(rec), rec.read, rec.opaque)
    extend.push_interceptor(hooks[0])
    extend.push_reader(hooks[1])
    extend.push_opaque_recorder(hooks[2])
    return hooks


def uninstall(rec, hooks):
    extend.pop_opaque_recorder(hooks[2])
    extend.pop_reader(hooks[1])
    extend.pop_interceptor(hooks[0])


def numpy_only(rec):
    """Whether every slot's data lived on NumPy during the trace, as plain NumPy arrays (the condition for
    generated code over the data; other traces replay their routes with Arrays)."""
    return not rec.links and all(b is _NUMPY for b in rec.home.values())
