"""Autograd cost against HIPS autograd (and NumPy by hand), measured in one run on this machine.

    hatch run bench:autograd            # prints the table and writes docs/bench-autograd.md

Workloads: (1) untraced per-operator overhead of minpy.numpy over the raw library call; (2) grad of
sum(tanh(a @ b + a)) on 4x4 arrays (tracing overhead dominates); (3) the gradient of a two-layer net's
softmax loss, N=128, D=3072, H=512, C=10 (arithmetic dominates). Medians of repeated runs.
"""
import argparse
import os
import platform
import statistics
import sys
import time

import numpy as onp

import minpy
import minpy.numpy as np
from minpy.autograd import grad
from minpy.backends import mxnet_backend
from minpy.dispatch.policy import OnlyNumPyPolicy, PreferMXNetPolicy


def median_us(fn, repeat, number):
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number * 1e6)
    return statistics.median(samples)


def sync(x):
    if hasattr(x, "wait_to_read"):
        x.wait_to_read()
    return x


def two_layer_numpy(w1, w2, x, y):
    """Loss and gradients written by hand (the reference a student would write)."""
    h = onp.maximum(x @ w1, 0)
    s = h @ w2
    s = s - s.max(axis=1, keepdims=True)
    p = onp.exp(s)
    p /= p.sum(axis=1, keepdims=True)
    n = x.shape[0]
    loss = -onp.log(p[onp.arange(n), y]).mean()
    ds = p
    ds[onp.arange(n), y] -= 1
    ds /= n
    dw2 = h.T @ ds
    dh = ds @ w2.T
    dh[h <= 0] = 0
    return loss, x.T @ dh, dw2


def two_layer_loss(lib, onehot):
    def loss(w1, w2, x):
        h = lib.maximum(lib.dot(x, w1), 0)
        s = lib.dot(h, w2)
        s = s - lib.max(s, axis=1, keepdims=True)
        logp = s - lib.log(lib.sum(lib.exp(s), axis=1, keepdims=True))
        return -lib.sum(logp * onehot) / x.shape[0]
    return loss


def run(quick):
    repeat = 5 if quick else 15
    rows = []
    rng = onp.random.default_rng(0)
    a = rng.standard_normal((4, 4))
    b = rng.standard_normal((4, 4))

    try:
        import autograd
        import autograd.numpy as anp
        have_hips = True
    except ImportError:
        have_hips = False

    # (1) untraced per-operator overhead
    rows.append(("a + b, 4x4, untraced", "NumPy", median_us(lambda: a + b, repeat, 2000)))
    with OnlyNumPyPolicy():
        ma, mb = np.array(a), np.array(b)
        rows.append(("a + b, 4x4, untraced", "minpy only_numpy", median_us(lambda: ma + mb, repeat, 2000)))
    if mxnet_backend.available():
        mx = mxnet_backend.mx
        xa, xb = mx.np.array(a), mx.np.array(b)
        rows.append(("a + b, 4x4, untraced", "mx.np", median_us(lambda: sync(xa + xb), repeat, 500)))
        with PreferMXNetPolicy():
            pa, pb = np.array(a), np.array(b)
            pa + pb
            rows.append(("a + b, 4x4, untraced", "minpy prefer_mxnet",
                         median_us(lambda: sync(pa + pb), repeat, 500)))

    # (2) grad of a small function
    def small_manual():
        z = onp.tanh(a @ b + a)
        dz = 1 - z * z
        return dz @ b.T + dz
    rows.append(("grad sum(tanh(a@b+a)), 4x4", "NumPy by hand", median_us(small_manual, repeat, 500)))
    if have_hips:
        g_hips = autograd.grad(lambda a_: anp.sum(anp.tanh(anp.dot(a_, b) + a_)))
        rows.append(("grad sum(tanh(a@b+a)), 4x4", "HIPS autograd", median_us(lambda: g_hips(a), repeat, 200)))
    for policy in ([OnlyNumPyPolicy, PreferMXNetPolicy] if mxnet_backend.available() else [OnlyNumPyPolicy]):
        with policy():
            ma, mb = np.array(a), np.array(b)
            g_minpy = grad(lambda a_: np.sum(np.tanh(np.dot(a_, mb) + a_)))
            rows.append(("grad sum(tanh(a@b+a)), 4x4", f"minpy {policy.name}",
                         median_us(lambda: sync(g_minpy(ma)), repeat, 100)))

    # (3) two-layer net gradient
    n, d, h, c = 128, 3072, 512, 10
    x = rng.standard_normal((n, d))
    y = rng.integers(0, c, n)
    onehot = onp.eye(c)[y]
    w1 = rng.standard_normal((d, h)) * 0.01
    w2 = rng.standard_normal((h, c)) * 0.01
    big_repeat = 3 if quick else 7
    rows.append(("two-layer net grad, N=128 3072-512-10", "NumPy by hand",
                 median_us(lambda: two_layer_numpy(w1, w2, x, y), big_repeat, 5)))
    if have_hips:
        g2 = autograd.grad(two_layer_loss(anp, onehot), argnum=(0, 1))
        rows.append(("two-layer net grad, N=128 3072-512-10", "HIPS autograd",
                     median_us(lambda: g2(w1, w2, x), big_repeat, 5)))
    for policy in ([OnlyNumPyPolicy, PreferMXNetPolicy] if mxnet_backend.available() else [OnlyNumPyPolicy]):
        with policy():
            mw1, mw2, mx_, moh = np.array(w1), np.array(w2), np.array(x), np.array(onehot)
            g3 = grad(two_layer_loss(np, moh), argnum=(0, 1))
            rows.append(("two-layer net grad, N=128 3072-512-10", f"minpy {policy.name}",
                         median_us(lambda: [sync(t) for t in g3(mw1, mw2, mx_)], big_repeat, 5)))
    return rows, have_hips


def render(rows, have_hips):
    lines = ["# Autograd benchmark", "",
             f"Generated by `tools/bench/autograd_bench.py` on {platform.machine()} with {os.cpu_count()} cores, "
             f"Python {platform.python_version()}, NumPy {onp.__version__}, "
             f"MXNet {mxnet_backend.mx.__version__ if mxnet_backend.available() else 'not installed'}, "
             f"HIPS autograd {'installed' if have_hips else 'not installed'}, minpy-array policy default "
             f"{minpy.get_global_policy().name}. Medians; ratios are to the first row of each workload. "
             "MXNet timings wait for the result (wait_to_read).", "",
             "| workload | implementation | median (us) | ratio |", "|---|---|---|---|"]
    base = {}
    for workload, impl, us in rows:
        base.setdefault(workload, us)
        lines.append(f"| {workload} | {impl} | {us:.1f} | {us / base[workload]:.2f}x |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (smoke test)")
    parser.add_argument("--write", default=None, help="markdown output path (default: print only)")
    args = parser.parse_args(argv)
    rows, have_hips = run(args.quick)
    text = render(rows, have_hips)
    sys.stdout.write(text)
    if args.write:
        with open(args.write, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
