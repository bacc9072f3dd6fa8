"""The speed suite of issue 6: every workload, every installed implementation, one run, one table.

    hatch run bench:suite              # prints the table and writes docs/bench-suite.md
    python tools/bench/suite.py --quick

Workloads: (1) ``a + b`` on 4x4 arrays, per op; (2) grad of sum(tanh(a @ b + a)), 4x4; (3) one training step
(forward, backward, SGD update) of a two-layer net, D=3072, H=512, C=10, N=128 and N=16; (4) a 3x3 convolution,
32 filters, N=32, 3x32x32, forward and backward; (5) an LSTM over 50 steps, forward and backward, with its
peak memory; (6) the time of ``import minpy.numpy`` with MXNet installed, in a fresh interpreter. Each row is a
median over repeated samples; the ratio is to the first (NumPy) row of its workload. A row that raises is reported
as failed and the suite goes on. minpy runs under each policy (``auto``'s measurements are made in the warm-up
call, from an empty cost table, so they are part of no timed sample). PyTorch rows appear when torch imports
(``pip install torch==2.13.0``, the CPU build; never a minpy dependency).
"""
import argparse
import importlib
import os
import platform
import random
import re
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc

import numpy as onp
from numpy.lib.stride_tricks import sliding_window_view

import minpy.numpy as np
from minpy.autograd import grad, vjp
from minpy.backends import mxnet_backend
from minpy.dispatch.auto import CostModel
from minpy.dispatch.policy import AutoPolicy, OnlyNumPyPolicy, PreferMXNetPolicy, get_global_policy, set_global_policy
from minpy.jit import jit
from minpy.nn import layers

LR = 1e-3
SETTLE = 0.02  # seconds of pause before each sample (spinning threads of the previous row go idle)
JAX = None  # jax, when it imports (the bench env installs it: the jax.jit rows of issue 14's XLA question)
_DEFAULT_POLICY = get_global_policy()


# -- timing helpers ---------------------------------------------------------------------------------------------------
class Suite:
    """Rows are set up as they are added and timed together per workload (:meth:`flush`): samples of the
    workload's rows alternate, in an order shuffled afresh each round, so a disturbance on this small machine
    (another process) falls on every row alike instead of on one. Each sample starts after a short pause, so
    that threads a previous row left spinning (MXNet's, XLA's) are idle again: with a fixed (rotating) order
    a row always followed the same row, and the jitted LSTM, which followed an eager row that ran MXNet
    kernels, read 4-7% slower than the same program forced to the replay engine one row later."""

    def __init__(self, quick):
        self.repeat = 3 if quick else 9
        self.target = 0.01 if quick else 0.1  # seconds per sample
        self.rows = []  # (workload, implementation, seconds or None, note)
        self.samples = {}  # (workload, implementation) -> seconds per call, one sample per round
        self.pending = []  # [workload, implementation, fn, calls per sample, note, policy, samples]

    def add(self, workload, impl, make, note="", memory=False, policy=None):
        """Set up the function returned by ``make()`` (not timed) and warm it up; with ``memory``, measure its
        peak now. It is timed at the next :meth:`flush`, under ``policy`` when one is given."""
        try:
            rss_before = maxrss_mib()
            fn = make()
            if memory:  # before any timing, so that the high-water mark is (mostly) this row's own
                fn()
                note = f"{note} {peak_memory(fn, rss_before)}".strip()
            start = time.perf_counter()
            fn()  # warm-up (and binding, caching, first-use loading, the auto policy's measurements)
            first = time.perf_counter() - start
            number = max(1, int(self.target / max(first, 1e-7)))
            self.pending.append([workload, impl, fn, number, note, policy, []])
        except Exception as exc:  # a failing implementation is a result, not the end of the run
            self.rows.append((workload, impl, None, f"failed: {type(exc).__name__}: {str(exc)[:120]}"))

    def add_jit(self, workload, make, note="", memory=False):
        """``minpy.jit`` rows under the auto policy (only_numpy where MXNet is missing), one per engine:
        ``make(engine)`` returns the step. The warm-up call traces; the timed calls replay (under
        ``engine="auto"`` the first of them measure the engines). The note gives the engine that ran and, where
        it was not MXNet's, why the mxnet engine did not run the program."""
        policy = policies()[-1]
        engines = ("auto", "replay", "mxnet") if mxnet_backend.available() else ("auto",)
        for engine in engines:
            instance = policy()
            with instance:
                self.add(workload, f"minpy jit {engine} ({policy.name})", lambda: _warmed(make(engine)), note,
                         memory, policy=instance)

    def add_policies(self, workload, make, note="", memory=False):
        """One row per minpy policy; ``make`` is called, and the function timed, under that policy."""
        for policy in policies():
            instance = policy()
            with instance:
                self.add(workload, f"minpy {policy.name}", make, note, memory, policy=instance)

    def flush(self):
        """Time the pending rows: ``repeat`` rounds, one sample of every row per round; medians per call."""
        rows = self.pending
        shuffle = random.Random(len(rows)).shuffle  # the same orders in every run of the suite
        for r in range(self.repeat):
            order = list(rows)
            shuffle(order)
            for row in order:
                workload, impl, fn, number, note, policy, samples = row
                if samples is None:
                    continue  # failed in an earlier round
                try:
                    if policy is not None:
                        set_global_policy(policy)
                    time.sleep(SETTLE)
                    start = time.perf_counter()
                    for _ in range(number):
                        fn()
                    samples.append((time.perf_counter() - start) / number)
                except Exception as exc:
                    row[4] = f"failed: {type(exc).__name__}: {str(exc)[:120]}"
                    row[6] = None
                finally:
                    set_global_policy(_DEFAULT_POLICY)
        for workload, impl, fn, number, note, policy, samples in self.pending:
            jitted = getattr(fn, "jitted", None)
            if jitted is not None:
                note = f"{note}; {_engine_note(jitted)}".strip("; ")
            self.rows.append((workload, impl, statistics.median(samples) if samples else None, note))
            if samples:
                self.samples[(workload, impl)] = samples
        self.pending = []


