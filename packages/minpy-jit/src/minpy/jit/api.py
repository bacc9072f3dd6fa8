"""``jit``: the decorator, signatures, the per-signature cache of compiled paths, statistics."""
import functools
import math
import threading
import time
import warnings
import weakref

import numpy as onp

from minpy import extend, routing
from minpy.array import Array
from minpy.autograd.tracer import Tracer
from minpy.backends import mxnet_backend as _MXNET
from minpy.config import settings
from minpy.context import current_context
from minpy.dispatch.policy import current_policy
from minpy.jit import engines, mxgraph
from minpy.jit.program import Diverged, Return, build, count_paths, merge
from minpy.jit.recorder import Recording, install, numpy_only, uninstall

#: the default bound on the paths (guard outcomes) kept per signature
DEFAULT_MAX_PATHS = 16
#: the default bound on the signatures kept per function (the least recently traced one is dropped)
DEFAULT_MAX_SIGNATURES = 32
#: timed calls per engine before ``engine="auto"`` chooses one for a program (by the fastest of them: a first
#: run pays for buffers and cold caches, and a run while MXNet's threads still spin after another engine's
#: call is slow; with two, the two-layer step chose MXNet's graphs at 2.2x over its own replay at 1.0x)
SAMPLES = 3
ENGINES = ("auto", "replay", "mxnet")

_functions = weakref.WeakSet()
_clear_count = [0]
_hooks = extend._hooks
_interceptor = extend._interceptor
_routes_changed = routing.routes_changed  # (policy and context are part of a signature)


class JitWarning(UserWarning):
    """A jitted function (or one of its signatures) runs eagerly: jit cannot compile what it does."""


class _Inline(Exception):
    pass


class Entry:
    """What one signature of a jitted function has: its tree of paths and their compiled form."""

    __slots__ = ("root", "compiled", "eager", "captures", "paths", "full", "misses", "replays", "traces",
                 "eager_calls", "lock", "boxed", "home", "runner", "chosen", "mx", "mx_reason", "samples",
                 "fallbacks", "input_slots", "links", "rerouted", "moved", "reroute_reason")

    def __init__(self):
        self.root = None
        self.compiled = None
        self.eager = None        # why this signature runs eagerly (None: it is compiled)
        self.captures = []
        self.paths = 0
        self.full = False        # max_paths reached: a miss runs eagerly, unrecorded
        self.misses = 0
        self.replays = 0
        self.traces = 0
        self.eager_calls = 0
        self.boxed = False       # some trace had arrays on other backends: replay with Arrays
        self.lock = threading.Lock()
        self.home = {}           # slot -> the backend its data lived on when traced
        self.runner = None       # the chosen engine's run (None: engine="auto" is still measuring)
        self.chosen = None       # that engine's name
        self.mx = None           # the program for the mxnet engine (built when tried)
        self.mx_reason = None    # why the mxnet engine does not run this program
        self.samples = {"replay": [], "mxnet": []}
        self.fallbacks = 0       # calls the mxnet engine handed to the replay engine (MXNet raised)
        self.links = False       # some trace had a view MXNet had to copy
        self.rerouted = None     # engine="auto", a trace with calls on other backends: the replay program with
        self.moved = 0           # those calls moved to NumPy (engines.reroute), and how many were moved,
        self.reroute_reason = None  # or why it could not be built


