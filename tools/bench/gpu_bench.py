"""GPU benchmarks of issue 7, in one run on one GPU: minpy.numpy on gpu(0) (the CuPy backend) against raw CuPy
and PyTorch eager.

1. per-op overhead: ``a + b`` on 4x4 float32 arrays, minpy vs raw CuPy (target: <= 1.5x);
2. the two-layer-net training step (N=128/1024, D=3072, H=512/4096, C=10, float32): minpy with
   ``minpy.autograd.grad_and_loss`` and an SGD update vs PyTorch eager (target at N=1024: <= 1.3x) vs raw CuPy
   with hand-written backprop; the same step under ``minpy.jit`` against CuPy by hand, PyTorch eager and
   ``jax.jit`` (issue 14's GPU rows; jax rows where JAX sees a GPU);
3. a large matmul (8192^2, float32): minpy vs CuPy (target: CuPy's own rate).

Every timed loop is synchronised before and after (``cupy.cuda.Device().synchronize()``, and torch's); the
median of several repeats is reported. Runs without torch (rows marked "not installed").

    python tools/bench/gpu_bench.py --out gpu-bench.md [--quick]
"""
import argparse
import platform
import statistics
import sys
import time

import numpy

TARGETS = {"op": 1.5, "step1024": 1.3, "matmul": 1.05}


def _median_time(fn, sync, number, repeat):
    fn()
    sync()
    runs = []
    for _ in range(repeat):
        sync()
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        sync()
        runs.append((time.perf_counter() - t0) / number)
    return statistics.median(runs)


