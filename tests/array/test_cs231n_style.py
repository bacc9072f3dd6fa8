"""Code written for NumPy runs unchanged on ``import minpy.numpy as np``: the CS231n-style program
``tests/array/cs231n_style.py`` (gradient checks with ``np.nditer``, layers and their backward passes, an embedding's
backward with ``np.add.at``, im2col through ``np.lib.stride_tricks.as_strided``, ``np.int``, in-place updates,
``np.random.seed``) is run as written and with its import line replaced, under every policy, and every result must
be NumPy's (the program's own checks, its notebook-style asserts, must pass on both)."""
import warnings

import numpy
import pytest

from minpy.array import Array
from minpy.dispatch.policy import resolve_policy

from array_support import load_cs231n_style

POLICIES = [pytest.param("prefer_mxnet", marks=pytest.mark.mxnet), "only_numpy",
            pytest.param("auto", marks=pytest.mark.mxnet)]
load = load_cs231n_style


def _host(value):
    return value.asnumpy() if isinstance(value, Array) else numpy.asarray(value)


@pytest.fixture(scope="module")
def expected():
    return load(minpy=False).run()


@pytest.mark.parametrize("policy", POLICIES)
def test_cs231n_style_program_runs_unchanged(policy, expected):
    program = load(minpy=True)
    assert program.np.__name__ == "minpy.numpy"
    with resolve_policy(policy), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        got = program.run()
    assert list(got) == list(expected)
    for key, value in expected.items():
        want = numpy.asarray(value)
        have = _host(got[key])
        assert have.shape == want.shape, key
        if want.dtype.kind == "f":
            numpy.testing.assert_allclose(have, want, rtol=1e-6, atol=1e-9, err_msg=key)
        else:
            assert have.dtype == want.dtype, key
            numpy.testing.assert_array_equal(have, want, err_msg=key)
