"""Differential operators: HIPS autograd 1.7's ``autograd.differential_operators``, with the same names,
signatures and semantics, plus MinPy's own (``grad_and_loss``, ``vjp``, ``stop_gradient``).

Every operator takes a function and ``argnum`` (an int, or a tuple of ints: then the derivative is taken with
respect to those arguments together and comes back as a tuple), and returns a function with the original
function's arguments. Arguments may be scalars, NumPy or minpy arrays, or lists, tuples and dicts of them;
gradients come back in the same structure.

Reverse mode: ``grad``, ``value_and_grad``, ``grad_and_aux``, ``elementwise_grad``, ``make_vjp``, ``jacobian``,
``hessian``, ``holomorphic_grad``, ``grad_named``, ``multigrad_dict``, ``tensor_jacobian_product``,
``checkpoint``. Forward mode: ``make_jvp``, ``deriv``. Both: ``hessian_tensor_product`` (forward-over-reverse
for a vector of the argument's shape), ``make_hvp``, ``make_ggnvp``.
"""
import functools
import inspect
import warnings
from collections import OrderedDict

import numpy as onp

import minpy.numpy as np
from minpy.array import Array
from minpy.autograd.backward import (gradients, select_args, to_array, trace_reverse, unbox_value)
from minpy.autograd.forward import trace_forward
from minpy.autograd.primitive import Primitive
from minpy.autograd.tracer import Tracer
from minpy.autograd.vspace import vspace


def _wraps(fun, op_name, argnum):
    def decorate(f):
        name = getattr(fun, "__name__", "function")
        f.__name__ = f"{op_name}_of_{name}_wrt_argnum_{argnum}"
        f.__qualname__ = f.__name__
        # indented as HIPS autograd's are (code checks the first words)
        f.__doc__ = (f"    {op_name} of function {name} with respect to argument number(s) {argnum}; takes {name}'s "
                     "arguments.")
        f.__wrapped__ = fun
        return f
    return decorate


def _pick(grads, argnum):
    return grads[0] if isinstance(argnum, int) else tuple(grads)


def _argument(args, argnum):
    return args[argnum] if isinstance(argnum, int) else tuple(args[i] for i in argnum)


def _check_argnum(argnum):
    if not isinstance(argnum, (int, tuple, list)):
        raise TypeError(f"argnum must be an int or a tuple of ints, got {argnum!r}")
    return argnum if isinstance(argnum, int) else tuple(argnum)


# -- the two primitives of everything below -------------------------------------------------------------------------
def _make_vjp(fun, args, kwargs, argnum, free=False):
    nums = select_args(args, argnum)
    out, trace, boxed, starts = trace_reverse(fun, args, kwargs, nums)
    ans = unbox_value(out, trace)

    def vjp(g):
        return _pick(gradients(out, trace, boxed, starts, to_array(g), free=free), argnum)
    return vjp, ans


def _make_jvp(fun, args, kwargs, argnum, tangent):
    nums = select_args(args, argnum)
    tangents = (tangent,) if isinstance(argnum, int) else tuple(tangent)
    if len(tangents) != len(nums):
        raise ValueError(f"{len(nums)} arguments are differentiated but {len(tangents)} tangents were given")
    return trace_forward(fun, args, kwargs, nums, tangents)


def make_vjp(fun, argnum=0):
    """``make_vjp(fun, argnum)(*args)`` is ``(vjp, ans)``: ``fun``'s value and the function mapping a
    cotangent of the value (same structure) to the gradient with respect to the argument(s)."""
    argnum = _check_argnum(argnum)

    @_wraps(fun, "make_vjp", argnum)
    def nary(*args, **kwargs):
        return _make_vjp(fun, args, kwargs, argnum)
    return nary


def make_jvp(fun, argnum=0):
    """``make_jvp(fun, argnum)(*args)`` is ``jvp``; ``jvp(v)`` is ``(ans, tangent)``: ``fun``'s value and its
    directional derivative along ``v`` (forward mode; ``fun`` is evaluated again for each ``v``)."""
    argnum = _check_argnum(argnum)

    @_wraps(fun, "make_jvp", argnum)
    def nary(*args, **kwargs):
        def jvp(v):
            return _make_jvp(fun, args, kwargs, argnum, v)
        return jvp
    return nary


