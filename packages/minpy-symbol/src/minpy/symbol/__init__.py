"""minpy.symbol: MXNet symbols and Gluon blocks as differentiable MinPy functions.

This package will wrap an MXNet symbol or Gluon block so that it can be called on MinPy
arrays like any other function and differentiated by ``minpy.autograd``.

Not implemented yet; the work is tracked in the project's issue #4.
"""
