"""The ``mxnet`` engine: a recorded tree of paths as MXNet symbol graphs, each bound once to an executor.

Translation. A recorded call becomes symbols by running *the MXNet backend's own implementation of the
operator* (its spec in the operator table: ``np.add`` -> ``mx.sym.np.add``, ``npx.relu`` -> ``mx.sym.npx.relu``,
``adapter:sum`` -> the adapter of :mod:`minpy.backends.mxnet_ops`, run over symbols) on :class:`SymVal` values
(a symbol with its shape and dtype) - there is no second list of operators here. Whether MXNet's
implementation takes the call (dtypes, keywords, argument patterns) and the dtype it computes in are noted
while tracing, by the table's own predicates. A call MXNet does not implement, or not for those arguments,
makes the program ineligible for this engine, with the reason (and the line) in ``stats()``.

Graphs. Straight-line code between guards is one graph; the guards of a tree split it into graphs, one per
segment, each bound once per thread. A guard on the shape of a result is no split: the graph's shapes are
static and are checked against the recorded ones when the graph is built. Guards on values (``bool``,
``float``, ``asnumpy``...) read the graph's output on the host and pick the next segment, as in the replay
engine. Random operators are not graph nodes: they run between graphs on NumPy's generator, as eagerly (the same
numbers for the same seed), which splits the graph there.

Writes. ``a op= b`` and ``a[key] = v`` with basic keys become a new value of the slot in the graph (MXNet's
``_slice_assign`` for a part); writes into arrays the caller can see are copied back into them after the
graph ran (and undone on a guard miss, as by the replay engine). A write into a view, or a view made before a
write and read after it, would need NumPy's aliasing, which a graph does not have: such programs are
ineligible. Results are fresh arrays on the backend the traced result lived on; a result that is a view of an
argument is ineligible (its identity could not be kept).
"""
import os
import threading
import time
import types

import numpy as onp

from minpy.array import Array
from minpy.backends import mxnet_backend as _MX
from minpy.backends import numpy_backend as _NUMPY
from minpy.jit.engines import MISS, RETRACE, _array_key, _returned, live_captures, unread_opaque
from minpy.jit.program import Guard, Instr, Ref, Return
from minpy.jit.recorder import CaptureEvent, Out, _refs

#: the engine fell over at run time (MXNet raised): run this call on the replay engine instead
FALLBACK = object()

_FRESH = ("ufunc", "reduction", "linalg", "creation")  # kinds whose NumPy results never alias an argument


class Ineligible(Exception):
    """The program cannot run as MXNet graphs; the message says why (and where)."""


class _Recast(Exception):
    """Results whose MXNet dtype is not NumPy's: translate again with casts there."""

    def __init__(self, slots):
        super().__init__(slots)
        self.slots = set(slots)


# -- symbolic values --------------------------------------------------------------------------------------------
class SymVal:
    """A symbol with the shape and dtype of its value, standing for an MXNet array in the backend's
    implementations (which read ``.shape``/``.dtype`` and call array methods). Shapes and dtypes not known from
    the trace are inferred by MXNet when asked."""

    __slots__ = ("sym", "cx", "_shape", "_dtype")
    __array_priority__ = 1000.0

    def __init__(self, sym, cx, shape=None, dtype=None):
        self.sym = sym
        self.cx = cx
        self._shape = None if shape is None else tuple(shape)
        self._dtype = None if dtype is None else onp.dtype(dtype)

    def _infer(self):
        self._shape, self._dtype = self.cx.infer(self.sym)

    @property
    def shape(self):
        if self._shape is None:
            self._infer()
        return self._shape

    @property
    def dtype(self):
        if self._dtype is None:
            self._infer()
        return self._dtype

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(onp.prod(self.shape, dtype=onp.int64))

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        dtype = onp.dtype(dtype)
        if dtype == self.dtype and not copy:
            return self
        return SymVal(self.sym.astype(dtype), self.cx, self._shape, dtype)

    def reshape(self, *shape, **kwargs):
        shape = shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape
        return SymVal(self.sym.reshape(tuple(shape)), self.cx, None, self._dtype)

    def copy(self, order="K"):
        return SymVal(self.cx.mx.sym.np.copy(self.sym), self.cx, self._shape, self._dtype)

    def as_nd_ndarray(self):  # (the backend's implementations call MXNet's legacy operators through these)
        return SymVal(self.sym.as_nd_ndarray(), self.cx, self._shape, self._dtype)

    def as_np_ndarray(self):
        return SymVal(self.sym.as_np_ndarray(), self.cx, None, self._dtype)

    def __getitem__(self, key):
        return SymVal(self.sym[key], self.cx, None, self._dtype)

    def _op(self, name, other, reverse=False):
        fn = getattr(self.cx.mx.sym.np, name)
        o = other.sym if type(other) is SymVal else other
        return SymVal(fn(o, self.sym) if reverse else fn(self.sym, o), self.cx)

    def __add__(self, o): return self._op("add", o)
    def __radd__(self, o): return self._op("add", o, True)
    def __sub__(self, o): return self._op("subtract", o)
    def __rsub__(self, o): return self._op("subtract", o, True)
    def __mul__(self, o): return self._op("multiply", o)
    def __rmul__(self, o): return self._op("multiply", o, True)
    def __truediv__(self, o): return self._op("true_divide", o)
    def __rtruediv__(self, o): return self._op("true_divide", o, True)
    def __eq__(self, o): return self._op("equal", o)
    def __ne__(self, o): return self._op("not_equal", o)
    def __lt__(self, o): return self._op("less", o)
    def __le__(self, o): return self._op("less_equal", o)
    def __gt__(self, o): return self._op("greater", o)
    def __ge__(self, o): return self._op("greater_equal", o)
    def __neg__(self): return SymVal(self.cx.mx.sym.np.negative(self.sym), self.cx, self._shape, self._dtype)
    __hash__ = object.__hash__

    def __bool__(self):
        raise Ineligible("an MXNet implementation reads a value while building the graph")


