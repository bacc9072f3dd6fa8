"""(d) An operator CuPy lacks (or is excluded from CuPy) runs on NumPy under gpu(0): the copies GPU->CPU and the
result's CPU->GPU are counted with their bytes in minpy.stats, and the result lives on the GPU; (f) without a GPU
(or CuPy), ``with gpu(0):`` raises ContextError naming what is missing for each backend."""
import numpy
import pytest

import minpy.numpy as np
from gpu_support import CUPY, copies, on_gpu
from minpy import stats
from minpy.context import ContextError, gpu


def test_fallback_copies_are_counted(gpu0):
    x = on_gpu(numpy.arange(12.0).reshape(3, 4))
    stats.reset_op_stat()
    got = np.take(x, [2, 0], axis=1)  # excluded: CuPy wraps out-of-range indices
    report = stats.op_stats()
    numpy.testing.assert_array_equal(got.asnumpy(), numpy.arange(12.0).reshape(3, 4)[:, [2, 0]])
    assert got.backend == "cupy"
    assert report["calls"]["take"] == {"numpy": 1}
    c = copies(report)
    assert c["cupy->numpy"] == (1, x.nbytes), c
    assert c["numpy->cupy"][0] >= 1 and c["numpy->cupy"][1] >= got.nbytes, c
    assert report["fallbacks"].get("take"), report["fallbacks"]


def test_chain_on_gpu_copies_nothing(gpu0):
    x = on_gpu(numpy.linspace(-1, 1, 64, dtype=numpy.float32).reshape(8, 8))
    stats.reset_op_stat()
    y = np.tanh(np.dot(x, x.T) + 1.0).sum(axis=0)
    report = stats.op_stats()
    assert copies(report) == {}, copies(report)
    assert y.backend == "cupy" and y.context == gpu(0)
    ref = numpy.tanh(x.asnumpy() @ x.asnumpy().T + 1.0).sum(axis=0)
    numpy.testing.assert_allclose(y.asnumpy(), ref, rtol=1e-5)


def test_creation_lands_on_gpu(gpu0):
    z = np.zeros((3, 4), dtype=np.float32)
    assert z.backend == "cupy" and z.context == gpu(0)
    a = np.array([[1.0, 2.0]])  # built on NumPy from host data by design, then moved to the GPU
    assert a.backend == "cupy"


def test_singular_matrix_raises_like_numpy(gpu0):
    with pytest.raises(numpy.linalg.LinAlgError):
        np.linalg.inv(on_gpu(numpy.zeros((3, 3))))


@pytest.mark.gpu_anywhere
def test_gpu_context_error_names_what_is_missing():
    if CUPY.available():
        with gpu(0):
            pass  # the GPU works here; the message is checked where it does not
        return
    with pytest.raises(ContextError) as info:
        with gpu(0):
            pass
    text = str(info.value)
    assert "cupy" in text and CUPY.unavailable_reason() in text, text
    assert "mxnet" in text, text


@pytest.mark.gpu_anywhere
def test_gpu_beyond_the_device_count_is_refused():
    with pytest.raises(ContextError):
        with gpu(4096):
            pass