def _engine_note(jitted):
    sigs = jitted.stats()["signatures"]
    if not sigs:
        return "no signature"
    sig = sigs[-1]
    if sig["eager"]:
        return f"runs eagerly: {sig['eager'][:100]}"
    text = f"ran on {sig['engine']}"
    if sig["timings_us"]:
        text += " (measured " + ", ".join(f"{k} {v / 1e3:.2f} ms" for k, v in sorted(sig["timings_us"].items())) + ")"
    if sig["engine"] != "mxnet" and sig["mxnet"]:
        text += f"; mxnet engine: {sig['mxnet'][:110]}"
    return text.replace("|", "/")


def _warmed(step):
    """A jitted step after its trace and the calls in which ``engine="auto"`` measures the engines."""
    for _ in range(12):  # the trace, then up to three engines measured three times each
        step()
    return step


def _jitted_step(jitted, call):
    """A timed step that also carries its jitted function (for the row's note)."""
    call.jitted = jitted
    return call


def _auto():
    return AutoPolicy(cost_model=_AUTO_MODEL)


_auto.name = "auto"
_AUTO_MODEL = CostModel(path=None)  # measured in this run, from nothing: the table shows a first run's choices


def policies():
    if not mxnet_backend.available():
        return [OnlyNumPyPolicy]
    return [OnlyNumPyPolicy, PreferMXNetPolicy, _auto]


def maxrss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def peak_memory(fn, rss_before):
    """Python-side peak of one call of ``fn`` (tracemalloc) and the growth of the process's maxrss."""
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return f"peak {peak / 2**20:.1f} MiB (tracemalloc), maxrss +{maxrss_mib() - rss_before:.0f} MiB"


def sync(*values):
    """Wait for MXNet's asynchronous engine on every array given (nested lists and tuples walked)."""
    for v in values:
        if isinstance(v, (list, tuple)):
            sync(*v)
        elif hasattr(v, "wait_to_read"):
            v.wait_to_read()


# -- workloads written by hand in NumPy -------------------------------------------------------------------------------
def small_by_hand(a, b):
    z = onp.tanh(a @ b + a)
    dz = 1 - z * z
    return dz @ b.T + dz


def two_layer_loss(lib):
    """Mean softmax cross-entropy of a two-layer ReLU net, written once for every NumPy-like library."""
    def loss(w1, b1, w2, b2, x, onehot):
        h = lib.maximum(lib.dot(x, w1) + b1, 0)
        s = lib.dot(h, w2) + b2
        s = s - lib.max(s, axis=1, keepdims=True)
        logp = s - lib.log(lib.sum(lib.exp(s), axis=1, keepdims=True))
        return -lib.sum(logp * onehot) / x.shape[0]
    return loss


def two_layer_loss_torch(torch):
    """The same loss in PyTorch's spelling (log_softmax is its fused, stable form of the lines above)."""
    def loss(w1, b1, w2, b2, x, onehot):
        s = torch.relu(x @ w1 + b1) @ w2 + b2
        return -(torch.log_softmax(s, dim=1) * onehot).sum() / x.shape[0]
    return loss


