"""HIPS autograd's ``autograd.misc``: optimizers, flattening of nested containers, fixed points."""
from minpy.autograd.misc.flatten import flatten
from minpy.autograd.misc.tracers import const_graph

__all__ = ["flatten", "const_graph"]
