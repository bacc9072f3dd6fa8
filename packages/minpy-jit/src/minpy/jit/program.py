"""Programs: what a trace records, and the tree of paths that several traces of one signature make.

A trace records *events* in the order the function produced them:

* :class:`Instr` - one operator call: the operator, the route it ran on (backend and implementation), its
  arguments as a *template* (constants, and :class:`Ref` for the value slots arrays live in), the slots of its
  results, and the arrays visible to the caller it wrote;
* :class:`Guard` - a value Python read (``bool``, ``float``, ``asnumpy``...), an operator result that is a Python
  value, or the shape of a result whose shape depends on data: the value seen, which a replay compares.

Given the same signature (shapes, dtypes, static arguments...) and the same values at every guard, a function
makes the same calls: its Python code sees nothing else (what it could see otherwise is documented as baked in,
as JAX does). So the traces of one signature form a tree: a :class:`Segment` of instructions ends in a guard
whose children are keyed by the value seen, or in a :class:`Return`. :func:`merge` adds a trace to the tree.
"""
import math

import numpy as onp


class Ref:
    """A value slot inside a template."""

    __slots__ = ("slot",)

    def __init__(self, slot):
        self.slot = slot

    def __eq__(self, other):
        return type(other) is Ref and other.slot == self.slot

    def __hash__(self):
        return hash(("ref", self.slot))

    def __repr__(self):
        return f"s{self.slot}"


class Instr:
    """One recorded operator call.

    ``backend``/``impl``: where it ran (``impl`` None: NumPy's ``op.ref``; ``backend`` None: the operator's own
    dispatch - indexing, writes, ``out=`` - which the replay calls again). ``outs``: a template of the result
    (a Ref, a tuple/list of Refs, None) or None with ``value`` set when the result is a Python value (then a
    guard follows). ``writes``: how to reach each caller-visible array the call wrote (see
    :class:`Recording`). ``ndim0``: slots whose value is 0-d (NumPy may give a scalar there).
    """

    __slots__ = ("op", "backend", "impl", "args", "kwargs", "outs", "writes", "line", "desc", "ndim0",
                 "value", "shapes", "dtypes", "folded", "mx", "argmeta", "numpy_twin")

    def __init__(self, op, backend, impl, args, kwargs, outs, line, desc):
        self.op = op
        self.backend = backend
        self.impl = impl
        self.args = args
        self.kwargs = kwargs
        self.outs = outs
        self.writes = ()
        self.line = line
        self.desc = desc
        self.ndim0 = ()
        self.value = None
        self.shapes = {}
        self.dtypes = {}
        self.folded = None   # {slot: value at trace time} when the result is a constant of the program
        # for the mxnet engine (set while tracing when it may run): ``mx`` is (why MXNet cannot run this call
        # or None, the dtype MXNet computes an elementwise call in or None); ``argmeta`` {slot: (shape, dtype)}
        # of the array arguments
        self.mx = None
        self.argmeta = None
        # for a call another backend ran: whether NumPy's kernel gives results of the same dtypes and ranks
        # (minpy.jit.recorder.numpy_twin), so that a replay may run it on NumPy
        self.numpy_twin = False

    def same_as(self, other):
        return (type(other) is Instr and other.op is self.op and other.backend is self.backend
                and other.impl is self.impl and same_template(self.args, other.args)
                and same_template(self.kwargs, other.kwargs) and same_template(self.outs, other.outs))

    def __repr__(self):
        return f"<{self.op.name} {self.args!r} -> {self.outs!r}>"


class Guard:
    """A value the traced run saw: ``kind`` is ``bool`` (truth value of slot ``slot``), ``array`` (the whole
    value of slot ``slot``), ``value`` (the Python value an operator returned, in pseudo-slot ``slot``) or
    ``shape`` (the shape of slot ``slot``)."""

    __slots__ = ("kind", "slot", "value", "line")

    def __init__(self, kind, slot, value, line=None):
        self.kind = kind
        self.slot = slot
        self.value = value
        self.line = line

    def key(self):
        return guard_key(self.kind, self.value)

    def __repr__(self):
        return f"<guard {self.kind} s{self.slot}>"