def two_layer_step_by_hand(params, x, y):
    w1, b1, w2, b2 = params
    n = x.shape[0]
    h = onp.maximum(x @ w1 + b1, 0)
    s = h @ w2 + b2
    p = onp.exp(s - s.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[onp.arange(n), y] -= 1
    ds = p / n
    dh = ds @ w2.T
    dh[h <= 0] = 0
    for param, g in zip(params, (x.T @ dh, dh.sum(0), h.T @ ds, ds.sum(0))):
        param -= LR * g


def conv_by_hand(x, w, b):
    """3x3 convolution, stride 1, pad 1, by im2col; returns the gradients of the sum of its output."""
    n, c, hh, ww = x.shape
    f = w.shape[0]
    xp = onp.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = sliding_window_view(xp, (3, 3), axis=(2, 3)).transpose(0, 2, 3, 1, 4, 5).reshape(n * hh * ww, c * 9)
    wr = w.reshape(f, -1)
    out = (cols @ wr.T + b).reshape(n, hh, ww, f).transpose(0, 3, 1, 2)
    dout = onp.ones_like(out).transpose(0, 2, 3, 1).reshape(-1, f)
    dw = (dout.T @ cols).reshape(w.shape)
    db = dout.sum(0)
    dcols = (dout @ wr).reshape(n, hh, ww, c, 3, 3)
    dxp = onp.zeros_like(xp)
    for i in range(3):
        for j in range(3):
            dxp[:, :, i:i + hh, j:j + ww] += dcols[..., i, j].transpose(0, 3, 1, 2)
    return dxp[:, :, 1:-1, 1:-1], dw, db


def sigmoid(z):
    return 1 / (1 + onp.exp(-z))


def lstm_by_hand(x, h0, wx, wh, b):
    """LSTM over the sequence (gates i, f, o, g as in minpy.nn.layers.lstm_step), then the gradients of the
    sum of every hidden state, back through time by hand."""
    n, steps, _ = x.shape
    hid = h0.shape[1]
    h, c = h0, onp.zeros_like(h0)
    cache = []
    for t in range(steps):
        a = x[:, t] @ wx + h @ wh + b
        i, f, o = (sigmoid(a[:, k * hid:(k + 1) * hid]) for k in range(3))
        g = onp.tanh(a[:, 3 * hid:])
        c_prev, h_prev = c, h
        c = f * c + i * g
        tc = onp.tanh(c)
        h = o * tc
        cache.append((i, f, o, g, c_prev, h_prev, tc))
    dx, dwx, dwh, db = onp.zeros_like(x), onp.zeros_like(wx), onp.zeros_like(wh), onp.zeros_like(b)
    dh_next, dc = onp.zeros_like(h0), onp.zeros_like(h0)
    for t in reversed(range(steps)):
        i, f, o, g, c_prev, h_prev, tc = cache[t]
        dh = dh_next + 1.0
        dc = dc + dh * o * (1 - tc * tc)
        da = onp.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dh * tc * o * (1 - o),
                              dc * i * (1 - g * g)], axis=1)
        dc = dc * f
        dx[:, t] = da @ wx.T
        dwx += x[:, t].T @ da
        dwh += h_prev.T @ da
        db += da.sum(0)
        dh_next = da @ wh.T
    return dx, dh_next, dwx, dwh, db


# -- the suite --------------------------------------------------------------------------------------------------------
def bench_add(s, mx, torch, rng):
    wl = "`a + b`, 4x4, per op"
    a, b = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    s.add(wl, "NumPy", lambda: lambda: a + b)

    def make_minpy():
        ma, mb = np.array(a), np.array(b)
        for _ in range(3):  # the auto policy measures its first calls
            result = ma + mb
        if result.backend == "numpy":  # computed when the call returns, as NumPy's row is: nothing to wait for
            return lambda: ma + mb
        return lambda: sync(ma + mb)
    s.add_policies(wl, make_minpy)
    if torch:
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        s.add(wl, "torch eager", lambda: lambda: ta + tb)
    if mx:
        for name, lib in (("mx.nd", mx.nd), ("mx.np", mx.np)):
            xa, xb = lib.array(a), lib.array(b)
            s.add(wl, f"{name} (wait_to_read)", lambda: lambda: (xa + xb).wait_to_read())


