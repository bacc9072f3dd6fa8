"""docs/op-coverage.md is generated from the operator table; it must match what the table says now."""
import importlib.util
import re
from pathlib import Path

import numpy
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "op-coverage.md"


def load_tool():
    spec = importlib.util.spec_from_file_location("op_coverage", ROOT / "tools" / "op_coverage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _scipy_version():
    try:
        import scipy
    except ImportError:
        return None
    return scipy.__version__


def test_coverage_doc_is_current():
    text = DOC.read_text()
    made_with = re.search(r"with NumPy (\S+)\.", text).group(1)
    if made_with != numpy.__version__:
        pytest.skip(f"the committed report was generated with NumPy {made_with} (the mxnet env); "
                    f"this env has NumPy {numpy.__version__}")
    scipy_with = re.search(r"With SciPy (\S+)\.", text)
    if scipy_with and scipy_with.group(1) != _scipy_version():
        pytest.skip(f"the committed report's minpy.scipy part was generated with SciPy {scipy_with.group(1)}; "
                    f"this env has {_scipy_version()} (its mirrored functions differ)")
    generated, counts = load_tool().report()
    assert generated == text, "docs/op-coverage.md is stale: run python tools/op_coverage.py --write docs/op-coverage.md"


def test_every_numpy_callable_is_reachable():
    _, counts = load_tool().report()
    assert counts.get("missing", 0) == 0
    assert counts.get("native", 0) > 100
