"""Engines: how a recorded tree of paths runs again.

``replay`` (:func:`compile_replay`): the tree becomes the source of one Python function, compiled once: a line
per recorded call that calls the kernel the trace ran (NumPy's own function, with the arrays' data: no
dispatch decision, no tape, no Array for intermediates), an ``if`` per guard with a branch per value seen, and
the return value built at each leaf. Calls with their own dispatch (indexing with array keys, writes into
arrays, ``out=``) call the operator's dispatch on temporary Arrays over the same data. After a write into an
array the caller can see, its write counter is bumped (``Array._wrote``), as eagerly. When a guard meets a
value not seen before, the function returns MISS: writes it had made into the caller's arrays are undone first
(snapshots are taken only for writes that a guard follows), so the eager rerun that finishes the call does not
apply them twice. Errors are re-raised as the eager operator raises them (naming the operator and the argument
shapes). Intermediates whose last use has passed and that are not returned lend their buffer to a later result
of the same shape and dtype (``out=`` of ufuncs), within one thread's run.
"""
import itertools
import math
import threading

import numpy as onp

from minpy.array import Array
from minpy.backends import numpy_backend as _NUMPY
from minpy.config import settings
from minpy.jit.program import Guard, Instr, Ref, Return, Segment, guard_key, value_key, walk
from minpy.jit.recorder import CaptureEvent, Out, _refs, resolve

MISS = object()      # a guard met a value no path has: finish eagerly and record the new path
RETRACE = object()   # a captured object moved (rebound, reshaped): trace this signature again

_NDARRAY = onp.ndarray
_names = itertools.count()


def _array_key(d):
    return (d.shape, d.dtype.str, d.tobytes())


def _wrap(d):
    return Array(d, _NUMPY)


def _unwrap(r):
    if type(r) is Array:
        return r._data if r._backend is _NUMPY else r._get(_NUMPY)
    return r


def _view(d, root):
    a = Array(d, _NUMPY)
    a._root = root._root if root._root is not None else root
    return a


def _undo(saved):
    for obj, data in reversed(saved):
        obj._data[...] = data
        obj._wrote()


class _Source:
    def __init__(self):
        self.lines = []
        self.ns = {"_nd": _NDARRAY, "_asarray": onp.asarray, "_MISS": MISS, "_RETRACE": RETRACE,
                   "_akey": _array_key, "_vkey": value_key, "_W": _wrap, "_U": _unwrap, "_A": _wrap,
                   "_V": _view, "_undo": _undo, "_NP": _NUMPY}
        self.linemap = {}

    def const(self, value, prefix="k"):
        name = f"{prefix}{next(_names)}"
        self.ns[name] = value
        return name

    def emit(self, indent, text, instr=None):
        self.lines.append("    " * indent + text)
        if instr is not None:
            self.linemap[len(self.lines)] = instr


def _expr(src, t, wrap=False):
    """Source for a template: Refs become slot variables (wrapped as Arrays when ``wrap``)."""
    tt = type(t)
    if tt is Ref:
        return f"_W(s{t.slot})" if wrap else f"s{t.slot}"
    if tt is list or tt is tuple:
        if not _has_ref(t):
            return src.const(t)
        inner = ", ".join(_expr(src, v, wrap) for v in t)
        return f"[{inner}]" if tt is list else f"({inner}{',' if len(t) == 1 else ''})"
    if tt is dict:
        if not _has_ref(t):
            return src.const(t)
        return "{" + ", ".join(f"{src.const(k)}: {_expr(src, v, wrap)}" for k, v in t.items()) + "}"
    if isinstance(t, tuple) and hasattr(t, "_fields"):
        if not _has_ref(t):
            return src.const(t)
        return f"{src.const(tt)}(" + ", ".join(_expr(src, v, wrap) for v in t) + ")"
    if tt is slice and _has_ref((t.start, t.stop, t.step)):
        return f"slice({_expr(src, t.start, wrap)}, {_expr(src, t.stop, wrap)}, {_expr(src, t.step, wrap)})"
    if t is None or tt is bool or tt is int:
        return repr(t)
    return src.const(t)


def _has_ref(t):
    tt = type(t)
    if tt is Ref:
        return True
    if tt in (list, tuple) or isinstance(t, tuple):
        return any(_has_ref(v) for v in t)
    if tt is dict:
        return any(_has_ref(v) for v in t.values())
    if tt is slice:
        return _has_ref((t.start, t.stop, t.step))
    return False