def _jit_step_time(gl, params, lr, sync, steps, rep):
    """The two-layer step (``gl``: its gradient and loss) with in-place SGD updates under ``minpy.jit``; None
    (said on stderr) where minpy-jit is missing or the step fails, so that the other rows still come."""
    try:
        from minpy.jit import jit

        def body(ps):
            grads, _ = gl(*ps)
            for p, g in zip(ps, grads):
                p -= lr * g
        step = jit(body)
        t = _median_time(lambda: step(params), sync, steps, rep)
        print(f"jit stats: {step.stats()['signatures']}", file=sys.stderr)
        return t
    except Exception as exc:  # a row that fails is a result
        print(f"minpy.jit step failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None


def _jax_step_time(x, onehot, w1, w2, lr, steps, rep):
    """The same step under jax.jit on the GPU (parameters donated: updated in place); None without a JAX GPU."""
    try:
        import jax
        import jax.numpy as jnp
        if jax.default_backend() != "gpu":
            return None

        def loss(ws, xx, oo):
            s = jnp.maximum(xx @ ws[0], 0.0) @ ws[1]
            return -jnp.sum(jax.nn.log_softmax(s, axis=1) * oo) / xx.shape[0]

        update = jax.jit(lambda ws, xx, oo: [w - lr * g for w, g in zip(ws, jax.grad(loss)(ws, xx, oo))],
                         donate_argnums=0)
        state = [jnp.asarray(w1), jnp.asarray(w2)]
        jx, jo = jnp.asarray(x), jnp.asarray(onehot)

        def run():
            state[:] = update(state, jx, jo)
        return _median_time(run, lambda: state[0].block_until_ready(), steps, rep)
    except Exception as exc:
        print(f"jax.jit step failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="write the markdown table here")
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args(argv)

    import cupy as cp

    import minpy.numpy as mnp
    from minpy.array import Array
    from minpy.autograd import grad_and_loss
    from minpy.backends import get_backend
    from minpy.context import gpu

    backend = get_backend("cupy")
    if not backend.available():
        sys.exit(f"minpy's CuPy backend is unavailable: {backend.unavailable_reason()}")
    try:
        import torch
        have_torch = torch.cuda.is_available()
    except Exception:
        torch, have_torch = None, False

    dev = cp.cuda.Device(0)
    sync = dev.synchronize
    tsync = (lambda: (torch.cuda.synchronize(), sync())) if have_torch else sync
    rep = 3 if args.quick else 7
    rows = []

    def row(what, minpy_s, other_s, other, target):
        ratio = minpy_s / other_s if other_s else None
        rows.append((what, minpy_s, other_s, other, ratio, target))
        shown = "-" if ratio is None else f"{ratio:.2f}x"
        other_txt = "not installed" if other_s is None else f"{other_s * 1e3:.4f} ms"
        goal = f"  (target <= {target}x)" if target else ""
        print(f"{what:<38} minpy {minpy_s * 1e3:9.4f} ms  {other:<13} {other_txt:>14}  ratio {shown}{goal}",
              flush=True)

    def on_gpu(x):
        return Array(backend.from_numpy(numpy.asarray(x), gpu(0)), backend)

    with gpu(0):
        # 1. per-op overhead
        a_np = numpy.ones((4, 4), numpy.float32)
        ca, cb = cp.asarray(a_np), cp.asarray(a_np)
        ma, mb = on_gpu(a_np), on_gpu(a_np)
        n = 2000 if args.quick else 10000
        t_cp = _median_time(lambda: ca + cb, sync, n, rep)
        t_mp = _median_time(lambda: ma + mb, sync, n, rep)
        row("4x4 add (per op)", t_mp, t_cp, "cupy", TARGETS["op"])

        # 2. two-layer net step
        D, C = 3072, 10
        for N in (128, 1024):
            for H in (512, 4096):
                rng = numpy.random.RandomState(0)
                x = rng.randn(N, D).astype(numpy.float32)
                y = rng.randint(0, C, N)
                w1 = (rng.randn(D, H) * 0.01).astype(numpy.float32)
                w2 = (rng.randn(H, C) * 0.01).astype(numpy.float32)
                lr = 1e-3
                onehot = numpy.eye(C, dtype=numpy.float32)[y]

                mx, mo = on_gpu(x), on_gpu(onehot)
                params = [on_gpu(w1), on_gpu(w2)]

                def loss_fn(p1, p2):
                    h = mnp.maximum(mnp.dot(mx, p1), 0.0)
                    s = mnp.dot(h, p2)
                    s = s - mnp.max(s, axis=1, keepdims=True)
                    logp = s - mnp.log(mnp.sum(mnp.exp(s), axis=1, keepdims=True))
                    return -mnp.sum(logp * mo) / N

                gl = grad_and_loss(loss_fn, argnum=(0, 1))

                def minpy_step():
                    grads, _ = gl(*params)
                    params[0] = params[0] - lr * grads[0]
                    params[1] = params[1] - lr * grads[1]

                cx, co = cp.asarray(x), cp.asarray(onehot)
                cw = [cp.asarray(w1), cp.asarray(w2)]

                def cupy_step():
                    a1 = cx @ cw[0]
                    h = cp.maximum(a1, 0)
                    s = h @ cw[1]
                    s = s - s.max(axis=1, keepdims=True)
                    e = cp.exp(s)
                    p = e / e.sum(axis=1, keepdims=True)
                    ds = (p - co) / N
                    dw2 = h.T @ ds
                    dh = ds @ cw[1].T
                    dh = dh * (a1 > 0)
                    dw1 = cx.T @ dh
                    cw[0] -= lr * dw1
                    cw[1] -= lr * dw2

                steps = 5 if args.quick else 20
                t_mp = _median_time(minpy_step, sync, steps, rep)
                t_cp = _median_time(cupy_step, sync, steps, rep)
                what = f"2-layer step N={N} H={H}"
                target = TARGETS["step1024"] if N == 1024 else None
                if have_torch:
                    tx = torch.from_numpy(x).cuda()
                    ty = torch.from_numpy(y).cuda()
                    tw = [torch.from_numpy(w1).cuda().requires_grad_(), torch.from_numpy(w2).cuda().requires_grad_()]

                    def torch_step():
                        out = torch.relu(tx @ tw[0]) @ tw[1]
                        loss = torch.nn.functional.cross_entropy(out, ty)
                        g1, g2 = torch.autograd.grad(loss, tw)
                        with torch.no_grad():
                            tw[0] -= lr * g1
                            tw[1] -= lr * g2

                    t_th = _median_time(torch_step, tsync, steps, rep)
                    row(what, t_mp, t_th, "torch eager", target)
                else:
                    row(what, t_mp, None, "torch eager", target)
                row(what, t_mp, t_cp, "cupy by hand", None)
                # issue 14's GPU rows: the same step under minpy.jit (CuPy kernels replayed), and jax.jit
                t_jit = _jit_step_time(gl, [on_gpu(w1), on_gpu(w2)], lr, sync, steps, rep)
                if t_jit is not None:
                    row(f"{what} jit", t_jit, t_cp, "cupy by hand", None)
                    if have_torch:
                        row(f"{what} jit", t_jit, t_th, "torch eager", None)
                    t_jax = _jax_step_time(x, onehot, w1, w2, lr, steps, rep)
                    row(f"{what} jit", t_jit, t_jax, "jax.jit", None)

        # 3. large matmul
        big = numpy.random.RandomState(1).rand(8192, 8192).astype(numpy.float32)
        cbig = cp.asarray(big)
        mbig = on_gpu(big)
        t_cp = _median_time(lambda: cbig @ cbig, sync, 3, rep)
        t_mp = _median_time(lambda: mnp.dot(mbig, mbig), sync, 3, rep)
        row("matmul 8192^2 float32", t_mp, t_cp, "cupy", TARGETS["matmul"])
        tflops = 2 * 8192 ** 3 / t_mp / 1e12

    props = cp.cuda.runtime.getDeviceProperties(0)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    header = [
        f"# GPU benchmarks ({name})", "",
        f"- device: {name}; CUDA runtime {cp.cuda.runtime.runtimeGetVersion()}, driver "
        f"{cp.cuda.runtime.driverGetVersion()}; CuPy {cp.__version__}; NumPy {numpy.__version__}; "
        f"torch {torch.__version__ if torch is not None else 'not installed'}; Python {platform.python_version()}",
        f"- minpy matmul rate: {tflops:.1f} TFLOP/s (float32)", "",
        "| benchmark | minpy (ms) | against | other (ms) | ratio | target |",
        "| --- | ---: | --- | ---: | ---: | ---: |",
    ]
    for what, mp_s, other_s, other, ratio, target in rows:
        header.append(f"| {what} | {mp_s * 1e3:.4f} | {other} | "
                      f"{'not installed' if other_s is None else f'{other_s * 1e3:.4f}'} | "
                      f"{'-' if ratio is None else f'{ratio:.2f}x'} | {f'<= {target}x' if target else '-'} |")
    text = "\n".join(header) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
