"""Vector spaces of arrays (HIPS autograd's ``autograd.numpy.numpy_vspaces``): the shape and dtype of a real or
complex array or scalar, its zeros, ones, random vectors, basis, and real inner product.

This is what differentiation needs to know about an array value; :func:`minpy.autograd.vspace` maps values to
these spaces (and nestings of lists, tuples and dicts to products of them). Every operation is ``minpy.numpy``
code, so it can itself be differentiated (the gradient checks differentiate inner products to check second
derivatives). Not imported by ``minpy.numpy`` itself: ``import minpy.numpy.numpy_vspaces``.
"""
import numpy as onp

import minpy.numpy as np


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


__all__ = ["VSpace", "ArrayVSpace", "ComplexArrayVSpace"]
