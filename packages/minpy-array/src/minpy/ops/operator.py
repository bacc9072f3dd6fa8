"""Operators and the dispatcher: the hot path of every ``minpy.numpy`` call.

An :class:`Operator` is one record of the operator table. Calling its public function:

1. hands the call to the interceptor when an extension (autograd) has installed one;
2. otherwise picks a backend: the policy's preferred backends, in order, that implement the operator for
   these dtypes, keywords and argument patterns; NumPy when none does (a *fallback*, counted and reported);
3. moves argument data to that backend (cached on each Array), runs the implementation, wraps the result;
4. if a preferred backend raises, reruns on NumPy: NumPy's answer (or NumPy's own exception, naming the
   operator and the argument shapes) is what the user gets, never an MXNet traceback.
"""
import math

import numpy as np

from minpy import extend as _extend, routing
from minpy.array import _OPS, Array, is_foreign, is_standin_view, link_view, mark_foreign, standin
from minpy.backends import get_backend, numpy_backend as _NUMPY
from minpy.backends.base import Impl, NativeUnsupported  # noqa: F401  (Impl: the table's records use it)
from minpy.config import settings
from minpy.context import _CPU, current_context
from minpy.errors import user_error
from minpy.dispatch import auto as _auto
from minpy.dispatch.policy import PolicyError, current_policy
from minpy.stats import (_local as _counting, count_call, count_fallback, fast_slot, measuring, perf_counter,
                         public_name, recorder)

_NUMPY2 = np.lib.NumpyVersion(np.__version__) >= "2.0.0"
_F64 = np.dtype(np.float64)
_SCALARS = (int, float, bool, complex)
_NDARRAY = np.ndarray
try:  # NumPy's C function itself: np.may_share_memory goes through __array_function__ dispatch (0.3-0.4 us)
    from numpy._core._multiarray_umath import may_share_memory as _may_share_memory
except ImportError:  # NumPy 1.x
    from numpy.core._multiarray_umath import may_share_memory as _may_share_memory
_GENERIC = np.generic
_registry = {}  # operator name -> Operator


class Operator:
    """One operator: its NumPy reference and the other backends that implement it."""

    __slots__ = ("name", "ref", "impls", "kind", "differentiable", "casting", "tol", "wrap_result",
                 "float_default", "numpy_reason", "custom", "views", "public", "_plan", "__weakref__")

    def __init__(self, name, ref, impls=None, kind="function", differentiable=None, casting=None, tol=None,
                 wrap_result=True, float_default=False, numpy_reason=None, custom=None, views=False):
        self.name = name
        self.ref = ref
        self.impls = impls or {}
        self.kind = kind
        self.differentiable = differentiable
        self.casting = casting
        self.tol = tol or {}
        self.wrap_result = wrap_result
        self.float_default = float_default
        self.numpy_reason = numpy_reason
        self.custom = custom
        #: NumPy's result may be a view of the first argument (reshape, transpose...): a native backend's
        #: result is then checked against NumPy's rule and made a view where NumPy's would be one
        self.views = views
        self._plan = None
        self.public = _make_public(self)

    def __repr__(self):
        return f"<minpy operator {self.name}: {', '.join(['numpy', *self.impls])}>"

    def invoke(self, args, kwargs):
        """Run the call one level down: from inside an interceptor, the next interceptor of this thread below
        it, or the dispatcher (see :mod:`minpy.extend`)."""
        return _extend.call_below(self, args, kwargs)

    def dispatch(self, args, kwargs):
        """Run the call on a backend, bypassing every interceptor."""
        if self.custom is not None:
            return self.custom(self, args, kwargs)
        return _invoke(self, args, kwargs)

    def routes(self):
        """(backend, impl) pairs the current policy may use in the current context, in order."""
        return self.plan().routes

    def plan(self):
        """How calls run under this thread's policy and context (cached until either changes)."""
        plan = self._plan
        if not _valid(plan):
            plan = self._plan = _Plan(self)
        return plan


_generation = routing.generation
_thread = routing.thread
_own_keys = routing.own_keys
_DEFAULT_KEY = routing.DEFAULT_KEY


def _valid(plan):
    """Whether ``plan`` is still the calling thread's plan: no routing change since it was made, and made under
    this thread's routing key. While no thread has a key of its own (``own_keys[0] == 0``) every thread's key is
    the default one, and the thread-local need not be read. The public functions' hot paths inline this test
    (a Python call there costs as much as a small NumPy kernel); keep them the same as this."""
    return plan is not None and plan.gen == _generation[0] \
        and plan.key is (_thread.key if _own_keys[0] else _DEFAULT_KEY)


