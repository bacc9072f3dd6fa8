"""Per-call overhead of small eager operators under each policy, as ratios to NumPy's own call in the same run.

    python tools/bench/hot_path.py [--number N] [--repeat R]

Each row times one 4x4 float64 call (best of R rounds of N calls) for minpy under ``only_numpy`` and ``auto``
(the default; once it has measured, small calls stay on NumPy) and for NumPy by hand; the ratio column divides
by NumPy's time so that runs on a busy machine still compare. Run it on two checkouts (e.g. with
``PYTHONPATH`` pointing at the other one's ``packages/*/src``) to compare a change.
"""
import argparse
import timeit

import numpy

import minpy.numpy as np
from minpy.dispatch.policy import resolve_policy

CASES = {
    "a + b": ("a + b", "a + b"),
    "np.add(a, b)": ("np.add(a, b)", "numpy.add(a, b)"),
    "a * 2.0": ("a * 2.0", "a * 2.0"),
    "np.sum(a)": ("np.sum(a)", "numpy.sum(a)"),
    "a[1]": ("a[1]", "a[1]"),
    "a.T": ("a.T", "a.T"),
    "np.reshape(a, (16,))": ("np.reshape(a, (16,))", "numpy.reshape(a, (16,))"),
    "a[0, 0] = 1.0": ("a[0, 0] = 1.0", "a[0, 0] = 1.0"),
}


def best(stmt, env, number, repeat):
    return min(timeit.repeat(stmt, globals=env, number=number, repeat=repeat)) / number


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--number", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=7)
    opts = parser.parse_args()
    host = {"numpy": numpy, "a": numpy.ones((4, 4)), "b": numpy.ones((4, 4))}
    print(f"{'call':24s} {'numpy us':>9s} " + " ".join(f"{p + ' us':>14s} {'ratio':>6s}" for p in
                                                      ("only_numpy", "auto")))
    for label, (stmt, ref) in CASES.items():
        base = best(ref, host, opts.number, opts.repeat)
        cells = []
        for pol in ("only_numpy", "auto"):
            with resolve_policy(pol):
                env = {"np": np, "a": np.ones((4, 4)), "b": np.ones((4, 4))}
                for _ in range(3):  # the auto policy measures its first calls
                    exec(stmt, env)
                t = best(stmt, env, opts.number, opts.repeat)
            cells.append(f"{t * 1e6:14.2f} {t / base:6.1f}")
        print(f"{label:24s} {base * 1e6:9.2f} " + " ".join(cells))


if __name__ == "__main__":
    main()
