"""Run MinPy 0.3's own unit tests and basic examples against this repository's ``minpy`` (developers only).

    python tools/run_minpy03_compat.py /path/to/dmlc-minpy-checkout [--timeout 300] [--keep]

Copies the checkout's ``tests/unittest`` and ``examples/basics`` into a temporary folder, converts them with
``python -m lib2to3 -w -n`` (the only change made to them), runs each ``*.py`` as a script from its own folder
with this interpreter, and prints PASS/FAIL per file and a total. The exit status is 0 when every file passed.
Run it with an interpreter where ``minpy`` (the meta-package) and MXNet are importable. See
docs/migrating-from-minpy-0.3.md for the files that are expected to fail and why.
"""
import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FOLDERS = ("tests/unittest", "examples/basics")


def convert(folder):
    """2to3 in place; lib2to3 is deprecated (removed in Python 3.13), so run it from a Python that has it."""
    proc = subprocess.run([sys.executable, "-W", "ignore", "-m", "lib2to3", "-w", "-n", str(folder)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"2to3 failed on {folder}:\n{proc.stderr}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", type=Path, help="a dmlc/minpy checkout (MinPy 0.3.x)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per file (default 300)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and print its path")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the end of each failing run")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="minpy03-"))
    results = []
    try:
        for sub in FOLDERS:
            src = args.checkout / sub
            if not src.is_dir():
                raise SystemExit(f"{src} is not a folder: is {args.checkout} a dmlc/minpy checkout?")
            dst = work / sub
            shutil.copytree(src, dst)
            convert(dst)
            for script in sorted(dst.glob("*.py")):
                try:
                    proc = subprocess.run([sys.executable, script.name], cwd=dst, capture_output=True, text=True,
                                          timeout=args.timeout)
                    ok, tail = proc.returncode == 0, (proc.stdout + proc.stderr)[-1500:]
                except subprocess.TimeoutExpired:
                    ok, tail = False, f"timed out after {args.timeout} s"
                results.append(ok)
                print(f"{'PASS' if ok else 'FAIL'}  {sub}/{script.name}", flush=True)
                if not ok and args.verbose:
                    print("    " + tail.replace("\n", "\n    "))
    finally:
        if args.keep:
            print(f"converted files kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{sum(results)} of {len(results)} files passed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