def bench_small_grad(s, mx, hips, torch, rng):
    wl = "grad of sum(tanh(a@b+a)), 4x4"
    a, b = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    s.add(wl, "NumPy by hand", lambda: lambda: small_by_hand(a, b))
    if hips:
        autograd, anp = hips
        s.add(wl, "HIPS autograd", lambda: lambda: autograd.grad(lambda a_: anp.sum(anp.tanh(anp.dot(a_, b) + a_)))(a))

    def make_minpy():
        ma, mb = np.array(a), np.array(b)
        g = grad(lambda a_: np.sum(np.tanh(np.dot(a_, mb) + a_)))
        return lambda: sync(g(ma))
    s.add_policies(wl, make_minpy)

    def make_jit(engine):
        ma, mb = np.array(a), np.array(b)
        g = jit(grad(lambda a_: np.sum(np.tanh(np.dot(a_, mb) + a_))), engine=engine)
        return _jitted_step(g, lambda: sync(g(ma)))
    s.add_jit(wl, make_jit, "jit(grad(f))")
    if JAX:
        jnp = JAX.numpy

        def make_jax():
            g = JAX.jit(JAX.grad(lambda a_, b_: jnp.sum(jnp.tanh(a_ @ b_ + a_))))
            ja, jb = jnp.asarray(a), jnp.asarray(b)
            return lambda: g(ja, jb).block_until_ready()
        s.add(wl, "jax.jit", make_jax, "jax.jit(jax.grad(f)), XLA on the CPU")
    if torch:
        def make_torch():
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)

            def step():
                xa = ta.clone().requires_grad_(True)
                torch.sum(torch.tanh(xa @ tb + xa)).backward()
                return xa.grad
            return step
        s.add(wl, "torch eager", make_torch)
    if mx:
        def make_mx():
            xa, xb = mx.np.array(a), mx.np.array(b)
            xa.attach_grad()

            def step():
                with mx.autograd.record():
                    out = mx.np.sum(mx.np.tanh(mx.np.dot(xa, xb) + xa))
                out.backward()
                xa.grad.wait_to_read()
            return step
        s.add(wl, "mx.np + mx.autograd", make_mx)


def bench_two_layer(s, mx, hips, torch, rng, n):
    d, h, c = 3072, 512, 10
    wl = f"two-layer net step, N={n}, {d}-{h}-{c}"
    x = rng.standard_normal((n, d))
    y = rng.integers(0, c, n)
    onehot = onp.eye(c)[y]
    init = [rng.standard_normal((d, h)) * 0.01, onp.zeros(h), rng.standard_normal((h, c)) * 0.01, onp.zeros(c)]
    for dtype in ("float64", "float32"):
        def make_by_hand():
            params = [p.astype(dtype) for p in init]
            xd = x.astype(dtype)
            return lambda: two_layer_step_by_hand(params, xd, y)
        s.add(wl, f"NumPy by hand {dtype}", make_by_hand)
    if hips:
        autograd, anp = hips

        def make_hips():
            params = [p.copy() for p in init]
            g = autograd.grad(two_layer_loss(anp), argnum=(0, 1, 2, 3))

            def step():
                for p, dp in zip(params, g(*params, x, onehot)):
                    p -= LR * dp
            return step
        s.add(wl, "HIPS autograd float64", make_hips)

    def make_minpy():
        state = [np.array(p) for p in init]
        mx_, moh = np.array(x), np.array(onehot)
        g = grad(two_layer_loss(np), argnum=(0, 1, 2, 3))

        def step():
            state[:] = [p - LR * dp for p, dp in zip(state, g(*state, mx_, moh))]
            sync(state)
        return step
    s.add_policies(wl, make_minpy, "float64")

    def make_jit(engine):
        state = [np.array(p) for p in init]
        mx_, moh = np.array(x), np.array(onehot)
        step = jit(_jit_two_layer_step, engine=engine)
        return _jitted_step(step, lambda: sync(step(state, mx_, moh)))
    s.add_jit(wl, make_jit, "float64, the step (grad and in-place SGD updates) under jit")
    if JAX:
        jnp = JAX.numpy
        for dtype in ("float64", "float32"):
            def make_jax():
                loss = two_layer_loss(jnp)

                def step(ps, x_, oh):
                    grads = JAX.grad(loss, argnums=(0, 1, 2, 3))(*ps, x_, oh)
                    return [p - LR * g for p, g in zip(ps, grads)]
                jstep = JAX.jit(step, donate_argnums=0)  # the parameters updated in place, as a JAX user writes it
                state = [jnp.asarray(p, dtype=dtype) for p in init]
                jx, joh = jnp.asarray(x, dtype=dtype), jnp.asarray(onehot, dtype=dtype)

                def run():
                    state[:] = jstep(state, jx, joh)
                    state[0].block_until_ready()
                return run
            s.add(wl, f"jax.jit {dtype}", make_jax, "the step (grad and SGD update) under jax.jit, XLA on the CPU")
    if torch:
        for dtype in ("float64", "float32"):
            def make_torch():
                params = [torch.tensor(p, dtype=getattr(torch, dtype), requires_grad=True) for p in init]
                xd = torch.tensor(x, dtype=getattr(torch, dtype))
                od = torch.tensor(onehot, dtype=getattr(torch, dtype))
                loss = two_layer_loss_torch(torch)

                def step():
                    out = loss(*params, xd, od)
                    out.backward()
                    with torch.no_grad():
                        for p in params:
                            p -= LR * p.grad
                            p.grad = None
                return step
            s.add(wl, f"torch eager {dtype}", make_torch)
    if not mx:
        return
    for dtype in ("float64", "float32"):
        def make_mxnp():
            params = [mx.np.array(p, dtype=dtype) for p in init]
            xd, od = mx.np.array(x, dtype=dtype), mx.np.array(onehot, dtype=dtype)
            for p in params:
                p.attach_grad()
            loss = two_layer_loss(mx.np)

            def step():
                with mx.autograd.record():
                    out = loss(*params, xd, od)
                out.backward()
                for p in params:
                    p -= LR * p.grad
                mx.nd.waitall()
            return step
        s.add(wl, f"mx.np + mx.autograd {dtype}", make_mxnp)

        def make_gluon():
            gluon = mx.gluon
            net = gluon.nn.HybridSequential()
            net.add(gluon.nn.Dense(h, activation="relu", in_units=d), gluon.nn.Dense(c, in_units=h))
            net.initialize(mx.init.Normal(0.01))
            net.cast(dtype)
            net.hybridize()
            trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": LR})
            loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
            xd, yd = mx.nd.array(x, dtype=dtype), mx.nd.array(y, dtype=dtype)

            def step():
                with mx.autograd.record():
                    out = loss_fn(net(xd), yd)
                out.backward()
                trainer.step(n)
                mx.nd.waitall()
            return step
        s.add(wl, f"Gluon hybridized + Trainer {dtype}", make_gluon)