def _unwrap(x):
    t = type(x)
    if t is SymVal:
        return x.sym
    if t is list or t is tuple:
        return t(_unwrap(v) for v in x)
    return x


class _Namespace:
    """``mx.sym.np`` (or ``npx``, ``linalg``...) taking and giving SymVals: what ``mx.np`` is to the backend's
    implementations, for symbols."""

    def __init__(self, base, cx):
        self._base = base
        self._cx = cx

    def __getattr__(self, name):
        if name == "ndarray":
            return SymVal
        attr = getattr(self._base, name)
        if isinstance(attr, types.ModuleType):
            return _Namespace(attr, self._cx)
        if not callable(attr):
            return attr
        cx = self._cx

        def call(*args, **kwargs):
            out = attr(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()})
            if isinstance(out, (list, tuple)):
                return [SymVal(o, cx) for o in out]
            return SymVal(out, cx)
        return call


class _Context:
    """What one program's translation shares: the symbol namespaces, the adapters rebound to them, the shapes
    and dtypes of the graph's variables (for inference) and its constants."""

    def __init__(self):
        self.mx = _MX.mx
        self.np = _Namespace(self.mx.sym.np, self)
        self.npx = _Namespace(self.mx.sym.npx, self)
        self.nd = _Namespace(self.mx.sym, self)
        self.shapes = {}
        self.dtypes = {}
        self.consts = {}     # variable name -> NumPy value bound once
        self._adapters = None
        self._names = 0

    def var(self, name, shape, dtype):
        self.shapes[name] = tuple(shape)
        self.dtypes[name] = onp.dtype(dtype)
        return SymVal(self.mx.sym.var(name).as_np_ndarray(), self, shape, dtype)

    def const(self, value):
        value = onp.array(value)
        name = f"k{self._names}"
        self._names += 1
        self.consts[name] = value
        return self.var(name, value.shape, value.dtype)

    def infer(self, sym):
        names = sym.list_arguments()
        shapes = {n: self.shapes[n] for n in names}
        dtypes = {n: self.dtypes[n] for n in names}
        _, out_shapes, _ = sym.infer_shape(**shapes)
        _, out_types, _ = sym.infer_type(**dtypes)
        return tuple(out_shapes[0]), onp.dtype(out_types[0])

    def resolve(self, spec):
        """The backend's implementation ``spec`` (see MXNetBackend.resolve) over symbols."""
        if callable(spec):
            raise Ineligible("its MXNet implementation is a Python function of MXNet arrays")
        if spec.startswith("adapter:"):
            return self.adapters()[spec[len("adapter:"):]]
        module, _, attr = spec.partition(".")
        root = {"np": self.np, "npx": self.npx, "nd": self.nd}[module]
        for part in attr.split("."):
            root = getattr(root, part)
        return root

    def adapters(self):
        """The functions of minpy.backends.mxnet_ops with ``mx.np``/``npx``/``nd`` bound to the symbol namespaces."""
        if self._adapters is None:
            from minpy.backends import mxnet_ops
            scope = dict(vars(mxnet_ops))
            scope["mnp"] = self.np
            scope["npx"] = self.npx
            scope["mnd"] = self.nd
            for name, fn in list(scope.items()):
                if isinstance(fn, types.FunctionType) and fn.__module__ == mxnet_ops.__name__:
                    scope[name] = types.FunctionType(fn.__code__, scope, name, fn.__defaults__, fn.__closure__)
            self._adapters = scope
        return self._adapters