class _Plan:
    """What the dispatcher needs to know about an operator under one policy and context, worked out once.

    A plan is valid while ``gen`` equals :data:`minpy.routing.generation` and ``key`` is the calling thread's
    routing key (its policy and context). ``routes``: the (backend, impl) pairs to try, in order. ``fallback``: when there are none, why NumPy runs
    (counted as a fallback) or None when that is by design. ``fast``: None, or the function that lets a call
    whose array arguments all live on NumPy skip the general dispatcher (when there is no native route to try,
    or the auto policy has already decided NumPy for that dtype and size: ``auto``, (dtype char, size class)
    -> True). ``home``: the backend where results belong under a GPU context.
    """

    __slots__ = ("gen", "key", "policy", "ctx", "routes", "fallback", "fast", "plain", "fresh", "auto", "auto_policy",
                 "home", "numpy_key", "numpy_slot", "auto_seen")

    def __init__(self, op):
        self.gen = _generation[0]  # read first: a change made while planning leaves this plan stale
        self.key = _thread.key
        self.policy = pol = current_policy()
        self.ctx = ctx = current_context()
        self.home = None
        on_cpu = ctx.device_type == "cpu"
        routes = []
        blocked = pol.blocked(op.name)
        for bname in pol.preference:
            backend = _registered(bname)
            # the context first: asking a GPU backend whether it is available under a CPU context would
            # import its library (and start CUDA) for nothing
            if backend is None:
                continue
            if not backend.supports_context(ctx) or not backend.available():
                if getattr(backend, "broken", None) is not None:   # installed, not importable: said once
                    backend.report_unusable(pol.name)
                continue
            if self.home is None and not on_cpu:
                self.home = backend
            impl = op.impls.get(bname)
            if impl is None:
                default_impl = getattr(backend, "default_impl", None)
                impl = default_impl(op) if default_impl is not None else None
            if impl is None or blocked:
                continue
            if impl.fn is None:
                try:
                    impl.fn = backend.resolve(impl.spec)
                except AttributeError:  # a function this version of the backend lacks: NumPy runs it
                    continue
            routes.append((backend, impl))
        self.routes = routes = tuple(routes)
        self.fallback = None
        eligible = (op.custom is None and op.wrap_result and not op.float_default and on_cpu
                    and not recorder.timing)
        # Under auto on the CPU, NumPy is where an operator without a native implementation belongs, not a
        # fallback; on a GPU it is one (the data leaves the device).
        chooses = pol.cost_model is not None and on_cpu
        if not routes and pol.preference and op.numpy_reason is None and not chooses:
            self.fallback = (f"blacklisted by the {pol.name} policy" if blocked
                             else _missing_reason(op, pol, ctx))
            if self.fallback is not None and not pol.allow_fallback:
                eligible = False  # the general path raises the PolicyError
        self.auto_policy = pol if routes and pol.cost_model is not None and on_cpu else None
        self.auto = pol.fast_table(op.name) if self.auto_policy is not None else None
        # the fast path: None, or the function that tries it
        self.fast = _numpy_fast if eligible and (not routes or self.auto is not None) else None
        # the ufuncs' own path (see _ufunc_public): NumPy runs plain calls, and nothing is counted as a fallback
        self.plain = self.fast is not None and self.fallback is None
        self.numpy_key = (op.name, "numpy")
        self.numpy_slot = fast_slot(self.numpy_key)  # where the fast paths count their calls
        # (dtype, size) of the last call the auto table sent to NumPy on the ufuncs' path: the next call of the
        # same dtype and size skips the table's lookup (forgotten whenever the table is written)
        self.auto_seen = None
        # ufuncs called without out= always return new memory: no need to look for views of the inputs
        self.fresh = isinstance(op.ref, np.ufunc) and op.ref.nout == 1


def _registered(name):
    try:
        return get_backend(name)
    except KeyError:  # a backend the policy names that this installation does not register
        return None


def _make_public(op):
    interceptor = _extend._interceptor
    if op.custom is not None:
        custom = op.custom

        def call(*args, **kwargs):
            try:
                hook = interceptor[0]
                if hook is not None:
                    return hook(op, args, kwargs)
                return custom(op, args, kwargs)
            except Exception as exc:
                raise user_error(exc)  # the error is in the call above: MINPY_TRACEBACK=full shows minpy's frames
    elif isinstance(op.ref, np.ufunc) and op.ref.nout == 1 and op.ref.nin in (1, 2):
        call = _ufunc_public(op, interceptor)
    else:
        generation = _generation
        thread = _thread
        own_keys = _own_keys
        DEFAULT_KEY = _DEFAULT_KEY

        def call(*args, **kwargs):
            # errors leave from here with minpy's frames taken out (minpy.errors); the try costs nothing until
            # something is raised
            try:
                hook = interceptor[0]
                if hook is not None:
                    return hook(op, args, kwargs)
                plan = op._plan
                # the fast path and _valid, inlined: a Python call costs as much as the NumPy kernel of a tiny add
                if plan is not None and plan.fast is not None and plan.gen == generation[0] \
                        and plan.key is (thread.key if own_keys[0] else DEFAULT_KEY):
                    result = plan.fast(op, plan, args, kwargs)
                    if result is not _MISS:
                        return result
                return _invoke(op, args, kwargs)
            except Exception as exc:
                raise user_error(exc)  # the error is in the call above: MINPY_TRACEBACK=full shows minpy's frames

    short = op.name.rpartition(".")[2]
    call.__name__ = short
    call.__qualname__ = short
    call.__module__ = public_name(op.name).rpartition(".")[0]
    call.__doc__ = getattr(op.ref, "__doc__", None)
    if op.ref is not None and not isinstance(op.ref, np.ufunc):
        call.__wrapped__ = op.ref  # inspect.signature() then reports NumPy's signature
    call.op = op
    return call


def _ufunc_public(op, interceptor):
    """The public function of a one- or two-operand ufunc, and the function behind its operator dunders
    (``a + b`` calls ``call.operands(a, b)``, which takes no ``*args``/``**kwargs``: building them costs a
    fifth of NumPy's kernel for small arrays). A call of the plain form (operands only) whose operands are
    Arrays on NumPy or Python numbers, under a valid plan that runs NumPy for them, calls the ufunc and wraps
    its result right there: the same work as the general fast path (:func:`_numpy_fast`) without its Python
    calls, which cost more than NumPy's kernel for small arrays. Every other call takes the general path."""
    generation = _generation
    thread = _thread
    own_keys = _own_keys
    DEFAULT_KEY = _DEFAULT_KEY
    ufunc = op.ref
    binary = ufunc.nin == 2
    counting = _counting
    new = Array.__new__
    NUMPY = _NUMPY
    NDARRAY = _NDARRAY

    def general(args, kwargs):
        hook = interceptor[0]
        if hook is not None:
            return hook(op, args, kwargs)
        plan = op._plan
        if plan is not None and plan.fast is not None and _valid(plan):
            result = plan.fast(op, plan, args, kwargs)
            if result is not _MISS:
                return result
        return _invoke(op, args, kwargs)

    def slow(a, b):  # the operand-only call that the inline path below does not take
        return general((a, b) if binary else (a,), {})

    def operands(a, b=None):
        try:
            plan = op._plan
            # _valid(plan), inlined
            if interceptor[0] is not None or plan is None or not plan.plain or plan.gen != generation[0] \
                    or plan.key is not (thread.key if own_keys[0] else DEFAULT_KEY):
                return slow(a, b)
            t = type(a)
            if t is Array:
                if a._backend is not NUMPY:
                    return slow(a, b)
                x = big = a._data
            elif t is float or t is int:
                x = a
                big = None
            else:
                return slow(a, b)
            if binary:
                t = type(b)
                if t is Array:
                    if b._backend is not NUMPY:
                        return slow(a, b)
                    y = b._data
                elif t is not float and t is not int:
                    return slow(a, b)
                else:
                    y = b
            auto = plan.auto
            if auto is not None:  # the auto policy decides by the largest operand
                if binary and y is not b and (big is None or y.size > big.size):
                    big = y
                if big is None:
                    return slow(a, b)
                seen = plan.auto_seen
                if seen is None or seen[0] is not big.dtype or seen[1] != big.size:
                    if auto.get((big.dtype.char, big.size.bit_length())) is not True:
                        return slow(a, b)  # the auto policy has not decided NumPy
                    plan.auto_seen = (big.dtype, big.size)
            try:
                r = ufunc(x, y) if binary else ufunc(x)
            except Exception as exc:
                _reraise(op, exc, (a, b) if binary else (a,), {})
            if type(r) is not NDARRAY:
                r = np.asarray(r)  # a NumPy scalar (0-d operands)
            # Array(r, NumPy) without the constructor's call: a ufunc's result is new memory, tied to nothing
            result = new(Array)
            result._data = r
            result._backend = NUMPY
            result._variants = result._root = result._dtype = result._shape = result._link = result._views = None
            result._stamp = result._version = 0
            counting.counts.fast[plan.numpy_slot] += 1  # this thread's counters (merged when read)
            return result
        except Exception as exc:
            raise user_error(exc)  # the error is in the call above: MINPY_TRACEBACK=full shows minpy's frames

    nin = ufunc.nin

    def call(*args, **kwargs):
        try:
            if kwargs or len(args) != nin:
                return general(args, kwargs)
            return operands(*args)
        except Exception as exc:
            raise user_error(exc)  # the error is in the call above: MINPY_TRACEBACK=full shows minpy's frames

    def reflected(a, b):
        try:
            return operands(b, a)
        except Exception as exc:
            raise user_error(exc)  # the error is in the call above: MINPY_TRACEBACK=full shows minpy's frames

    call.operands = operands
    call.reflected = reflected
    return call