def _call_args(src, instr, wrap):
    parts = [_expr(src, a, wrap) for a in instr.args]
    if instr.kwargs:
        for k, v in instr.kwargs.items():
            if k.isidentifier():
                parts.append(f"{k}={_expr(src, v, wrap)}")
            else:
                parts.append(f"**{{{src.const(k)}: {_expr(src, v, wrap)}}}")
    return ", ".join(parts)


_FRESH_KINDS = ("ufunc", "reduction", "linalg")  # NumPy results of these never share an argument's memory
_PURE_KINDS = ("ufunc", "reduction", "shape", "creation")  # may be dropped when nothing reads their results
# products (kind linalg) never raise on values, unlike inv or cholesky: they may be dropped too
_PURE_PRODUCTS = frozenset(("dot", "tensordot", "matmul", "inner", "outer", "vdot", "kron", "einsum"))


def _out_slots(ins):
    outs = ins.outs
    if type(outs) is Ref:
        return [outs.slot]
    if outs is None:
        return []
    return [r.slot for r in outs if type(r) is Ref]


def live_captures(captures, args, kwargs):
    """The captured arrays, found again where they were found when traced; None where a place now holds
    another array or the array changed shape (the signature must trace again)."""
    found = []
    for cap in captures:
        try:
            obj = resolve(cap.path, args, kwargs)
        except Exception:
            return None
        if obj is not cap.obj or tuple(obj.shape) != cap.shape:
            return None
        found.append(obj)
    return found


def _in_slots(ins):
    refs = _refs(ins.args) + _refs(ins.kwargs)
    return [r.slot for r in refs]


def _returned(t, out):
    """Slots a result template hands to the caller (new Arrays and the roots they view)."""
    tt = type(t)
    if tt is Out:
        if t.kind == "new":
            out.add(t.ref)
            if t.root is not None and t.root[0] == "slot":
                out.add(t.root[1])
    elif tt in (list, tuple) or isinstance(t, tuple):
        for v in t:
            _returned(v, out)
    elif tt is dict:
        for v in t.values():
            _returned(v, out)
    return out


def _subtree_reads(seg, skip_own=False):
    """Slots read below ``seg`` (its guard, the segments under it, their results), and in ``seg``'s own
    instructions unless ``skip_own``."""
    out = set()
    if not skip_own:
        for ins in seg.instrs:
            if type(ins) is Instr:
                out.update(_in_slots(ins))
    if type(seg.end) is Return:
        _returned(seg.end.template, out)
    elif seg.end is not None:
        out.add(seg.end.slot)
        for child in seg.children.values():
            out |= _subtree_reads(child)
    return out


def analyse(root, fold=True):
    """Constant folding and dead-code elimination over the whole tree: ``(folded, dead, used)``. ``folded``
    maps slots to values computed at trace time that no replay needs to compute again (nothing writes them,
    returns them or passes them where they could be written); ``dead`` holds instructions whose results nothing
    reads and that have no effect (writes, random draws, errors a value can raise). ``fold=False``: no folding
    (the replay runs every call that is not dead)."""
    instrs = [ins for seg in walk(root) for ins in seg.instrs if type(ins) is Instr]
    returned = set()
    guarded = set()
    for seg in walk(root):
        if type(seg.end) is Return:
            _returned(seg.end.template, returned)
        elif seg.end is not None:
            guarded.add(seg.end.slot)
    folded = {}
    for ins in instrs:
        if ins.folded and fold:
            folded.update(ins.folded)
    while fold:
        # a folded call's array arguments must be folded too
        for ins in instrs:
            if ins.folded and any(s in folded for s in ins.folded):
                ins_refs = _refs(ins.args[1:] if ins.op.name.endswith("_like") else ins.args) + _refs(ins.kwargs)
                if any(r.slot not in folded for r in ins_refs) or not all(s in folded for s in ins.folded):
                    for s in ins.folded:
                        folded.pop(s, None)
        taint = {s: {s} for s in folded}
        bad = set()
        changed = True
        while changed:
            changed = False
            for ins in instrs:
                if ins.folded and all(s in folded for s in ins.folded):
                    continue
                origins = set()
                for s in _in_slots(ins):
                    origins |= taint.get(s, set())
                if not origins:
                    continue
                op = ins.op
                if op.name == "setitem":
                    target = _refs(ins.args[:1])
                    if target:
                        bad |= taint.get(target[0].slot, set())
                    continue
                if ins.writes or (ins.backend is None and op.name != "getitem"):
                    bad |= origins
                    continue
                if op.kind in _FRESH_KINDS and ins.backend is _NUMPY:
                    continue
                for s in _out_slots(ins):
                    now = taint.get(s, set())
                    if not origins <= now:
                        taint[s] = now | origins
                        changed = True
        for s in returned:
            bad |= taint.get(s, set())
        if not bad:
            break
        for s in bad:
            folded.pop(s, None)
    # dead code: results nothing reads, no effect
    dead = set()
    while True:
        used = set(returned) | guarded
        for ins in instrs:
            if id(ins) in dead:
                continue
            if ins.folded and all(s in folded for s in ins.folded):
                continue
            used.update(_in_slots(ins))
        more = False
        for ins in instrs:
            if id(ins) in dead or ins.writes or ins.value is not None:
                continue
            op = ins.op
            pure = ((op.kind in _PURE_KINDS or op.name in _PURE_PRODUCTS) and op.custom is None
                    and ins.backend is not None) or (
                op.name == "getitem" and not ins.kwargs)
            if pure and not any(s in used for s in _out_slots(ins)):
                dead.add(id(ins))
                more = True
        if not more:
            return folded, dead, used


