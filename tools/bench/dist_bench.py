"""Data-parallel training on MXNet's parameter server (issue 16): throughput and traffic for 1, 2 and 4 workers.

    hatch run bench:dist                      # writes docs/bench-dist.md
    python tools/bench/dist_bench.py --quick  # fewer steps

For each model (the speed suite's two-layer net, 3072-512-10 at N=128 per worker, and a CNN: conv 3x3 with 32
filters on 3x32x32 at N=32 per worker, ReLU, 2x2 max-pool, affine to 10; float32, synthetic data) it runs one
process without a kvstore, then ``python -m minpy.nn.launch -n W -s 1`` with W = 1, 2, 4 workers in
``dist_sync``. Every worker times its steps (forward, backward, the gradients' mean through the kvstore, SGD) and
the exchange alone (``DataParallel.gradients``), and counts the payload bytes it pushes and pulls
(``KVStore.bytes_pushed`` / ``bytes_pulled``; ps-lite adds a few dozen bytes of header per key and message).
Weak scaling: the batch per worker is fixed, so W workers process W times the samples of a step.

The note at the end of the report works out, from these measurements, what 8 and 64 machines would need.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as onp

MODELS = {
    # name: (per-worker batch, description, short label)
    "two-layer": (128, "two-layer net 3072-512-10, N=128 per worker", "two-layer net"),
    "cnn": (32, "CNN (conv 3x3x32, ReLU, pool 2, affine 10) on 3x32x32, N=32 per worker", "CNN"),
}


# -- one worker -------------------------------------------------------------------------------------------------------
def build(name, seed=0):
    import minpy.numpy as np
    from minpy.nn import layers
    from minpy.nn.model import ModelBase

    rng = onp.random.RandomState(seed)

    class TwoLayer(ModelBase):
        def __init__(self):
            super().__init__()
            self.add_param("w1", (3072, 512)).add_param("b1", (512,)).add_param("w2", (512, 10)).add_param("b2", (10,))

        def forward(self, X, mode):
            h = layers.relu(layers.affine(X, self.params["w1"], self.params["b1"]))
            return layers.affine(h, self.params["w2"], self.params["b2"])

        def loss(self, predict, y):
            return layers.softmax_loss(predict, y)

    class CNN(ModelBase):
        def __init__(self):
            super().__init__()
            self.add_param("conv_w", (32, 3, 3, 3)).add_param("conv_b", (32,))
            self.add_param("fc_w", (32 * 16 * 16, 10)).add_param("fc_b", (10,))

        def forward(self, X, mode):
            p = self.params
            h = layers.max_pool(layers.relu(layers.conv(X, p["conv_w"], p["conv_b"], pad=1)))
            return layers.affine(h, p["fc_w"], p["fc_b"])

        def loss(self, predict, y):
            return layers.softmax_loss(predict, y)

    model = TwoLayer() if name == "two-layer" else CNN()
    for key, config in model.param_configs.items():
        model.params[key] = np.array((0.01 * rng.randn(*config["shape"])).astype(onp.float32))
    return model


def worker(name, steps, warmup, out, use_kv):
    import minpy.numpy as np
    from minpy.nn import optim
    from minpy.nn.io import DataBatch

    n = MODELS[name][0]
    model = build(name)
    kv = par = None
    if use_kv:
        from minpy.nn import dist

        kv = dist.KVStore("dist_sync")
        par = dist.DataParallel(kv)
        par.start(model, 1, steps + warmup)
    rank = kv.rank if kv else 0
    rng = onp.random.RandomState(100 + rank)
    shape = (n, 3072) if name == "two-layer" else (n, 3, 32, 32)
    batch = DataBatch([np.array(rng.randn(*shape).astype(onp.float32))], [np.array(rng.randint(0, 10, n))])
    config = {"learning_rate": 1e-3}
    step_times, exchange_times, step_cpu, exchange_cpu = [], [], [], []
    pushed = pulled = 0
    for i in range(warmup + steps):
        if i == warmup:
            if kv is not None:
                kv.barrier()
                pushed, pulled = kv.bytes_pushed, kv.bytes_pulled
        t0, c0 = time.perf_counter(), time.process_time()
        grads, loss = model.grad_and_loss(batch)
        t1, c1 = time.perf_counter(), time.process_time()
        if par is not None:
            grads, loss = par.gradients(grads, loss)
        t2, c2 = time.perf_counter(), time.process_time()
        for key, dw in grads.items():
            model.params[key], _ = optim.sgd(model.params[key], dw, config)
        for value in model.params.values():
            value.asnumpy()  # waits for an asynchronous backend: the step is done
        t3, c3 = time.perf_counter(), time.process_time()
        if i >= warmup:
            step_times.append(t3 - t0)
            exchange_times.append(t2 - t1)
            step_cpu.append(c3 - c0)
            exchange_cpu.append(c2 - c1)
    result = {"rank": rank, "workers": kv.num_workers if kv else 1, "batch": n, "step_times": step_times,
              "exchange_times": exchange_times, "step_cpu": step_cpu, "exchange_cpu": exchange_cpu,
              "param_bytes": sum(v.nbytes for v in model.params.values()),
              "pushed": (kv.bytes_pushed - pushed) / steps if kv else 0,
              "pulled": (kv.bytes_pulled - pulled) / steps if kv else 0}
    with open(os.path.join(out, f"{name}-{rank}.json"), "w") as f:
        json.dump(result, f)


# -- the runs -----------------------------------------------------------------------------------------------------------
def run(name, workers, steps, warmup, timeout):
    """The workers' results for one configuration (workers=0: one process without a kvstore)."""
    with tempfile.TemporaryDirectory() as out:
        me = [sys.executable, os.path.abspath(__file__), "--worker", name, "--steps", str(steps), "--warmup",
              str(warmup), "--out", out]
        if workers == 0:
            cmd = me + ["--no-kv"]
        else:
            cmd = [sys.executable, "-m", "minpy.nn.launch", "-n", str(workers), "-s", "1", "--timeout", "5"] + me
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"{name} with {workers} workers failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        results = []
        for fname in sorted(os.listdir(out)):
            with open(os.path.join(out, fname)) as f:
                results.append(json.load(f))
    return results, wall


