"""The public extension point of minpy-array: intercepting operator calls.

minpy-array knows nothing of autograd. An extension that must see every operator call (autograd records
them on a tape; a jit records a program) installs an *interceptor*: ``fn(op, args, kwargs)``, called instead of
the dispatcher for every ``minpy.numpy`` operator and Array operator. It typically unwraps its own objects from
``args``, runs ``op.invoke(args, kwargs)`` and wraps the result.

Interceptors are per thread and stack: :func:`push_interceptor` / :func:`pop_interceptor` (or the
:func:`intercepting` context manager) install one for the calling thread only. A call goes to the thread's top
interceptor; inside it, ``op.invoke(args, kwargs)`` hands the call to the next interceptor down, and below the
lowest to the dispatcher. Operators called *from* an interceptor (a gradient rule's arithmetic, say) are new
calls and start again at the top. While no thread has an interceptor an operator pays one list lookup for this
feature; while some thread has one, every call pays a thread-local lookup.

``op`` is a :class:`minpy.ops.operator.Operator`: ``op.name``, ``op.differentiable``, ``op.kind``.
Arrays carry a write counter (``Array.version``) so an extension can tell whether an array it recorded has
been written in place since.

Value reads. An extension that must know when Python reads values out of an array (a jit turns each read into
a guard) installs a *reader*: ``fn(array, kind, value)``, called after an Array hands a value to Python.
``kind`` is ``"bool"`` (``bool(a)``, ``if a:``; ``value`` is the truth value) or ``"array"`` (``float``,
``int``, ``complex``, ``operator.index``, ``item``, ``tolist``, ``asnumpy``, ``numpy.asarray(a)``; ``value``
is the NumPy data read). Readers are per thread and stack like interceptors (:func:`push_reader`,
:func:`pop_reader`, :func:`reading`); the top one is called. While no thread has one, a read pays one list
lookup. Reads minpy makes for itself (printing, error messages, copies between backends) are not reported.

Opaque calls. Computations that are not minpy operators (an MXNet executor's forward or backward pass behind
``minpy.symbol.Function``) run through :func:`call_opaque` ``(fn, args, kwargs)``: an extension that records
this thread's calls to make them again (a jit) installs an *opaque recorder* ``rec(fn, args, kwargs)``
(:func:`push_opaque_recorder`, :func:`pop_opaque_recorder`; per thread, stacked, the top one is called), which
runs ``fn(*args, **kwargs)`` and may call ``fn`` again later with other arrays of the same shapes. ``fn`` has a
``name``; its arguments and results are Arrays (and lists, tuples, dicts of them, and Python values).
"""
import contextlib
import threading

#: what every operator call checks first: None while no thread has an interceptor, else :func:`_route`
_interceptor = [None]
_lock = threading.Lock()
_threads_intercepting = [0]


#: what every value read checks first: None while no thread has a reader, else :func:`_read`
_reader = [None]
_threads_reading = [0]


class _Hooks(threading.local):
    def __init__(self):
        self.stack = []   # this thread's interceptors, lowest first
        self.level = -1   # index in ``stack`` of the interceptor handling the current call (-1: none)
        self.readers = []  # this thread's value readers, lowest first
        self.opaque = []   # this thread's opaque-call recorders, lowest first


_hooks = _Hooks()


def _route(op, args, kwargs):
    """Send a call to this thread's top interceptor (or, when this thread has none, to the dispatcher)."""
    hooks = _hooks
    stack = hooks.stack
    if not stack:
        return op.dispatch(args, kwargs)
    saved = hooks.level
    hooks.level = len(stack) - 1
    try:
        return stack[-1](op, args, kwargs)
    finally:
        hooks.level = saved


def call_below(op, args, kwargs):
    """Run a call at the level below the interceptor now handling it: the next interceptor down, or the
    dispatcher (what ``op.invoke`` does)."""
    hooks = _hooks
    level = hooks.level
    if level <= 0 or level > len(hooks.stack):
        return op.dispatch(args, kwargs)
    hooks.level = level - 1
    try:
        return hooks.stack[level - 1](op, args, kwargs)
    finally:
        hooks.level = level


def _changed(before, after):
    if bool(before) != bool(after):
        with _lock:
            _threads_intercepting[0] += 1 if after else -1
            _interceptor[0] = _route if _threads_intercepting[0] else None


