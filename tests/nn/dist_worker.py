"""Worker programs for tests/nn/test_dist.py, run under ``python -m minpy.nn.launch`` (real processes, real
parameter server on 127.0.0.1):

    python tests/nn/dist_worker.py api OUT            # KVStore operations; every check is asserted here
    python tests/nn/dist_worker.py equivalence OUT    # two workers on half batches vs one process
    python tests/nn/dist_worker.py kill OUT           # rank 1 kills itself mid-training (checkpoints in OUT)
    python tests/nn/dist_worker.py async OUT          # raw dist_async operations

Each writes what the test checks into the folder OUT and prints a line the test looks for.
"""
import json
import os
import signal
import sys
import time
import warnings

import numpy as onp

import minpy.numpy as np
from minpy import stats
from minpy.array import Array
from minpy.backends import mxnet_backend
from minpy.nn import dist, layers
from minpy.nn.io import NDArrayIter
from minpy.nn.model import ModelBase
from minpy.nn.solver import Solver


class SmallNet(ModelBase):
    """affine - ReLU - affine with softmax loss and weight decay; float32 parameters set by ``reset``. Its
    auxiliary parameter ``mu`` is a running mean of the inputs (as batch norm keeps one, but without coupling
    the samples of a batch in the loss: the mean of the workers' running means is the whole batch's)."""

    def __init__(self, d=8, h=16, c=3, reg=1e-2):
        super().__init__()
        self.reg = reg
        self.add_param("w1", (d, h)).add_param("b1", (h,)).add_param("w2", (h, c)).add_param("b2", (c,))
        self.add_aux_param("mu", onp.zeros(d, onp.float32))

    def reset(self, seed=0):
        rng = onp.random.RandomState(seed)
        for name, config in self.param_configs.items():
            self.params[name] = np.array((0.5 * rng.randn(*config["shape"])).astype(onp.float32))
        self.aux_params["mu"] = np.zeros(self.aux_param_configs["mu"].shape, dtype="float32")
        return self

    def forward(self, X, mode):
        if mode == "train":
            self.aux_params["mu"] = 0.9 * self.aux_params["mu"] + 0.1 * np.mean(X, axis=0)
        h = layers.relu(layers.affine(X, self.params["w1"], self.params["b1"]))
        return layers.affine(h, self.params["w2"], self.params["b2"])

    def loss(self, predict, y):
        decay = np.sum(self.params["w1"] ** 2) + np.sum(self.params["w2"] ** 2)
        return layers.softmax_loss(predict, y) + 0.5 * self.reg * decay


def data(n=128, d=8, c=3, seed=1):
    rng = onp.random.RandomState(seed)
    x = rng.randn(n, d).astype(onp.float32)
    y = (onp.abs(x[:, 0] * 3 + x[:, 1]).astype(onp.int64)) % c
    return x, y


def params_npz(model):
    values = dict(model.params, **model.aux_params)
    return {k: onp.array(v.asnumpy()) for k, v in values.items()}


