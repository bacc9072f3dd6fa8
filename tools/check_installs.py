"""Install every combination of the local package paths with pip, each into a fresh venv, and check the result.

    python tools/check_installs.py                  # all 63 combinations of the six paths, plus the variants
    python tools/check_installs.py --only minpy-nn  # combinations containing minpy-nn only
    python tools/check_installs.py --write docs/install-check.md

The packages are not on the package index (the name ``minpy`` there is MinPy 0.3.4), so each distribution
names its siblings by folder (``minpy-array @ {root:parent:uri}/minpy-array`` in its pyproject.toml): a user
installs a path, and pip finds the sibling paths it needs. This script checks, as a user would run it from the
repository root (``pip install ./packages/minpy-autograd``):

- every non-empty set of the five paths installs in one pip command, into a fresh venv, with build
  isolation, and the venv then holds exactly the distributions that set needs (its closure), each importable,
  with ``pip check`` clean;
- the ``[mxnet]`` extras of minpy-array and of the meta-package bring ``mxnet==1.9.1`` with NumPy < 1.24,
  and ``import mxnet`` works;
- installing one path after another (minpy-array, then minpy-autograd) works;
- editable installs: several members in one pip command conflict (pip refuses the same project both editable
  and as a sibling's direct reference: use ``uv pip install -e`` or ``--no-deps``), which is reported, and the
  ``--no-deps`` form works.

It runs the pip of the interpreter that runs it (``pip --python <venv>``), so use a recent pip (26.2 or
newer: older ones reuse a stale cached wheel of a sibling folder). Each combination takes 10-40 s on a 2-core
machine; all of them take several minutes. Needs the package index (for NumPy, MXNet and hatchling).
"""
import argparse
import itertools
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: distribution -> (its sibling dependencies, the module that proves it is there)
DISTS = {
    "minpy-array": ((), "minpy.numpy"),
    "minpy-autograd": (("minpy-array",), "minpy.autograd"),
    "minpy-symbol": (("minpy-autograd",), "minpy.symbol"),
    "minpy-jit": (("minpy-autograd", "minpy-symbol"), "minpy.jit"),
    "minpy-nn": (("minpy-autograd", "minpy-symbol", "minpy-jit"), "minpy.nn.solver"),
    "minpy": (("minpy-array", "minpy-autograd", "minpy-symbol", "minpy-jit", "minpy-nn"), "minpy.core"),
}


def closure(names):
    """The distributions that installing ``names`` must bring: the names and their sibling dependencies."""
    out, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name not in out:
            out.add(name)
            todo.extend(DISTS[name][0])
    return out


def run(cmd, timeout=900, env=None):
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return 124, f"ERROR: timed out after {timeout} s: {' '.join(cmd[-3:])}"
    return proc.returncode, proc.stdout + proc.stderr


def fresh_venv(folder):
    venv.EnvBuilder(with_pip=False).create(folder)
    return str(Path(folder) / "bin" / "python")


def pip(python, *args):
    return run([sys.executable, "-m", "pip", "--python", python, "--disable-pip-version-check", *args])


def installed_minpy(python):
    code = ("import importlib.metadata as m; print(sorted({d.metadata['Name'].lower() for d in m.distributions()"
            " if d.metadata['Name'].lower().startswith('minpy')}))")
    rc, out = run([python, "-c", code])
    return set(eval(out.strip().splitlines()[-1])) if rc == 0 else None


def check(python, expected, extra_code=""):
    """'' when the venv holds exactly ``expected``, each importable and pip check clean; else what is wrong."""
    problems = []
    have = installed_minpy(python)
    if have != set(expected):
        problems.append(f"installed {sorted(have or [])}, expected {sorted(expected)}")
    modules = [DISTS[name][1] for name in sorted(expected)]
    code = "".join(f"import {m}\n" for m in modules) + extra_code
    rc, out = run([python, "-c", code])
    if rc:
        problems.append("import failed: " + out.strip().splitlines()[-1])
    rc, out = pip(python, "check")
    if rc:
        problems.append("pip check: " + out.strip().splitlines()[-1])
    return "; ".join(problems)


