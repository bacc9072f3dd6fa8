"""minpy.nn.optim against textbook update rules written here in NumPy, on a quadratic; minpy.nn.init's shapes,
statistics and determinism. Everything runs under the prefer-MXNet and the only-NumPy policy."""
import numpy
import pytest

import minpy.numpy as np
from minpy.array import Array
from minpy.nn import init, optim


def host(x):
    return numpy.array(x.asnumpy()) if isinstance(x, Array) else numpy.asarray(x)


# f(w) = 0.5 * sum(A * (w - C) ** 2), minimum at C
A = numpy.array([[1.0, 4.0, 0.5], [2.0, 1.5, 3.0]])
C = numpy.array([[1.0, -2.0, 0.5], [3.0, 0.0, -1.0]])
W0 = numpy.zeros_like(C)


def quad_grad(w):
    return A * (w - C)


# -- textbook rules (NumPy) ----------------------------------------------------------------------------------------
def ref_sgd(w, dw, s, lr=1e-2):
    return w - lr * dw


def ref_momentum(w, dw, s, lr=1e-2, mu=0.9):
    s["v"] = mu * s.get("v", 0.0) - lr * dw
    return w + s["v"]


def ref_rmsprop(w, dw, s, lr=1e-2, rho=0.99, eps=1e-8):
    s["c"] = rho * s.get("c", 0.0) + (1 - rho) * dw ** 2
    return w - lr * dw / (numpy.sqrt(s["c"]) + eps)