# -- reverse mode -----------------------------------------------------------------------------------------------------
def _require_scalar(ans, fun, what):
    value = ans
    while type(value) is Tracer:
        value = value._value
    dtype = getattr(value, "dtype", None)
    size = getattr(value, "size", 1)
    if isinstance(value, complex) or dtype is not None and onp.dtype(dtype).kind == "c":
        raise TypeError(f"{what} only applies to real scalar-output functions; "
                        f"{getattr(fun, '__name__', 'the function')} returned a complex value. Try "
                        "holomorphic_grad, or take np.real/np.abs of the output")
    if size != 1:
        raise TypeError(f"{what} requires a scalar output; {getattr(fun, '__name__', 'the function')} returned "
                        f"shape {tuple(getattr(value, 'shape', ()))}. Try elementwise_grad for a sum of "
                        "gradients, or make_vjp/jacobian")
    if dtype is not None and onp.dtype(dtype).kind not in "f":
        raise TypeError(f"{what} requires a floating-point output; {getattr(fun, '__name__', 'the function')} "
                        f"returned dtype {onp.dtype(dtype)}")
    if dtype is None and (isinstance(value, bool) or not isinstance(value, (float, int, onp.floating))):
        raise TypeError(f"{what} requires a numeric output; {getattr(fun, '__name__', 'the function')} returned "
                        f"{type(value).__name__}")


def _ones_like(ans):
    return np.ones_like(ans) if isinstance(ans, (Array, Tracer)) else np.array(1.0)


def value_and_grad(fun, argnum=0):
    """``fun``'s value and its gradient with respect to argument(s) ``argnum``: ``(ans, grad)``."""
    argnum = _check_argnum(argnum)

    @_wraps(fun, "value_and_grad", argnum)
    def nary(*args, **kwargs):
        vjp, ans = _make_vjp(fun, args, kwargs, argnum, free=True)
        _require_scalar(ans, fun, "grad")
        # The backward pass runs with the interceptor installed only if an outer differentiation is tracing
        # (then the rules' operators are recorded there: higher-order derivatives).
        return ans, vjp(_ones_like(ans))
    return nary


def grad(fun, argnum=0):
    """
    Returns a function which computes the gradient of scalar-valued ``fun`` with respect to argument(s)
    ``argnum``, in the argument's structure and dtype. For a real-valued function of complex inputs it is HIPS
    autograd's ``du/dx - i du/dy`` (its conjugate points uphill); see ``holomorphic_grad`` for complex-valued
    holomorphic functions.
    """
    vg = value_and_grad(fun, argnum)

    @_wraps(fun, "grad", argnum)
    def nary(*args, **kwargs):
        return vg(*args, **kwargs)[1]
    return nary


def grad_and_loss(fun, argnum=0):
    """MinPy's spelling: returns ``(gradients, loss)``."""
    vg = value_and_grad(fun, argnum)

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        value, grads = vg(*args, **kwargs)
        return grads, value
    return wrapper


def grad_and_aux(fun, argnum=0):
    """For ``fun`` returning ``(value, aux)``: ``(gradient of value, aux)``, ``fun`` evaluated once."""
    argnum = _check_argnum(argnum)

    @_wraps(fun, "grad_and_aux", argnum)
    def nary(*args, **kwargs):
        vjp, (ans, aux) = _make_vjp(lambda *a, **k: tuple(fun(*a, **k)), args, kwargs, argnum, free=True)
        _require_scalar(ans, fun, "grad_and_aux")
        return vjp((_ones_like(ans), None)), aux
    return nary


def vjp(fun, *args, argnum=0, **kwargs):
    """MinPy's form: ``(value, vjp_fn)``; ``vjp_fn(g)`` is the gradient of ``sum(g * fun(*args))`` with respect
    to ``args[argnum]``. (``make_vjp(fun, argnum)(*args)`` is HIPS autograd's, ``(vjp_fn, value)``.)"""
    vjp_fn, ans = _make_vjp(fun, args, kwargs, _check_argnum(argnum))
    return ans, vjp_fn


def elementwise_grad(fun, argnum=0):
    """The gradient of ``sum(fun(x))`` in one backward pass: the sum of the Jacobian's rows, which for an
    elementwise function is its derivative at every element. ``fun`` must have a real output."""
    argnum = _check_argnum(argnum)

    @_wraps(fun, "elementwise_grad", argnum)
    def nary(*args, **kwargs):
        vjp_fn, ans = _make_vjp(fun, args, kwargs, argnum, free=True)
        if vspace(ans).iscomplex:
            raise TypeError("elementwise_grad only applies to real-output functions")
        return vjp_fn(vspace(ans).ones())
    return nary


