"""minpy.nn: neural-network building blocks on top of MinPy.

Layers, the solver, optimizers, parameter initializers and data iterators, built on ``minpy.autograd`` and
``minpy.symbol``, with MinPy 0.3's module names. Import the submodules you use::

    from minpy.nn import layers, init, optim, io
    from minpy.nn.model import ModelBase
    from minpy.nn.solver import Solver
    import minpy.nn.model_builder as builder

This package imports none of them itself, so ``import minpy.nn`` stays cheap.
"""