class Jitted:
    """A function compiled by :func:`jit` (call it like the function)."""

    def __init__(self, fn, static_argnums=(), engine="auto", max_paths=DEFAULT_MAX_PATHS,
                 max_signatures=DEFAULT_MAX_SIGNATURES):
        if engine not in ENGINES:
            raise ValueError(f"jit: unknown engine {engine!r}; choose one of {ENGINES}")
        self.fn = fn
        self.static_argnums = frozenset(static_argnums if not isinstance(static_argnums, int) else (static_argnums,))
        self.engine = engine
        self.max_paths = int(max_paths)
        self.max_signatures = int(max_signatures)
        self._entries = {}
        self._lock = threading.Lock()
        self._state = (_routes_changed[0], _clear_count[0])
        self.inlined = 0
        functools.update_wrapper(self, fn)
        _functions.add(self)

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return functools.partial(self, obj)

    def __repr__(self):
        return f"<minpy.jit of {getattr(self.fn, '__qualname__', self.fn)!r}>"

    def clear(self):
        """Drop every trace of this function."""
        with self._lock:
            self._entries = {}

    # -- calls ------------------------------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if _interceptor[0] is not None and (_hooks.stack or _hooks.readers):
            # this thread is inside a gradient call or another jit's trace: the function runs as plain code,
            # seen (and recorded) by whoever intercepts
            self.inlined += 1
            return self.fn(*args, **kwargs)
        leaves = []
        statics = []
        try:
            key, args, kwargs = self._signature(args, kwargs, leaves, statics)
        except _Inline:
            self.inlined += 1
            return self.fn(*args, **kwargs)
        state = (_routes_changed[0], _clear_count[0])
        if state != self._state:  # routing changed (a policy, a backend) or minpy.jit.clear(): trace again
            with self._lock:
                self._entries = {}
                self._state = state
        entry = self._entries.get(key)
        if entry is None:
            with self._lock:
                entry = self._entries.get(key)
                if entry is None:
                    if len(self._entries) >= self.max_signatures:
                        self._entries.pop(next(iter(self._entries)))
                    entry = self._entries[key] = Entry()
        if entry.eager is not None:
            entry.eager_calls += 1
            return self.fn(*args, **kwargs)
        compiled = entry.compiled
        if compiled is not None:
            runner = entry.runner
            if runner is None:
                result = self._measure(entry, leaves, args, kwargs)
            else:
                result = runner(leaves, args, kwargs)
                if result is mxgraph.FALLBACK:
                    entry.fallbacks += 1
                    result = compiled.run(leaves, args, kwargs)
            if result is engines.MISS:
                entry.misses += 1
                if entry.full:
                    entry.eager_calls += 1
                    return self.fn(*args, **kwargs)
            elif result is engines.RETRACE:
                with entry.lock:
                    entry.root = entry.compiled = None
                    entry.captures = []
                    entry.paths = 0
            else:
                entry.replays += 1
                return result
        return self._trace(entry, args, kwargs, leaves, statics)

    def _signature(self, args, kwargs, leaves, statics):
        parts = []
        new_args = None
        for i, a in enumerate(args):
            if i in self.static_argnums:
                parts.append(_static_key(a, i, statics))
                continue
            k, v = _key(a, leaves, statics, i)
            parts.append(k)
            if v is not a:
                if new_args is None:
                    new_args = list(args)
                new_args[i] = v
        if kwargs:
            for name, a in kwargs.items():
                k, v = _key(a, leaves, statics, name)
                parts.append((name, k))
                if v is not a:
                    kwargs = dict(kwargs)
                    kwargs[name] = v
        owners = [id(a._root) if a._root is not None else id(a) for a in leaves]
        aliasing = None
        if len(set(owners)) != len(owners):
            first = {}
            aliasing = tuple(first.setdefault(o, i) for i, o in enumerate(owners))
        key = (tuple(parts), aliasing, current_policy(), current_context(), settings.default_float)
        return key, (args if new_args is None else tuple(new_args)), kwargs

    def _trace(self, entry, args, kwargs, leaves, statics):
        with entry.lock:
            captures = list(entry.captures)
        rec = Recording(self.fn, leaves, args, kwargs, captures, statics)
        # the mxnet engine's notes cost trace time only: taken when that engine may run (forced, or auto with
        # MXNet loaded - by a policy that uses it, or by the caller)
        rec.notes = self.engine == "mxnet" or (self.engine == "auto" and _MXNET._state is True)
        hook = install(rec)
        try:
            result = self.fn(*args, **kwargs)
            out = rec.output(result)
        finally:
            uninstall(rec, hook)
        with entry.lock:
            entry.traces += 1
            if rec.problem is not None:
                reason, line = rec.problem
                entry.eager = f"{reason} ({line})"
                warnings.warn(f"jit({getattr(self.fn, '__qualname__', self.fn)}) runs eagerly for this signature: "
                              f"{reason}, at {line}", JitWarning, stacklevel=3)
                return result
            if not numpy_only(rec):
                entry.boxed = True
            entry.links = entry.links or rec.links
            ret = Return(out)
            if entry.root is None or len(captures) < len(entry.captures) or any(
                    a is not b for a, b in zip(captures, entry.captures)):
                entry.root = build(rec.events, ret)
                entry.paths = 1
                entry.boxed = not numpy_only(rec)
                entry.links = rec.links
            else:
                try:
                    entry.paths += merge(entry.root, rec.events, ret)
                except Diverged:
                    entry.root = build(rec.events, ret)
                    entry.paths = 1
                    entry.boxed = not numpy_only(rec)
                    entry.links = rec.links
            entry.captures = captures
            entry.paths = count_paths(entry.root)
            if entry.paths >= self.max_paths:
                entry.full = True
            entry.home.update(rec.home)
            kind = engines.Boxed if entry.boxed else engines.Compiled
            entry.compiled = kind(entry.root, entry.captures, rec.input_slots)
            entry.rerouted = None
            entry.moved = 0
            entry.reroute_reason = None
            if entry.boxed and self.engine == "auto":
                # the trace ran some calls where the auto policy sent them (MXNet...): the same program with
                # those calls on NumPy is one more candidate that auto measures (the policy's choice per call
                # does not count the copies between backends that the program pays at every call)
                tree, moved = engines.reroute(entry.root, entry.home, entry.links)
                if tree is None:
                    entry.reroute_reason = moved
                else:
                    entry.rerouted = engines.Compiled(tree, entry.captures, rec.input_slots)
                    entry.moved = moved
            self._engines(entry, rec.input_slots)
        return result

    # -- engines ------------------------------------------------------------------------------------------------------
    def _engines(self, entry, input_slots):
        """Set up the engines for a (re)built tree: the replay engine's program is ``entry.compiled``; the
        mxnet engine's is built now when forced, else when ``auto`` tries it."""
        entry.mx = None
        entry.mx_reason = None
        entry.samples = {"replay": [], "replay-numpy": [], "mxnet": []}
        entry.input_slots = input_slots
        if self.engine == "replay":
            self._choose(entry, "replay")
        elif self.engine == "mxnet":
            self._build_mx(entry)
            if entry.mx is None:
                warnings.warn(f"jit({getattr(self.fn, '__qualname__', self.fn)}, engine='mxnet') runs this "
                              f"signature on the replay engine: {entry.mx_reason}", JitWarning, stacklevel=4)
                self._choose(entry, "replay")
            else:
                self._choose(entry, "mxnet")
        elif _MXNET._state is not True:
            entry.mx_reason = "MXNet is not loaded (engine='mxnet' loads it)"
            if entry.rerouted is None:
                self._choose(entry, "replay")
            else:
                entry.runner = entry.chosen = None
        else:
            entry.runner = entry.chosen = None

    def _build_mx(self, entry):
        try:
            entry.mx = mxgraph.Program(entry.root, entry.captures, entry.input_slots, entry.home)
        except mxgraph.Ineligible as exc:
            entry.mx_reason = str(exc)

    def _choose(self, entry, name):
        entry.chosen = name
        entry.runner = self._program(entry, name).run

    @staticmethod
    def _program(entry, name):
        return {"replay": entry.compiled, "replay-numpy": entry.rerouted, "mxnet": entry.mx}[name]

    def _measure(self, entry, leaves, args, kwargs):
        """``engine="auto"``: time the engines on the first calls of a program and keep the faster (as the auto
        policy measures per operator). The replay programs go first - the traced routes and, where the trace
        ran calls on other backends, the same program with those calls on NumPy (``entry.rerouted``), taking
        turns; a program they run in less time than one MXNet graph costs at the least is not tried on MXNet."""
        samples = entry.samples
        candidates = ["replay"] if entry.rerouted is None else ["replay", "replay-numpy"]
        if entry.mx is not None:
            candidates.append("mxnet")
        # the candidates take turns (the least sampled first), so that a change in the machine's load during
        # the measurements falls on each of them alike
        name = min(candidates, key=lambda c: len(samples[c]))
        program = self._program(entry, name)
        start = time.perf_counter()
        result = program.run(leaves, args, kwargs)
        if result is mxgraph.FALLBACK:
            entry.fallbacks += 1
            entry.mx_reason = "MXNet raised while running the graphs"
            self._choose(entry, "replay")
            return entry.compiled.run(leaves, args, kwargs)
        if result is engines.MISS or result is engines.RETRACE:
            return result
        _sync(result)
        samples[name].append(time.perf_counter() - start)
        if any(len(samples[c]) < SAMPLES for c in candidates):
            return result
        if name != "mxnet":  # the replay programs are measured: is the mxnet engine worth a try?
            best = min(min(samples[c]) for c in candidates)
            if _MXNET._state is True:  # (otherwise entry.mx_reason says why not)
                base, per_array = mxgraph.overhead_floor()
                floor = base + per_array * mxgraph.copies(entry.root, entry.captures, entry.input_slots)
                if best < floor:
                    entry.mx_reason = (f"not tried: the replay engine takes {best * 1e6:.0f} us, less than the "
                                       f"MXNet graphs would cost at the least ({floor * 1e6:.0f} us)")
                else:
                    self._build_mx(entry)
            if entry.mx is not None:
                return result
        self._choose(entry, min((c for c in candidates + (["mxnet"] if entry.mx is not None else [])
                                 if samples[c]), key=lambda c: min(samples[c])))
        return result

    # -- statistics ---------------------------------------------------------------------------------------------------
    def stats(self):
        """Per signature: traces, paths, replays, guard misses, eager calls, the engine (or why eager)."""
        out = []
        for key, e in list(self._entries.items()):
            chosen = e.chosen if e.compiled is not None else None
            timings = {k: min(v) * 1e6 for k, v in e.samples.items() if v}
            engine = "replay" if chosen == "replay-numpy" else chosen
            out.append({"signature": _describe_key(key), "traces": e.traces, "paths": e.paths,
                        "replays": e.replays, "misses": e.misses, "eager_calls": e.eager_calls,
                        "engine": engine if chosen is not None or e.compiled is None else "measuring",
                        "mode": self._program(e, chosen).mode if chosen is not None and e.compiled is not None
                        else (e.compiled.mode if e.compiled is not None else None),
                        "moved_to_numpy": e.moved if chosen == "replay-numpy" else 0,
                        "reroute": e.reroute_reason if e.rerouted is None and e.boxed else None,
                        "mxnet": e.mx_reason, "timings_us": timings, "fallbacks": e.fallbacks,
                        "graphs": e.mx.graphs if e.mx is not None else None, "eager": e.eager})
        return {"function": getattr(self.fn, "__qualname__", repr(self.fn)), "inlined": self.inlined,
                "signatures": out}