def plan_buffers(root, folded, dead, used):
    """For a tree of one path: ``{slot: buffer index}`` and the buffers' (shape, dtype). Results of NumPy ufuncs
    whose readers are all NumPy kernels with fresh results (so no view of them outlives the call) and that are
    not returned get a buffer, kept by the thread between calls; a buffer whose slot is read for the last time
    serves a later result of the same shape and dtype."""
    seg = root
    order = []
    while True:
        order.extend(ins for ins in seg.instrs if type(ins) is Instr and id(ins) not in dead)
        if type(seg.end) is Return or len(seg.children) != 1:
            break
        seg = next(iter(seg.children.values()))
    if type(seg.end) is not Return:
        return {}, []
    returned = _returned(seg.end.template, set())
    guarded = set()
    s2 = root
    while type(s2.end) is not Return:
        guarded.add(s2.end.slot)
        s2 = next(iter(s2.children.values()))
    readers = {}
    last = {}
    for i, ins in enumerate(order):
        for s in _in_slots(ins):
            readers.setdefault(s, []).append(ins)
            last[s] = i
    candidates = set()
    for ins in order:
        ref = ins.op.ref
        if type(ins.outs) is not Ref:
            continue
        s = ins.outs.slot
        # np.dot writes into out= with the BLAS call it makes anyway (the same values): a training step's
        # weight gradient gets its memory back instead of new pages from the system at every call
        product = (ins.op.name == "dot" and ins.dtypes[s].kind in "fc" and len(ins.shapes[s]) >= 1)
        if ((isinstance(ref, onp.ufunc) and ref.nout == 1 or product) and ins.backend is _NUMPY
                and ins.impl is None and not ins.kwargs and ins.folded is None and not ins.writes):
            if s in returned or s in guarded or s in folded or s not in used:
                continue
            if all(r.op.kind in _FRESH_KINDS and r.backend is _NUMPY and r.op.custom is None
                   for r in readers.get(s, ())):
                candidates.add(s)
    assign = {}
    specs = []
    free = {}
    for i, ins in enumerate(order):
        # arguments read for the last time here free their buffers first: an elementwise result may take the
        # buffer of an argument of its own shape (NumPy allows an output that is exactly an input)
        for s in set(_in_slots(ins)):
            if last.get(s) == i and s in assign and ins.op.kind == "ufunc":
                free.setdefault(specs[assign[s]], []).append(assign[s])
        if type(ins.outs) is Ref and ins.outs.slot in candidates:
            s = ins.outs.slot
            spec = (tuple(ins.shapes[s]), ins.dtypes[s].str)
            pool = free.get(spec)
            if pool:
                assign[s] = pool.pop()
            else:
                specs.append(spec)
                assign[s] = len(specs) - 1
        for s in set(_in_slots(ins)):
            if last.get(s) == i and s in assign and ins.op.kind != "ufunc":
                free.setdefault(specs[assign[s]], []).append(assign[s])
        for s in _out_slots(ins):
            if s in assign and s not in last:  # written, never read
                free.setdefault(specs[assign[s]], []).append(assign[s])
    return assign, specs


