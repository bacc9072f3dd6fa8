"""Import layering: a lower layer never imports a higher one, and each distribution is well-formed.

Layers, lowest first: minpy-array (minpy.numpy, minpy.array, minpy.dispatch), minpy-autograd,
minpy-symbol, minpy-nn, and the minpy meta-package (minpy.core) on top.
"""
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ROOT / "packages"
DISTRIBUTIONS = ["minpy-array", "minpy-autograd", "minpy-symbol", "minpy-nn", "minpy"]

HIGHER = {
    "minpy.numpy": ["minpy.autograd", "minpy.symbol", "minpy.nn", "minpy.core"],
    "minpy.array": ["minpy.autograd", "minpy.symbol", "minpy.nn", "minpy.core"],
    "minpy.dispatch": ["minpy.autograd", "minpy.symbol", "minpy.nn", "minpy.core"],
    "minpy.autograd": ["minpy.symbol", "minpy.nn", "minpy.core"],
    "minpy.symbol": ["minpy.nn", "minpy.core"],
    "minpy.nn": ["minpy.core"],
    "minpy.core": [],  # top layer: only checks that the meta-package's module imports
    "minpy.utils.gradient_checker": [],
}


def _import_in_fresh_interpreter(module):
    """Import `module` in a new interpreter; return its __file__ and the minpy modules loaded."""
    code = (
        f"import sys, {module} as m\n"
        "print(getattr(m, '__file__', None))\n"
        "print('\\n'.join(sorted(k for k in sys.modules if k == 'minpy' or k.startswith('minpy.'))))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"`import {module}` failed:\n{proc.stderr}"
    file, *loaded = proc.stdout.split("\n")
    return file, [m for m in loaded if m]


@pytest.mark.parametrize("module", sorted(HIGHER))
def test_lower_layers_do_not_import_higher_ones(module):
    file, loaded = _import_in_fresh_interpreter(module)
    # A folder without __init__.py would import as an empty namespace package and pass vacuously.
    assert file != "None", f"{module} is a bare folder, not a module or package with __init__.py"
    offending = [
        m for m in loaded for higher in HIGHER[module] if m == higher or m.startswith(higher + ".")
    ]
    assert not offending, f"importing {module} pulled in higher layers: {offending}"


def _project(dist):
    with open(PACKAGES / dist / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


@pytest.mark.parametrize("dist", DISTRIBUTIONS)
def test_distribution_metadata(dist):
    project = _project(dist)
    assert project["name"] == dist
    assert project["version"]
    assert (PACKAGES / dist / "README.md").is_file()
    assert (PACKAGES / dist / "CHANGELOG.md").is_file()


def test_meta_package_depends_on_all_others():
    from packaging.requirements import Requirement

    names = {Requirement(r).name for r in _project("minpy")["dependencies"]}
    assert names >= {"minpy-array", "minpy-autograd", "minpy-symbol", "minpy-nn"}
