"""MinPy 0.3's ``minpy.primitive``: ``customop`` is :func:`minpy.autograd.customop` (an alias).

    from minpy.primitive import customop

    @customop('numpy')
    def softmax(x, y): ...
    softmax.def_grad(softmax_grad)
"""
from minpy.autograd import customop

__all__ = ["customop"]