def guard_key(kind, value):
    """A hashable key that tells values apart exactly (NaN equals NaN, -0.0 differs from 0.0)."""
    if kind == "bool":
        return bool(value)
    if kind == "array":
        return (value.shape, value.dtype.str, value.tobytes())
    if kind == "shape":
        return tuple(value)
    return value_key(value)


def value_key(value):
    t = type(value)
    if t is float:
        return (float, value.hex())
    if t is complex:
        return (complex, value.real.hex(), value.imag.hex())
    if t in (list, tuple):
        return (t, tuple(value_key(v) for v in value))
    if t is dict:
        return (dict, tuple((k, value_key(v)) for k, v in value.items()))
    if isinstance(value, onp.ndarray):
        return ("ndarray", value.shape, value.dtype.str, value.tobytes())
    if isinstance(value, onp.generic):
        return ("generic", value.dtype.str, value.tobytes())
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return (t, value)


class Return:
    """The end of a path: ``template`` rebuilds the function's result (see ``Recording.output``)."""

    __slots__ = ("template",)

    def __init__(self, template):
        self.template = template


class Segment:
    """Instructions, then ``end``: a :class:`Guard` with ``children`` (value key -> Segment) or a Return."""

    __slots__ = ("instrs", "end", "children")

    def __init__(self, instrs, end):
        self.instrs = instrs
        self.end = end
        self.children = {}


def same_template(a, b):
    ta, tb = type(a), type(b)
    if ta is not tb:
        return False
    if ta is Ref:
        return a.slot == b.slot
    if ta in (list, tuple):
        return len(a) == len(b) and all(same_template(x, y) for x, y in zip(a, b))
    if ta is dict:
        return a.keys() == b.keys() and all(same_template(a[k], b[k]) for k in a)
    if ta is float:
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b) or (a != a and b != b)
    if ta is slice:
        return same_template((a.start, a.stop, a.step), (b.start, b.stop, b.step))
    if isinstance(a, (onp.ndarray, onp.generic)):
        return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()
    if a is b:
        return True
    try:
        return bool(a == b)
    except Exception:
        return False


class Diverged(Exception):
    """A new trace does not share the recorded prefix of its path: the function is not deterministic in what
    jit sees (it read something jit cannot see: a clock, Python's random module, a global it changed)."""


def build(events, ret):
    """A tree holding one trace."""
    root = seg = Segment([], None)
    for ev in events:
        if type(ev) is not Guard:
            seg.instrs.append(ev)
        else:
            seg.end = ev
            child = Segment([], None)
            seg.children[ev.key()] = child
            seg = child
    seg.end = ret
    return root


def merge(root, events, ret):
    """Add one trace to the tree at ``root``; returns the number of new paths (0 or 1). Raises
    :class:`Diverged` when the trace does not follow the tree where its guards say it should."""
    seg = root
    i = 0
    for n, ev in enumerate(events):
        if type(ev) is not Guard:
            if i >= len(seg.instrs) or not seg.instrs[i].same_as(ev):
                raise Diverged(ev)
            i += 1
            continue
        end = seg.end
        if i != len(seg.instrs) or type(end) is not Guard or end.kind != ev.kind or end.slot != ev.slot:
            raise Diverged(ev)
        child = seg.children.get(ev.key())
        if child is None:
            seg.children[ev.key()] = build(events[n + 1:], ret)
            return 1
        seg = child
        i = 0
    if i != len(seg.instrs) or type(seg.end) is not Return:
        raise Diverged(None)
    return 0


def count_paths(seg):
    if type(seg.end) is Return:
        return 1
    return sum(count_paths(c) for c in seg.children.values())


def walk(seg):
    """Every segment of the tree."""
    yield seg
    for child in seg.children.values():
        yield from walk(child)