# -- argument handling ---------------------------------------------------------------------------------
def _as_array(x):
    if isinstance(x, _NDARRAY):
        return _foreign(x)
    return Array(np.asarray(x), _NUMPY)


def _foreign(x):
    """The caller's ndarray as an Array sharing its memory, which the caller may write directly."""
    a = Array(x, _NUMPY)
    mark_foreign(a)
    return a


def _normalise(op, args):
    """Arrays among ``args`` (one level into lists/tuples), with NumPy arrays and scalars wrapped as Arrays
    so every backend sees the same thing. Returns (args, arrays)."""
    arrays = []
    rebuilt = None
    elementwise = op.kind == "ufunc"
    for i, a in enumerate(args):
        t = type(a)
        if t is Array:
            arrays.append(a)
        elif t in _SCALARS or a is None:
            continue
        elif isinstance(a, (_NDARRAY, _GENERIC)) or (elementwise and t in (list, tuple)):
            if rebuilt is None:
                rebuilt = list(args)
            rebuilt[i] = w = _as_array(a)
            arrays.append(w)
        elif t is list or t is tuple:
            inner = None
            for j, x in enumerate(a):
                if type(x) is Array:
                    arrays.append(x)
                elif isinstance(x, _NDARRAY):
                    if inner is None:
                        inner = list(a)
                    inner[j] = w = _foreign(x)
                    arrays.append(w)
            if inner is not None:
                if rebuilt is None:
                    rebuilt = list(args)
                rebuilt[i] = t(inner)
        elif isinstance(a, Array):  # subclasses (autograd boxes are not Arrays; this is user subclasses)
            arrays.append(a)
    return (args if rebuilt is None else rebuilt), arrays


def _convert(x, backend, ctx):
    t = type(x)
    if t is Array or isinstance(x, Array):
        return x._data if x._backend is backend else x._get(backend, ctx)
    if t is list or t is tuple:
        return t([_convert(v, backend, ctx) for v in x])
    if t is dict:
        return {k: _convert(v, backend, ctx) for k, v in x.items()}
    return x


def _wrap(r, backend):
    if isinstance(r, _NDARRAY):
        return Array(r, _NUMPY)
    if isinstance(r, _GENERIC):
        return Array(np.asarray(r), _NUMPY)
    if backend is not _NUMPY and backend.is_native(r):
        return Array(backend.adopt(r), backend)
    t = type(r)
    if t is tuple or t is list:
        return t(_wrap(x, backend) for x in r)
    if hasattr(r, "_fields") and isinstance(r, tuple):  # named tuples (linalg.svd, unique_all, ...)
        return t(*(_wrap(x, backend) for x in r))
    return r


def describe(args, kwargs=None):
    """A short description of call arguments for error messages: shapes and dtypes of arrays."""
    def one(x):
        # one spelling for minpy Arrays and NumPy arrays: an error names the same call the same way whichever
        # backend held the data when it was raised
        if isinstance(x, (Array, _NDARRAY)):
            return f"array(shape={x.shape}, dtype={x.dtype})"
        if type(x) in (list, tuple) and any(isinstance(v, (Array, _NDARRAY)) for v in x):
            inner = ", ".join(one(v) for v in x)
            return f"[{inner}]" if type(x) is list else f"({inner})"
        text = repr(x)
        return text if len(text) <= 40 else text[:37] + "..."
    parts = [one(a) for a in args]
    if kwargs:
        parts += [f"{k}={one(v)}" for k, v in kwargs.items()]
    return ", ".join(parts)


def _reraise(op, exc, args, kwargs):
    message = f"{public_name(op.name)}({describe(args, kwargs)}): {exc}"
    try:
        new = type(exc)(message)
    except Exception:
        exc.add_note(message)
        raise exc from None
    raise new.with_traceback(exc.__traceback__) from None


