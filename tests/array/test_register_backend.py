"""A backend registered by a user joins dispatch at once: operators planned before it see it afterwards."""
import numpy

import minpy.numpy as np
from minpy.backends import Backend, Impl, get_backend, register_backend
from minpy.backends.numpy_backend import NumpyBackend
from minpy.dispatch.policy import Policy
from minpy.stats import op_stats, reset_op_stat


class HostCopyBackend(NumpyBackend):
    """NumPy under another name, implementing the elementwise operators only."""

    name = "hostcopy"

    def default_impl(self, op):
        return Impl(op.ref) if op.kind == "ufunc" else None


class PreferHostCopy(Policy):
    name = "prefer_hostcopy"
    preference = ("hostcopy",)


def test_register_backend_takes_effect_for_operators_already_planned():
    a = np.arange(4.0)
    with PreferHostCopy():
        np.negative(a)  # planned while "hostcopy" is unknown: NumPy runs it
        backend = register_backend(HostCopyBackend())
        assert get_backend("hostcopy") is backend
        reset_op_stat()
        out = np.negative(a)
        numpy.testing.assert_array_equal(out.asnumpy(), -numpy.arange(4.0))
        assert op_stats()["calls"]["negative"] == {"hostcopy": 1}


def test_register_backend_rejects_what_is_not_a_backend():
    import pytest

    with pytest.raises(TypeError, match="Backend"):
        register_backend(object())

    class Nameless(Backend):
        pass

    with pytest.raises(ValueError, match="name"):
        register_backend(Nameless())
