"""``jit``: the decorator, signatures, the per-signature cache of compiled paths, statistics."""
import functools
import math
import threading
import warnings
import weakref

import numpy as onp

from minpy import extend, routing
from minpy.array import Array
from minpy.autograd.tracer import Tracer
from minpy.config import settings
from minpy.context import current_context
from minpy.dispatch.policy import current_policy
from minpy.jit import engines
from minpy.jit.program import Diverged, Return, build, count_paths, merge
from minpy.jit.recorder import Recording, install, numpy_only, uninstall

#: the default bound on the paths (guard outcomes) kept per signature
DEFAULT_MAX_PATHS = 16
#: the default bound on the signatures kept per function (the least recently traced one is dropped)
DEFAULT_MAX_SIGNATURES = 32

_functions = weakref.WeakSet()
_clear_count = [0]
_hooks = extend._hooks
_interceptor = extend._interceptor
_generation = routing.generation


class JitWarning(UserWarning):
    """A jitted function (or one of its signatures) runs eagerly: jit cannot compile what it does."""


class _Inline(Exception):
    pass


class Entry:
    """What one signature of a jitted function has: its tree of paths and their compiled form."""

    __slots__ = ("root", "compiled", "eager", "captures", "paths", "full", "misses", "replays", "traces",
                 "eager_calls", "lock", "boxed")

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


class Jitted:
    """A function compiled by :func:`jit` (call it like the function)."""

    def __init__(self, fn, static_argnums=(), engine="auto", max_paths=DEFAULT_MAX_PATHS,
                 max_signatures=DEFAULT_MAX_SIGNATURES):
        if engine not in ("auto", "replay"):
            raise ValueError(f"jit: unknown engine {engine!r}; choose 'auto' or 'replay'")
        self.fn = fn
        self.static_argnums = frozenset(static_argnums if not isinstance(static_argnums, int) else (static_argnums,))
        self.engine = engine
        self.max_paths = int(max_paths)
        self.max_signatures = int(max_signatures)
        self._entries = {}
        self._lock = threading.Lock()
        self._state = (_generation[0], _clear_count[0])
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
        state = (_generation[0], _clear_count[0])
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
            ret = Return(out)
            if entry.root is None or len(captures) < len(entry.captures) or any(
                    a is not b for a, b in zip(captures, entry.captures)):
                entry.root = build(rec.events, ret)
                entry.paths = 1
                entry.boxed = not numpy_only(rec)
            else:
                try:
                    entry.paths += merge(entry.root, rec.events, ret)
                except Diverged:
                    entry.root = build(rec.events, ret)
                    entry.paths = 1
                    entry.boxed = not numpy_only(rec)
            entry.captures = captures
            entry.paths = count_paths(entry.root)
            if entry.paths >= self.max_paths:
                entry.full = True
            kind = engines.Boxed if entry.boxed else engines.Compiled
            entry.compiled = kind(entry.root, entry.captures, rec.input_slots)
        return result

    # -- statistics ---------------------------------------------------------------------------------------------------
    def stats(self):
        """Per signature: traces, paths, replays, guard misses, eager calls, the engine (or why eager)."""
        out = []
        for key, e in list(self._entries.items()):
            out.append({"signature": _describe_key(key), "traces": e.traces, "paths": e.paths,
                        "replays": e.replays, "misses": e.misses, "eager_calls": e.eager_calls,
                        "engine": e.compiled.engine if e.compiled is not None else None,
                        "mode": e.compiled.mode if e.compiled is not None else None, "eager": e.eager})
        return {"function": getattr(self.fn, "__qualname__", repr(self.fn)), "inlined": self.inlined,
                "signatures": out}


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
        ``"auto"`` (default) or ``"replay"``.
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