def unread_opaque(root, used=None):
    """Opaque calls (ids) none of whose results the tree reads (see ``Opaque.dispatch``'s ``unread``);
    ``used``: the slots read, when :func:`analyse` already gave them."""
    if used is None:
        used = analyse(root, fold=False)[2]
    out = set()
    for seg in walk(root):
        for ins in seg.instrs:
            if (type(ins) is Instr and ins.op.kind == "opaque" and ins.value is None
                    and not any(s in used for s in _out_slots(ins))):
                out.add(id(ins))
    return out


def _read_counts(root):
    """How many times each slot is read in the tree (by calls, guards and results)."""
    counts = {}
    for seg in walk(root):
        for ins in seg.instrs:
            if type(ins) is Instr:
                for slot in _in_slots(ins):
                    counts[slot] = counts.get(slot, 0) + 1
        if type(seg.end) is Return:
            for slot in _returned(seg.end.template, set()):
                counts[slot] = counts.get(slot, 0) + 2
        elif seg.end is not None:
            counts[seg.end.slot] = counts.get(seg.end.slot, 0) + 2
    return counts


def reroute(root, home, links):
    """The tree with every call recorded on another backend (MXNet, CuPy) moved to NumPy's own kernel, for a
    trace whose arrays all start on NumPy: ``(tree, calls moved)``, or ``(None, why not)``. The moved tree
    compiles as a NumPy-only trace does (:class:`Compiled`); its results are those the only_numpy policy gives
    (the backends' own float differences aside). Moved: calls whose kernel NumPy has and gives results of the
    same dtypes and ranks (``Instr.numpy_twin``, checked while tracing). Not moved, so the tree is not
    rerouted: opaque calls (a symbol Function's passes), calls with no NumPy twin, arrays that come in (as
    arguments or captured) on another backend, views MXNet had to copy."""
    if links:
        return None, "a view MXNet had to copy"
    produced = set()
    moved = 0
    segs = list(walk(root))
    for seg in segs:
        for ins in seg.instrs:
            if type(ins) is not Instr:
                continue
            if ins.op.kind == "opaque":
                return None, f"an opaque call ({ins.op.name})"
            if ins.backend is not None and ins.backend is not _NUMPY:
                if not ins.numpy_twin or ins.value is not None:
                    return None, f"{ins.op.name}({ins.desc}) on {ins.backend.name} has no NumPy twin"
                moved += 1
            produced.update(_out_slots(ins))
    if not moved:
        return None, "no call ran on another backend"
    for slot, backend in home.items():
        if backend is not _NUMPY and slot not in produced:
            return None, f"an array that comes in on {backend.name}"

    def copy(seg):
        instrs = []
        for ins in seg.instrs:
            if type(ins) is Instr and ins.backend is not None and ins.backend is not _NUMPY:
                twin = Instr(ins.op, _NUMPY, None, ins.args, ins.kwargs, ins.outs, ins.line, ins.desc)
                for name in ("writes", "ndim0", "value", "shapes", "dtypes", "mx", "argmeta"):
                    setattr(twin, name, getattr(ins, name))
                ins = twin
            instrs.append(ins)
        new = Segment(instrs, seg.end)
        new.children = {k: copy(c) for k, c in seg.children.items()}
        return new
    return copy(root), moved