# -- the dispatcher --------------------------------------------------------------------------------------
def _native_reason(op, backend, impl, arrays, args, kwargs):
    """None when ``impl`` on ``backend`` can run this call, else why not."""
    kinds = impl.dtypes
    for a in arrays:
        dt = a.dtype
        if not backend.supports_dtype(dt):
            return f"{backend.name} has no dtype {dt}"
        if kinds is not None and dt.kind not in kinds:
            return f"{backend.name}'s {op.name} does not take dtype {dt}"
    if kwargs:
        allowed = impl.kwargs
        for k, v in kwargs.items():
            if k not in allowed and v is not None:
                return f"{backend.name}'s {op.name} does not take the keyword {k!r}"
    if op.views and arrays and arrays[0] is args[0] and is_foreign(args[0]) and \
            (args[0]._root if args[0]._root is not None else args[0])._backend is _NUMPY:
        out, stand = _standin_call(op, args, kwargs, args[0])
        if out is None or out is stand or is_standin_view(out, args[0]) or (
                type(out) in (list, tuple) and any(is_standin_view(o, args[0]) for o in out)):
            return "a view of a NumPy buffer minpy does not own is taken in its memory, on NumPy"
    if args and type(args[0]) in (list, tuple) and op.kind != "creation" and not (
            op.kind == "shape" and any(isinstance(x, Array) for x in args[0])):
        # array data as a Python sequence (np.prod(shape), np.sum([x, y])): NumPy converts it; native
        # implementations take arrays (joining operators take sequences of Arrays, which their predicates check)
        return f"{backend.name}'s {op.name} takes arrays, not a Python {type(args[0]).__name__}"
    if impl.accepts is not None:
        return impl.accepts(args, kwargs)
    return None


_MISS = object()


def _invoke(op, args, kwargs):
    plan = op._plan
    if not _valid(plan):
        plan = op.plan()
    if plan.fast is not None:
        result = plan.fast(op, plan, args, kwargs)
        if result is not _MISS:
            return result
    return _dispatch(op, plan, args, kwargs)


def _numpy_fast(op, plan, args, kwargs):
    """The common case on the CPU: arguments are Arrays living on NumPy, Python scalars and tuples of ints,
    keywords hold no arrays, and NumPy runs the call (under the auto policy: once it has decided NumPy for this
    dtype and size). Anything else (a raw ndarray, data on another backend, ``out=``, an undecided auto call) is
    a _MISS and takes the general path."""
    if kwargs and not _plain_keywords(kwargs):
        return _MISS
    data = []
    for a in args:
        t = type(a)
        if t is Array:
            if a._backend is not _NUMPY:
                return _MISS
            data.append(a._data)
        elif t in _SCALARS or a is None or (t is tuple and _int_tuple(a)):
            data.append(a)
        else:
            return _MISS
    if plan.auto is not None and not _auto_decided_numpy(plan.auto, data):
        return _MISS
    return _numpy_run(op, plan, args, kwargs, data)


def _auto_decided_numpy(table, data):
    """Whether the auto policy's table says NumPy for the dtype and size class of the largest array."""
    largest = None
    for d in data:
        if type(d) is _NDARRAY and (largest is None or d.size > largest.size):
            largest = d
    return largest is None or table.get((largest.dtype.char, largest.size.bit_length())) is True


def _numpy_run(op, plan, args, kwargs, data):
    try:
        r = op.ref(*data, **kwargs) if kwargs else op.ref(*data)
    except Exception as exc:
        _reraise(op, exc, args, kwargs)
    if type(r) is _NDARRAY and (plan.fresh or (r.base is None and not any(r is d for d in data))):
        result = Array(r, _NUMPY)  # a new buffer: no view to tie
    elif type(r) is _NDARRAY and args and type(args[0]) is Array and args[0]._link is None and _one_array(args):
        # the common view (a.T, reshape, ravel...) of the only array argument, tied as _tie_views would
        a = args[0]
        if r is data[0]:
            result = a  # NumPy returned its argument itself (asarray)
        else:
            result = Array(r, _NUMPY)
            if r.base is not None and _may_share_memory(r, data[0]):
                result._root = a._owner()
    else:
        result = _wrap(r, _NUMPY)
        if _aliases(r, data):
            result = _tie_views(op, result, r, args, kwargs)
    if plan.fallback is not None:
        count_fallback(op.name, plan.fallback)
    _counting.counts.fast[plan.numpy_slot] += 1  # this thread's counters (merged when read)
    return result


def _one_array(args):
    """Whether ``args`` (checked by _numpy_fast: Arrays on NumPy, numbers, None, int tuples) hold one Array."""
    for a in args[1:]:
        if type(a) is Array:
            return False
    return True


def _int_tuple(t):
    for x in t:
        if type(x) is not int:
            return False
    return True


def _plain_keywords(kwargs):
    """Whether no keyword holds an array (or anything else the general path must look at)."""
    for v in kwargs.values():
        t = type(v)
        if v is None or t in _SCALARS or t is str or (t is tuple and _int_tuple(v)):
            continue
        if isinstance(v, (type, np.dtype)):
            continue  # dtype=
        return False
    return True


def _dispatch(op, plan, args, kwargs):
    return _routed(op, plan, args, kwargs)[0]


def _choose(op, plan, args, arrays, kwargs):
    """Where a call runs: ``(backend, impl, result, reason)``. ``impl`` is the native implementation (None on
    NumPy); ``result`` is _MISS unless choosing ran the call already (the auto policy's first measurement);
    ``reason``: why NumPy runs it when that is a fallback (False when NumPy was chosen for speed)."""
    if not arrays and plan.routes and op.kind not in ("creation", "random"):
        # a call holding no array (np.prod(shape_tuple), np.sum(2.0)) computes on Python values, which only NumPy
        # takes (creation and random functions build arrays from them by design): not a fallback
        return _NUMPY, None, _MISS, False
    backend = _NUMPY
    reason = None
    chosen_impl = None
    for candidate, impl in plan.routes:
        reason = _native_reason(op, candidate, impl, arrays, args, kwargs)
        if reason is None:
            backend, chosen_impl = candidate, impl
            break
    result = _MISS
    if backend is not _NUMPY and plan.auto_policy is not None:
        if arrays:
            backend, result = _auto_choice(op, plan, backend, chosen_impl, args, kwargs, arrays, plan.ctx)
        elif op.name not in plan.auto_policy.overrides:
            backend = _NUMPY  # creation from Python values: host data; later operators move it if they gain
        if backend is _NUMPY:
            return _NUMPY, None, result, False  # NumPy chosen for speed by the auto policy: not a fallback
    if backend is _NUMPY:
        if not plan.routes:
            reason = plan.fallback
        elif op.numpy_reason is not None:
            reason = None
        return _NUMPY, None, result, reason
    return backend, chosen_impl, result, None