# -- api ------------------------------------------------------------------------------------------------------------
def api(out):
    kv = dist.KVStore("dist_sync")
    r, n = kv.rank, kv.num_workers
    assert n == 2 and r == int(os.environ["MINPY_WORKER_INDEX"]), (r, n)

    # init: rank 0's values, bit for bit, in every dtype; each on this worker's own backend
    mine = {"f64": np.array([1 / 3, 1e300, -0.0]) + r, "i64": onp.array([2 ** 62 + 1 + r, -7]),
            "u8": onp.array([255 - r], dtype=onp.uint8), "py": [r + 0.1, 10 ** 15 + r, onp.float32(1.5 + r)],
            "mx": Array(mxnet_backend.from_numpy(onp.arange(3, dtype=onp.float32) + r, dist_ctx())),
            "big": onp.linspace(0, 1, 999) + r}
    got = kv.init(mine)
    assert got["big"].tolist() == onp.linspace(0, 1, 999).tolist()
    assert got["f64"].tolist() == [1 / 3, 1e300, -0.0], got["f64"]
    assert got["i64"].tolist() == [2 ** 62 + 1, -7] and got["i64"].dtype == onp.int64
    assert got["u8"].tolist() == [255] and got["py"] == [0.1, 10 ** 15, onp.float32(1.5)]
    assert type(got["py"][1]) is int and type(got["py"][2]) is onp.float32
    assert got["mx"].backend == "mxnet" and got["mx"].asnumpy().tolist() == [0.0, 1.0, 2.0]
    if r == 0:
        assert got["f64"] is mine["f64"]          # rank 0 keeps its own objects

    # allreduce: sum and mean of float32 arrays on NumPy and on MXNet, without any copy between backends
    g = {"a": np.full((3, 4), r + 1.0, dtype="float32"),
         "m": Array(mxnet_backend.from_numpy(onp.full((5,), 2.0 * (r + 1), onp.float32), dist_ctx())),
         "nested": [(onp.full(2, r, onp.float32),)],
         "big": np.arange(1001, dtype="float32") * (r + 1)}   # split between the servers
    before = {k: v.asnumpy().tolist() for k, v in g.items() if k != "nested"}
    stats.reset_op_stat()
    s = kv.allreduce(g, op="sum")
    m = kv.allreduce(g, op="mean", donate=True)
    copies = stats.op_stats()["copies"]
    assert copies == {}, copies
    assert s["a"].asnumpy().tolist() == [[3.0] * 4] * 3 and s["a"].backend == "numpy"
    assert s["m"].asnumpy().tolist() == [6.0] * 5 and s["m"].backend == "mxnet"
    assert isinstance(s["nested"][0], tuple) and s["nested"][0][0].tolist() == [1.0, 1.0]
    assert s["big"].asnumpy().tolist() == (onp.arange(1001) * 3.0).tolist()
    assert before["a"] == [[r + 1.0] * 4] * 3      # (read before the donating call)
    assert s["a"] is not g["a"] and s["m"] is not g["m"]
    assert m["a"] is g["a"] and m["m"] is g["m"]       # donated: the inputs now hold the result
    assert g["a"].asnumpy().tolist() == [[1.5] * 4] * 3 and g["m"].asnumpy().tolist() == [3.0] * 5

    # float64 is summed in float32 on MXNet's server: said once, by rank 0, as a PrecisionWarning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x = kv.allreduce({"x": np.array([1.0 + r, 2.0])}, op="mean")["x"]
        kv.allreduce({"y": np.array([1.0])}, op="mean")
    assert x.dtype == onp.float64 and x.asnumpy().tolist() == [1.5, 2.0]
    said = [w for w in caught if issubclass(w.category, dist.PrecisionWarning)]
    assert len(said) == (1 if r == 0 else 0), caught
    assert r != 0 or "['x'] (float64)" in str(said[0].message) and said[0].filename == __file__, said
    # integers: summed exactly below 2**24, refused above; no mean
    assert kv.allreduce([onp.array([3, 4 + r])], op="sum")[0].tolist() == [6, 9]
    for bad, error in (([onp.array([2 ** 25])], ValueError),):
        try:
            kv.allreduce(bad, op="sum")
        except error:
            pass
        else:
            raise AssertionError("integers above 2**24 were summed")
    try:
        kv.allreduce([onp.array([1])], op="mean")
    except TypeError:
        pass
    else:
        raise AssertionError("a mean of integers was accepted")

    # add (sync): the deltas of a round are summed and added once
    kv.init({"p": np.zeros(3)}, name="p")
    after = kv.add("p", {"p": np.ones(3) * (r + 1)})
    assert after["p"].asnumpy().tolist() == [3.0, 3.0, 3.0]
    kv.barrier()
    kv.check_same("a setting", [1, 2, "x"])

    # workers that disagree: every one of them raises, and the one that differs says how
    try:
        kv.init({"w": np.zeros((4, 5 + r)), "b": np.zeros(3)})
    except dist.WorkerMismatchError as exc:
        text = str(exc)
        if r == 1:
            assert "['w'] has shape (4, 6) here, (4, 5) on rank 0" in text, text
        else:
            assert "1 worker(s) disagree with rank 0" in text, text
    else:
        raise AssertionError("mismatched shapes were not detected")
    try:
        kv.check_same("the number of batches per epoch", 10 + r)
    except dist.WorkerMismatchError as exc:
        assert "batches per epoch" in str(exc)
    else:
        raise AssertionError("a mismatch was not detected")
    # ... and through the Solver: parameters of another shape on rank 1
    model = SmallNet(h=16 + r).reset()
    x, y = data()
    try:
        Solver(model, NDArrayIter(x, y, batch_size=16), None, num_epochs=1, verbose=False, kvstore=kv).train()
    except dist.WorkerMismatchError as exc:
        assert r == 0 or "['params']['w1'] has shape (8, 17) here, (8, 16) on rank 0" in str(exc), str(exc)
    else:
        raise AssertionError("the solver trained models of different shapes")
    # the store still works after a detected mismatch
    assert kv.allreduce([np.ones(2, dtype="float32")], op="sum")[0].asnumpy().tolist() == [2.0, 2.0]
    with open(os.path.join(out, f"api-{r}.json"), "w") as f:
        json.dump({"rank": r, "pushed": kv.bytes_pushed, "pulled": kv.bytes_pulled}, f)
    print(f"API OK rank {r}", flush=True)


