"""The test environments themselves: MXNet works next to NumPy 1.23.5 where it is installed."""
import numpy as np
import pytest


@pytest.mark.mxnet
def test_mxnet_runs_with_pinned_numpy():
    import mxnet as mx

    assert np.__version__ == "1.23.5", "MXNet 1.9.1 needs NumPy < 1.24 (numpy.bool etc.)"
    x = mx.nd.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose((x * 2).asnumpy(), [2.0, 4.0, 6.0])
