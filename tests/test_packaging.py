"""Wheel layout: minpy is one package spread over six distributions.

Only minpy-array's wheel may contain minpy/__init__.py; every other wheel adds only its own
part of the package (minpy/autograd/, minpy/symbol/, minpy/jit/, minpy/nn/, and minpy/core.py, minpy/primitive.py
with minpy/utils/).
"""
import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("hatchling") is None or importlib.util.find_spec("pip") is None,
    reason="building wheels here needs hatchling and pip in this environment",
)

# distribution -> prefix that every file of its wheel (outside *.dist-info) must start with
OWNED = {
    "minpy-array": "minpy/",
    "minpy-autograd": "minpy/autograd/",
    "minpy-symbol": "minpy/symbol/",
    "minpy-jit": "minpy/jit/",
    "minpy-nn": "minpy/nn/",
    "minpy": ("minpy/core.py", "minpy/primitive.py", "minpy/utils/"),
}


@pytest.mark.parametrize("dist", sorted(OWNED))
def test_wheel_layout(dist, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path), str(ROOT / "packages" / dist)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        files = [n for n in zf.namelist() if ".dist-info/" not in n]
    assert files, f"{wheel.name} is empty"
    assert all(f.startswith(OWNED[dist]) for f in files), files
    assert ("minpy/__init__.py" in files) == (dist == "minpy-array"), files
