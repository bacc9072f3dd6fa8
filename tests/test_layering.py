"""Import layering: a lower layer never imports a higher one, and each distribution is well-formed.

Layers, lowest first: minpy-array (minpy.numpy, minpy.array, minpy.dispatch), minpy-autograd,
minpy-symbol, minpy-jit, minpy-nn, and the minpy meta-package (minpy.core) on top.

Inside each distribution the modules are in a fixed order too (:data:`MODULE_ORDER`, lowest first): a module
imports only modules listed before it, at module level or inside a function alike, so a reader can learn each
distribution bottom-up and no two modules import each other. A package's ``__init__`` comes after the
submodules it gathers; importing ``pkg.sub`` runs ``pkg/__init__`` first, which is why an ``__init__`` that
gathers its submodules must import nothing a submodule needs to see half-built.
"""
import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ROOT / "packages"
DISTRIBUTIONS = ["minpy-array", "minpy-autograd", "minpy-symbol", "minpy-jit", "minpy-nn", "minpy"]

HIGHER = {
    "minpy.numpy": ["minpy.autograd", "minpy.symbol", "minpy.jit", "minpy.nn", "minpy.core"],
    "minpy.numpy.numpy_vspaces": ["minpy.autograd", "minpy.symbol", "minpy.jit", "minpy.nn", "minpy.core"],
    "minpy.scipy": ["minpy.autograd", "minpy.symbol", "minpy.jit", "minpy.nn", "minpy.core"],
    "minpy.scipy.stats": ["minpy.autograd", "minpy.symbol", "minpy.jit", "minpy.nn", "minpy.core"],
    "minpy.array": ["minpy.autograd", "minpy.symbol", "minpy.jit", "minpy.nn", "minpy.core"],
    "minpy.dispatch": ["minpy.autograd", "minpy.symbol", "minpy.jit", "minpy.nn", "minpy.core"],
    "minpy.autograd": ["minpy.symbol", "minpy.jit", "minpy.nn", "minpy.core"],
    "minpy.symbol": ["minpy.jit", "minpy.nn", "minpy.core"],
    "minpy.jit": ["minpy.nn", "minpy.core"],
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
    assert names >= {"minpy-array", "minpy-autograd", "minpy-symbol", "minpy-jit", "minpy-nn"}


#: each distribution's modules, lowest first (see the module docstring)
MODULE_ORDER = {
    "minpy-array": [
        "minpy.errors", "minpy.config", "minpy.routing", "minpy.context", "minpy.stats", "minpy.extend",
        "minpy.array_variants",
        "minpy.backends.base", "minpy.backends.numpy_backend", "minpy.backends.mxnet_ops",
        "minpy.backends.mxnet_backend", "minpy.backends.cupy_backend", "minpy.backends",
        "minpy.array",
        "minpy.dispatch.auto", "minpy.dispatch.policy", "minpy.dispatch",
        "minpy.ops.operator", "minpy.ops.table", "minpy.ops.ufuncs", "minpy.ops.mirror", "minpy.ops.nditer",
        "minpy.ops",
        "minpy.numpy.fft", "minpy.numpy.linalg", "minpy.numpy.random", "minpy.numpy._index_tricks", "minpy.numpy",
        "minpy.numpy.numpy_vspaces",  # HIPS autograd's module: not gathered by minpy.numpy, imports it
        # minpy.scipy: the table and the namespace builder, then the modules (each loads SciPy on first import)
        "minpy.scipy._signal", "minpy.scipy._table", "minpy.scipy._namespace", "minpy.scipy.special",
        "minpy.scipy.misc", "minpy.scipy.linalg", "minpy.scipy.signal", "minpy.scipy.integrate",
        "minpy.scipy.stats.norm", "minpy.scipy.stats.t", "minpy.scipy.stats.gamma", "minpy.scipy.stats.beta",
        "minpy.scipy.stats.chi2", "minpy.scipy.stats.poisson", "minpy.scipy.stats.multivariate_normal",
        "minpy.scipy.stats.dirichlet", "minpy.scipy.stats", "minpy.scipy",
        "minpy",  # the top: its __getattr__ loads MinPy 0.3's top-level names on first use
    ],
    "minpy-autograd": [
        # the machinery, then the rules by family, then the API built on both, then the old import paths
        "minpy.autograd.errors", "minpy.autograd.registry", "minpy.autograd.tracer", "minpy.autograd.primitive",
        "minpy.autograd.backward", "minpy.autograd.forward", "minpy.autograd.vspace",
        "minpy.autograd.rules._util", "minpy.autograd.rules.indexing", "minpy.autograd.rules.elementwise",
        "minpy.autograd.rules.complex", "minpy.autograd.rules.reductions", "minpy.autograd.rules.shape",
        "minpy.autograd.rules.linalg", "minpy.autograd.rules.fft", "minpy.autograd.rules.ufunc_methods",
        # minpy.scipy's family: loaded by the rules package on first use; odeint's rules use the API
        "minpy.autograd.differential_operators", "minpy.autograd.rules._odeint", "minpy.autograd.rules.scipy",
        "minpy.autograd.rules", "minpy.autograd.gradcheck", "minpy.autograd.custom",
        "minpy.autograd.builtins", "minpy.autograd.test_util", "minpy.autograd.util", "minpy.autograd.wrap_util",
        "minpy.autograd.extend", "minpy.autograd.core",
        "minpy.autograd.misc.flatten", "minpy.autograd.misc.optimizers", "minpy.autograd.misc.fixed_points",
        "minpy.autograd.misc.tracers", "minpy.autograd.misc",
        "minpy.autograd.primitives", "minpy.autograd.differential", "minpy.autograd",
    ],
    "minpy-symbol": ["minpy.symbol.function", "minpy.symbol.block", "minpy.symbol"],
    "minpy-jit": ["minpy.jit.program", "minpy.jit.recorder", "minpy.jit.engines", "minpy.jit.mxgraph", "minpy.jit.api",
                  "minpy.jit"],
    "minpy-nn": [
        "minpy.nn.launch", "minpy.nn.init", "minpy.nn.optim", "minpy.nn.io", "minpy.nn.layers", "minpy.nn.model",
        "minpy.nn.model_builder", "minpy.nn.dist", "minpy.nn.solver", "minpy.nn",
    ],
    "minpy": [
        "minpy.utils.gradient_checker", "minpy.utils.minprof", "minpy.utils", "minpy.primitive", "minpy.core",
    ],
}


def _modules_of(dist):
    """{module name: path} of every Python module in a distribution's ``src``."""
    src = PACKAGES / dist / "src"
    found = {}
    for path in src.rglob("*.py"):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(path, modules):
    """(line, module) of every import of one of ``modules`` in the file, at any depth (function bodies too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # ``from pkg import sub`` imports module pkg.sub when there is one, else a name of pkg
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                     for alias in node.names]
        else:
            continue
        for name in names:
            # ``import a.b.c`` names a.b.c; the nearest enclosing module of ours is what it depends on
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                found.append((node.lineno, name))
    return found


@pytest.mark.parametrize("dist", DISTRIBUTIONS)
def test_modules_inside_a_distribution_import_only_lower_ones(dist):
    order = MODULE_ORDER[dist]
    modules = _modules_of(dist)
    assert sorted(modules) == sorted(order), (
        f"{dist}: MODULE_ORDER must list every module exactly once; missing {sorted(set(modules) - set(order))}, "
        f"not found {sorted(set(order) - set(modules))}")
    rank = {name: i for i, name in enumerate(order)}
    wrong = []
    for name, path in modules.items():
        for line, target in _imports(path, modules):
            if target != name and rank[target] >= rank[name]:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {name} imports {target}, which is not below it")
    assert not wrong, "\n".join(wrong)