def _jit_two_layer_step(params, x, onehot):
    grads = grad(two_layer_loss(np), argnum=(0, 1, 2, 3))(*params, x, onehot)
    for p, dp in zip(params, grads):
        p -= LR * dp


def bench_trace(s, rng):
    """The first call of a jitted function (tracing it) against an eager call, on the two-layer step at N=16."""
    d, h, c, n = 3072, 512, 10, 16
    wl = f"first call under jit (trace), two-layer step N={n}"
    x = rng.standard_normal((n, d))
    onehot = onp.eye(c)[rng.integers(0, c, n)]
    init = [rng.standard_normal((d, h)) * 0.01, onp.zeros(h), rng.standard_normal((h, c)) * 0.01, onp.zeros(c)]

    def make(traced):
        state = [np.array(p) for p in init]
        mx_, moh = np.array(x), np.array(onehot)
        if not traced:
            return lambda: _jit_two_layer_step(state, mx_, moh)
        return lambda: jit(_jit_two_layer_step)(state, mx_, moh)  # a new jitted function: every call traces
    s.add(wl, "minpy eager (auto)", lambda: make(False), "the reference of this workload")
    s.add(wl, "minpy jit, first call", lambda: make(True), "record, build the paths, generate and compile the code")


def bench_conv(s, mx, torch, rng):
    wl = "conv 3x3, 32 filters, N=32, 3x32x32, fwd+bwd (float32)"
    x = rng.standard_normal((32, 3, 32, 32)).astype("float32")
    w = (rng.standard_normal((32, 3, 3, 3)) * 0.1).astype("float32")
    b = onp.zeros(32, "float32")
    s.add(wl, "NumPy im2col by hand", lambda: lambda: conv_by_hand(x, w, b))

    out_shape = (32, 32, 32, 32)

    def make_minpy():
        # the output gradient is given (ones), as every row here is given it: the rows time the convolution's
        # forward and backward passes, not a loss
        mxx, mw, mb, ones = np.array(x), np.array(w), np.array(b), np.ones(out_shape, dtype="float32")

        def step():
            _, back = vjp(lambda x_, w_, b_: layers.conv(x_, w_, b_, pad=1), mxx, mw, mb, argnum=(0, 1, 2))
            sync(back(ones))
        return step
    s.add_policies(wl, make_minpy, "minpy.nn.layers.conv, minpy.autograd.vjp")

    def make_jit(engine):
        mxx, mw, mb, ones = np.array(x), np.array(w), np.array(b), np.ones(out_shape, dtype="float32")

        def fwd_bwd(x_, w_, b_, g):
            return vjp(lambda x2, w2, b2: layers.conv(x2, w2, b2, pad=1), x_, w_, b_, argnum=(0, 1, 2))[1](g)
        step = jit(fwd_bwd, engine=engine)
        return _jitted_step(step, lambda: sync(step(mxx, mw, mb, ones)))
    s.add_jit(wl, make_jit, "jit of the vjp (MXNet's convolution: the Function's passes are recorded opaque calls)")
    if torch:
        def make_torch():
            tx, tw, tb = (torch.tensor(v, requires_grad=True) for v in (x, w, b))
            tones = torch.ones(out_shape)

            def step():
                torch.nn.functional.conv2d(tx, tw, tb, padding=1).backward(tones)
                for t in (tx, tw, tb):
                    t.grad = None
            return step
        s.add(wl, "torch eager", make_torch)
    if mx:
        def make_symbol():
            sym = mx.sym.Convolution(mx.sym.Variable("x"), mx.sym.Variable("w"), mx.sym.Variable("b"),
                                     kernel=(3, 3), num_filter=32, pad=(1, 1))
            exe = sym.simple_bind(mx.cpu(), x=x.shape, w=w.shape, b=b.shape)
            for name, value in (("x", x), ("w", w), ("b", b)):
                exe.arg_dict[name][:] = value
            ones = mx.nd.ones(exe.outputs[0].shape)

            def step():
                exe.forward(is_train=True)
                exe.backward(out_grads=ones)
                mx.nd.waitall()
            return step
        s.add(wl, "MXNet symbol executor", make_symbol)
    if JAX:
        jnp, lax = JAX.numpy, JAX.lax

        def make_jax():
            def conv(x_, w_, b_):
                out = lax.conv_general_dilated(x_, w_, (1, 1), ((1, 1), (1, 1)),
                                               dimension_numbers=("NCHW", "OIHW", "NCHW"))
                return out + b_[None, :, None, None]

            @JAX.jit
            def fwd_bwd(x_, w_, b_, g):
                return JAX.vjp(conv, x_, w_, b_)[1](g)
            jx, jw, jb, jones = jnp.asarray(x), jnp.asarray(w), jnp.asarray(b), jnp.ones(out_shape, "float32")
            return lambda: [r.block_until_ready() for r in fwd_bwd(jx, jw, jb, jones)]
        s.add(wl, "jax.jit", make_jax, "jax.jit of the vjp of lax.conv_general_dilated, XLA on the CPU")