def summarize(results):
    step = statistics.median(t for r in results for t in r["step_times"])
    exchange = statistics.median(t for r in results for t in r["exchange_times"])
    mean_step = statistics.mean(statistics.mean(r["step_times"]) for r in results)
    samples = sum(r["batch"] for r in results) / mean_step
    cpu = statistics.median(t for r in results for t in r["step_cpu"])
    exchange_cpu = statistics.median(t for r in results for t in r["exchange_cpu"])
    return {"workers": len(results), "step": step, "exchange": exchange, "samples": samples, "cpu": cpu,
            "exchange_cpu": exchange_cpu,
            "bytes": statistics.mean(r["pushed"] + r["pulled"] for r in results),
            "param_bytes": results[0]["param_bytes"], "batch": results[0]["batch"]}


def mb(nbytes):
    return f"{nbytes / 1e6:.2f} MB"


def render(rows, elapsed, args):
    lines = ["# Data-parallel training on the parameter server (issue 16)", "",
             f"Generated by `hatch run bench:dist` (`tools/bench/dist_bench.py{' --quick' if args.quick else ''}`): "
             f"{args.rounds} round(s) of every configuration, in an order that rotates from round to round, each "
             f"of {args.steps} timed steps after {args.warmup} warm-up steps; the run with the median step is "
             f"reported (the range of the rounds' median steps in brackets). The whole run took "
             f"{elapsed:.0f} s. Python {sys.version.split()[0]}, NumPy {onp.__version__}, MXNet "
             f"{_version('mxnet')}; {os.cpu_count()} CPUs, shared by every process of a job (the scheduler, one "
             f"server and the workers) and by whatever else ran: load average {args.load[0]:.1f} at the start, "
             f"{os.getloadavg()[0]:.1f} at the end.", "",
             "Each worker's step: forward, backward, the gradients' mean over the workers through the kvstore "
             "(`DataParallel.gradients`: one pushpull of every gradient and the loss), SGD; float32; synthetic "
             "data. \"exchange\" is that mean alone. Samples/s counts every worker's samples (`workers x batch / "
             "mean step time`); speed-up is against one process without a kvstore. Bytes are the payload one "
             "worker pushes plus pulls per step. CPU is the worker process's CPU time per step (all its "
             "threads; the server's is not in it): it depends much less than the wall time on what else runs, "
             "so on a busy machine it is the steadier measure of the work a step costs.", "",
             *(caveat(args.load, os.getloadavg()[0])),
             "| model | setup | step (median) | exchange | worker CPU per step (exchange) | samples/s | speed-up | "
             "bytes per worker per step |",
             "|---|---|---|---|---|---|---|---|"]
    base = {}
    for name, setup, s in rows:
        if setup == "1 process, no kvstore":
            base[name] = s["samples"]
        speed = f"{s['samples'] / base[name]:.2f}x" if name in base else "—"
        lo, hi = s["spread"]
        lines.append(f"| {MODELS[name][1]} | {setup} | {s['step'] * 1e3:.1f} ms [{lo * 1e3:.0f}-{hi * 1e3:.0f}] | "
                     f"{s['exchange'] * 1e3:.1f} ms | {s['cpu'] * 1e3:.1f} ms ({s['exchange_cpu'] * 1e3:.1f} ms) | "
                     f"{s['samples']:.0f} | {speed} | {mb(s['bytes'])} |")
    lines += ["", note(rows)]
    return "\n".join(lines) + "\n"