def dist_ctx():
    from minpy.context import cpu

    return cpu()


# -- equivalence ------------------------------------------------------------------------------------------------------
def equivalence(out):
    """Two workers, each on half of every batch (NDArrayIter parts, no shuffling), against one process on the
    whole batch: SGD, then Adam (8 steps each, float32)."""
    kv = dist.KVStore("dist_sync")
    x, y = data()
    results = {}
    for rule, config in (("sgd", {"learning_rate": 0.5}), ("adam", {"learning_rate": 0.05})):
        model = SmallNet().reset()
        part = NDArrayIter(x, y, batch_size=8, num_parts=kv.num_workers, part_index=kv.rank)
        solver = Solver(model, part, None, update_rule=rule, optim_config=dict(config), num_epochs=1,
                        verbose=False, kvstore=kv)
        solver.train()
        assert solver.train_dataiter is part and len(solver.loss_history) == 8
        results.update({f"{rule}/dist/{k}": v for k, v in params_npz(model).items()})
        results[f"{rule}/dist/loss"] = onp.array(solver.loss_history, dtype=onp.float64)
        if kv.rank == 0:
            single = SmallNet().reset()
            one = Solver(single, NDArrayIter(x, y, batch_size=16), None, update_rule=rule,
                         optim_config=dict(config), num_epochs=1, verbose=False).train()
            results.update({f"{rule}/single/{k}": v for k, v in params_npz(single).items()})
            results[f"{rule}/single/loss"] = onp.array(one.loss_history, dtype=onp.float64)
            results.update({f"{rule}/start/{k}": v for k, v in params_npz(SmallNet().reset()).items()})
    onp.savez(os.path.join(out, f"equivalence-{kv.rank}.npz"), **results)
    print(f"EQUIVALENCE DONE rank {kv.rank}", flush=True)


# -- kill -------------------------------------------------------------------------------------------------------------
class Suicidal(SmallNet):
    """Rank 1 sends itself SIGKILL at step 2 of epoch 3, when rank 0 has written the checkpoints of epochs
    1 and 2 (the workers move in step)."""

    def __init__(self, rank, **kw):
        super().__init__(**kw)
        self.rank = rank
        self.steps = 0

    def grad_and_loss(self, batch):
        self.steps += 1
        if self.rank == 1 and self.steps == 2 * 8 + 2:
            print(f"KILLING MYSELF AT {time.time():.3f}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        return super().grad_and_loss(batch)


def kill(out):
    kv = dist.KVStore("dist_sync")
    model = Suicidal(kv.rank).reset()
    x, y = data()
    Solver(model, NDArrayIter(x, y, batch_size=8), None, num_epochs=50, verbose=False, kvstore=kv,
           checkpoint_every=1, checkpoint_dir=out).train()
    print("KILL TEST FINISHED TRAINING (it should not have)", flush=True)


# -- async ------------------------------------------------------------------------------------------------------------
def asynchronous(out):
    kv = dist.KVStore("dist_async")
    r = kv.rank
    try:
        kv.allreduce([np.ones(2)])
    except dist.DistributedError as exc:
        assert "dist_async" in str(exc)
    else:
        raise AssertionError("allreduce ran on an asynchronous store")
    start = kv.init({"w": np.arange(4, dtype="float32") * (r + 1)}, name="w")
    assert start["w"].asnumpy().tolist() == [0.0, 1.0, 2.0, 3.0]
    for _ in range(5):
        now = kv.add("w", {"w": np.ones(4, dtype="float32")})
    kv.barrier()
    final = kv.add("w", {"w": np.zeros(4, dtype="float32")})  # after everyone's adds: all of them
    assert final["w"].asnumpy().tolist() == [10.0, 11.0, 12.0, 13.0], final
    assert now["w"].asnumpy()[0] >= 5.0
    got = kv.broadcast({"v": np.array([1 / 3 + r])})
    assert got["v"].asnumpy().tolist() == [1 / 3]
    print(f"ASYNC OK rank {r}", flush=True)


if __name__ == "__main__":
    mode, folder = sys.argv[1], sys.argv[2]
    {"api": api, "equivalence": equivalence, "kill": kill, "async": asynchronous}[mode](folder)