# -- graphs -------------------------------------------------------------------------------------------------------
class Graph:
    """One bound unit: variables (slots read from outside, constants), outputs (slots read later), and writes
    back into the caller's arrays."""

    def __init__(self, symbol, inputs, consts, outputs, writebacks):
        self.symbol = symbol          # an mx.sym.Group
        self.inputs = inputs          # [(variable name, slot, shape, dtype)]
        self.consts = consts          # {variable name: NumPy value}
        self.outputs = outputs        # [(slot, output index)]
        self.writebacks = writebacks  # [(visible key, output index)]


class _Builder:
    """Symbols of one graph under construction."""

    def __init__(self, cx):
        self.cx = cx
        self.env = {}        # slot -> SymVal
        self.inputs = []     # (name, slot, shape, dtype)
        self.var_slot = {}   # variable name -> slot
        self.defined = []    # slots whose value the graph computes or rebinds, in order
        self.writes = {}     # visible key -> slot holding the written value
        self.checks = []     # (slot, MXNet's result, NumPy's shape, NumPy's dtype, the call) to verify

    def value(self, slot, meta):
        v = self.env.get(slot)
        if v is None:
            if meta is None:
                raise Ineligible(f"the shape of value s{slot} is not known")
            name = f"s{slot}"
            v = self.env[slot] = self.cx.var(name, *meta)
            self.inputs.append((name, slot, tuple(meta[0]), onp.dtype(meta[1])))
            self.var_slot[name] = slot
        return v

    def empty(self):
        return not self.defined and not self.writes


