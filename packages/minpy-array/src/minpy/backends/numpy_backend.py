"""NumPy: always available, the reference semantics and the fallback of every operator."""
import numpy as np

from minpy.backends.base import Backend, element_strides
from minpy.context import _CPU


class NumpyBackend(Backend):
    name = "numpy"

    def available(self):
        return True

    def supports_dtype(self, dtype):
        return True

    def is_native(self, obj):
        return isinstance(obj, np.ndarray)

    def context_of(self, data):
        return _CPU

    def to_numpy(self, data):
        return data

    def from_numpy(self, array, ctx):
        return np.array(array, copy=True)

    def resolve(self, spec):
        return spec

    def setitem(self, data, key, value):
        data[key] = value
        return True

    def basic_index(self, data, keys):
        result = data[keys]
        if type(result) is np.ndarray:
            return result, True
        return np.array(result), False  # a scalar: one element was selected

    def astype(self, data, dtype):
        return data.astype(dtype)

    def reshape_shared(self, data, shape):
        view = data.view()
        try:
            view.shape = shape  # NumPy refuses where the new shape needs a copy
        except AttributeError:
            return None
        return view

    strided = True

    def memory_layout(self, data):
        strides = element_strides(data)
        return None if strides is None else (data.__array_interface__["data"][0], strides)
