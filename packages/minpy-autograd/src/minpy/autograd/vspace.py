"""Vector spaces of values (HIPS autograd's ``vspace``): what ``jacobian``, ``deriv``, ``grad_and_aux`` and the
gradient checks need to know about an argument or a result: its shape and dtype, zeros, ones, random vectors,
a basis, and the real inner product. Arrays (minpy, NumPy, Python and NumPy scalars), complex arrays (a complex
number counts as two real coordinates), and lists, tuples and dicts of them.

Every operation is ``minpy.numpy`` code, so it can itself be differentiated (the gradient checks differentiate
inner products to check second derivatives). The spaces of arrays are minpy-array's
(:mod:`minpy.numpy.numpy_vspaces`, where HIPS autograd keeps them too); this module adds the containers.
"""
import numpy as onp

import minpy.numpy as np
from minpy.array import Array
from minpy.autograd.tracer import Tracer
from minpy.numpy.numpy_vspaces import ArrayVSpace, ComplexArrayVSpace, VSpace


class ContainerVSpace(VSpace):
    """Lists, tuples and dicts of values: the product of their items' spaces."""

    def __init__(self, value):
        self.shape = self._map_value(vspace, value)

    def _key(self):
        items = self.shape.items() if isinstance(self.shape, dict) else enumerate(self.shape)
        return tuple((k, type(v), v._key()) for k, v in items)

    @property
    def size(self):
        return sum(vs.size for vs in self._spaces())

    @property
    def iscomplex(self):
        return any(vs.iscomplex for vs in self._spaces())

    def zeros(self):
        return self._map(lambda vs: vs.zeros())

    def ones(self):
        return self._map(lambda vs: vs.ones())

    def randn(self):
        return self._map(lambda vs: vs.randn())

    def standard_basis(self):
        zero = self.zeros()
        for key, vs in self._items():
            for v in vs.standard_basis():
                yield self._replace(zero, key, v)

    def _add(self, xs, ys):
        return self._map(lambda vs, x, y: vs.add(x, y), xs, ys)

    def mut_add(self, x_prev, x_new):
        return x_new if x_prev is None else self._add(x_prev, x_new)

    def _scalar_mul(self, xs, a):
        return self._map(lambda vs, x: vs.scalar_mul(x, a), xs)

    def _inner_prod(self, xs, ys):
        total = 0.0
        for vs, x, y in zip(self._spaces(), self._values(xs), self._values(ys)):
            total = total + vs.inner_prod(x, y)
        return total

    def _covector(self, xs):
        return self._map(lambda vs, x: vs.covector(x), xs)


class SequenceVSpace(ContainerVSpace):
    def __init__(self, value):
        self.seq_type = type(value)
        super().__init__(value)

    def _map_value(self, f, value):
        return [f(v) for v in value]

    def _spaces(self):
        return self.shape

    def _items(self):
        return enumerate(self.shape)

    def _values(self, xs):
        return list(xs)

    def _make(self, items):
        return self.seq_type(*items) if hasattr(self.seq_type, "_fields") else self.seq_type(items)

    def _map(self, f, *xs):
        return self._make([f(vs, *[x[i] for x in xs]) for i, vs in enumerate(self.shape)])

    def _replace(self, xs, key, v):
        items = list(xs)
        items[key] = v
        return self._make(items)


class DictVSpace(ContainerVSpace):
    def __init__(self, value):
        self.dict_type = type(value)
        super().__init__(value)

    def _map_value(self, f, value):
        return {k: f(v) for k, v in value.items()}

    def _spaces(self):
        return list(self.shape.values())

    def _items(self):
        return self.shape.items()

    def _values(self, xs):
        return [xs[k] for k in self.shape]

    def _map(self, f, *xs):
        return self.dict_type((k, f(vs, *[x[k] for x in xs])) for k, vs in self.shape.items())

    def _replace(self, xs, key, v):
        out = self.dict_type(xs)
        out[key] = v
        return out


def _array_space(value):
    dtype = getattr(value, "dtype", None)
    kind = onp.dtype(dtype).kind if dtype is not None else onp.asarray(value).dtype.kind
    return ComplexArrayVSpace(value) if kind == "c" else ArrayVSpace(value)


for _t in (Array, onp.ndarray, float, complex, int, onp.float16, onp.float32, onp.float64, onp.longdouble,
           onp.complex64, onp.complex128, onp.clongdouble):
    VSpace.register(_t, _array_space)


def vspace(value):
    """The vector space of ``value`` (boxes are looked through)."""
    while type(value) is Tracer:
        value = value._value
    maker = VSpace.mappings.get(type(value))
    if maker is not None:
        return maker(value)
    if isinstance(value, (list, tuple)):
        return SequenceVSpace(value)
    if isinstance(value, dict):
        return DictVSpace(value)
    if isinstance(value, (onp.generic, Array)):
        return _array_space(value)
    raise TypeError(f"no vector space for {value!r} of type {type(value).__name__}: differentiable values are "
                    "arrays, scalars, and lists, tuples and dicts of them")


__all__ = ["VSpace", "ArrayVSpace", "ComplexArrayVSpace", "ContainerVSpace", "SequenceVSpace", "DictVSpace",
           "vspace"]
