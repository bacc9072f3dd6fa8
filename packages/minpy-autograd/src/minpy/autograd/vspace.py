"""Vector spaces of values (HIPS autograd's ``vspace``): what ``jacobian``, ``deriv``, ``grad_and_aux`` and the
gradient checks need to know about an argument or a result: its shape and dtype, zeros, ones, random vectors,
a basis, and the real inner product. Arrays (minpy, NumPy, Python and NumPy scalars), complex arrays (a complex
number counts as two real coordinates), and lists, tuples and dicts of them.

Every operation is ``minpy.numpy`` code, so it can itself be differentiated (the gradient checks differentiate
inner products to check second derivatives).
"""
import numpy as onp

import minpy.numpy as np
from minpy.array import Array
from minpy.autograd.tracer import Tracer


class VSpace:
    """The vector space of a value. ``shape``, ``dtype``, ``size`` (real dimension), ``ndim``, ``iscomplex``;
    ``zeros()``, ``ones()``, ``randn()``, ``standard_basis()``; ``add``, ``mut_add``, ``scalar_mul``,
    ``inner_prod`` (real), ``covector`` (the conjugate, for complex spaces). Equal when of one kind and
    shape and dtype."""

    iscomplex = False
    mappings = {}

    def __init__(self, value):
        pass

    def add(self, x, y):
        return self._add(x, y)

    def mut_add(self, x_prev, x_new):
        return x_new if x_prev is None else self._add(x_prev, x_new)

    def scalar_mul(self, x, a):
        return self._scalar_mul(x, a)

    def inner_prod(self, x, y):
        return self._inner_prod(x, y)

    def covector(self, x):
        return self._covector(x)

    def _add(self, x, y):
        return x + y

    def _scalar_mul(self, x, a):
        return x * a

    def _covector(self, x):
        return x

    def __eq__(self, other):
        return type(self) is type(other) and self._key() == other._key()

    def __hash__(self):
        return hash((type(self), self._key()))

    def _key(self):
        return ()

    def __repr__(self):
        return f"{type(self).__name__}({self._key()})"

    @classmethod
    def register(cls, value_type, vspace_maker=None):
        """Make ``vspace(x)`` of a ``value_type`` value ``vspace_maker(x)`` (``cls(x)`` by default)."""
        VSpace.mappings[value_type] = vspace_maker or cls


class ArrayVSpace(VSpace):
    """Real arrays and scalars."""

    def __init__(self, value):
        self.shape = tuple(onp.shape(value)) if not hasattr(value, "shape") else tuple(value.shape)
        dtype = getattr(value, "dtype", None)
        self.dtype = onp.dtype(dtype) if dtype is not None else onp.asarray(value).dtype
        if self.dtype.kind not in "fc":
            raise TypeError(f"no vector space for values of dtype {self.dtype} (only floating-point and "
                            "complex values are differentiated)")

    def _key(self):
        return (self.shape, self.dtype)

    @property
    def size(self):
        return int(onp.prod(self.shape, dtype=onp.int64))

    @property
    def ndim(self):
        return len(self.shape)

    def zeros(self):
        return np.zeros(self.shape, dtype=self.dtype)

    def ones(self):
        return np.ones(self.shape, dtype=self.dtype)

    def randn(self):
        return np.array(onp.asarray(onp.random.randn(*self.shape)).astype(self.dtype))

    def standard_basis(self):
        for index in onp.ndindex(*self.shape):
            v = onp.zeros(self.shape, dtype=self.dtype)
            v[index] = 1
            yield np.array(v)

    def _inner_prod(self, x, y):
        return np.sum(np.multiply(x, y))


class ComplexArrayVSpace(ArrayVSpace):
    """Complex arrays and scalars: twice the real dimension; the inner product is ``Re(sum(conj(x) * y))``."""

    iscomplex = True

    @property
    def size(self):
        return 2 * super().size

    def ones(self):
        return np.ones(self.shape, dtype=self.dtype) * (1 + 1j)

    def randn(self):
        re = onp.random.randn(*self.shape)
        im = onp.random.randn(*self.shape)
        return np.array((onp.asarray(re) + 1j * onp.asarray(im)).astype(self.dtype))

    def standard_basis(self):
        for index in onp.ndindex(*self.shape):
            for unit in (1.0, 1.0j):
                v = onp.zeros(self.shape, dtype=self.dtype)
                v[index] = unit
                yield np.array(v)

    def _inner_prod(self, x, y):
        return np.real(np.sum(np.multiply(np.conj(x), y)))

    def _covector(self, x):
        return np.conj(x)


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