def push_interceptor(fn):
    """Install ``fn(op, args, kwargs)`` on top of this thread's interceptors."""
    stack = _hooks.stack
    before = len(stack)
    stack.append(fn)
    _changed(before, len(stack))


def pop_interceptor(fn=None):
    """Remove this thread's top interceptor (which must be ``fn`` when given) and return it."""
    stack = _hooks.stack
    if not stack:
        raise RuntimeError("pop_interceptor: this thread has no interceptor")
    if fn is not None and stack[-1] is not fn:
        raise RuntimeError(f"pop_interceptor: the top interceptor is {stack[-1]!r}, not {fn!r}")
    top = stack.pop()
    _changed(len(stack) + 1, len(stack))
    return top


@contextlib.contextmanager
def intercepting(fn):
    """``with intercepting(fn):`` - ``fn`` sees this thread's operator calls inside the block."""
    push_interceptor(fn)
    try:
        yield fn
    finally:
        pop_interceptor(fn)


def set_interceptor(fn):
    """Replace this thread's interceptors by ``fn`` (None removes them); returns the previous top one. (The
    first form of this extension point; :func:`push_interceptor` composes with other extensions.)"""
    stack = _hooks.stack
    previous = stack[-1] if stack else None
    before = len(stack)
    stack[:] = [] if fn is None else [fn]
    _changed(before, len(stack))
    return previous


def get_interceptor():
    """This thread's top interceptor, or None."""
    stack = _hooks.stack
    return stack[-1] if stack else None


def interceptors():
    """This thread's interceptors, lowest first (a copy)."""
    return list(_hooks.stack)


# -- value reads ----------------------------------------------------------------------------------------------------
def _read(array, kind, value):
    """Report a value read to this thread's top reader (other threads' readers never see it)."""
    readers = _hooks.readers
    if readers:
        readers[-1](array, kind, value)


def _reading_changed(before, after):
    if bool(before) != bool(after):
        with _lock:
            _threads_reading[0] += 1 if after else -1
            _reader[0] = _read if _threads_reading[0] else None


def push_reader(fn):
    """Install ``fn(array, kind, value)`` on top of this thread's value readers."""
    readers = _hooks.readers
    readers.append(fn)
    _reading_changed(len(readers) - 1, len(readers))


def pop_reader(fn=None):
    """Remove this thread's top value reader (which must be ``fn`` when given) and return it."""
    readers = _hooks.readers
    if not readers:
        raise RuntimeError("pop_reader: this thread has no value reader")
    if fn is not None and readers[-1] is not fn:
        raise RuntimeError(f"pop_reader: the top reader is {readers[-1]!r}, not {fn!r}")
    top = readers.pop()
    _reading_changed(len(readers) + 1, len(readers))
    return top


@contextlib.contextmanager
def reading(fn):
    """``with reading(fn):`` - ``fn`` sees this thread's value reads inside the block."""
    push_reader(fn)
    try:
        yield fn
    finally:
        pop_reader(fn)


def readers():
    """This thread's value readers, lowest first (a copy)."""
    return list(_hooks.readers)


# -- opaque calls ---------------------------------------------------------------------------------------------------
def call_opaque(fn, args=(), kwargs=None):
    """Run ``fn(*args, **kwargs)`` (a computation that is not a minpy operator) where this thread's top opaque
    recorder can see it, or directly when it has none."""
    recorders = _hooks.opaque
    if recorders:
        return recorders[-1](fn, args, kwargs or {})
    return fn(*args, **(kwargs or {}))


def push_opaque_recorder(fn):
    """Install ``fn(callable, args, kwargs)`` on top of this thread's opaque-call recorders."""
    _hooks.opaque.append(fn)


def pop_opaque_recorder(fn=None):
    """Remove this thread's top opaque-call recorder (which must be ``fn`` when given) and return it."""
    recorders = _hooks.opaque
    if not recorders:
        raise RuntimeError("pop_opaque_recorder: this thread has no opaque-call recorder")
    if fn is not None and recorders[-1] is not fn:
        raise RuntimeError(f"pop_opaque_recorder: the top recorder is {recorders[-1]!r}, not {fn!r}")
    return recorders.pop()
