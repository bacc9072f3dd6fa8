"""minpy.autograd: tape-based automatic differentiation for MinPy arrays.

This package will record the operations applied to MinPy arrays on a tape and replay it
backwards to compute gradients (``grad``, ``grad_and_loss`` and friends from MinPy 0.3).

Not implemented yet; the work is tracked in the project's issue #3.
"""