def _sync(result):
    """Wait for asynchronous work behind a result (MXNet's engine), so that a measurement times all of it."""
    t = type(result)
    if t is Array:
        if result._backend is not engines._NUMPY:
            result.wait_to_read()
    elif t is list or t is tuple or isinstance(result, tuple):
        for r in result:
            _sync(r)
    elif t is dict:
        for r in result.values():
            _sync(r)


def _describe_key(key):
    parts, aliasing, policy, ctx, _ = key

    def one(k):
        if type(k) is tuple and k and k[0] == "A":
            return f"array{k[1]} {k[2]}"
        if type(k) is tuple and k and k[0] in (list, tuple, dict):
            return f"{k[0].__name__}[{', '.join(one(v) for v in k[1])}]"
        if type(k) is tuple and len(k) == 2 and isinstance(k[0], str):
            return f"{k[0]}={one(k[1])}"
        return repr(k[1] if type(k) is tuple and len(k) >= 2 else k)
    return f"({', '.join(one(p) for p in parts)}) policy={policy.name} {ctx!r}"


_SCALARS = (int, bool, str, bytes, type(None))


def _key(a, leaves, statics, pos):
    """(signature part, the value to pass) of one argument."""
    t = type(a)
    if t is Array:
        leaves.append(a)
        return ("A", a.shape, a.dtype, a._backend, a._link is not None, a._root is not None), a
    if t in _SCALARS:
        return (t, a), a
    if t is float:
        return (float, a, math.copysign(1.0, a)), a
    if t is list or t is tuple:
        items = []
        new = None
        for j, v in enumerate(a):
            k, w = _key(v, leaves, statics, None)
            items.append(k)
            if w is not v:
                if new is None:
                    new = list(a)
                new[j] = w
        return (t, tuple(items)), (a if new is None else t(new))
    if t is dict:
        items = []
        new = None
        for name, v in a.items():
            k, w = _key(v, leaves, statics, None)
            items.append((name, k))
            if w is not v:
                if new is None:
                    new = dict(a)
                new[name] = w
        return (dict, tuple(items)), (a if new is None else new)
    if t is Tracer:
        raise _Inline
    if t is onp.ndarray:
        return _key(Array(a), leaves, statics, pos)
    if isinstance(a, Array):
        leaves.append(a)
        return ("A", a.shape, a.dtype, a._backend, a._link is not None, a._root is not None, t), a
    if t is complex:
        return (complex, a), a
    return _static_key(a, pos, statics), a