def ref_adam(w, dw, s, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    s["t"] = s.get("t", 0) + 1
    s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * dw
    s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * dw ** 2
    mhat = s["m"] / (1 - b1 ** s["t"])
    vhat = s["v"] / (1 - b2 ** s["t"])
    return w - lr * mhat / (numpy.sqrt(vhat) + eps)


RULES = {  # name: (optimizer, reference, config for convergence, reference kwargs for it, steps)
    "sgd": (optim.sgd, ref_sgd, {"learning_rate": 0.2}, {"lr": 0.2}, 100),
    "sgd_momentum": (optim.sgd_momentum, ref_momentum, {"learning_rate": 0.05, "momentum": 0.8},
                     {"lr": 0.05, "mu": 0.8}, 150),
    "rmsprop": (optim.rmsprop, ref_rmsprop, {"learning_rate": 0.02}, {"lr": 0.02}, 400),
    "adam": (optim.adam, ref_adam, {"learning_rate": 0.1}, {"lr": 0.1}, 300),
}

DEFAULTS = {
    "sgd": {"learning_rate": 1e-2},
    "sgd_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "rmsprop": {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
    "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
}
STATE = {"sgd": (), "sgd_momentum": ("velocity",), "rmsprop": ("cache",), "adam": ("m", "v", "t")}


@pytest.mark.parametrize("name", sorted(RULES))
def test_defaults_match_textbook(policy, name):
    """With config=None: MinPy's defaults are written into the returned config, the steps match the
    textbook rule with those defaults, and the state is kept in the config."""
    rule, ref, _, _, _ = RULES[name]
    w, config = np.array(W0), None
    rw, state = W0.copy(), {}
    for _ in range(5):
        w, config = rule(w, np.array(quad_grad(host(w))), config)
        rw = ref(rw, quad_grad(rw), state)
        numpy.testing.assert_allclose(host(w), rw, rtol=1e-10, atol=1e-12)
    for key, value in DEFAULTS[name].items():
        assert config[key] == value, (key, config[key])
    assert set(STATE[name]) <= set(config)
    if name == "adam":
        assert config["t"] == 5


@pytest.mark.parametrize("name", sorted(RULES))
def test_converges_like_textbook(policy, name):
    rule, ref, config, ref_kw, steps = RULES[name]
    w, config = np.array(W0), dict(config)
    rw, state = W0.copy(), {}
    for _ in range(steps):
        w, config = rule(w, np.array(quad_grad(host(w))), config)
        rw = ref(rw, quad_grad(rw), state, **ref_kw)
    numpy.testing.assert_allclose(host(w), rw, rtol=1e-7, atol=1e-9)
    numpy.testing.assert_allclose(host(w), C, atol=1e-2)


@pytest.mark.parametrize("name", sorted(RULES))
def test_weights_not_modified_in_place(policy, name):
    w = np.array(W0 + 1.0)
    before = host(w).copy()
    next_w, _ = RULES[name][0](w, np.ones(W0.shape), {})
    numpy.testing.assert_array_equal(host(w), before)
    assert not numpy.array_equal(host(next_w), before)


def test_config_is_reused_and_updated(policy):
    config = {"learning_rate": 0.1}
    _, out = optim.sgd_momentum(np.zeros(3), np.ones(3), config)
    assert out is config
    numpy.testing.assert_allclose(host(config["velocity"]), -0.1 * numpy.ones(3))
    optim.sgd_momentum(np.zeros(3), np.ones(3), config)
    numpy.testing.assert_allclose(host(config["velocity"]), -0.19 * numpy.ones(3))


# -- initializers --------------------------------------------------------------------------------------------------
def test_gaussian(policy):
    np.random.seed(0)
    out = init.gaussian((300, 200), {"mu": 2.0, "stdvar": 0.5})
    assert isinstance(out, Array) and out.shape == (300, 200)
    values = host(out)
    assert abs(values.mean() - 2.0) < 0.01
    assert abs(values.std() - 0.5) < 0.01
    config = {}
    small = host(init.gaussian((100, 100), config))
    assert config == {"mu": 0.0, "stdvar": 0.001}
    assert abs(small.std() - 0.001) < 1e-4


@pytest.mark.parametrize("shape,fans", [((300, 100), (300, 100)), ((64, 8, 3, 3), (72, 576)), ((500,), (500, 500))])
def test_xavier(policy, shape, fans):
    np.random.seed(1)
    out = init.xavier(shape, {})
    assert isinstance(out, Array) and out.shape == shape
    values = host(out)
    bound = numpy.sqrt(6.0 / sum(fans))
    assert numpy.all(numpy.abs(values) <= bound)
    assert abs(values.var() / (2.0 / sum(fans)) - 1) < 0.1  # Glorot: Var = 2 / (fan_in + fan_out)
    doubled = host(init.xavier(shape, {"gain": 2.0}))
    assert numpy.abs(doubled).max() > bound


def test_constant_and_custom(policy):
    out = init.constant((2, 3), {"value": 1.5})
    assert isinstance(out, Array)
    numpy.testing.assert_array_equal(host(out), numpy.full((2, 3), 1.5))
    numpy.testing.assert_array_equal(host(init.constant((4,), {})), numpy.zeros(4))
    out = init.custom((2, 2), {"function": lambda shape: np.ones(shape) * 3})
    numpy.testing.assert_array_equal(host(out), numpy.full((2, 2), 3.0))
    assert isinstance(init.custom((3,), {"function": lambda shape: numpy.arange(3.0)}), Array)
    numpy.testing.assert_array_equal(host(init.custom((2, 5), {})), numpy.zeros((2, 5)))
    with pytest.raises(ValueError, match="shape"):
        init.custom((2, 2), {"function": lambda shape: np.ones(3)})


@pytest.mark.parametrize("name", ["xavier", "gaussian"])
@pytest.mark.parametrize("seeder", ["minpy", "numpy"])
def test_initializers_deterministic_under_seed(policy, name, seeder):
    seed = (np.random.seed if seeder == "minpy" else numpy.random.seed)
    fn = getattr(init, name)
    seed(42)
    a = host(fn((4, 5), {}))
    seed(42)
    b = host(fn((4, 5), {}))
    numpy.testing.assert_array_equal(a, b)
    assert not numpy.array_equal(a, host(fn((4, 5), {})))