def _routed(op, plan, args, kwargs):
    """Choose a route (:func:`_choose`) and run the call there: ``(result, backend that ran it, impl)``; the
    backend is None for ``out=`` calls (written through :func:`_with_out`)."""
    if kwargs and kwargs.get("out") is not None:
        return _with_out(op, args, kwargs), None, None
    timing = recorder.timing
    if timing:
        start = perf_counter()
    args, arrays = _normalise(op, args)
    ctx = plan.ctx
    backend, impl, result, reason = _choose(op, plan, args, arrays, kwargs)
    if result is not _MISS:
        pass
    elif backend is not _NUMPY:
        try:
            result = _run_native(op, backend, impl, args, kwargs, arrays, ctx)
        except Exception as exc:  # MXNet raised: NumPy decides what the right answer or error is
            if not backend.own_error(exc):
                raise  # a bug in minpy's glue: a NumPy rerun would hide it (and auto_blacklist would keep it)
            result = _after_native_error(op, backend, exc, args, kwargs)
            backend, impl = _NUMPY, None
    else:
        if reason:
            pol = plan.policy
            if not pol.allow_fallback:
                raise PolicyError(f"{public_name(op.name)} cannot run under the {pol.name} policy: {reason}")
            count_fallback(op.name, reason)
        result = _run_numpy(op, args, kwargs)
    if backend is _NUMPY and plan.home is not None:  # NumPy ran it (by design, fallback or rerun): to the device
        result = _to_home(result, plan.home, ctx)
    key = (op.name, backend.name)
    counts = _counting.counts
    calls = counts.calls
    calls[key] = calls.get(key, 0) + 1
    if timing:
        seconds = counts.seconds
        seconds[key] = seconds.get(key, 0.0) + perf_counter() - start
    return result, backend, impl


def dispatch_route(op, args, kwargs):
    """Run a call as ``op.dispatch`` does (no interceptor) and say where it ran, for extensions that record
    calls to run them again (a jit): ``(result, backend, impl)``. ``backend`` is the backend whose kernel
    computed the result (NumPy's ``op.ref`` when ``impl`` is None), or None when the call is not a plain kernel
    call (operators with their own dispatch such as indexing and writes, ``out=``, results moved to a GPU)."""
    if op.custom is not None:
        return op.custom(op, args, kwargs), None, None
    plan = op._plan
    if not _valid(plan):
        plan = op.plan()
    if plan.fast is not None:
        result = plan.fast(op, plan, args, kwargs)
        if result is not _MISS:
            return result, _NUMPY, None
    result, backend, impl = _routed(op, plan, args, kwargs)
    if plan.home is not None:
        backend = None
    return result, backend, impl


def _to_home(result, home, ctx):
    """Under a GPU context, results NumPy computed move to the context's backend (the copy is counted)."""
    t = type(result)
    if t is Array:
        if result._backend is _NUMPY and home.supports_dtype(result.dtype):
            return Array(result._get(home, ctx), home)
        return result
    if t is tuple or t is list:
        return t(_to_home(r, home, ctx) for r in result)
    return result


# -- the auto policy ------------------------------------------------------------------------------------------
def _resident(a, backend):
    """Whether Array ``a`` has data on ``backend`` without a copy (its own or a current cached copy)."""
    if a._backend is backend:
        return True
    variants = a._variants
    return (variants is not None and backend in variants
            and a._stamp == (a._root if a._root is not None else a)._version)


def _auto_choice(op, plan, backend, impl, args, kwargs, arrays, ctx):
    """(backend, result or _MISS): where the auto policy runs this call. The first call of an operator at a
    dtype and size class nobody measured runs on both and keeps the faster one's result."""
    pol = plan.auto_policy
    forced = pol.overrides.get(op.name)
    if forced is not None:
        return (backend if forced == backend.name else _NUMPY), _MISS
    largest = arrays[0]
    for a in arrays:
        a._fresh()  # a stale detached view takes its values now: its costs are priced where it lives
        if a.size > largest.size:
            largest = a
    dtype = largest.dtype
    size_class = largest.size.bit_length()
    where = tuple(_resident(a, _NUMPY) + 2 * _resident(a, backend) for a in arrays)
    key = (op.name, dtype.char, size_class, where)
    decided = pol.decisions.get(key)
    if decided is not None:
        return (backend if decided == backend.name else _NUMPY), _MISS
    model = pol.cost_model
    entry_key = f"{op.name}|{dtype.str}|{size_class}"
    times = model.get(entry_key)
    result = _MISS
    if times is None or backend.name not in times:
        times, result, winner = _measure_call(op, backend, impl, args, kwargs, arrays, ctx)
        if times is None:  # the native run raised: the answer came from NumPy
            return _NUMPY, result
        model.put(entry_key, times)
    cost_numpy = times["numpy"]
    cost_native = times[backend.name]
    for a, w in zip(arrays, where):
        if not w & 1:
            cost_numpy += model.copy_seconds(a._backend, _NUMPY, a.nbytes, ctx)
        if not w & 2:
            cost_native += model.copy_seconds(a._backend if w & 1 == 0 else _NUMPY, backend, a.nbytes, ctx)
    choice = backend if cost_native < cost_numpy else _NUMPY
    pol.remember(key, choice.name)
    if all(w & 1 for w in where):
        # inputs all on NumPy: the fast path, which sees only such calls, may now decide alone. NumPy winning
        # even against copies already made means it wins without them; a native win is only kept as "ask"
        plan.auto[(dtype.char, size_class)] = choice is _NUMPY
        plan.auto_seen = None
    if result is not _MISS and winner is not choice:
        result = _MISS  # measured the other way round once copies count: run it where it belongs
    return choice, result


def _measure_call(op, backend, impl, args, kwargs, arrays, ctx):
    """Run the call on NumPy and on ``backend`` with inputs already in place on both and time each.
    Returns ({backend name: seconds}, the faster result, the faster backend), or (None, NumPy's result,
    NumPy) when the native run raised."""
    with measuring():   # copies made only to time the backends are the policy's traffic, not the program's
        for a in arrays:  # copies are priced separately; make them now, outside the timings
            a._get(_NUMPY)
            a._get(backend, ctx)
    _run_numpy(op, args, kwargs)  # NumPy first and alone: bad input raises NumPy's error here

    def native():
        out = _run_native(op, backend, impl, args, kwargs, arrays, ctx)
        for r in (out if type(out) in (tuple, list) else (out,)):
            if type(r) is Array and r._backend is backend:
                backend.wait(r._data)
        return out
    try:
        results, times = _auto.measure_each({"numpy": lambda: _run_numpy(op, args, kwargs), backend.name: native})
    except Exception as exc:
        if not backend.own_error(exc):
            raise
        return None, _after_native_error(op, backend, exc, args, kwargs), _NUMPY
    winner = backend if times[backend.name] < times["numpy"] else _NUMPY
    return times, results[winner.name], winner