class Compiled:
    """A tree of paths compiled for the ``replay`` engine: ``run(inputs, args, kwargs)`` gives the result, MISS
    or RETRACE."""

    engine = "replay"
    mode = "compiled"

    def __init__(self, root, captures, input_slots):
        self.root = root
        self.captures = captures
        src = _Source()
        self._src = src
        self._tls = threading.local()
        src.emit(0, "def _run(I, ARGS, KWARGS):")
        # captured objects first: each must still be where it was found, with its shape and dtype
        for j, cap in enumerate(captures):
            expr = _path_expr(src, cap.path)
            src.emit(1, "try:")
            src.emit(2, f"c{j} = {expr}")
            src.emit(1, "except Exception:")
            src.emit(2, "return _RETRACE")
            obj = src.const(cap.obj)
            if cap.kind == "array":
                src.emit(1, f"if c{j} is not {obj} or c{j}._backend is not _NP or c{j}._data.shape != "
                            f"{src.const(cap.shape)}:")
            else:
                src.emit(1, f"if c{j} is not {obj} or c{j}.shape != {src.const(cap.shape)}:")
            src.emit(2, "return _RETRACE")
        for k, s in enumerate(input_slots):
            src.emit(1, f"s{s} = I[{k}]._data")
        self.folded, self.dead, self.used = analyse(root)
        self.reads = _read_counts(root)
        self.unread = unread_opaque(root, self.used)
        self.buffers, specs = plan_buffers(root, self.folded, self.dead, self.used)
        if specs:
            src.ns["_T"] = self._tls
            src.ns["_alloc"] = lambda: [onp.empty(shape, dtype) for shape, dtype in specs]
            src.emit(1, "_b = _T.__dict__.get('b')")
            src.emit(1, "if _b is None:")
            src.emit(2, "_b = _T.b = _alloc()")
        src.emit(1, "_u = []")
        src.emit(1, "try:")
        self._segment(root, 2, frozenset(), set())
        src.emit(1, "except BaseException as _e:")
        src.emit(2, "raise _fail(_e)")
        src.ns["_fail"] = self._fail
        code = "\n".join(src.lines)
        self.source = code
        compiled = compile(code, f"<minpy.jit program {next(_names)}>", "exec")
        self._code_name = compiled.co_filename
        exec(compiled, src.ns)
        self.run = src.ns["_run"]

    # -- code for a segment and what follows it ---------------------------------------------------------------------
    def _segment(self, seg, ind, snapped, defined):
        src = self._src
        defined = set(defined)
        guarded_after = type(seg.end) is Guard
        # the last read of each slot in this segment, for slots nothing after the segment reads: the variable is
        # let go there, so that intermediates are freed as the computation goes (as eagerly), not at the return
        later = _subtree_reads(seg, skip_own=True)
        last = {}
        for i, ins in enumerate(seg.instrs):
            if type(ins) is Instr:
                for slot in _in_slots(ins) + _out_slots(ins):
                    if slot not in later:
                        last[slot] = i
        release = {}
        for slot, i in last.items():
            release.setdefault(i, []).append(slot)
        fused = self._fusions(seg)
        for i, ins in enumerate(seg.instrs):
            if i - 1 in fused:  # this write-back was done by the call before it
                if i in release:
                    src.emit(ind, " = ".join(f"s{slot}" for slot in sorted(release[i])) + " = None")
                continue
            if type(ins) is CaptureEvent:
                cap = self.captures[ins.index]
                src.emit(ind, f"s{ins.slot} = c{ins.index}._data" if cap.kind == "array" else
                         f"s{ins.slot} = c{ins.index}")
                defined.add(ins.slot)
                continue
            if ins.writes and guarded_after:
                for key in ins.writes:
                    if key not in snapped:
                        obj = self._vis(key)
                        src.emit(ind, f"_u.append(({obj}, {obj}._data.copy()))")
                        snapped = snapped | {key}
            if i in fused:
                self._fused(ins, seg.instrs[i + 1], ind, guarded_after, snapped)
                snapped = snapped | set(seg.instrs[i + 1].writes if guarded_after else ())
            else:
                self._instr(ins, ind)
            if i in release:
                src.emit(ind, " = ".join(f"s{slot}" for slot in sorted(release[i])) + " = None")
        end = seg.end
        if type(end) is Return:
            src.emit(ind, f"return {self._output(end.template, ind)}")
            return
        # a guard: compute the value's key, one branch per child
        g = end
        if g.kind == "bool":
            src.emit(ind, f"_g = bool(s{g.slot})")
        elif g.kind == "array":
            src.emit(ind, f"_g = _akey(s{g.slot})")
        elif g.kind == "shape":
            src.emit(ind, f"_g = s{g.slot}.shape")
        else:
            src.emit(ind, f"_g = _vkey(s{g.slot})")
        if len(seg.children) == 1:  # one value seen: check it and go on at this level
            (key, child), = seg.children.items()
            src.emit(ind, f"if _g != {src.const(key)}:")
            if snapped:
                src.emit(ind + 1, "_undo(_u)")
            src.emit(ind + 1, "return _MISS")
            self._segment(child, ind, snapped, defined)
            return
        first = True
        for key, child in seg.children.items():
            src.emit(ind, f"{'if' if first else 'elif'} _g == {src.const(key)}:")
            first = False
            self._segment(child, ind + 1, snapped, defined)
        src.emit(ind, "else:")
        if snapped:
            src.emit(ind + 1, "_undo(_u)")
        src.emit(ind + 1, "return _MISS")

    def _fusions(self, seg):
        """Indices of calls ``t = ufunc(...)`` followed by the write-back ``a[...] = t`` of ``a op= b`` (or of
        ``a[...] = f(...)``), where nothing else reads ``t``: they become ``ufunc(..., out=a)`` (when ``a``
        has the result's shape and dtype at run time; otherwise the two lines run as recorded). Bit for bit the
        same values, without the result's allocation and the copy."""
        fused = set()
        instrs = seg.instrs
        for i in range(len(instrs) - 1):
            ins, nxt = instrs[i], instrs[i + 1]
            if type(ins) is not Instr or type(nxt) is not Instr or id(ins) in self.dead:
                continue
            ref = ins.op.ref
            if not (isinstance(ref, onp.ufunc) and ref.nout == 1 and ins.backend is _NUMPY and ins.impl is None
                    and not ins.kwargs and type(ins.outs) is Ref and not ins.folded and not ins.writes
                    and ins.outs.slot not in self.buffers):
                continue
            if nxt.op.name != "setitem" or nxt.kwargs or nxt.backend is not None or len(nxt.args) != 3:
                continue
            a, key, value = nxt.args
            if (type(a) is Ref and key is Ellipsis and type(value) is Ref and value.slot == ins.outs.slot
                    and self.reads.get(value.slot) == 1 and a.slot != value.slot):
                fused.add(i)
        return fused

    def _fused(self, ins, write, ind, guarded_after, snapped):
        src = self._src
        if guarded_after:
            for key in write.writes:
                if key not in snapped:
                    obj = self._vis(key)
                    src.emit(ind, f"_u.append(({obj}, {obj}._data.copy()))")
        target = f"s{write.args[0].slot}"
        out = ins.outs.slot
        fn = src.const(ins.op.ref, "f")
        args = _call_args(src, ins, False)
        src.emit(ind, f"if {target}.shape == {src.const(tuple(ins.shapes[out]))} and "
                      f"{target}.dtype == {src.const(ins.dtypes[out])}:")
        src.emit(ind + 1, f"{fn}({args}, out={target})", ins)
        src.emit(ind, "else:")
        src.emit(ind + 1, f"s{out} = {fn}({args})", ins)
        src.emit(ind + 1, f"{target}[...] = s{out}", write)
        for key in write.writes:
            src.emit(ind, f"{self._vis(key)}._wrote()")

    def _vis(self, key):
        kind, k = key
        return f"I[{k}]" if kind == "input" else f"c{k}"

    def _instr(self, ins, ind):
        src = self._src
        op = ins.op
        if id(ins) in self.dead:
            return
        if ins.folded and all(s in self.folded for s in ins.folded):
            for s in ins.folded:
                if s in self.used:
                    src.emit(ind, f"s{s} = {src.const(self.folded[s])}")
            return
        if ins.value is not None:
            target = f"s{ins.value}"
        elif type(ins.outs) is Ref:
            target = f"s{ins.outs.slot}"
        elif ins.outs is None:
            target = None
        else:
            target = "_r"
        generic = ins.backend is None or ins.impl is not None or (
            op.float_default and settings.default_float is not None)
        if op.name == "getitem" and not ins.kwargs:
            call = f"{_expr(src, ins.args[0])}[{_expr(src, ins.args[1])}]"
            src.emit(ind, f"{target} = {call}", ins)
        elif op.name == "setitem" and not ins.kwargs:
            a, key, value = ins.args
            src.emit(ind, f"{_expr(src, a)}[{_expr(src, key)}] = {_expr(src, value)}", ins)
        elif generic:
            fn = src.const(op)
            positional = _call_args(src, _Positional(ins), True)
            call = (f"{fn}.dispatch(({positional + ',' if positional else ''}), {{{_kw_dict(src, ins)}}}"
                    f"{', True' if id(ins) in self.unread else ''})")
            if target is None:
                src.emit(ind, call, ins)
            else:
                src.emit(ind, f"{target} = {call}", ins)
                if target.startswith("s") and ins.value is None:
                    src.emit(ind, f"{target} = _U({target})")
                elif target == "_r":
                    src.emit(ind, "_r = [_U(x) for x in _r]")
        else:
            fn = src.const(op.ref, "f")
            args = _call_args(src, ins, False)
            if type(ins.outs) is Ref and ins.outs.slot in self.buffers:
                args += f", out=_b[{self.buffers[ins.outs.slot]}]"
            call = f"{fn}({args})"
            src.emit(ind, call if target is None else f"{target} = {call}", ins)
        if target == "_r":
            for i, ref in enumerate(ins.outs):
                if type(ref) is Ref:
                    src.emit(ind, f"s{ref.slot} = _r[{i}]")
        for s in ins.ndim0:
            src.emit(ind, f"if type(s{s}) is not _nd: s{s} = _asarray(s{s})")
        for key in ins.writes:
            src.emit(ind, f"{self._vis(key)}._wrote()")

    def _output(self, t, ind):
        src = self._src
        tt = type(t)
        if tt is Out:
            if t.kind == "vis":
                return self._vis(t.ref)
            if t.kind == "nd":
                return f"{src.const(t.ref)}.copy()"
            var = f"o{t.ref}"
            if t.root is None:
                src.emit(ind, f"{var} = _A(s{t.ref})")
            elif t.root[0] == "vis":
                src.emit(ind, f"{var} = _V(s{t.ref}, {self._vis(t.root[1])})")
            elif t.root[0] == "vroot":
                src.emit(ind, f"{var} = _V(s{t.ref}, {self._vis(t.root[1])})")
            else:
                rs = t.root[1]
                src.emit(ind, f"{var} = _V(s{t.ref}, _A(s{rs}))" if rs != t.ref else f"{var} = _A(s{t.ref})")
            return var
        if tt is list:
            return "[" + ", ".join(self._output(v, ind) for v in t) + "]"
        if tt is tuple:
            items = [self._output(v, ind) for v in t]
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        if tt is dict:
            return "{" + ", ".join(f"{src.const(k)}: {self._output(v, ind)}" for k, v in t.items()) + "}"
        if isinstance(t, tuple) and hasattr(t, "_fields"):
            return f"{src.const(tt)}(" + ", ".join(self._output(v, ind) for v in t) + ")"
        if t is None or tt is bool or tt is int:
            return repr(t)
        return src.const(t)

    # -- errors -----------------------------------------------------------------------------------------------------
    def _fail(self, exc):
        tb = exc.__traceback__
        instr = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self._code_name:
                instr = self._src.linemap.get(tb.tb_lineno)
            tb = tb.tb_next
        if instr is None or (instr.backend is None and instr.op.name not in ("getitem", "setitem")):
            return exc  # raised by an operator's own dispatch: already as eagerly
        message = f"minpy.numpy.{instr.op.name}({instr.desc}): {exc}"
        try:
            new = type(exc)(message)
        except Exception:
            exc.add_note(message)
            return exc
        return new.with_traceback(exc.__traceback__)