def bench_lstm(s, rng):
    n, steps, d, h = 32, 50, 64, 128
    hid = h
    wl = f"LSTM, {steps} steps, N={n} D={d} H={h}, fwd+bwd (float64)"
    args = [rng.standard_normal((n, steps, d)), rng.standard_normal((n, h)) * 0.1,
            rng.standard_normal((d, 4 * h)) * 0.1, rng.standard_normal((h, 4 * h)) * 0.1, onp.zeros(4 * h)]
    s.add(wl, "NumPy by hand", lambda: lambda: lstm_by_hand(*args), memory=True)

    def make_minpy():
        margs = [np.array(a) for a in args]
        g = grad(lambda *a: np.sum(layers.lstm_temporal(*a)), argnum=(0, 1, 2, 3, 4))
        return lambda: sync(g(*margs))
    s.add_policies(wl, make_minpy, memory=True)

    def make_jit(engine):
        margs = [np.array(a) for a in args]
        g = jit(grad(lambda *a: np.sum(layers.lstm_temporal(*a)), argnum=(0, 1, 2, 3, 4)), engine=engine)
        return _jitted_step(g, lambda: sync(g(*margs)))
    s.add_jit(wl, make_jit, memory=True)
    if JAX:
        jnp = JAX.numpy

        def make_jax():
            def lstm_sum(x, h0, wx, wh, b):
                def cell(carry, x_t):
                    h, c = carry
                    a = x_t @ wx + h @ wh + b
                    i, f, o = (JAX.nn.sigmoid(a[:, k * hid:(k + 1) * hid]) for k in range(3))
                    c = f * c + i * jnp.tanh(a[:, 3 * hid:])
                    h = o * jnp.tanh(c)
                    return (h, c), h
                _, hs = JAX.lax.scan(cell, (h0, jnp.zeros_like(h0)), jnp.swapaxes(x, 0, 1))
                return jnp.sum(hs)
            g = JAX.jit(JAX.grad(lstm_sum, argnums=(0, 1, 2, 3, 4)))
            jargs = [jnp.asarray(a) for a in args]
            return lambda: [r.block_until_ready() for r in g(*jargs)]
        s.add(wl, "jax.jit", make_jax, "jax.jit(jax.grad) of the LSTM over lax.scan, XLA on the CPU (its memory is "
              "XLA's: not seen by tracemalloc)", memory=True)