def caveat(start, end):
    """A warning paragraph when the machine was busier than its CPUs during the run."""
    cpus = os.cpu_count() or 1
    if max(start[0], end) <= cpus:
        return []
    return [f"**Busy machine:** the load average ({start[0]:.1f} at the start, {end:.1f} at the end) was above "
            f"the {cpus} CPUs: other programs took most of the time, and differently from one job to the next. "
            "The wall times, samples/s and speed-ups of separate jobs are then not comparable; the bytes and, "
            "less exactly, the CPU times are.", ""]


def note(rows):
    """What 8 and 64 machines would need, worked out from the rows."""
    out = ["## What 8 and 64 machines would need", "",
           "Per step, every worker pushes its gradients and pulls the mean: 2 x P bytes, P the parameters' bytes "
           "(the table's bytes column is that, measured). A server holding 1/S of the keys receives W x P / S "
           "and sends as much. MXNet splits an array of 1e6 elements or more evenly across all servers and puts "
           "each smaller one whole on one server, so the split is even only for the big arrays. To keep the "
           "exchange within a fraction f of the compute time T of a step, a worker's link needs 2P / (f T) and "
           "a server's 2 W P / (S f T). With one server per machine (S = W, MXNet's usual layout) each machine "
           "carries both: 4 P / (f T) in all, whatever the number of machines, as long as the big arrays dominate "
           "P. Below, T is the CPU time of one process's step without a kvstore, measured (what the step costs a "
           "machine that runs nothing else; the wall time of this busy machine is not a steady measure), and "
           "f = 0.5 (the exchange may take half as long as the compute; minpy does not overlap the two: it "
           "exchanges after the backward pass).", ""]
    out += ["| model | P | T (CPU, 1 process) | worker link 2P/(fT) | W | S | per server 2WP/(SfT) | per machine (S = W) |",
            "|---|---|---|---|---|---|---|---|"]
    f = 0.5
    for name in MODELS:
        base = next((s for n, setup, s in rows if n == name and setup == "1 process, no kvstore"), None)
        if base is None:
            continue
        p, t = base["param_bytes"], base["cpu"]
        worker_bw = 2 * p / (f * t)
        for w, s_count in ((8, 1), (8, 8), (64, 8), (64, 64)):
            server_bw = 2 * w * p / (s_count * f * t)
            machine = (worker_bw + 2 * w * p / (w * f * t)) if s_count == w else None
            out.append(f"| {MODELS[name][2]} | {mb(p)} | {t * 1e3:.1f} ms | {gbit(worker_bw)} | {w} | "
                       f"{s_count} | {gbit(server_bw)} | {gbit(machine) if machine else '—'} |")
    measured = [(n, setup, s) for n, setup, s in rows if s["workers"] > 1 and "dist_sync" in setup]
    if measured:
        out += ["", "Measured here, on one machine over loopback: " + "; ".join(
            f"{MODELS[n][2]} with {s['workers']} workers exchanged "
            f"{mb(s['bytes'])} per worker per step in {s['exchange'] * 1e3:.1f} ms "
            f"({gbit(s['bytes'] / s['exchange']) if s['exchange'] else '—'} per worker, with the CPU shared "
            "by all processes)" for n, setup, s in measured) + "."]
    out += ["", "Reading, from the numbers above:"]
    for name in MODELS:
        base = next((s for n, setup, s in rows if n == name and setup == "1 process, no kvstore"), None)
        if base is None:
            continue
        p, t = base["param_bytes"], base["cpu"]
        label = MODELS[name][2]
        worker_bw, one_server = 2 * p / (f * t), [2 * w * p / (f * t) for w in (8, 64)]
        grow = [w for w, bw in zip((8, 64), one_server) if bw > 10e9 / 8]
        out.append(f"- {label}: {mb(p)} of parameters against a {t * 1e3:.0f} ms step. A worker's link needs "
                   f"{gbit(worker_bw)} ({link(worker_bw)}); one machine with a worker and a server (S = W) "
                   f"{gbit(2 * worker_bw)} ({link(2 * worker_bw)}), for 8 machines as for 64. A single server "
                   f"would need {gbit(one_server[0])} for 8 workers ({link(one_server[0])}) and "
                   f"{gbit(one_server[1])} for 64 ({link(one_server[1])})"
                   + (f", more than 10 GbE from {grow[0]} workers on: there the servers must grow with the workers."
                      if grow else ": one server would do, on 10 GbE."))
    exchanges = [(n, s) for n, setup, s in rows if "dist_sync" in setup and s["workers"] == 1]
    for n, s in exchanges:
        if s["bytes"] and s["exchange"]:
            out.append(f"- Measured through one server on this machine, one worker: {MODELS[n][2]}: "
                       f"{mb(s['bytes'])} per step in {s['exchange'] * 1e3:.1f} ms "
                       f"({gbit(s['bytes'] / s['exchange'])}), with the worker, the server and ps-lite sharing "
                       "the CPU. Over a network the wire time adds to this cost per message, which for small "
                       "models is most of the exchange: latency, not bandwidth, bounds them.")
    return "\n".join(out)