def jacobian(fun, argnum=0):
    """The Jacobian of ``fun`` with respect to argument ``argnum`` (an array or scalar): shape
    ``out.shape + in.shape``, one backward pass per output element."""
    argnum = _check_argnum(argnum)

    @_wraps(fun, "jacobian", argnum)
    def nary(*args, **kwargs):
        vjp_fn, ans = _make_vjp(fun, args, kwargs, argnum)
        out_space = vspace(ans)
        x = _argument(args, argnum)
        rows = [vjp_fn(b) for b in out_space.standard_basis()]
        if isinstance(argnum, tuple):
            return tuple(np.reshape(np.stack([r[i] for r in rows]) if rows else np.zeros((0,)),
                                    tuple(out_space.shape) + tuple(vspace(x[i]).shape))
                         for i in range(len(argnum)))
        shape = tuple(out_space.shape) + tuple(vspace(to_array(x)).shape)
        if not rows:
            return np.zeros(shape)
        return np.reshape(np.stack(rows), shape)
    return nary


def hessian(fun, argnum=0):
    """The exact Hessian: ``jacobian(jacobian(fun))``."""
    argnum = _check_argnum(argnum)

    @_wraps(fun, "hessian", argnum)
    def nary(*args, **kwargs):
        return jacobian(jacobian(fun, argnum), argnum)(*args, **kwargs)
    return nary


def holomorphic_grad(fun, argnum=0):
    """The complex derivative of a holomorphic ``fun`` (the gradient of ``real(fun)``, which for a holomorphic
    function is ``f'(z)``). Warns when the argument is not complex."""
    argnum = _check_argnum(argnum)

    @_wraps(fun, "holomorphic_grad", argnum)
    def nary(*args, **kwargs):
        if not vspace(to_array(_argument(args, argnum))).iscomplex:
            warnings.warn("Input to holomorphic_grad is not complex")
        return grad(lambda *a, **k: np.real(fun(*a, **k)), argnum)(*args, **kwargs)
    return nary