class _Positional:
    """An instruction seen as its positional arguments only (keywords are passed as a dict)."""

    def __init__(self, ins):
        self.args = ins.args
        self.kwargs = None


def _kw_dict(src, ins):
    if not ins.kwargs:
        return ""
    return ", ".join(f"{src.const(k)}: {_expr(src, v, True)}" for k, v in ins.kwargs.items())


def _path_expr(src, path):
    head = path[0]
    if head[0] == "arg":
        i = head[1]
        expr = f"ARGS[{i}]" if type(i) is int else f"KWARGS[{src.const(i)}]"
    elif head[0] == "cell":
        expr = f"{src.const(head[1])}.cell_contents"
    else:
        expr = src.const(head[1])
    for step, key in path[1:]:
        if step == "item":
            expr = f"{expr}[{repr(key) if type(key) in (int, str) else src.const(key)}]"
        elif step == "closure":
            expr = f"{expr}.__closure__[{key}].cell_contents"
        else:
            expr = f"{expr}.{key}" if key.isidentifier() else f"getattr({expr}, {src.const(key)})"
    return expr


class Boxed:
    """The ``replay`` engine for traces whose arrays live on other backends (MXNet, CuPy) or include views MXNet
    had to copy: the tree is walked with Arrays in the slots, each call run on its recorded route (the backend's
    kernel through the dispatcher's runner, NumPy's, or the operator's own dispatch for indexing and writes),
    with no policy decision, no tape and no interceptor. Guards, undo on a miss and the result are as in
    :class:`Compiled`."""

    engine = "replay"
    mode = "arrays"

    def __init__(self, root, captures, input_slots):
        self.root = root
        self.captures = captures
        self.input_slots = input_slots
        # calls whose results nothing reads and that have no effect are skipped (a trace made while the auto
        # policy measured a layer on both backends holds both; only the one whose result is used runs)
        _, self.dead, used = analyse(root, fold=False)
        self.unread = unread_opaque(root, used)

    def run(self, I, ARGS, KWARGS):
        from minpy.context import current_context
        from minpy.ops.operator import _after_native_error, _normalise, _run_native, _run_numpy

        caps = live_captures(self.captures, ARGS, KWARGS)
        if caps is None:
            return RETRACE
        env = {s: I[k] for k, s in enumerate(self.input_slots)}
        visible = {}
        undo = []
        snapped = set()
        ctx = current_context()
        seg = self.root
        dead = self.dead

        def fill(t):
            tt = type(t)
            if tt is Ref:
                return env[t.slot]
            if tt is list or tt is tuple:
                return tt([fill(v) for v in t])
            if tt is dict:
                return {k: fill(v) for k, v in t.items()}
            if tt is slice:
                return slice(fill(t.start), fill(t.stop), fill(t.step))
            if isinstance(t, tuple) and hasattr(t, "_fields"):
                return tt(*[fill(v) for v in t])
            return t

        def vis(key):
            return I[key[1]] if key[0] == "input" else caps[key[1]]

        while True:
            guarded_after = type(seg.end) is Guard
            for ins in seg.instrs:
                if type(ins) is CaptureEvent:
                    obj = caps[ins.index]
                    env[ins.slot] = obj
                    continue
                if id(ins) in dead:
                    continue
                if ins.writes and guarded_after:
                    for key in ins.writes:
                        if key not in snapped:
                            snapped.add(key)
                            obj = vis(key)
                            undo.append((obj, onp.array(obj._get(_NUMPY))))
                op = ins.op
                args = fill(ins.args)
                kwargs = fill(ins.kwargs) if ins.kwargs else {}
                if ins.backend is None:
                    result = op.dispatch(args, kwargs, True) if id(ins) in self.unread else op.dispatch(args, kwargs)
                elif ins.impl is None:
                    result = _run_numpy(op, args, kwargs)
                else:
                    args, arrays = _normalise(op, args)
                    try:
                        result = _run_native(op, ins.backend, ins.impl, args, kwargs, arrays, ctx)
                    except Exception as exc:
                        result = _after_native_error(op, ins.backend, exc, args, kwargs)
                if ins.value is not None:
                    env[ins.value] = result
                elif type(ins.outs) is Ref:
                    env[ins.outs.slot] = result
                elif ins.outs is not None:
                    for ref, r in zip(ins.outs, result):
                        if type(ref) is Ref:
                            env[ref.slot] = r
            end = seg.end
            if type(end) is Return:
                return self._output(end.template, env, vis)
            value = env[end.slot]
            if end.kind == "bool":
                key = bool(value._get(_NUMPY))
            elif end.kind == "array":
                key = _array_key(value._get(_NUMPY))
            elif end.kind == "shape":
                key = tuple(value.shape)
            else:
                key = value_key(value)
            child = seg.children.get(key)
            if child is None:
                for obj, data in reversed(undo):
                    obj._assign_all(data, _NUMPY)
                return MISS
            seg = child

    def _output(self, t, env, vis):
        tt = type(t)
        if tt is Out:
            if t.kind == "vis":
                return vis(t.ref)
            if t.kind == "nd":
                return t.ref.copy()
            return env[t.ref]
        if tt is list or tt is tuple:
            return tt([self._output(v, env, vis) for v in t])
        if tt is dict:
            return {k: self._output(v, env, vis) for k, v in t.items()}
        if isinstance(t, tuple) and hasattr(t, "_fields"):
            return tt(*[self._output(v, env, vis) for v in t])
        return t


__all__ = ["Compiled", "Boxed", "MISS", "RETRACE"]
_ = (math, Instr, guard_key)  # re-exported for engines added later
