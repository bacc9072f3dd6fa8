"""Run HIPS autograd 1.7's own test files against ``minpy`` (developers only): the compatibility measurement.

    python tools/run_hips_autograd_tests.py [--sdist PATH] [--policy NAME] [--all] [--keep] [-v]

Downloads the autograd 1.7.0 source distribution from the package index (``pip download``; or takes the one
``--sdist`` names), extracts its ``tests/`` into a temporary folder (never into the repository), and runs the
test files twice with this interpreter:

* as they are, against HIPS autograd itself (the sdist's ``autograd`` package on ``PYTHONPATH``): the
  reference pass rate;
* with the imports renamed as a user switching to MinPy would rename them (``autograd.numpy`` ->
  ``minpy.numpy``, ``autograd.scipy`` -> ``minpy.scipy``, every other ``autograd`` -> ``minpy.autograd``) and
  nothing else changed, against this repository's ``minpy``.

It prints, per file, the tests HIPS autograd collects, how many pass there and how many pass on MinPy, then the
totals and MinPy's pass count as a share of HIPS autograd's. The files are the ten the compatibility target is
measured on (issue 15); ``--all`` adds every other test file of the sdist, reported apart. Tests that need SciPy
(``test_scipy.py``, or ``minpy.scipy`` missing) are reported apart too. Run it in an environment where
``minpy``, pytest and NumPy are importable (``hatch run test.mxnet:python tools/run_hips_autograd_tests.py``).
The exit status is 0 when MinPy passes at least 99% of what HIPS autograd passes on the target files.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

VERSION = "1.7.0"
#: the files the compatibility target is measured on (issue 15)
TARGET = ("test_numpy.py", "test_systematic.py", "test_linalg.py", "test_fft.py", "test_scalar_ops.py",
          "test_binary_ops.py", "test_logic.py", "test_direct.py", "test_jacobian.py", "test_truediv.py")
#: files that need SciPy (minpy.scipy): counted once it exists, reported apart
SCIPY = ("test_scipy.py",)

# Import renames, most specific first. Only the module path changes; what is imported from it does not.
_RENAMES = [
    (re.compile(r"\bautograd\.numpy\b"), "minpy.numpy"),
    (re.compile(r"\bautograd\.scipy\b"), "minpy.scipy"),
    (re.compile(r"(?<![\w.])autograd\b(?!\.numpy|\.scipy)"), "minpy.autograd"),
]


#: ``import autograd.x`` (no ``as``) binds the name ``autograd``; code then uses the module path itself
_BINDS_AUTOGRAD = re.compile(r"^\s*import\s+autograd\b(?![^#\n]*\bas\b)", re.MULTILINE)
#: a module path used in code: ``autograd.scipy.signal.convolve(...)`` (not inside a string)
_QUALIFIED = re.compile(r"(?<![\w.'\"])autograd\.(?:(numpy|scipy)\b)?")


def _rename_qualified(match):
    return f"minpy.{match.group(1)}" if match.group(1) else "minpy.autograd."


def rename_imports(text):
    """The renames a user makes: the module paths in ``import``/``from`` statements, and, in a file whose
    ``import autograd.x`` binds the name ``autograd``, the same paths where code spells them out
    (``autograd.scipy.signal.convolve(...)`` -> ``minpy.scipy.signal.convolve(...)``). Paths in strings stay."""
    qualified = bool(_BINDS_AUTOGRAD.search(text))
    out = []
    for line in text.splitlines(keepends=True):
        stripped = line.lstrip()
        if stripped.startswith(("import ", "from ")) and "autograd" in stripped:
            for pattern, new in _RENAMES:
                line = pattern.sub(new, line)
        elif qualified:
            line = _QUALIFIED.sub(_rename_qualified, line)
        out.append(line)
    return "".join(out)


def fetch_sdist(dest):
    proc = subprocess.run([sys.executable, "-m", "pip", "download", f"autograd=={VERSION}", "--no-deps",
                           "--no-binary", ":all:", "-d", str(dest)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"pip download autograd=={VERSION} failed:\n{proc.stderr[-2000:]}")
    found = sorted(Path(dest).glob(f"autograd-{VERSION}*.tar.gz"))
    if not found:
        raise SystemExit(f"pip download left no autograd-{VERSION} sdist in {dest}")
    return found[0]


def extract(sdist, dest):
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if "/tests/" in m.name or "/autograd/" in m.name]
        tar.extractall(dest, members=members, filter="data")
    roots = [p for p in Path(dest).iterdir() if p.is_dir()]
    if len(roots) != 1:
        raise SystemExit(f"unexpected sdist layout in {sdist}")
    return roots[0]


_CONFTEST = '''\
import os
policy = os.environ.get("MINPY_HIPS_POLICY")
if policy:
    import minpy
    from minpy.dispatch.policy import resolve_policy
    minpy.set_global_policy(resolve_policy(policy))
'''


def run_pytest(folder, files, env, timeout, label):
    """Per file: {test id: outcome} ('passed', 'failed', 'error', 'skipped'); a file that could not be
    collected maps to None."""
    results = {}
    for name in files:
        report = folder / f".{label}-{name}.xml"
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(folder),
               "-c", str(folder / "pytest.ini"), f"--junitxml={report}", "-o", "junit_family=xunit1", name]
        try:
            subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            results[name] = None
            continue
        results[name] = parse_junit(report)
    return results


def parse_junit(path):
    if not path.exists():
        return None
    outcomes = {}
    collect_error = False
    for case in ET.parse(path).getroot().iter("testcase"):
        test_id = f"{case.get('classname')}::{case.get('name')}"
        tags = {child.tag for child in case}
        if "error" in tags and not case.get("classname"):  # the file itself failed to import
            collect_error = True
            continue
        if "skipped" in tags:
            outcomes[test_id] = "skipped"
        elif "failure" in tags:
            outcomes[test_id] = "failed"
        elif "error" in tags:
            outcomes[test_id] = "error"
        else:
            outcomes[test_id] = "passed"
    if collect_error and not outcomes:
        return None
    return outcomes


def _passed(outcomes):
    return 0 if outcomes is None else sum(o == "passed" for o in outcomes.values())


def report(files, hips, ours, title):
    print(f"\n{title}")
    print(f"{'file':24} {'tests':>6} {'HIPS passes':>12} {'MinPy passes':>13}")
    totals = [0, 0, 0]
    for name in files:
        h, m = hips.get(name), ours.get(name)
        n = 0 if h is None else sum(o != "skipped" for o in h.values())
        hp = _passed(h)
        # tests MinPy passes among those HIPS collects (a file MinPy cannot import passes none)
        mp = 0 if m is None or h is None else sum(1 for t, o in m.items() if o == "passed" and t in h)
        note = "" if m is not None else "  (does not import)"
        print(f"{name:24} {n:>6} {hp:>12} {mp:>13}{note}")
        totals[0] += n
        totals[1] += hp
        totals[2] += mp
    n, hp, mp = totals
    share = mp / hp if hp else float("nan")
    print(f"{'total':24} {n:>6} {hp:>12} {mp:>13}   MinPy passes {100 * share:.1f}% of what HIPS autograd passes")
    return n, hp, mp


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdist", type=Path, help="a local autograd-1.7.0.tar.gz instead of downloading it")
    parser.add_argument("--policy", help="minpy dispatch policy for the MinPy run (default: minpy's default)")
    parser.add_argument("--all", action="store_true", help="also run the sdist's other test files")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per file and run (default 900)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and print its path")
    parser.add_argument("-v", "--verbose", action="store_true", help="list the tests MinPy fails that HIPS passes")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="hips-autograd-"))
    try:
        sdist = args.sdist or fetch_sdist(work)
        root = extract(sdist, work / "src")
        hips_dir, ours_dir = work / "hips", work / "minpy"
        shutil.copytree(root / "tests", hips_dir)
        shutil.copytree(root / "tests", ours_dir)
        for folder in (hips_dir, ours_dir):
            (folder / "pytest.ini").write_text("[pytest]\n")
        for path in ours_dir.glob("*.py"):
            path.write_text(rename_imports(path.read_text()))
        (ours_dir / "conftest.py").write_text(_CONFTEST)

        files = list(TARGET)
        others = sorted(p.name for p in hips_dir.glob("test_*.py") if p.name not in TARGET + SCIPY)
        run = files + (others if args.all else []) + list(SCIPY)

        base_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        hips_env = dict(base_env, PYTHONPATH=str(root))
        ours_env = dict(base_env)
        if args.policy:
            ours_env["MINPY_HIPS_POLICY"] = args.policy
        print(f"autograd {VERSION} tests from {sdist.name}; python {sys.version.split()[0]}", flush=True)
        hips = run_pytest(hips_dir, run, hips_env, args.timeout, "hips")
        ours = run_pytest(ours_dir, run, ours_env, args.timeout, "minpy")

        n, hp, mp = report(files, hips, ours, "Target files (issue 15)")
        if args.all:
            report(others, hips, ours, "Other test files")
        report(list(SCIPY), hips, ours, "SciPy (needs minpy.scipy)")
        if args.verbose:
            print("\nPassed by HIPS autograd, not by MinPy:")
            for name in run:
                h, m = hips.get(name) or {}, ours.get(name) or {}
                for test_id, outcome in h.items():
                    if outcome == "passed" and m.get(test_id) != "passed":
                        print(f"  {name}: {test_id.rpartition('::')[2]} ({m.get(test_id, 'not run')})")
    finally:
        if args.keep:
            print(f"files kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if hp and mp >= 0.99 * hp else 1


if __name__ == "__main__":
    sys.exit(main())
