"""HIPS autograd's ``autograd.wrap_util``: ``unary_to_nary`` turns an operator on functions of one argument into
one that takes ``argnum`` (HIPS's differential operators are all written this way), and the naming helpers."""
from minpy.autograd.util import subvals


def get_name(f):
    return getattr(f, "__name__", "[unknown name]")


def get_doc(f):
    return getattr(f, "__doc__", "")


def wraps(fun, namestr="{fun}", docstr="{doc}", **kwargs):
    """Decorator: name and document the decorated function after ``fun`` with these format strings (they may
    use ``{fun}``, ``{doc}`` and ``kwargs``); objects whose name cannot be set are returned unchanged."""
    def decorate(f):
        try:
            f.__name__ = namestr.format(fun=get_name(fun), **kwargs)
            f.__doc__ = docstr.format(fun=get_name(fun), doc=get_doc(fun), **kwargs)
        except (AttributeError, TypeError):
            pass
        return f
    return decorate


def wrap_nary_f(fun, op, argnum):
    """``wraps`` naming the result ``{op}_of_{fun}_wrt_argnum_{argnum}``."""
    doc = (f"{get_name(op)} of function {{fun}} with respect to argument number {{argnum}}. Takes the same "
           f"arguments as {{fun}} but returns the {get_name(op)}.")
    return wraps(fun, "{op}_of_{fun}_wrt_argnum_{argnum}", doc, op=get_name(op), argnum=argnum)


def unary_to_nary(unary_operator):
    """``unary_operator(f, x, *extra)`` (an operator on functions of one argument) as
    ``nary_operator(fun, argnum=0, *extra)``: a function of ``fun``'s arguments that applies the operator to
    ``fun`` as a function of argument ``argnum`` (a tuple of positions: of those arguments as one tuple)."""
    @wraps(unary_operator)
    def nary_operator(fun, argnum=0, *nary_op_args, **nary_op_kwargs):
        if type(argnum) not in (int, tuple, list):
            raise TypeError(f"argnum must be an int or a tuple of ints, got {argnum!r}")

        @wrap_nary_f(fun, unary_operator, argnum)
        def nary_f(*args, **kwargs):
            @wraps(fun)
            def unary_f(x):
                pairs = [(argnum, x)] if isinstance(argnum, int) else zip(argnum, x)
                return fun(*subvals(args, pairs), **kwargs)
            x = args[argnum] if isinstance(argnum, int) else tuple(args[i] for i in argnum)
            return unary_operator(unary_f, x, *nary_op_args, **nary_op_kwargs)
        return nary_f
    return nary_operator


__all__ = ["unary_to_nary", "wraps", "wrap_nary_f", "get_name", "get_doc"]