def _static_key(a, pos, statics):
    if pos is not None:
        statics.append((pos, a))
    try:
        hash(a)
        return ("S", type(a), a)
    except TypeError:
        return ("O", id(a))


# -- the public API -------------------------------------------------------------------------------------------------
def jit(fn=None, *, static_argnums=(), engine="auto", max_paths=DEFAULT_MAX_PATHS,
        max_signatures=DEFAULT_MAX_SIGNATURES):
    """Compile ``fn`` (a function of minpy arrays) by recording it once per signature and replaying it.

    Parameters
    ----------
    fn : callable
        Any Python function of minpy Arrays (and lists, tuples and dicts of them, and Python values). It may
        call ``minpy.autograd.grad`` inside and write into arrays in place.
    static_argnums : int or tuple of ints
        Positional arguments that are part of the signature by value (hashable) or identity (not).
    engine : str
        ``"auto"`` (default): each program (a signature's tree of paths) runs on the engine measured faster on
        its first calls; ``"replay"``: the traced kernels, called again; ``"mxnet"``: MXNet symbol graphs,
        bound once (a program the engine cannot run falls back to ``replay`` with a :class:`JitWarning`).
    max_paths : int
        How many paths (combinations of guard outcomes) one signature keeps; past that a guard miss runs the
        call eagerly without recording it.
    max_signatures : int
        How many signatures the function keeps (the oldest is dropped).

    Returns
    -------
    Jitted
        Call it like ``fn``. Can also be used as ``@jit`` or ``@jit(static_argnums=...)``.
    """
    if fn is None:
        return lambda f: Jitted(f, static_argnums, engine, max_paths, max_signatures)
    return Jitted(fn, static_argnums, engine, max_paths, max_signatures)


def clear():
    """Forget every trace of every jitted function (they trace again on their next call)."""
    _clear_count[0] += 1


def stats():
    """Statistics of every live jitted function: a list of :meth:`Jitted.stats` dicts."""
    return [f.stats() for f in list(_functions)]