class Program:
    """A tree of paths compiled for the ``mxnet`` engine: ``run(inputs, args, kwargs)`` gives the result, MISS,
    RETRACE or FALLBACK."""

    engine = "mxnet"
    mode = "graphs"

    def __init__(self, root, captures, input_slots, home):
        if not _MX.available():
            raise Ineligible(f"MXNet is not available: {_MX.unavailable_reason()}")
        _MX.ensure_np_shape()
        # MXNet logs a line at every bind that uses its MKLDNN subgraphs; a program binds one executor per graph
        # and thread (set the variable to 1 to see them)
        os.environ.setdefault("MXNET_SUBGRAPH_VERBOSE", "0")
        self.captures = captures
        self.input_slots = input_slots
        self.home = home
        self.cx = _Context()
        self.meta = {}
        self.graphs = 0
        self._tls = threading.local()
        self.cap_slots = []
        self.unread = unread_opaque(root)
        self.root = self._segment(root)
        self.graphs = _count_graphs(self.root)

    # -- compiling ------------------------------------------------------------------------------------------------
    def _segment(self, seg):
        """A compiled segment: ``(units, end, guarded)``; units are Graphs and host instructions, ``end`` a
        Return template, or ``(guard, {key: compiled child})`` when ``guarded``."""
        chain = []
        while True:  # a guard on a shape is static in a graph: the segments it separates are one chain
            chain.extend(seg.instrs)
            end = seg.end
            if type(end) is Guard and end.kind == "shape" and len(seg.children) == 1:
                for ins in seg.instrs:
                    if type(ins) is Instr:
                        self._meta(ins)
                (key, child), = seg.children.items()
                if tuple(key) != tuple(self.meta.get(end.slot, (None,))[0] or ()):
                    raise Ineligible("a result's shape depends on the data")
                seg = child
                continue
            break
        if type(end) is Guard and end.kind in ("shape", "value"):
            raise Ineligible("an operator returns a Python value (a guard on it)" if end.kind == "value" else
                             "a result's shape depends on the data")
        tail = set()  # slots read after the chain: by the guard, the segments below, the result
        if type(end) is Return:
            self._check_output(end.template)
            _returned(end.template, tail)
        else:
            tail.add(end.slot)
            for child in seg.children.values():
                _reads_below(child, tail)
        reads = [set(r.slot for r in _refs(ins.args) + _refs(ins.kwargs)) if type(ins) is Instr else set()
                 for ins in chain]
        casts = set()  # slots whose MXNet result needs a cast to NumPy's dtype (found by a first attempt)
        while True:
            try:
                units = self._chain(chain, reads, tail, casts)
                break
            except _Recast as exc:
                if exc.slots <= casts:
                    raise Ineligible("MXNet's result dtypes differ from NumPy's after casting") from None
                casts |= exc.slots
        if type(end) is Return:
            return units, end.template, False
        children = {key: self._segment(child) for key, child in seg.children.items()}
        return units, (end, children), True

    def _chain(self, chain, reads, tail, casts):
        """The units of one chain of instructions (graphs between host steps)."""
        units = []
        b = _Builder(self.cx)
        views = {}     # slot -> the slot whose memory it may share (a NumPy view), for the write checks
        made_at = {}
        written = []   # (position, slot written)
        for i, ins in enumerate(chain):
            if type(ins) is CaptureEvent:
                cap = self.captures[ins.index]
                if cap.kind != "array":
                    raise Ineligible("a NumPy array captured by the function is passed to an operator")
                self.meta[ins.slot] = (cap.shape, cap.dtype)
                if (ins.slot, ins.index) not in self.cap_slots:
                    self.cap_slots.append((ins.slot, ins.index))
                continue
            self._meta(ins)
            if ins.op.kind in ("random", "opaque"):  # run between graphs
                self._flush(b, units, _after(reads, i, tail))
                b = _Builder(self.cx)
                units.append(ins)
                continue
            if ins.op.name == "setitem" and type(ins.args[0]) is Ref:
                written.append((i, ins.args[0].slot))
            self._translate(ins, b, views, made_at, i, casts)
        # a view made before a write to what it views, and read after the write, would see the new values in
        # NumPy and the old ones in a graph
        for w, target in written:
            for v, base in views.items():
                if base == target and made_at[v] < w and (v in tail or any(v in r for r in reads[w + 1:])):
                    raise Ineligible(f"value s{v} is a view of s{target} read after a write into s{target}")
        self._flush(b, units, tail)
        return units

    def _meta(self, ins):
        if ins.argmeta is None or ins.mx is None:
            raise Ineligible("traced without the mxnet engine's notes")
        for s, m in ins.argmeta.items():
            self.meta.setdefault(s, m)
        for s, shape in ins.shapes.items():
            self.meta[s] = (tuple(shape), ins.dtypes[s])

    def _translate(self, ins, b, views, made_at, order, casts):
        op = ins.op
        reason, compute = ins.mx
        where = f"minpy.numpy.{op.name}({ins.desc})"
        if ins.value is not None:
            raise Ineligible(f"{where} returns a Python value")
        value = None
        if type(ins.outs) is Ref and ins.folded and ins.outs.slot in ins.folded:
            value = ins.folded[ins.outs.slot]
        elif type(ins.outs) is Ref and op.kind == "creation" and not _refs(ins.args) + _refs(ins.kwargs):
            value = op.dispatch(ins.args, ins.kwargs or {})._get(_NUMPY)  # np.arange(c): made once, here
            if value.dtype != ins.dtypes[ins.outs.slot] or value.shape != tuple(ins.shapes[ins.outs.slot]):
                value = None
        if value is not None:
            # computed from constants only (np.arange(c), ones_like of a shape): a constant bound with the graph
            s = ins.outs.slot
            v = self.cx.const(value)
            b.env[s] = v
            b.defined.append(s)
            made_at[s] = order
            return
        if reason is not None:
            raise Ineligible(f"{where}: {reason}")
        if op.name == "setitem":
            self._setitem(ins, b, views)
            return
        if ins.writes:
            raise Ineligible(f"{where} writes into an argument")
        impl = op.impls["mxnet"]
        try:
            fn = self.cx.resolve(impl.spec)
            args = [self._fill(a, b, compute) for a in ins.args]
            kwargs = {}
            if ins.kwargs:
                for k, v in ins.kwargs.items():
                    if v is not None or k in impl.kwargs:
                        kwargs[k] = self._fill(v, b, compute)
            out = fn(*args, **kwargs)
        except Ineligible as exc:
            raise Ineligible(f"{where}: {exc}") from None
        except Exception as exc:
            raise Ineligible(f"{where}: its MXNet implementation does not build a graph "
                             f"({type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''})"
                             ) from None
        outs = ins.outs
        pairs = [(outs, out)] if type(outs) is Ref else list(zip(outs or (), out if isinstance(out, list) else [out]))
        for ref, val in pairs:
            if type(ref) is not Ref:
                continue
            s = ref.slot
            shape, dtype = tuple(ins.shapes[s]), onp.dtype(ins.dtypes[s])
            if type(val) is not SymVal:
                raise Ineligible(f"{where}: its MXNet implementation gives no array")
            # checked for the whole graph at once when it is closed (inference per call would cost the square of
            # the program's length); a result whose dtype is not NumPy's gets a cast on a second attempt
            b.checks.append((s, val.sym, shape, dtype, where))
            if s in casts:
                val = val.astype(dtype)
            b.env[s] = SymVal(val.sym, self.cx, shape, dtype)
            b.defined.append(s)
            made_at[s] = order
            if op.kind not in _FRESH:
                arrays = [r.slot for r in _refs(ins.args)]
                if len(arrays) == 1:
                    views[s] = views.get(arrays[0], arrays[0])

    def _fill(self, t, b, compute):
        tt = type(t)
        if tt is Ref:
            v = b.value(t.slot, self.meta.get(t.slot))
            if compute is not None and v.dtype != compute:
                v = v.astype(compute)
            return v
        if tt is list or tt is tuple:
            return tt(self._fill(x, b, compute) for x in t)
        if tt is dict:
            return {k: self._fill(x, b, compute) for k, x in t.items()}
        if tt is slice:
            if any(type(x) is Ref for x in (t.start, t.stop, t.step)):
                raise Ineligible("a slice bound is an array")
            return t
        if isinstance(t, (onp.ndarray, onp.generic)):
            return self.cx.const(t)
        if tt is float and compute is not None and compute == onp.float64:
            return self.cx.const(onp.float64(t))  # exact: MXNet parses scalar parameters from text
        return t

    def _setitem(self, ins, b, views):
        target, key, value = ins.args
        where = f"minpy.numpy.setitem({ins.desc})"
        if type(target) is not Ref or ins.kwargs:
            raise Ineligible(f"{where}: not a write into an array")
        s = target.slot
        if s in views:
            raise Ineligible(f"{where}: a write into a view (the graph has no aliasing)")
        t = b.value(s, self.meta.get(s))
        shape, dtype = t.shape, t.dtype
        region = _basic_region(key, shape)
        if region is None:
            raise Ineligible(f"{where}: a key that is not basic (ints, slices, Ellipsis)")
        begin, end, step, rshape, kept = region
        if type(value) is Ref:
            v = b.value(value.slot, self.meta.get(value.slot))
        elif type(value) in (int, float, bool) or isinstance(value, (onp.ndarray, onp.generic)):
            v = self.cx.const(onp.array(value, dtype=dtype))
        else:
            raise Ineligible(f"{where}: the value written is not an array or a scalar")
        if v.dtype != dtype:
            v = v.astype(dtype)
        np_ = self.cx.mx.sym.np
        kept_shape = tuple(n for n, k in zip(rshape, kept) if k)
        try:
            onp.broadcast_shapes(v.shape, kept_shape)
        except ValueError:
            raise Ineligible(f"{where}: the value's shape {v.shape} does not fit {kept_shape}") from None
        vs = v.sym
        if v.shape != kept_shape:
            vs = np_.broadcast_to(vs, kept_shape)
        if kept_shape != rshape:
            vs = vs.reshape(rshape)
        if rshape == shape and all(st == 1 for st in step):
            new = vs  # the whole array: the slot's new value is the value written
        else:
            lhs = t.sym.as_nd_ndarray()
            new = self.cx.mx.sym._internal._slice_assign(lhs, vs.as_nd_ndarray(), begin=begin, end=end,
                                                         step=step).as_np_ndarray()
        b.env[s] = SymVal(new, self.cx, shape, dtype)
        b.defined.append(s)
        for key_ in ins.writes:
            b.writes[key_] = s

    def _check_output(self, t):
        tt = type(t)
        if tt is Out:
            if t.kind == "new" and t.root is not None and t.root[0] != "slot":
                raise Ineligible("the function returns a view of an argument")
        elif tt in (list, tuple) or isinstance(t, tuple):
            for v in t:
                self._check_output(v)
        elif tt is dict:
            for v in t.values():
                self._check_output(v)

    def _verify(self, b):
        """MXNet's inferred shapes and dtypes of every translated result against the trace's (one inference over
        the whole graph)."""
        if not b.checks:
            return
        mx = self.cx.mx
        group = mx.sym.Group([c[1].as_nd_ndarray() for c in b.checks])
        args = group.list_arguments()
        try:
            _, shapes, _ = group.infer_shape(**{n: self.cx.shapes[n] for n in args})
            _, types, _ = group.infer_type(**{n: self.cx.dtypes[n] for n in args})
        except Exception as exc:
            raise Ineligible(f"MXNet cannot infer the graph's shapes ({str(exc).strip().splitlines()[0]})") from None
        recast = set()
        for (s, _, shape, dtype, where), got_shape, got_type in zip(b.checks, shapes, types):
            if tuple(got_shape) != shape:
                raise Ineligible(f"{where}: MXNet's result has shape {tuple(got_shape)}, NumPy's {shape}")
            if onp.dtype(got_type) != dtype:
                recast.add(s)
        if recast:
            raise _Recast(recast)

    def _flush(self, b, units, needed):
        """Close the graph in ``b``: its outputs are the slots it computes that are ``needed`` later (by a host
        step, a guard, a later segment or the result) and the values written into the caller's arrays."""
        if b.empty():
            return
        mx = self.cx.mx
        self._verify(b)
        outs = []
        outputs = []
        index = {}
        names = set(b.var_slot)
        seen = set()
        written = set(b.writes.values())
        for s in b.defined:
            if s in seen or (s not in needed and s not in written):
                continue
            seen.add(s)
            v = b.env[s]
            if v.sym.name in names and b.var_slot.get(v.sym.name) == s:
                continue  # rebound to itself: nothing computed
            key = id(v.sym)
            if key not in index:
                index[key] = len(outs)
                outs.append(v)
            outputs.append((s, index[key]))
        writebacks = []
        for vis, s in b.writes.items():
            writebacks.append((vis, dict(outputs)[s]))
        if not outs:
            return
        syms = []
        for v in outs:
            sym = v.sym
            if sym.name in names and not sym.get_children():
                sym = mx.sym.np.copy(sym)  # an output must be computed, not a variable
            syms.append(sym.as_nd_ndarray())
        group = mx.sym.Group(syms)
        # shapes and dtypes: MXNet's inference must give the recorded ones
        args = group.list_arguments()
        try:
            _, oshapes, _ = group.infer_shape(**{n: self.cx.shapes[n] for n in args})
            _, otypes, _ = group.infer_type(**{n: self.cx.dtypes[n] for n in args})
        except Exception as exc:
            raise Ineligible(f"MXNet cannot infer the graph's shapes ({str(exc).strip().splitlines()[0]})") from None
        for v, shp, typ in zip(outs, oshapes, otypes):
            if tuple(shp) != v.shape or onp.dtype(typ) != v.dtype:
                raise Ineligible(f"MXNet infers {tuple(shp)} {onp.dtype(typ)} where the trace had {v.shape} {v.dtype}")
        inputs = [i for i in b.inputs if i[0] in args]
        consts = {n: self.cx.consts[n] for n in args if n in self.cx.consts}
        units.append(Graph(group, inputs, consts, outputs, writebacks))

    # -- running --------------------------------------------------------------------------------------------------
    def _executor(self, graph):
        exes = self._tls.__dict__.get("exes")
        if exes is None:
            exes = self._tls.exes = {}
        exe = exes.get(id(graph))
        if exe is None:
            mx = self.cx.mx
            from minpy.context import current_context
            ctx = _MX.mx_context(current_context())
            args = {}
            for name, _, shape, dtype in graph.inputs:
                args[name] = mx.nd.zeros(shape, ctx=ctx, dtype=dtype)
            for name, value in graph.consts.items():
                args[name] = mx.nd.array(value, ctx=ctx, dtype=value.dtype)
            exe = graph.symbol.bind(ctx, args, grad_req="null")
            exes[id(graph)] = exe
        return exe

    def run(self, I, ARGS, KWARGS):
        caps = live_captures(self.captures, ARGS, KWARGS)
        if caps is None:
            return RETRACE
        env = {s: I[k] for k, s in enumerate(self.input_slots)}
        undo = []
        snapped = set()

        def vis(key):
            return I[key[1]] if key[0] == "input" else caps[key[1]]

        for slot, index in self.cap_slots:
            env[slot] = caps[index]
        try:
            _MX.ensure_np_shape()
            return self._run(self.root, env, vis, caps, undo, snapped)
        except self.cx.mx.base.MXNetError:
            for obj, data in reversed(undo):
                obj._assign_all(data, _NUMPY)
            return FALLBACK

    def _run(self, compiled, env, vis, caps, undo, snapped):
        while True:
            units, end, guarded = compiled
            last = units[-1] if units else None
            for unit in units:
                if type(unit) is Graph:
                    for key, i in unit.writebacks:
                        if vis(key)._root is not None:
                            # a view of another array (the graph has no aliasing): replayed instead, checked
                            # before anything is written so that the replay starts from the arguments as given
                            raise self.cx.mx.base.MXNetError("a write into a view")
                    exe = self._executor(unit)
                    arg = exe.arg_dict
                    for name, slot, _, _ in unit.inputs:
                        _copy_in(env[slot], arg[name])
                    exe.forward(is_train=False)
                    outs = exe.outputs
                    for slot, i in unit.outputs:
                        env[slot] = outs[i]
                    # a miss at a guard, or MXNet failing in a later graph, hands the call to another engine,
                    # which must find the arguments unwritten: keep what the writes overwrite
                    keep = guarded or unit is not last
                    for key, i in unit.writebacks:
                        obj = vis(key)
                        if keep and key not in snapped:
                            snapped.add(key)
                            undo.append((obj, onp.array(obj._get(_NUMPY))))
                        obj._assign_all(outs[i].as_np_ndarray(), _MX)
                        # later graphs read the written array itself
                        for slot, j in unit.outputs:
                            if j == i:
                                env[slot] = obj
                else:
                    self._host(unit, env, caps)
            if not guarded:
                return self._output(end, env, vis)
            guard, children = end
            value = _host_value(env[guard.slot])
            if guard.kind == "bool":
                key = bool(value)
            else:
                key = _array_key(value)
            child = children.get(key)
            if child is None:
                for obj, data in reversed(undo):
                    obj._assign_all(data, _NUMPY)
                return MISS
            compiled = child

    def _host(self, ins, env, caps):
        """A random draw on its recorded route (NumPy's generator), or an opaque call (a symbol Function's pass
        on its own executor), between graphs."""
        def fill(t):
            tt = type(t)
            if tt is Ref:
                v = env[t.slot]
                return v if isinstance(v, Array) else Array(v.as_np_ndarray(), _MX)
            if tt is list or tt is tuple:
                return tt(fill(x) for x in t)
            if tt is dict:
                return {k: fill(x) for k, x in t.items()}
            return t
        if id(ins) in self.unread:  # an opaque call none of whose results the program reads
            result = ins.op.dispatch(fill(ins.args), fill(ins.kwargs) if ins.kwargs else {}, True)
        else:
            result = ins.op.dispatch(fill(ins.args), fill(ins.kwargs) if ins.kwargs else {})
        if type(ins.outs) is Ref:
            env[ins.outs.slot] = result
        elif ins.outs is not None:
            for ref, r in zip(ins.outs, result):
                if type(ref) is Ref:
                    env[ref.slot] = r

    def _output(self, t, env, vis):
        tt = type(t)
        if tt is Out:
            if t.kind == "vis":
                return vis(t.ref)
            if t.kind == "nd":
                return t.ref.copy()
            v = env[t.ref]
            if isinstance(v, Array):
                return v
            if self.home.get(t.ref) is _NUMPY:
                return Array(v.asnumpy(), _NUMPY)
            return Array(v.copy().as_np_ndarray(), _MX)
        if tt is list or tt is tuple:
            return tt([self._output(v, env, vis) for v in t])
        if tt is dict:
            return {k: self._output(v, env, vis) for k, v in t.items()}
        if isinstance(t, tuple) and hasattr(t, "_fields"):
            return tt(*[self._output(v, env, vis) for v in t])
        return t