def grad_named(fun, argname):
    """The gradient with respect to the argument named ``argname`` (not ``*args``/``**kwargs``)."""
    params = [p.name for p in inspect.signature(fun).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return grad(fun, params.index(argname))


def multigrad_dict(fun):
    """A function returning an ``OrderedDict`` from each argument name of ``fun`` to the gradient with respect
    to that argument (defaults included; ``*args`` as a tuple, ``**kwargs`` as a dict)."""
    sig = inspect.signature(fun)

    def gradfun(*args, **kwargs):
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        names = list(sig.parameters)
        params = sig.parameters

        def call(values):
            pos, kw = [], {}
            for name in names:
                kind = params[name].kind
                if kind == inspect.Parameter.VAR_POSITIONAL:
                    pos.extend(values[name])
                elif kind == inspect.Parameter.VAR_KEYWORD:
                    kw.update(values[name])
                elif kind == inspect.Parameter.KEYWORD_ONLY:
                    kw[name] = values[name]
                else:
                    pos.append(values[name])
            return fun(*pos, **kw)
        values = {name: bound.arguments[name] for name in names}
        grads = grad(call)(values)
        return OrderedDict((name, grads[name]) for name in names)
    return gradfun


def make_hvp(fun, argnum=0):
    """``make_hvp(fun, argnum)(*args)`` is ``(hvp, grad)``: the gradient at the point and a function of a
    vector giving the Hessian-vector product there (the forward pass of ``grad`` is kept between calls)."""
    argnum = _check_argnum(argnum)

    @_wraps(fun, "make_hvp", argnum)
    def nary(*args, **kwargs):
        return _make_vjp(grad(fun, argnum), args, kwargs, argnum)
    return nary


def hessian_tensor_product(fun, argnum=0):
    """A function of ``(*args, tensor)`` giving the Hessian of ``fun`` contracted with ``tensor`` over the
    tensor's dimensions (the argument's trailing ones). For a vector of the argument's shape this is the
    Hessian-vector product, computed forward-over-reverse (one forward-mode pass through ``grad``)."""
    argnum = _check_argnum(argnum)
    fun_grad = grad(fun, argnum)

    def product(*args, **kwargs):
        args, vector = args[:-1], args[-1]
        x = _argument(args, argnum)
        if isinstance(argnum, int) and onp.shape(vector) == tuple(vspace(to_array(x)).shape):
            return _make_jvp(fun_grad, args, kwargs, argnum, vector)[1]

        def vector_dot_grad(*a, **k):
            return np.tensordot(fun_grad(*a, **k), vector, onp.ndim(vector))
        return grad(vector_dot_grad, argnum)(*args, **kwargs)
    return product


hessian_vector_product = hessian_tensor_product


def tensor_jacobian_product(fun, argnum=0):
    """A function of ``(*args, tensor)`` giving ``tensor`` contracted with the Jacobian of ``fun`` over the
    tensor's dimensions (the output's leading ones); for a tensor of the output's shape, one VJP."""
    argnum = _check_argnum(argnum)

    def product(*args, **kwargs):
        args, tensor = args[:-1], args[-1]

        def vector_dot_fun(*a, **k):
            return np.tensordot(tensor, fun(*a, **k), axes=onp.ndim(tensor))
        return jacobian(vector_dot_fun, argnum)(*args, **kwargs)
    return product


vector_jacobian_product = tensor_jacobian_product


def make_jvp_reversemode(fun, argnum=0):
    """Forward-mode products from two reverse passes: the VJP is linear in its cotangent, so the VJP of the
    VJP is the JVP (``make_jvp_reversemode(fun, argnum)(*args)`` is ``v -> J v``)."""
    argnum = _check_argnum(argnum)

    @_wraps(fun, "make_jvp_reversemode", argnum)
    def nary(*args, **kwargs):
        vjp_fn, ans = _make_vjp(fun, args, kwargs, argnum)
        vjp_vjp, _ = _make_vjp(vjp_fn, (vspace(ans).zeros(),), {}, 0)
        return vjp_vjp
    return nary


def make_ggnvp(f, g=lambda x: 1.0 / 2 * np.sum(x ** 2, axis=-1), f_argnum=0):
    """Generalized Gauss-Newton-vector products for ``g(f(x))``: ``make_ggnvp(f, g, f_argnum)(*args)`` is
    ``v -> J_f^T H_g J_f v`` (``J_f v`` forward mode, ``H_g`` forward-over-reverse, ``J_f^T`` reverse)."""
    f_argnum = _check_argnum(f_argnum)

    def nary(*args, **kwargs):
        f_vjp, f_x = _make_vjp(f, args, kwargs, f_argnum)
        grad_g = grad(g)

        def ggnvp(v):
            f_jv = _make_jvp(f, args, kwargs, f_argnum, v)[1]
            hv = _make_jvp(grad_g, (f_x,), {}, 0, f_jv)[1]
            return f_vjp(hv)
        return ggnvp
    return nary


def deriv(fun, argnum=0):
    """The derivative of ``fun`` along a vector of ones (forward mode): for a scalar argument, ``fun'(x)``."""
    argnum = _check_argnum(argnum)

    @_wraps(fun, "deriv", argnum)
    def nary(*args, **kwargs):
        x = to_array(_argument(args, argnum))
        return _make_jvp(fun, args, kwargs, argnum, vspace(x).ones())[1]
    return nary


def checkpoint(fun):
    """``fun`` as one primitive whose intermediate values are not kept: its backward pass runs ``fun`` again
    (trading time for memory, arXiv:1604.06174)."""
    wrapped = Primitive(fun, name=f"checkpoint({getattr(fun, '__name__', 'function')})")

    def rule(argpos, g, ans, args, kwargs):
        if not isinstance(argpos, int):
            raise TypeError(f"{wrapped.name}: gradients with respect to positional arguments only")
        return _make_vjp(fun, args, kwargs or {}, argpos)[0](g)

    def jrule(argpos, t, ans, args, kwargs):
        if not isinstance(argpos, int):
            raise TypeError(f"{wrapped.name}: tangents of positional arguments only")
        return _make_jvp(fun, args, kwargs or {}, argpos, t)[1]
    wrapped.rule = rule
    wrapped.jrule = jrule
    return wrapped


def stop_gradient(x):
    """``x``'s value with no derivative flowing through it (boxes of every trace removed)."""
    while isinstance(x, Tracer):
        x = x._value
    return x


__all__ = ["make_vjp", "make_jvp", "grad", "value_and_grad", "grad_and_aux", "grad_and_loss", "vjp",
           "elementwise_grad", "jacobian", "hessian", "holomorphic_grad", "grad_named", "multigrad_dict",
           "make_hvp", "hessian_tensor_product", "hessian_vector_product", "tensor_jacobian_product",
           "vector_jacobian_product", "make_jvp_reversemode", "make_ggnvp", "deriv", "checkpoint",
           "stop_gradient"]
