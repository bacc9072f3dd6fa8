"""Shared test configuration: Hypothesis profiles, the `mxnet` marker and the skip summary.

Hypothesis profile comes from MINPY_TEST_PROFILE: `ci` (default, quick) or `dev` (longer runs).
Tests marked `mxnet` are skipped, with a reason, where MXNet is not installed (the numpy2 env).
Skipped tests are summed up at the end of the run in one line per reason (`-rs` still lists each one).
"""
import collections
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


@pytest.fixture(autouse=True)
def _operators_untimed_after():
    """A test that turns on operator timing (``record_op_stat()``) leaves it off for the next: timing turns
    the fast paths off, and later tests of those paths would otherwise run without them."""
    yield
    from minpy.stats import record_op_stat, recorder
    if recorder.timing:
        record_op_stat(False)


@pytest.fixture
def have_mxnet():
    """Whether MXNet can be imported in this environment."""
    return HAVE_MXNET


def _skip_reason(report):
    """The reason pytest recorded for a skipped test (its longrepr is ``(path, line, 'Skipped: reason')``)."""
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return reason.removeprefix("Skipped: ")


def pytest_terminal_summary(terminalreporter):
    """One line per skip reason, with the number of tests it skipped, most frequent first."""
    skipped = [r for r in terminalreporter.stats.get("skipped", ()) if not hasattr(r, "wasxfail")]
    if not skipped:
        return
    counts = collections.Counter(_skip_reason(r) for r in skipped)
    terminalreporter.write_sep("-", f"{len(skipped)} skipped, by reason")
    width = len(str(max(counts.values())))
    for reason, count in counts.most_common():
        terminalreporter.write_line(f"{count:>{width}} skipped: {reason}")