def _count_graphs(compiled):
    units, end, guarded = compiled
    n = sum(1 for u in units if type(u) is Graph)
    if guarded:
        n += sum(_count_graphs(child) for child in end[1].values())
    return n


def _after(reads, i, tail):
    out = set(tail)
    for r in reads[i:]:
        out |= r
    return out


def _reads_below(seg, out):
    """Every slot read in the subtree at ``seg``."""
    for ins in seg.instrs:
        if type(ins) is Instr:
            out.update(r.slot for r in _refs(ins.args) + _refs(ins.kwargs))
    if type(seg.end) is Return:
        _returned(seg.end.template, out)
    else:
        out.add(seg.end.slot)
        for child in seg.children.values():
            _reads_below(child, out)
    return out


def _copy_in(src, dst):
    """The value of ``src`` (an Array, or an executor's output) into the bound argument ``dst``."""
    if isinstance(src, Array):
        if src._backend is _NUMPY:
            dst[:] = src._data
        elif src._backend is _MX:
            src._data.as_nd_ndarray().copyto(dst)
        else:
            dst[:] = src._get(_NUMPY)
    else:
        src.copyto(dst)


def _host_value(v):
    if isinstance(v, Array):
        return v._get(_NUMPY)
    return v.asnumpy()


def _basic_region(key, shape):
    """``(begin, end, step, region shape, kept)`` of a basic key on an array of ``shape`` (``kept``: whether
    each axis survives, False for an integer index), or None for other keys."""
    keys = key if type(key) is tuple else (key,)
    if any(k is None for k in keys):
        return None
    if sum(k is Ellipsis for k in keys) > 1:
        return None
    if Ellipsis in keys:
        i = keys.index(Ellipsis)
        keys = keys[:i] + (slice(None),) * (len(shape) - len(keys) + 1) + keys[i + 1:]
    if len(keys) > len(shape):
        return None
    keys = keys + (slice(None),) * (len(shape) - len(keys))
    begin, end, step, rshape, kept = [], [], [], [], []
    for k, n in zip(keys, shape):
        if type(k) is int:
            i = k + n if k < 0 else k
            if not 0 <= i < n:
                return None
            begin.append(i), end.append(i + 1), step.append(1), rshape.append(1), kept.append(False)
        elif type(k) is slice:
            if not all(x is None or type(x) is int for x in (k.start, k.stop, k.step)):
                return None
            start, stop, st = k.indices(n)
            if st <= 0:
                return None
            count = len(range(start, stop, st))
            if count == 0:
                return None
            begin.append(start), end.append(start + (count - 1) * st + 1), step.append(st)
            rshape.append(count), kept.append(True)
        else:
            return None
    return tuple(begin), tuple(end), tuple(step), tuple(rshape), tuple(kept)


