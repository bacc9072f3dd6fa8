"""Primitives: functions that autograd treats as one operator with derivative rules of their own.

``primitive(fn)`` wraps any Python function (plain NumPy code, a call into another library): inside a
differentiation call it is recorded as one step, and its rules are given with ``defvjp``/``defjvp`` (HIPS
autograd's module-level functions or the ``.defvjp`` method). ``notrace_primitive(fn)`` wraps a function whose
result does not depend differentiably on its arguments (it receives them unboxed).
"""
import functools

from minpy.array import Array
from minpy.autograd import registry
from minpy.autograd.errors import AutogradError, NoRuleError
from minpy.autograd import tracer as _tracer_module
from minpy.autograd.tracer import Tangent, Tracer, _find_top, _unbox, record


class Primitive:
    """A function that autograd treats as one operator with its own gradient (see :func:`primitive`)."""

    kind = "function"
    wrap_result = True
    differentiable = True

    def __init__(self, fn, name=None, reads=None):
        self.fn = fn
        self.fun = fn  # HIPS autograd's name for the wrapped function
        self.name = name or getattr(fn, "__name__", "primitive")
        self.rule = None   # VJP, internal form (see minpy.autograd.registry)
        self.jrule = None  # JVP, internal form
        self.ref = fn
        #: like registry.READS: ({traced position: positions its rule reads}, whether it reads the result);
        #: None: everything
        self.reads = reads
        functools.update_wrapper(self, fn, updated=())

    def invoke(self, args, kwargs):
        return self.fn(*args, **(kwargs or {}))

    def __call__(self, *args, **kwargs):
        top = _find_top(args, kwargs)
        if top == 0:
            return self.fn(*args, **kwargs)
        uargs, ukwargs, parents = _unbox(args, kwargs, top)
        if not parents:  # boxes only inside containers the tracer does not open (a dict argument)
            return self.fn(*args, **kwargs)
        forward = type(parents[0][1]) is Tangent
        if self.rule is None and (not forward or self.jrule is None):
            which = "JVP" if forward else "VJP"
            raise NoRuleError(f"primitive {self.name} has no derivative rule ({which} of {self.name} wrt "
                              f"argnums {tuple(p for p, _ in parents)} not defined): give it one with "
                              f"minpy.autograd.{'defjvp' if forward else 'defvjp'}")
        ans = self(*uargs, **ukwargs)
        # Write counters are recorded too: a rule reading an Array argument written since (labels of a
        # customop) must fail, not give a wrong gradient.
        return record(self, uargs, ukwargs, ans, parents, top, self.reads)

    def defvjp(self, *vjps, **kw_vjps):
        """Per-argument VJP functions ``f(g, ans, *args, **kwargs)`` (MinPy's form: the gradient first);
        returns the primitive."""
        self.rule = registry.per_argument(self.name, vjps, kw_vjps)
        return self

    def defjvp(self, *jvps, **kw_jvps):
        """Per-argument JVP functions ``f(t, ans, *args, **kwargs)`` (``"same"`` where it is linear);
        returns the primitive."""
        registry.defjvp(self, *jvps, **kw_jvps)
        return self

    def __repr__(self):
        return f"<minpy.autograd primitive {self.name}>"

    def __get__(self, obj, objtype=None):  # a primitive defined in a class body is a method
        return self if obj is None else functools.partial(self, obj)


def primitive(fn=None, *, reads=None):
    """Decorator: make ``fn`` (any Python function, e.g. plain NumPy code or a call into another library)
    a primitive whose derivatives you give with ``defvjp``/``defjvp``::

        @primitive
        def logsumexp(x):
            m = x.max(); return m + numpy.log(numpy.sum(numpy.exp(x - m)))
        defvjp(logsumexp, lambda ans, x: lambda g: g * np.exp(x - ans))   # HIPS autograd's form
        logsumexp.defvjp(lambda g, ans, x: g * np.exp(x - ans))          # or MinPy's

    ``reads=({position: positions read}, reads_result)`` (``@primitive(reads=({0: ()}, True))``) says what the
    VJP rules read, so that the tape keeps only that (the rest as shapes and dtypes).
    """
    if fn is None:
        return lambda f: Primitive(f, reads=reads)
    return Primitive(fn, reads=reads)


def _strip(x):
    while type(x) is Tracer:
        x = x._value
    t = type(x)
    if t is list or t is tuple:
        return t(_strip(v) for v in x)
    if t is dict:
        return {k: _strip(v) for k, v in x.items()}
    return x


def notrace_primitive(fn):
    """Wrap ``fn`` so that it always receives plain values (boxes removed at every level) and its result is
    not traced: for functions whose result carries no derivative (shapes, dtypes, predicates)."""
    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        return fn(*_strip(args), **{k: _strip(v) for k, v in kwargs.items()})
    wrapped._is_primitive = True
    return wrapped


def getval(x):
    """``x`` without its boxes (HIPS autograd's ``getval``)."""
    return _strip(x)


def isbox(x):
    return type(x) is Tracer


# HIPS autograd defines ``primitive``, ``notrace_primitive``, ``getval`` and ``isbox`` in ``autograd.tracer``, and
# its users import them from there. MinPy's tracer sits below this module (it cannot import it), so this layer
# adds the names to the tracer module: importing ``minpy.autograd.tracer`` runs ``minpy.autograd``'s __init__
# first, which imports this module, so ``from minpy.autograd.tracer import primitive`` always finds them.
for _name in ("primitive", "notrace_primitive", "getval", "isbox"):
    setattr(_tracer_module, _name, globals()[_name])
del _name

__all__ = ["Primitive", "primitive", "notrace_primitive", "getval", "isbox", "AutogradError", "Array"]