def bench_import(s):
    """``import minpy.numpy`` in a fresh interpreter (MXNet installed: it must not be imported yet)."""
    wl = "`import minpy.numpy` (fresh interpreter, MXNet installed)"
    code = "import time; t = time.perf_counter(); import {}; print(time.perf_counter() - t)"

    def timed(module):
        runs = [float(subprocess.run([sys.executable, "-c", code.format(module)], capture_output=True, text=True,
                                     check=True).stdout) for _ in range(5)]
        return statistics.median(runs)
    for impl, module in (("NumPy (`import numpy`)", "numpy"), ("minpy", "minpy.numpy"), ("`import mxnet`", "mxnet")):
        try:
            s.rows.append((wl, impl, timed(module), ""))
        except (subprocess.CalledProcessError, ValueError) as exc:
            s.rows.append((wl, impl, None, f"failed: {exc}"))


# -- reporting --------------------------------------------------------------------------------------------------------
def version(module):
    try:
        return importlib.import_module(module).__version__
    except ImportError:
        return "not installed"
    except AttributeError:
        from importlib.metadata import version as dist_version
        return dist_version(module)


def header():
    threads = {k: v for k, v in os.environ.items() if k == "OMP_NUM_THREADS" or k.startswith(("MXNET_", "MKL_",
                                                                                              "OPENBLAS_"))}
    try:
        from threadpoolctl import threadpool_info
        blas = ", ".join(f"{os.path.basename(i['filepath'])} {i['num_threads']}" for i in threadpool_info())
    except ImportError:
        blas = "threadpoolctl not installed"
    torch = version("torch")
    return [f"Python {platform.python_version()}, NumPy {onp.__version__}, MXNet {version('mxnet')}, "
            f"HIPS autograd {version('autograd')}, torch {torch}, jax {version('jax')}"
            + (" (no torch rows: not importable)" if torch == "not installed" else "") + f"; {os.cpu_count()} CPUs.",
            f"Threads: env {threads or 'none set'}; thread pools loaded (threadpoolctl, library and threads): "
            f"{blas or 'none found'}."]


def fmt(seconds):
    return "failed" if seconds is None else (f"{seconds * 1e3:.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.1f} us")


def paired_ratio(samples, row, ref, seconds, base):
    """The ratio of a row to its reference: the median over rounds of the two rows' samples of that round
    (taken within one shuffled round, a few hundred ms apart, so that a change in the machine's load between
    rounds falls on both); the ratio of the medians where the rows were not sampled in the same rounds."""
    a, b = samples.get(row), samples.get(ref)
    if a and b and len(a) == len(b) and len(a) >= 3:
        return statistics.median(x / y for x, y in zip(a, b))
    return seconds / base


def render(rows, elapsed, quick, samples=None):
    lines = ["# Speed suite (issue 6)", "", "Generated by `hatch run bench:suite` (`tools/bench/suite.py`"
             + (" --quick" if quick else "") + f"); the whole run took {elapsed:.0f} s.", ""]
    lines += header()
    samples = samples or {}
    lines += ["", "Medians of repeated samples, all in this one run, the samples of a workload's rows taken in "
              "alternation (a shuffled order each round, each sample after a 20 ms pause); the ratio is to the "
              "first (NumPy) row of each workload, the median over the rounds of the two rows' samples of the "
              "same round (paired: a change in the machine's load between rounds falls on both). MXNet rows wait for the engine (wait_to_read / waitall). tracemalloc sees only Python-side "
              "(NumPy) allocations, not MXNet's; maxrss is a high-water mark (the LSTM rows run first, so that its growth is theirs), so its delta is only a rough note.", "",
              "| workload | implementation | median | ratio to NumPy | note |", "|---|---|---|---|---|"]
    base = {}
    for workload, impl, seconds, note in rows:
        base.setdefault(workload, (impl, seconds))
        ref_impl, ref_seconds = base[workload]
        ratio = (f"{paired_ratio(samples, (workload, impl), (workload, ref_impl), seconds, ref_seconds):.2f}x"
                 if seconds and ref_seconds else "—")
        lines.append(f"| {workload} | {impl} | {fmt(seconds)} | {ratio} | {note} |")
    lines += render_targets(rows, samples)
    return "\n".join(lines) + "\n"


#: issue 14's targets: (what, workload prefix, row measured, reference row, bound on the ratio)
TARGETS = [
    ("`a + b`, 4x4, eager (not jitted)", "`a + b`", "minpy auto", "NumPy", 3.0),
    ("grad of sum(tanh(a@b+a)), 4x4", "grad of sum", "minpy jit auto", "NumPy by hand", 3.0),
    ("LSTM 50 steps, fwd+bwd", "LSTM", "minpy jit auto", "NumPy by hand", 1.1),
    ("two-layer step N=16", "two-layer net step, N=16,", "minpy jit auto", "NumPy by hand float64", 1.0),
    ("two-layer step N=128", "two-layer net step, N=128,", "minpy jit auto", "NumPy by hand float64", 1.0),
    ("conv fwd+bwd", "conv", "minpy jit auto", "MXNet symbol executor", 1.05),
    ("first call (trace)", "first call under jit", "minpy jit, first call", "minpy eager (auto)", 3.0),
]


