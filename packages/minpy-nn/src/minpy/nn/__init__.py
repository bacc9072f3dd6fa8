"""minpy.nn: neural-network building blocks on top of MinPy.

This package will hold layers, the solver, optimizers, parameter initializers and data
iterators, built on ``minpy.autograd`` and ``minpy.symbol``.

Not implemented yet; the work is tracked in the project's issue #5.
"""
