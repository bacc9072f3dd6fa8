"""Shared test configuration: Hypothesis profiles and the `mxnet` marker.

Hypothesis profile comes from MINPY_TEST_PROFILE: `ci` (default, quick) or `dev` (longer runs).
Tests marked `mxnet` are skipped, with a reason, where MXNet is not installed (the numpy2 env).
"""
import importlib.util
import os

import pytest
from hypothesis import HealthCheck, settings

HAVE_MXNET = importlib.util.find_spec("mxnet") is not None
# The auto policy's measurements stay in memory during tests: each run measures afresh (so the measuring path
# is exercised) and nothing is left in the user's cache.
os.environ.setdefault("MINPY_AUTO_CACHE", "off")

settings.register_profile(
    "ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("MINPY_TEST_PROFILE", "ci"))

_NO_MXNET = pytest.mark.skip(
    reason="MXNet is not installed in this environment (the numpy2 env runs without it)"
)


def pytest_collection_modifyitems(config, items):
    if HAVE_MXNET:
        return
    for item in items:
        if item.get_closest_marker("mxnet") is not None:
            item.add_marker(_NO_MXNET)


@pytest.fixture(params=["only_numpy", "prefer_mxnet", pytest.param("auto", marks=pytest.mark.mxnet)])
def policy(request):
    """Run the test under each dispatch policy (prefer_mxnet runs NumPy where MXNet is missing; auto is
    only_numpy there, so it runs where MXNet is installed)."""
    from minpy.dispatch.policy import resolve_policy

    with resolve_policy(request.param):
        yield request.param


@pytest.fixture
def have_mxnet():
    """Whether MXNet can be imported in this environment."""
    return HAVE_MXNET