def lend_outputs(outs):
    """The buffers NumPy writes into for the ``out=`` objects ``outs``: an Array held by NumPy lends its own, one
    held elsewhere a host copy; other objects are NumPy's. Returns (buffers, lent: (Array, its buffer, whether
    the buffer is the Array's own)) for :func:`outputs_written`."""
    buffers = []
    lent = []
    for o in outs:
        if isinstance(o, Array):
            buffer, own = o._host_buffer()
            lent.append((o, buffer, own))
            buffers.append(buffer)
        else:
            buffers.append(o)
    return buffers, lent


def outputs_written(lent, failed=False):
    """Record NumPy's writes into the buffers :func:`lend_outputs` lent (host copies written back); after a
    failed call, only into the Arrays' own buffers (NumPy may have written part of one before it raised)."""
    for o, buffer, own in lent:
        if not failed:
            o._host_written(buffer, own)
        elif own:
            o._wrote()


def _with_out(op, args, kwargs):
    """``out=`` given. NumPy computes into the output buffers themselves, so its own rules hold (``casting=``,
    ``where=`` leaving unselected elements as they were, an output that is also an input, a reduction's casting):
    an output Array held by NumPy lends its own buffer, one held elsewhere a host copy that is written back.
    Every output Array records the write (its cached copies on other backends go stale). The result is ``out``
    itself, as in NumPy (the Array, or the NumPy array, passed). An elementwise operator whose outputs all live
    on one other backend, called with no other keyword, runs there instead and is assigned in place."""
    out = kwargs["out"]
    outs = out if type(out) is tuple else (out,)
    first = outs[0] if outs else None
    if (op.kind == "ufunc" and len(kwargs) == 1 and type(first) is Array and first._backend is not _NUMPY
            and all(type(o) is Array and o._backend is first._backend for o in outs)):
        return _out_by_assignment(op, args, out, outs)
    buffers, lent = lend_outputs(outs)
    nargs = [_convert(a, _NUMPY, _CPU) for a in args]
    nkwargs = {k: _convert(v, _NUMPY, _CPU) for k, v in kwargs.items()}
    nkwargs["out"] = tuple(buffers) if type(out) is tuple else buffers[0]
    try:
        result = op.ref(*nargs, **nkwargs)
    except Exception as exc:
        outputs_written(lent, failed=True)
        _reraise(op, exc, args, kwargs)
    outputs_written(lent)
    count_call(op.name, "numpy")

    def given(r):
        for o, buffer in zip(outs, buffers):
            if r is buffer and o is not None:
                return o
        return _wrap(r, _NUMPY)
    return tuple(given(r) for r in result) if type(result) is tuple else given(result)


def _out_by_assignment(op, args, out, outs):
    """An elementwise operator with outputs held by another backend: compute a new result where the policy
    says, then write it into the outputs in place with NumPy's same-kind casting and broadcasting."""
    result = _invoke(op, args, {})
    results = result if isinstance(result, tuple) else (result,)
    if len(results) != len(outs):
        raise ValueError(f"{public_name(op.name)}: out= needs {len(results)} arrays, got {len(outs)}")
    for target, value in zip(outs, results):
        if not isinstance(value, Array):
            value = Array(np.asarray(value), _NUMPY)
        if value.shape != target.shape:
            try:
                value = _registry["broadcast_to"].public(value, target.shape)
            except ValueError:
                raise ValueError(f"{public_name(op.name)}: non-broadcastable output operand with shape "
                                 f"{target.shape} doesn't match the broadcast shape {value.shape}") from None
        if value.dtype != target.dtype:
            if not np.can_cast(value.dtype, target.dtype, "same_kind"):
                raise TypeError(f"{public_name(op.name)}: Cannot cast ufunc '{op.ref.__name__}' output from "
                                f"{value.dtype!r} to {target.dtype!r} with casting rule 'same_kind'")
            value = _registry["astype"].public(value, target.dtype)
        target._assign_all(value._data, value._backend)
    return outs[0] if type(out) is tuple and len(outs) == 1 else out


def _missing_reason(op, pol, ctx):
    """Why no preferred backend implements ``op`` (None when no preferred backend is usable at all, which is
    not a per-operator fallback: e.g. MXNet is not installed)."""
    backends = [b for b in map(_registered, pol.preference) if b is not None]
    usable = [b.name for b in backends if b.supports_context(ctx) and b.available()]
    if not usable:
        if pol.allow_fallback:
            return None
        # only_mxnet without MXNet: running on NumPy would break the policy's promise; say why it cannot run
        return "; ".join(f"{b.name} is not available ({b.unavailable_reason() or f'cannot serve {ctx!r}'})"
                         for b in backends)
    for b in backends:
        why = getattr(b, "exclusion_reason", None)
        why = why(op) if why is not None and b.name in usable else None
        if why:
            return f"{b.name}: {why}"
    return f"no {'/'.join(usable)} implementation"


def _run_numpy(op, args, kwargs):
    sources = None
    if arrays_in(args) or arrays_in(kwargs.values()):
        sources, source_kwargs = args, kwargs
        args = [_convert(a, _NUMPY, _CPU) for a in args]
        kwargs = {k: _convert(v, _NUMPY, _CPU) for k, v in kwargs.items()}
    try:
        result = op.ref(*args, **kwargs)
    except Exception as exc:
        _reraise(op, exc, args, kwargs)
    if not op.wrap_result:
        return result
    if op.float_default and not _holds_arrays(args):
        result = _default_float(result, kwargs)
    wrapped = _wrap(result, _NUMPY)
    if sources is not None and _aliases(result, args):
        wrapped = _tie_views(op, wrapped, result, sources, source_kwargs)
    return wrapped


def _aliases(result, args):
    """Whether NumPy may have returned an argument's memory (reshape, transpose, split, asarray...)."""
    t = type(result)
    if t is _NDARRAY:
        if result.base is not None:
            return True
        for a in args:
            if a is result:
                return True
        return False
    if t is list or t is tuple:
        return any(_aliases(r, args) for r in result)
    return False


