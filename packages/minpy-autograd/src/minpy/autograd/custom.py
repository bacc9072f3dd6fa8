"""MinPy 0.3's custom operators: ``@customop('numpy')`` with ``.def_grad(...)``.

The decorated function receives NumPy arrays (its Array arguments converted) and returns NumPy arrays; its
gradient is given with ``def_grad(make_grad, argnum=0)``, where ``make_grad(ans, *args)`` returns a function
of the output gradient ``g`` (all NumPy arrays). Inside ``grad`` it is one primitive: its own gradient is
used, and nothing inside it is traced (so it has no second derivative unless you write it in minpy.numpy).
"""
import numpy as onp

from minpy.array import Array
from minpy.backends import numpy_backend
from minpy.autograd.primitive import Primitive


def _host(x):
    if isinstance(x, Array):
        return x.asnumpy()
    return x


def _wrap(x):
    if isinstance(x, (onp.ndarray, onp.generic)):
        return Array(onp.array(x), numpy_backend)
    if isinstance(x, tuple):
        return tuple(_wrap(v) for v in x)
    return x


class CustomOp(Primitive):
    def __init__(self, fn, device):
        super().__init__(self._run, name=getattr(fn, "__name__", "customop"))
        self.user_fn = fn
        self.device = device
        self.grad_makers = {}
        self.__doc__ = fn.__doc__
        self.__name__ = self.name

    def _run(self, *args, **kwargs):
        if self.device == "numpy":
            args = [_host(a) for a in args]
            kwargs = {k: _host(v) for k, v in kwargs.items()}
        return _wrap(self.user_fn(*args, **kwargs))

    def def_grad(self, make_grad, argnum=0):
        """Give the gradient with respect to argument ``argnum``: ``make_grad(ans, *args)`` returns ``g -> grad``."""
        self.grad_makers[argnum] = make_grad
        self.rule = self._rule
        return self

    def def_grad_zero(self, argnum=0):
        """Declare that argument ``argnum`` gets no gradient (it is data, labels...)."""
        return self.def_grad(lambda ans, *args: (lambda g: onp.zeros_like(_host(args[argnum]))), argnum)

    def _rule(self, argpos, g, ans, args, kwargs):
        make = self.grad_makers.get(argpos)
        if make is None:
            raise TypeError(f"customop {self.name} has no gradient for argument {argpos}; use def_grad(..., "
                            f"argnum={argpos})")
        if self.device == "numpy":
            result = make(_host(ans), *[_host(a) for a in args], **{k: _host(v) for k, v in (kwargs or {}).items()})
            return _wrap(result(_host(g)))
        return make(ans, *args, **(kwargs or {}))(g)


def customop(device="numpy"):
    """Decorator: ``@customop('numpy')`` makes a function written in plain NumPy usable inside ``grad``
    once its gradient is given with ``.def_grad``. ``customop('minpy')`` passes minpy Arrays instead."""
    if device not in ("numpy", "minpy", "mxnet"):
        raise ValueError(f"customop device must be 'numpy' or 'minpy', got {device!r}")

    def decorate(fn):
        return CustomOp(fn, "numpy" if device == "numpy" else "minpy")
    return decorate
