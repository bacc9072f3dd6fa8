"""Wheel layout and installs: minpy is one package spread over six distributions.

Only minpy-array's wheel may contain minpy/__init__.py; every other wheel adds only its own
part of the package (minpy/autograd/, minpy/symbol/, minpy/jit/, minpy/nn/, and minpy/core.py, minpy/primitive.py
with minpy/utils/). The distributions are not on the package index: each names its siblings by folder
(a direct reference), so that `pip install ./packages/minpy-autograd` alone installs. One representative
install runs here; `python tools/check_installs.py` installs every combination of the paths into fresh venvs.
"""
import importlib.util
import os
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


#: the sibling distributions each one depends on (by folder)
SIBLINGS = {
    "minpy-array": set(),
    "minpy-autograd": {"minpy-array"},
    "minpy-symbol": {"minpy-autograd"},
    "minpy-jit": {"minpy-autograd", "minpy-symbol"},
    "minpy-nn": {"minpy-autograd", "minpy-symbol", "minpy-jit"},
    "minpy": {"minpy-array", "minpy-autograd", "minpy-symbol", "minpy-jit", "minpy-nn"},
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
    # the siblings are named by the folders next to this one, which pip installs from
    with zipfile.ZipFile(wheel) as zf:
        (meta,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        requires = [line.split(": ", 1)[1] for line in zf.read(meta).decode().splitlines()
                    if line.startswith("Requires-Dist: ") and "extra ==" not in line]
    siblings = {r.split(" @ ")[0]: r.split(" @ ")[1] for r in requires if r.startswith("minpy")}
    assert set(siblings) == SIBLINGS[dist], requires
    for name, url in siblings.items():
        assert url == (ROOT / "packages" / name).resolve().as_uri(), url


def test_a_path_installs_with_its_siblings(tmp_path):
    """`pip install` of two paths, one of which the other depends on, into an empty target: pip takes
    minpy-array from the folder minpy-autograd names, accepts minpy-autograd given both as a path and as
    minpy-symbol's dependency, and the result imports on its own (no editable install of this env in sight)."""
    target = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-build-isolation",
         "--target", str(target), "./packages/minpy-autograd", "./packages/minpy-symbol"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    dists = sorted(p.name.split("-")[0] for p in target.glob("minpy*.dist-info"))
    assert dists == ["minpy_array", "minpy_autograd", "minpy_symbol"], dists
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = str(target)
    code = ("import minpy, minpy.autograd, minpy.symbol, minpy.numpy as np; "
            "assert minpy.__file__.startswith(%r), minpy.__file__; "
            "print(float(minpy.autograd.grad(lambda x: np.sum(x * x))(np.ones(3))[0]))" % str(target))
    # -S: without site-packages, so neither this env's editable minpy nor its numpy can be imported
    run = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "2.0"
    # minpy-nn is not installed there: importing it says which distribution to install, and from where
    run = subprocess.run([sys.executable, "-S", "-c", "import minpy.nn"], cwd=tmp_path, capture_output=True,
                         text=True, env=env, timeout=120)
    assert "it is part of the minpy-nn distribution" in run.stderr, run.stderr
    assert "pip install ./packages/minpy-nn" in run.stderr, run.stderr