def case(label, steps, expected, extra_code="", expect_failure=None):
    """Run ``steps`` (lists of pip install arguments) in a fresh venv; returns (label, ok, seconds, note)."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="minpy-install-", ignore_cleanup_errors=True) as folder:
        python = fresh_venv(folder)
        for args in steps:
            rc, out = pip(python, "install", *args)
            if rc:
                lines = [l for l in out.splitlines() if l.startswith("ERROR")] or out.splitlines()[-1:]
                note = lines[0][:160]
                if expect_failure and expect_failure in out:
                    return label, True, time.perf_counter() - start, f"refused as documented: {note}"
                return label, False, time.perf_counter() - start, note
        if expect_failure:
            return label, False, time.perf_counter() - start, "expected pip to refuse this, it installed"
        problem = check(python, expected, extra_code)
    return label, not problem, time.perf_counter() - start, problem or "ok"


def cases(only):
    names = list(DISTS)
    for r in range(1, len(names) + 1):
        for combo in itertools.combinations(names, r):
            if only and only not in combo:
                continue
            paths = [f"./packages/{n}" for n in combo]
            yield f"pip install {' '.join(paths)}", [paths], closure(combo), ""
    if only:
        return
    mx = "import mxnet, numpy; assert numpy.__version__ < '1.24', numpy.__version__\n"
    yield "pip install './packages/minpy-array[mxnet]'", [["./packages/minpy-array[mxnet]"]], {"minpy-array"}, mx
    yield ("pip install './packages/minpy[mxnet]'", [["./packages/minpy[mxnet]"]], closure(["minpy"]),
           mx + "import minpy.symbol; minpy.symbol.Function\n")
    # the first command: MXNet without the extra resolves a NumPy MXNet 1.9.1 cannot import; minpy
    # must say so (cause and fix) instead of running everything on NumPy in silence
    said = ("import io, logging, minpy, minpy.numpy as np\n"
            "stream = io.StringIO(); logging.getLogger('minpy.backends').addHandler(logging.StreamHandler(stream))\n"
            "minpy.set_global_policy('prefer_mxnet'); np.ones(3) + 1\n"
            "said = stream.getvalue(); assert 'MXNet is installed but cannot be imported' in said, said\n"
            "assert \"pip install 'numpy<1.24'\" in said, said\n")
    yield ("pip install ./packages/minpy mxnet==1.9.1 (no [mxnet] extra: NumPy >= 1.24, minpy says so)",
           [["./packages/minpy", "mxnet==1.9.1"]], closure(["minpy"]), said)
    yield ("pip install ./packages/minpy-array; then pip install ./packages/minpy-autograd",
           [["./packages/minpy-array"], ["./packages/minpy-autograd"]], closure(["minpy-autograd"]), "")
    yield ("pip install -e ./packages/minpy-array; then pip install --no-deps -e ./packages/minpy-autograd",
           [["-e", "./packages/minpy-array"], ["--no-deps", "-e", "./packages/minpy-autograd"]],
           closure(["minpy-autograd"]), "")
    yield ("pip install -e ./packages/minpy-array -e ./packages/minpy-autograd (pip refuses: use uv or --no-deps)",
           [["-e", "./packages/minpy-array", "-e", "./packages/minpy-autograd"]], set(), "", "ResolutionImpossible")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=list(DISTS), help="only the combinations that contain this distribution")
    parser.add_argument("--write", metavar="MD", help="also write the results as a Markdown table here")
    args = parser.parse_args(argv)
    rc, out = run([sys.executable, "-m", "pip", "--version"])
    print(out.strip())
    results = []
    for spec in cases(args.only):
        result = case(*spec)
        results.append(result)
        label, ok, seconds, note = result
        print(f"{'PASS' if ok else 'FAIL'} {seconds:5.1f} s  {label}" + ("" if note == "ok" else f"  [{note}]"),
              flush=True)
    failed = sum(not ok for _, ok, _, _ in results)
    print(f"{len(results) - failed} passed, {failed} failed")
    if args.write:
        lines = ["# Installing the local package paths with pip", "",
                 f"Generated by `python tools/check_installs.py --write {args.write}` ({out.strip().split(' from ')[0]}, "
                 f"Python {sys.version.split()[0]}): each row is a fresh venv.", "",
                 "| command (from the repository root) | result | seconds |", "| --- | --- | --- |"]
        for label, ok, seconds, note in results:
            lines.append(f"| `{label}` | {'ok' if ok and note == 'ok' else note if ok else 'FAIL: ' + note} | "
                         f"{seconds:.0f} |")
        Path(args.write).write_text("\n".join(lines) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