_floor = []


def overhead_floor():
    """``(base, per_array)`` seconds: what one bound graph costs at the least (the forward pass of one addition
    and reading its result) and what each further array copied in or out adds. A program the replay engine runs
    faster than ``base + per_array * (its arguments and results)`` cannot be faster as graphs, so ``auto`` does
    not try it there (measuring would run it on MXNet twice for nothing)."""
    if not _floor:
        mx = _MX.mx
        _MX.ensure_np_shape()
        a = mx.sym.var("a").as_np_ndarray()
        b = mx.sym.var("b").as_np_ndarray()
        one = mx.sym.Group([(a + 1.0).as_nd_ndarray()])
        two = mx.sym.Group([(a + 1.0).as_nd_ndarray(), (b + 1.0).as_nd_ndarray()])
        host = onp.zeros(1)
        timings = []
        for sym, names in ((one, ("a",)), (two, ("a", "b"))):
            exe = sym.bind(mx.cpu(), {n: mx.nd.zeros((1,), dtype="float64") for n in names}, grad_req="null")
            best = float("inf")
            for _ in range(20):
                t = time.perf_counter()
                for n in names:
                    exe.arg_dict[n][:] = host
                exe.forward(is_train=False)
                for o in exe.outputs:
                    o.asnumpy()
                best = min(best, time.perf_counter() - t)
            timings.append(best)
        base, both = timings
        _floor.append((base, max(both - base, 0.0) / 2))
    return _floor[0]


def copies(root, captures, input_slots):
    """How many arrays a program copies in and out at the least: its arguments, captured arrays and results."""
    out = set()
    for seg in _walk(root):
        if type(seg.end) is Return:
            _returned(seg.end.template, out)
    return len(input_slots) + len(captures) + len(out)


def _walk(seg):
    yield seg
    for child in seg.children.values():
        yield from _walk(child)


__all__ = ["Program", "Ineligible", "FALLBACK", "overhead_floor", "copies"]