def _row(rows, workload, impl):
    """The first row whose workload and implementation start so, or None."""
    for row in rows:
        if row[0].startswith(workload) and row[1].startswith(impl):
            return row
    return None


def _find(rows, workload, impl):
    row = _row(rows, workload, impl)
    return (row[2], row[3]) if row else (None, "")


def _key(rows, workload, impl):
    row = _row(rows, workload, impl)
    return row[:2] if row else None


def _peak(note):
    match = re.search(r"peak ([0-9.]+) MiB", note or "")
    return float(match.group(1)) if match else None


def render_targets(rows, samples=None):
    """Issue 14's targets against this run: the ratio measured, whether it is met, the other engines' ratios."""
    lines = ["", "## Issue 14's targets (minpy.jit), from the rows above", "",
             "`minpy jit auto` is `jit(f)` (the default engine) under the auto policy. The last column gives the "
             "ratio of each forced engine to the same reference; `jax.jit` is the same workload under jax.jit (XLA on "
             "this CPU; float64 where the reference is) against the same reference.", "",
             "| workload | target | measured | met | engines forced | jax.jit |", "|---|---|---|---|---|---|"]
    samples = samples or {}
    for what, workload, impl, ref, bound in TARGETS:
        seconds, note = _find(rows, workload, impl)
        base, _ = _find(rows, workload, ref)
        if not seconds or not base:
            lines.append(f"| {what} | <= {bound}x {ref} | not measured | — | | |")
            continue
        ref_key = _key(rows, workload, ref)

        def paired(impl_):
            t_, _ = _find(rows, workload, impl_)
            return paired_ratio(samples, _key(rows, workload, impl_), ref_key, t_, base)
        ratio = paired(impl)
        met = ratio <= bound
        extra = ""
        if workload == "LSTM":
            eager_peak, jit_peak = _peak(_find(rows, workload, "minpy auto")[1]), _peak(note)
            if eager_peak is not None and jit_peak is not None:
                met = met and jit_peak <= eager_peak
                extra = f"; peak {jit_peak:.1f} MiB vs eager {eager_peak:.1f} MiB (tracemalloc)"
        forced = []
        for engine in ("replay", "mxnet"):
            t, _ = _find(rows, workload, f"minpy jit {engine}")
            if t:
                forced.append(f"{engine} {paired(f'minpy jit {engine}'):.2f}x")
        t_jax, _ = _find(rows, workload, "jax.jit")
        jax_cell = f"{paired('jax.jit'):.2f}x ({fmt(t_jax)})" if t_jax else ""
        lines.append(f"| {what} | <= {bound:g}x {ref}{' and peak memory <= eager' if workload == 'LSTM' else ''} | "
                     f"{ratio:.2f}x ({fmt(seconds)}){extra} | {'yes' if met else 'no'} | {', '.join(forced)} | "
                     f"{jax_cell} |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter samples (under a minute)")
    parser.add_argument("--write", metavar="PATH", help="also write the markdown table to PATH")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    mx = mxnet_backend.mx if mxnet_backend.available() else None
    try:
        import autograd
        import autograd.numpy as anp
        hips = (autograd, anp)
    except ImportError:
        hips = None
    try:
        import torch
        torch.set_num_threads(os.cpu_count())
    except ImportError:
        torch = None
    global JAX
    try:
        import jax
        jax.config.update("jax_enable_x64", True)  # float64 rows, as the NumPy rows they are compared with
        JAX = jax
    except ImportError:
        JAX = None
    rng = onp.random.default_rng(0)
    s = Suite(args.quick)
    bench_lstm(s, rng)  # first, while the process's maxrss high-water mark is still low
    s.flush()
    bench_add(s, mx, torch, rng)
    s.flush()
    bench_small_grad(s, mx, hips, torch, rng)
    s.flush()
    for n in (128, 16):
        bench_two_layer(s, mx, hips, torch, rng, n)
        s.flush()
    bench_conv(s, mx, torch, rng)
    s.flush()
    bench_trace(s, rng)
    s.flush()
    bench_import(s)
    s.rows.sort(key=lambda row: row[0].startswith("LSTM"))  # stable: the LSTM rows last, as in the issue
    text = render(s.rows, time.perf_counter() - start, args.quick, s.samples)
    print(text)
    if args.write:
        with open(args.write, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