def _tie_views(op, wrapped, result, sources, kwargs):
    """Results that share an argument's NumPy memory are views of that Array: writes through either are seen
    by the other (and bump the owner's write counter, so its cached copies on other backends go stale). A
    result that *is* an argument's data (``np.asarray(a)``) is that Array itself, as in NumPy. A result that
    shares a copy of the argument (it lives on another backend, or is a detached view) becomes a detached view
    of it where NumPy, run on the argument's stand-in, makes a view; else it gets its own memory. Returns the
    results."""
    arrays = [a for a in sources if isinstance(a, Array)]
    arrays += [x for a in sources if type(a) in (list, tuple) for x in a if isinstance(x, Array)]
    single = type(result) is _NDARRAY
    pairs = [(wrapped, result)] if single else \
        [(w, r) for w, r in zip(wrapped, result) if type(r) is _NDARRAY and isinstance(w, Array)]
    replaced = None
    for i, (w, r) in enumerate(pairs):
        for a in arrays:
            data = a._get(_NUMPY)
            if r is data or (r.base is not None and _may_share_memory(r, data)):
                if a._backend is _NUMPY and a._link is None:
                    if r is data:
                        w = a  # the argument itself
                    else:
                        w._root = a._root if a._root is not None else a
                else:
                    w._data = np.array(r)  # its own memory: writing into a's copy would change nothing a reads
                    w = _follow(op, w, i if not single else None, sources, kwargs, a)
                if w is not pairs[i][0]:
                    if replaced is None:
                        replaced = {}
                    replaced[id(pairs[i][0])] = w
                break
    if replaced is None:
        return wrapped
    if single:
        return replaced[id(wrapped)]
    return _replace(wrapped, replaced)


def _replace(results, replaced):
    t = type(results)
    items = [replaced.get(id(r), r) for r in results]
    return t(*items) if hasattr(results, "_fields") else t(items)


def _standin_call(op, args, kwargs, target):
    """``op`` run by NumPy with ``target`` replaced by its stand-in (a memory-less twin, see minpy.array) and
    other arrays by their values: (NumPy's result, the stand-in), or (None, None) where that cannot be told."""
    stand = standin(target)
    if stand is None:
        return None, None

    def sub(x):
        if x is target:
            return stand
        t = type(x)
        if t is list or t is tuple:
            return t(sub(v) for v in x)
        if isinstance(x, Array):
            return x._get(_NUMPY)
        return x
    try:
        with np.errstate(all="ignore"):
            out = op.ref(*[sub(a) for a in args], **{k: sub(v) for k, v in kwargs.items()})
    except Exception:  # NumPy itself refuses the call (it then raises for the real call too)
        return None, None
    return out, stand


def _follow(op, w, index, args, kwargs, target, backend=None):
    """``w`` (result ``index`` of a multi-output call, else None) as NumPy has it: ``target`` itself, a view of
    ``target`` (tied when ``backend`` made it in ``target``'s memory, else detached), or a copy."""
    out, stand = _standin_call(op, args, kwargs, target)
    if out is None:
        return w
    if index is not None:
        if type(out) not in (list, tuple) or index >= len(out):
            return w
        out = out[index]
    if out is stand:
        return target  # NumPy returned its argument (asarray, astype(copy=False))
    if not is_standin_view(out, target):
        return w  # a copy in NumPy too
    writeable = bool(out.flags.writeable) and (target._link is None or target._link.writeable)
    if backend is not None and target._backend is backend and (target._link is None or not target._link.detached) \
            and backend.shares_memory(w._data, target._data):
        w._root = target._root if target._root is not None else target
        if not backend.strided or not writeable:
            link_view(w, target, stand=out, detached=False, writeable=writeable)
        return w
    return link_view(w, target, stand=out, writeable=writeable)


def _native_views(op, backend, wrapped, args, kwargs):
    """A native result of an operator whose NumPy result may be a view of its first argument: made a view
    where NumPy's is one (MXNet's reshape, transpose... copy)."""
    target = args[0] if args else None
    if not isinstance(target, Array):
        return wrapped
    t = type(wrapped)
    if t is Array:
        return _follow(op, wrapped, None, args, kwargs, target, backend)
    if t is list or t is tuple:
        items = [_follow(op, w, i, args, kwargs, target, backend) if type(w) is Array else w
                 for i, w in enumerate(wrapped)]
        return t(*items) if hasattr(wrapped, "_fields") else t(items)
    return wrapped


def arrays_in(values):
    for v in values:
        t = type(v)
        if t is Array or isinstance(v, Array):
            return True
        if (t is list or t is tuple) and any(isinstance(x, Array) for x in v):
            return True
    return False


def _holds_arrays(args):
    """Whether the arguments hold array data (np.asarray(a), np.array([a, b])): the configured default float
    applies to values made from Python numbers only; an existing array keeps its dtype (and its memory), as
    in NumPy."""
    for a in args:
        t = type(a)
        if t is list or t is tuple:
            if _holds_arrays(a):
                return True
        elif t is not bool and t not in _SCALARS and hasattr(a, "dtype"):
            return True
    return False


def _default_float(result, kwargs):
    dt = settings.default_float
    if dt is not None and kwargs.get("dtype") is None and isinstance(result, _NDARRAY) \
            and result.dtype == np.float64:
        return result.astype(dt)
    return result


def _run_native(op, backend, impl, args, kwargs, arrays, ctx):
    expected = None
    if op.casting is not None:
        args, expected = _cast_for_native(op, backend, args, ctx)
    nargs = [_convert(a, backend, ctx) for a in args]
    nkwargs = kwargs
    if kwargs:
        nkwargs = {k: _convert(v, backend, ctx) for k, v in kwargs.items()
                   if v is not None or k in impl.kwargs}
    result = impl.fn(*nargs, **nkwargs)
    if op.float_default and not _holds_arrays(nargs):
        if settings.default_float is not None and nkwargs.get("dtype") is None \
                and np.dtype(result.dtype) == np.float64:
            result = result.astype(settings.default_float)
    wrapped = _wrap(result, backend)
    if expected is not None and type(wrapped) is Array and wrapped.dtype != expected:
        wrapped = Array(backend.astype(wrapped._data, expected), backend)
    elif op.views:
        wrapped = _native_views(op, backend, wrapped, args, kwargs)
    elif backend.ties_views and type(wrapped) is Array:
        for a in arrays:  # a view of an argument: writes through either must be seen by the other's copies
            if a._backend is backend and a._link is None and backend.shares_memory(wrapped._data, a._data):
                wrapped._root = a._root if a._root is not None else a
                break
    return wrapped


