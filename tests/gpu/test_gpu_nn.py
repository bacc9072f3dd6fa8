"""(c) minpy.nn on gpu(0): a two-layer net and a small conv net trained by the Solver with their parameters on the
GPU, the loss going down, gradients equal to the CPU's within float32 tolerance; (e) no accidental host round
trip: a training step on GPU-resident data records no copy at all in minpy.stats, and every Array stays on CuPy."""
import numpy
import pytest

import minpy.numpy as np
from gpu_support import copies, load, on_gpu
from minpy import stats
from minpy.context import cpu, gpu
from minpy.nn import layers, optim
from minpy.nn.io import DataBatch, NDArrayIter
from minpy.nn.model import ModelBase
from minpy.nn.solver import Solver


# the CPU tests' model (20-64-5, ReLU, softmax loss): the GPU group trains the same net
TwoLayerNet = load("nn/test_solver_model.py", "minpy_gpu_solver_models").TwoLayerNet


class SmallConvNet(ModelBase):
    """conv 3x3 (4 filters) -> relu -> 2x2 max pool -> affine; input (N, 1, 8, 8)."""

    def __init__(self, c=5):
        super().__init__()
        self.add_param("wc", (4, 1, 3, 3)).add_param("bc", (4,), init_rule="constant")
        self.add_param("w", (4 * 4 * 4, c)).add_param("b", (c,), init_rule="constant")

    def forward(self, X, mode):
        h = layers.relu(layers.conv(X, self.params["wc"], self.params["bc"], stride=1, pad=1))
        h = layers.max_pool(h, 2, 2, 2)
        return layers.affine(np.reshape(h, (h.shape[0], -1)), self.params["w"], self.params["b"])

    def loss(self, predict, y):
        return layers.softmax_loss(predict, y)


def _data(shape, n=64, classes=5, seed=0):
    rng = numpy.random.RandomState(seed)
    return rng.randn(n, *shape).astype(numpy.float32), rng.randint(0, classes, size=n)


def _params(model, seed=1):
    rng = numpy.random.RandomState(seed)
    return {name: (0.1 * rng.randn(*cfg["shape"])).astype(numpy.float32)
            for name, cfg in model.param_configs.items()}


@pytest.mark.parametrize("make, shape", [(TwoLayerNet, (20,)), (SmallConvNet, (1, 8, 8))],
                         ids=["two_layer", "conv"])
def test_solver_trains_on_gpu(make, shape):
    numpy.random.seed(0)
    x, y = _data(shape)
    model = make()
    with gpu(0):
        solver = Solver(model, NDArrayIter(x, y, batch_size=32, shuffle=True, seed=0),
                        NDArrayIter(x, y, batch_size=32), update_rule="sgd_momentum",
                        optim_config={"learning_rate": 0.05, "momentum": 0.9}, num_epochs=20, verbose=False)
        solver.init()
        solver.train()
    assert {p.backend for p in model.params.values()} == {"cupy"}, {k: p.backend for k, p in model.params.items()}
    losses = solver.loss_history
    assert numpy.mean(losses[-4:]) < 0.7 * numpy.mean(losses[:4]), losses


@pytest.mark.parametrize("make, shape", [(TwoLayerNet, (20,)), (SmallConvNet, (1, 8, 8))],
                         ids=["two_layer", "conv"])
def test_gradients_equal_cpu(make, shape):
    x, y = _data(shape, n=16)
    host = _params(make())
    results = {}
    for ctx in (cpu(), gpu(0)):
        model = make()
        with ctx:
            model.params = {k: np.array(v) for k, v in host.items()}
            grads, loss = model.grad_and_loss(DataBatch([np.array(x)], [np.array(y)]))
            results[ctx.device_type] = ({k: g.asnumpy() for k, g in grads.items()}, float(loss),
                                        {k: g.backend for k, g in grads.items()})
    (gc, lc, _), (gg, lg, where) = results["cpu"], results["gpu"]
    assert set(where.values()) == {"cupy"}, where
    numpy.testing.assert_allclose(lg, lc, rtol=1e-5)
    for k in gc:
        assert gg[k].dtype == gc[k].dtype, k
        numpy.testing.assert_allclose(gg[k], gc[k], rtol=1e-4, atol=1e-5, err_msg=k)


def test_training_steps_copy_nothing():
    """N steps of grad_and_loss + SGD on data already on the GPU: no copy between backends, no fallback, every
    parameter and gradient on CuPy. (A copy to the host is the only way minpy synchronises the device.)"""
    x, y = _data((20,), n=32)
    model = TwoLayerNet()
    with gpu(0):
        model.params = {k: on_gpu(v) for k, v in _params(model).items()}
        batch = DataBatch([on_gpu(x)], [on_gpu(y)])
        model.grad_and_loss(batch)  # warm up (kernel compiles)
        stats.reset_op_stat()
        for _ in range(5):
            grads, loss = model.grad_and_loss(batch)
            for k, dw in grads.items():
                model.params[k], _ = optim.sgd(model.params[k], dw, {"learning_rate": 0.01})
        report = stats.op_stats()
    assert copies(report) == {}, copies(report)
    assert report["fallbacks"] == {}, report["fallbacks"]
    assert {p.backend for p in model.params.values()} == {"cupy"}
    assert loss.backend == "cupy"
    assert set().union(*report["calls"].values()) == {"cupy"}, report["calls"]
