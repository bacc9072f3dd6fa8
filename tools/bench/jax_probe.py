"""Does an XLA engine through JAX earn its place on this CPU? ``jax.jit`` on the suite's small gradient and
two-layer step (float64), against hand-written NumPy, in one process (ratios, not absolute times).

    pip install jax jaxlib && python tools/bench/jax_probe.py

Not part of the suite: JAX is not a dependency of any minpy package (minpy-jit has no XLA engine; see its
README for the numbers and why).
"""
import statistics
import time

import numpy as onp


def timeit(fn, repeat=7, target=0.05):
    fn()
    start = time.perf_counter()
    fn()
    one = max(time.perf_counter() - start, 1e-7)
    number = max(1, int(target / one))
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples)


def main():
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    rng = onp.random.default_rng(0)
    rows = []
    a, b = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))

    def by_hand(a, b):
        z = onp.tanh(a @ b + a)
        dz = 1 - z * z
        return dz @ b.T + dz
    g = jax.jit(jax.grad(lambda a_, b_: jnp.sum(jnp.tanh(a_ @ b_ + a_))))
    ja, jb = jnp.asarray(a), jnp.asarray(b)
    hand = timeit(lambda: by_hand(a, b))
    rows.append(("grad of sum(tanh(a@b+a)), 4x4", hand, timeit(lambda: g(ja, jb).block_until_ready())))
    d, h, c, lr = 3072, 512, 10, 1e-3
    for n in (128, 16):
        x = rng.standard_normal((n, d))
        y = rng.integers(0, c, n)
        onehot = onp.eye(c)[y]
        init = [rng.standard_normal((d, h)) * 0.01, onp.zeros(h), rng.standard_normal((h, c)) * 0.01, onp.zeros(c)]
        params = [p.copy() for p in init]

        def step_by_hand():
            w1, b1, w2, b2 = params
            hh = onp.maximum(x @ w1 + b1, 0)
            s = hh @ w2 + b2
            p = onp.exp(s - s.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            p[onp.arange(n), y] -= 1
            ds = p / n
            dh = ds @ w2.T
            dh[hh <= 0] = 0
            for param, gr in zip(params, (x.T @ dh, dh.sum(0), hh.T @ ds, ds.sum(0))):
                param -= lr * gr

        def loss(w1, b1, w2, b2, x_, oh):
            hh = jnp.maximum(x_ @ w1 + b1, 0)
            s = hh @ w2 + b2
            s = s - jnp.max(s, axis=1, keepdims=True)
            logp = s - jnp.log(jnp.sum(jnp.exp(s), axis=1, keepdims=True))
            return -jnp.sum(logp * oh) / x_.shape[0]

        @jax.jit
        def step(ps, x_, oh):
            grads = jax.grad(loss, argnums=(0, 1, 2, 3))(*ps, x_, oh)
            return [p - lr * gr for p, gr in zip(ps, grads)]
        state = [jnp.asarray(p) for p in init]
        jx, joh = jnp.asarray(x), jnp.asarray(onehot)

        def jstep():
            state[:] = step(state, jx, joh)
            state[0].block_until_ready()
        rows.append((f"two-layer step N={n}, float64", timeit(step_by_hand), timeit(jstep)))
    print(f"JAX {jax.__version__}, NumPy {onp.__version__}")
    print("| workload | NumPy by hand | jax.jit | ratio |")
    print("|---|---|---|---|")
    for name, hand, jt in rows:
        print(f"| {name} | {hand * 1e6:.1f} us | {jt * 1e6:.1f} us | {jt / hand:.2f}x |")


if __name__ == "__main__":
    main()