def _after_native_error(op, backend, exc, args, kwargs):
    pol = current_policy()
    result = _run_numpy(op, args, kwargs)  # raises NumPy's error (named) when the input was bad
    first_line = str(exc).strip().splitlines()
    detail = f"{type(exc).__name__}: {first_line[0] if first_line else ''}"
    if not pol.allow_fallback:
        raise PolicyError(f"{public_name(op.name)} failed on {backend.name} under the {pol.name} policy "
                          f"({detail})") from None
    pol.native_error(op.name, backend.name, exc)
    count_fallback(op.name, f"{backend.name} raised {detail[:160]}")
    return result


# -- NumPy's dtype rules on backends that differ (elementwise operators) -----------------------------------
_cast_cache = {}
_CAST_CACHE_MAX = 4096


def _signature(args):
    sig = []
    for a in args:
        if isinstance(a, Array):
            sig.append((a.dtype, a.ndim == 0))
        elif type(a) in _SCALARS:
            sig.append(type(a) if _NUMPY2 else (type(a), _value_class(a)))
        else:
            return None
    return tuple(sig)


def _value_class(v):
    """What NumPy 1.x's value-based casting sees of a scalar: for integers the smallest unsigned and signed
    types that hold it (100 and 200 share uint8 but not int8), for other scalars ``min_scalar_type``."""
    t = np.min_scalar_type(v)
    if t.kind in "iu":
        return t, np.min_scalar_type(-abs(int(v)) - 1)
    return t


def _stand_in(a):
    if isinstance(a, Array):
        if a.ndim == 0 and not _NUMPY2:
            return a._host()  # NumPy 1.x: the value of a 0-d array takes part in promotion
        return np.zeros((1,) * max(a.ndim, 1) if a.ndim else (), dtype=a.dtype)
    return a


def native_dtypes(op, args):
    """``(compute, result)``: the dtype a backend other than NumPy computes an elementwise call in (None: no
    cast) and the dtype of NumPy's result, by NumPy's rules; None when the arguments are not arrays and
    scalars. A jit that translates recorded calls for another engine asks this while tracing."""
    sig = _signature(args)
    if sig is None:
        return None
    return _cast_entry(op, args, sig)


def _cast_for_native(op, backend, args, ctx):
    """Cast array arguments to the dtype NumPy computes in, so the native result has NumPy's dtype.
    Returns (args, the dtype NumPy's result has)."""
    sig = _signature(args)
    if sig is None:
        return args, None
    compute, out_dtype = _cast_entry(op, args, sig)
    if compute is None:
        return args, out_dtype
    if not backend.supports_dtype(compute):
        raise NativeUnsupported(f"{backend.name} cannot compute {op.name} in {compute}")
    out = list(args)
    for i, a in enumerate(args):
        if isinstance(a, Array):
            if a.dtype != compute:
                out[i] = Array(backend.astype(a._get(backend, ctx), compute), backend)
        elif type(a) is float and compute == _F64:
            out[i] = _exact_scalar(a, backend, ctx)
    return out, out_dtype


def _cast_entry(op, args, sig):
    if not _NUMPY2 and any(s[1] for s in sig if type(s) is tuple and isinstance(s[0], np.dtype)):
        # NumPy 1.x promotes by a 0-d array's value, through its min_scalar_type: key on that, not on the
        # value (one cache entry per value grew without bound in loops over changing 0-d arrays)
        sig = sig + (tuple(_value_class(a._host()) for a in args if isinstance(a, Array) and a.ndim == 0),)
    key = (op.name, sig)
    entry = _cast_cache.get(key)
    if entry is None:
        stand_ins = [_stand_in(a) for a in args]
        with np.errstate(all="ignore"):
            out = op.ref(*stand_ins)
        # np.dtype(str) drops platform aliases (longlong for int64), which MXNet's dtype table does not know
        out_dtype = np.dtype((out[0] if isinstance(out, tuple) else np.asarray(out)).dtype.str)
        if op.casting == "out":
            compute = out_dtype
        elif op.casting == "common":
            compute = np.dtype(np.result_type(*stand_ins).str)
        else:
            compute = None
        if len(_cast_cache) >= _CAST_CACHE_MAX:
            _cast_cache.clear()  # bounded: rebuilt from NumPy on demand
        entry = _cast_cache[key] = (compute, out_dtype)
    return entry


_exact_scalars = {}  # (value, sign, backend, context) -> a 0-d Array holding the value


def _exact_scalar(value, backend, ctx):
    """``value`` as a 0-d float64 array on ``backend``. MXNet parses scalar parameters from text, up to 1 ulp
    off in float64 (``x >= 0.1`` can be wrong, ``x % 1e-200`` far off); an array carries the exact value. The
    arrays are cached (never written: operators make new outputs), since making one costs ~30 us."""
    key = (value, math.copysign(1.0, value), backend, ctx)  # the sign tells -0.0 from 0.0
    exact = _exact_scalars.get(key)
    if exact is None:
        if len(_exact_scalars) >= 256:
            _exact_scalars.clear()
        exact = _exact_scalars[key] = Array(backend.from_numpy(np.array(value), ctx), backend)
    return exact


def register(op):
    """Add an operator to the table; its public function becomes reachable from Array methods."""
    _registry[op.name] = op
    _OPS[op.name] = op.public
    return op


def get_operator(name):
    return _registry[name]


def all_operators(namespace="numpy"):
    """{name: Operator} of ``minpy.numpy`` (``namespace="numpy"``, the default), of ``minpy.scipy``
    (``"scipy"``: those its modules imported so far registered, named ``scipy.<module>.<function>``), or of
    both (None)."""
    if namespace is None:
        return dict(_registry)
    scipy = namespace == "scipy"
    if not scipy and namespace != "numpy":
        raise ValueError(f"all_operators: namespace must be 'numpy', 'scipy' or None, not {namespace!r}")
    return {name: op for name, op in _registry.items() if name.startswith("scipy.") is scipy}
