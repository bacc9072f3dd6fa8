"""The `gpu` test group: every test here runs on gpu(0) through minpy's CuPy backend.

Each test is marked `gpu` (`pytest -m gpu` selects the group) and is skipped, with the reason printed
(`-rs`), where the CuPy backend is unavailable (no cupy, no CUDA device, a driver error): CI has no GPU.
Tests marked `gpu_anywhere` belong to the group but run everywhere (the error text without a GPU).
"""
import pytest

from minpy.backends import get_backend

CUPY = get_backend("cupy")


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: runs on gpu(0) with minpy's CuPy backend; skipped without one")
    config.addinivalue_line("markers", "gpu_anywhere: in the gpu group, but runs without a GPU too")


def pytest_collection_modifyitems(config, items):
    here = __file__.rsplit("/", 1)[0]
    skip = None if CUPY.available() else pytest.mark.skip(
        reason=f"minpy's CuPy backend is unavailable: {CUPY.unavailable_reason()}")
    for item in items:
        if not str(item.fspath).startswith(here):
            continue
        item.add_marker(pytest.mark.gpu)
        if skip is not None and item.get_closest_marker("gpu_anywhere") is None:
            item.add_marker(skip)


@pytest.fixture
def gpu0():
    """gpu(0) made current for the test, with fresh op statistics."""
    from minpy import stats
    from minpy.context import gpu

    stats.reset_op_stat()
    with gpu(0) as ctx:
        yield ctx