def link(bytes_per_s):
    """The smallest common Ethernet that carries ``bytes_per_s``."""
    for gbits in (1, 10, 25, 100, 400):
        if bytes_per_s * 8 / 1e9 <= gbits:
            return f"fits {gbits} GbE"
    return "more than 400 GbE"


def gbit(bytes_per_s):
    return f"{bytes_per_s * 8 / 1e9:.2f} Gbit/s"


def _version(module):
    try:
        from importlib.metadata import version
        return version(module)
    except Exception:
        return "not installed"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps")
    parser.add_argument("--write", metavar="PATH", help="also write the markdown report to PATH")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated: " + ", ".join(MODELS))
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--warmup", type=int)
    parser.add_argument("--rounds", type=int, help="runs of every configuration (the median run is reported; "
                        "default 3, 1 with --quick)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--no-kv", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.steps is None:
        args.steps = 10 if args.quick else 40
    if args.warmup is None:
        args.warmup = 3 if args.quick else 5
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    if args.worker:
        worker(args.worker, args.steps, args.warmup, args.out, not args.no_kv)
        return 0
    start = time.perf_counter()
    args.load = os.getloadavg()
    configs = [(name, workers) for name in args.models.split(",")
               for workers in [0] + [int(w) for w in args.workers.split(",")]]
    runs = {config: [] for config in configs}
    for r in range(args.rounds):
        # the order rotates from round to round, so that no configuration always runs first or last
        for name, workers in configs[r % len(configs):] + configs[:r % len(configs)]:
            results, wall = run(name, workers, args.steps, args.warmup, timeout=600)
            s = summarize(results)
            runs[(name, workers)].append(s)
            print(f"round {r + 1}: {name:10s} {workers} workers: step {s['step'] * 1e3:7.1f} ms  exchange "
                  f"{s['exchange'] * 1e3:6.2f} ms  {s['samples']:7.0f} samples/s  {mb(s['bytes'])}/step  "
                  f"({wall:.0f} s)", flush=True)
    rows = []
    for name, workers in configs:
        setup = "1 process, no kvstore" if workers == 0 else f"{workers} worker{'s' * (workers > 1)}, dist_sync"
        done = sorted(runs[(name, workers)], key=lambda x: x["step"])
        rows.append((name, setup, dict(done[len(done) // 2], spread=(done[0]["step"], done[-1]["step"]))))
    text = render(rows, time.perf_counter() - start, args)
    print(text)
    if args.write:
        with open(args.write, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
