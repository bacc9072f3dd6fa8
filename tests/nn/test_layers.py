"""minpy.nn.layers against plain NumPy reference implementations written here, and their gradients against
finite differences.

Computing tests run under the prefer-MXNet and the only-NumPy policy (where MXNet is not installed,
prefer-MXNet runs on NumPy too). The test that the MXNet kernels (conv, pooling) agree with the im2col path
is marked ``mxnet``. References use ``numpy`` only, never minpy.
"""
import numpy
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minpy.numpy as np
from minpy import stats
from minpy.array import Array
from minpy.autograd import check_grads, grad, value_and_grad
from minpy.dispatch.policy import OnlyNumPyPolicy, PreferMXNetPolicy
from minpy.nn import layers

POLICIES = {"prefer_mxnet": PreferMXNetPolicy, "only_numpy": OnlyNumPyPolicy}


def host(x):
    return numpy.array(x.asnumpy()) if isinstance(x, Array) else numpy.asarray(x)


def close(actual, expected, rtol=1e-7, atol=1e-10):
    actual = host(actual)
    expected = numpy.asarray(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    numpy.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def rand(*shape, seed=0, scale=1.0):
    return scale * numpy.random.default_rng(seed).standard_normal(shape)


def labels(n, c, seed=0):
    return numpy.random.default_rng(seed).integers(0, c, size=n)


# -- NumPy references -----------------------------------------------------------------------------------------------
def ref_sigmoid(x):
    return 1.0 / (1.0 + numpy.exp(-x))


def ref_log_softmax(x):
    z = x - x.max(axis=-1, keepdims=True)
    return z - numpy.log(numpy.exp(z).sum(axis=-1, keepdims=True))


def ref_batchnorm(x, gamma, beta, eps):
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    shape = (1, -1) if x.ndim == 2 else (1, -1, 1, 1)
    mean = x.mean(axis=axes)
    var = x.var(axis=axes)
    xhat = (x - mean.reshape(shape)) / numpy.sqrt(var.reshape(shape) + eps)
    return gamma.reshape(shape) * xhat + beta.reshape(shape), mean, var


def ref_svm(x, y):
    n, c = x.shape
    total = 0.0
    for i in range(n):
        for j in range(c):
            if j != y[i]:
                total += max(0.0, x[i, j] - x[i, y[i]] + 1.0)
    return total / n


def ref_conv(x, w, b, stride, pad):
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = numpy.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho = (h + 2 * pad - kh) // stride + 1
    wo = (wd + 2 * pad - kw) // stride + 1
    out = numpy.zeros((n, f, ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = numpy.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out


def ref_pool(x, ph, pw, stride, reduce):
    n, c, h, wd = x.shape
    ho = (h - ph) // stride + 1
    wo = (wd - pw) // stride + 1
    out = numpy.zeros((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            out[:, :, i, j] = reduce(x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw], axis=(2, 3))
    return out


def ref_rnn(x, h0, wx, wh, b):
    h, hs = h0, []
    for t in range(x.shape[1]):
        h = numpy.tanh(x[:, t] @ wx + h @ wh + b)
        hs.append(h)
    return numpy.stack(hs, axis=1)


def ref_lstm_step(x, h, c, wx, wh, b):
    hid = h.shape[1]
    a = x @ wx + h @ wh + b
    i, f, o = (ref_sigmoid(a[:, k * hid:(k + 1) * hid]) for k in range(3))
    g = numpy.tanh(a[:, 3 * hid:])
    c = f * c + i * g
    return o * numpy.tanh(c), c


def ref_lstm(x, h0, wx, wh, b):
    h, c, hs = h0, numpy.zeros_like(h0), []
    for t in range(x.shape[1]):
        h, c = ref_lstm_step(x[:, t], h, c, wx, wh, b)
        hs.append(h)
    return numpy.stack(hs, axis=1)


def ref_gru_step(x, h, wx, wh, b, wxh, whh, bh):
    hid = h.shape[1]
    gates = ref_sigmoid(x @ wx + h @ wh + b)
    r, z = gates[:, :hid], gates[:, hid:]
    cand = numpy.tanh(x @ wxh + (r * h) @ whh + bh)
    return z * h + (1 - z) * cand


# -- dense layers and activations -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(POLICIES))
@given(data=st.data())
def test_affine_forward(name, data):
    n = data.draw(st.integers(1, 4))
    dims = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3))
    m = data.draw(st.integers(1, 4))
    d = int(numpy.prod(dims))
    x, w, b = rand(n, *dims, seed=1), rand(d, m, seed=2), rand(m, seed=3)
    with POLICIES[name]():
        close(layers.affine(np.array(x), np.array(w), np.array(b)), x.reshape(n, d) @ w + b)


ACTIVATIONS = {
    "relu": (layers.relu, lambda x: numpy.maximum(x, 0)),
    "sigmoid": (layers.sigmoid, ref_sigmoid),
    "tanh": (layers.tanh, numpy.tanh),
    "leaky_relu": (layers.leaky_relu, lambda x: numpy.where(x > 0, x, 0.01 * x)),
    "leaky_relu_0.2": (lambda x: layers.leaky_relu(x, alpha=0.2), lambda x: numpy.where(x > 0, x, 0.2 * x)),
}


@pytest.mark.parametrize("name", sorted(POLICIES))
@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
@given(x=hnp.arrays(numpy.float64, hnp.array_shapes(max_dims=3, max_side=4),
                    elements=st.floats(-30, 30, allow_subnormal=False)))
def test_activation_forward(name, act, x):
    fn, ref = ACTIVATIONS[act]
    with POLICIES[name]():
        close(fn(np.array(x)), ref(x), rtol=1e-10, atol=1e-12)


def test_sigmoid_does_not_overflow(policy):
    x = numpy.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    out = host(layers.sigmoid(np.array(x)))
    assert numpy.all(numpy.isfinite(out))
    close(out, [0.0, ref_sigmoid(-50.0), 0.5, 1.0, 1.0], atol=1e-15)


def test_sigmoid_keeps_relative_precision_far_below_zero(policy):
    """1 / (1 + exp(-x)) is accurate on both sides of 0 where exp(-x) is finite; the layer matches it there
    relatively (the (1 + tanh(x / 2)) / 2 form rounds everything below about -37 to 0), without overflow."""
    x = numpy.concatenate([numpy.linspace(-700.0, 700.0, 2001), [-40.0, -36.5, 1e-300, -1e-300]])
    with numpy.errstate(over="raise", invalid="raise", divide="raise"):
        out = host(layers.sigmoid(np.array(x)))
        want = 1.0 / (1.0 + numpy.exp(-x))
    assert out[-4] > 0.0
    numpy.testing.assert_allclose(out, want, rtol=1e-13, atol=0)


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_activation_grads(policy, act):
    x = rand(3, 4, seed=5)
    x[numpy.abs(x) < 0.05] = 0.5  # keep away from relu's kink
    check_grads(ACTIVATIONS[act][0], x)


def test_affine_grads(policy):
    check_grads(layers.affine, rand(3, 2, 2, seed=1), rand(4, 3, seed=2), rand(3, seed=3))


# -- dropout --------------------------------------------------------------------------------------------------------
def test_dropout_test_mode_is_identity(policy):
    x = rand(4, 5)
    close(layers.dropout(np.array(x), 0.4, mode="test"), x, rtol=0, atol=0)


def test_dropout_is_inverted(policy):
    x = rand(6, 7)
    out = host(layers.dropout(np.array(x), 0.25, seed=3))
    kept = out != 0
    close(out[kept], x[kept] / 0.75, rtol=1e-12)
    assert 0 < kept.sum() < x.size


def test_dropout_expectation_and_rate(policy):
    x = numpy.ones((200, 200))
    out = host(layers.dropout(np.array(x), 0.3, seed=0))
    assert abs((out == 0).mean() - 0.3) < 0.02
    assert abs(out.mean() - 1.0) < 0.03  # E[dropout(x)] == x in training mode, like test mode


def test_dropout_seed(policy):
    x = np.array(rand(5, 5))
    a = host(layers.dropout(x, 0.5, seed=7))
    b = host(layers.dropout(x, 0.5, seed=7))
    numpy.testing.assert_array_equal(a, b)
    assert not numpy.array_equal(a, host(layers.dropout(x, 0.5, seed=8)))
    # a seeded mask leaves the global generator alone; an unseeded one follows np.random.seed
    numpy.random.seed(11)
    first = numpy.random.rand()
    numpy.random.seed(11)
    layers.dropout(x, 0.5, seed=1)
    assert numpy.random.rand() == first
    np.random.seed(4)
    c = host(layers.dropout(x, 0.5))
    np.random.seed(4)
    numpy.testing.assert_array_equal(c, host(layers.dropout(x, 0.5)))


def test_dropout_edges(policy):
    x = np.array(rand(3, 3))
    close(layers.dropout(x, 0.0), host(x), rtol=0, atol=0)
    close(layers.dropout(x, 1.0), numpy.zeros((3, 3)), rtol=0, atol=0)
    with pytest.raises(ValueError, match="probability"):
        layers.dropout(x, 1.5)
    with pytest.raises(ValueError, match="mode"):
        layers.dropout(x, 0.5, mode="eval")


def test_dropout_grads(policy):
    check_grads(lambda x: layers.dropout(x, 0.4, seed=2), rand(4, 5))


# -- batchnorm ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(6, 4), (3, 2, 4, 5)])
def test_batchnorm_train_forward_and_running_stats(policy, shape):
    c = shape[1]
    x = rand(*shape, seed=1, scale=2.0) + 3.0
    gamma, beta = rand(c, seed=2), rand(c, seed=3)
    expected, mean, var = ref_batchnorm(x, gamma, beta, 1e-5)
    out, rm, rv = layers.batchnorm(np.array(x), np.array(gamma), np.array(beta))
    close(out, expected, rtol=1e-9)
    # defaults: running mean zeros, running var ones (MinPy 0.3 used zeros for both)
    close(rm, 0.1 * mean, rtol=1e-9)
    close(rv, 0.9 * 1.0 + 0.1 * var, rtol=1e-9)
    out2, rm2, rv2 = layers.batchnorm(np.array(x), np.array(gamma), np.array(beta), momentum=0.5,
                                      running_mean=rm, running_var=rv)
    close(rm2, 0.5 * 0.1 * mean + 0.5 * mean, rtol=1e-9)
    close(rv2, 0.5 * (0.9 + 0.1 * var) + 0.5 * var, rtol=1e-9)


@pytest.mark.parametrize("shape", [(6, 4), (3, 2, 4, 5)])
def test_batchnorm_test_mode_uses_running_stats(policy, shape):
    c = shape[1]
    bshape = (1, c) if len(shape) == 2 else (1, c, 1, 1)
    x = rand(*shape, seed=4)
    gamma, beta = rand(c, seed=5), rand(c, seed=6)
    rm, rv = rand(c, seed=7), numpy.abs(rand(c, seed=8)) + 0.5
    out, rm_out, rv_out = layers.batchnorm(np.array(x), np.array(gamma), np.array(beta), mode="test",
                                           running_mean=np.array(rm), running_var=np.array(rv))
    expected = gamma.reshape(bshape) * (x - rm.reshape(bshape)) / numpy.sqrt(rv.reshape(bshape) + 1e-5) \
        + beta.reshape(bshape)
    close(out, expected, rtol=1e-9)
    close(rm_out, rm, rtol=0, atol=0)
    close(rv_out, rv, rtol=0, atol=0)
    # with fresh statistics test mode is (almost) the identity for gamma=1, beta=0
    out, _, _ = layers.batchnorm(np.array(x), np.ones(c), np.zeros(c), mode="test")
    close(out, x / numpy.sqrt(1 + 1e-5), rtol=1e-9)


def test_batchnorm_train_normalizes(policy):
    x = rand(50, 3, seed=9, scale=5.0) - 2.0
    out, _, _ = layers.batchnorm(np.array(x), np.array([1.0, 2.0, 3.0]), np.array([0.0, -1.0, 1.0]))
    out = host(out)
    close(out.mean(axis=0), [0.0, -1.0, 1.0], atol=1e-9)
    close(out.std(axis=0), [1.0, 2.0, 3.0], rtol=1e-5)


def test_batchnorm_errors(policy):
    with pytest.raises(ValueError, match="mode"):
        layers.batchnorm(np.ones((2, 3)), np.ones(3), np.zeros(3), mode="eval")
    with pytest.raises(ValueError, match="shape"):
        layers.batchnorm(np.ones((2, 3, 4)), np.ones(3), np.zeros(3))


@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 2, 3)])
def test_batchnorm_grads(policy, shape):
    c = shape[1]
    check_grads(lambda x, g, b: layers.batchnorm(x, g, b)[0], rand(*shape, seed=1), rand(c, seed=2),
                rand(c, seed=3))


def test_batchnorm_running_stats_carry_no_gradient(policy):
    def loss(x):
        out, rm, rv = layers.batchnorm(x, np.ones(3), np.zeros(3))
        assert type(rm) is Array and type(rv) is Array  # plain arrays, not traced values
        return np.sum(out * out)

    grad(loss)(np.array(rand(4, 3)))


# -- losses --------------------------------------------------------------------------------------------------------
def test_softmax_loss_forward(policy):
    x, y = rand(5, 4, seed=1), labels(5, 4)
    expected = -ref_log_softmax(x)[numpy.arange(5), y].mean()
    close(layers.softmax_loss(np.array(x), np.array(y)), expected)
    close(layers.softmax_loss(np.array(x), y), expected)
    close(layers.softmax_loss(np.array(x), numpy.eye(4)[y]), expected)


def test_softmax_loss_is_stable(policy):
    x = numpy.array([[1000.0, 0.0, -1000.0], [-1000.0, 1000.0, 999.0]])
    out = float(host(layers.softmax_loss(np.array(x), numpy.array([0, 2]))))
    assert numpy.isfinite(out)
    close(out, (0.0 + 1.0 + numpy.log1p(numpy.exp(-1.0))) / 2, rtol=1e-9)


def test_softmax_cross_entropy_forward(policy):
    p = numpy.exp(ref_log_softmax(rand(4, 3, seed=2)))
    y = labels(4, 3, seed=1)
    expected = -numpy.log(p[numpy.arange(4), y]).mean()
    close(layers.softmax_cross_entropy(np.array(p), y), expected)
    close(layers.softmax_cross_entropy(np.array(p), numpy.eye(3)[y]), expected)


def test_svm_loss_forward(policy):
    x, y = rand(6, 5, seed=3), labels(6, 5, seed=2)
    close(layers.svm_loss(np.array(x), y), ref_svm(x, y))
    close(layers.svm_loss(np.array(x), numpy.eye(5)[y]), ref_svm(x, y))


def test_l2_loss_forward(policy):
    x, t = rand(4, 3, seed=1), rand(4, 3, seed=2)
    close(layers.l2_loss(np.array(x), np.array(t)), ((x - t) ** 2).sum() / 4)
    y = labels(4, 3)
    close(layers.l2_loss(np.array(x), y), ((x - numpy.eye(3)[y]) ** 2).sum() / 4)


def test_loss_label_shape_errors(policy):
    with pytest.raises(ValueError, match="labels"):
        layers.softmax_loss(np.ones((3, 4)), numpy.zeros(5, dtype=int))
    with pytest.raises(ValueError, match="labels"):
        layers.l2_loss(np.ones((3, 4, 2)), np.ones((3, 4)))


LOSSES = {
    "softmax_loss": lambda x, y: layers.softmax_loss(x, y),
    "softmax_loss_onehot": lambda x, y: layers.softmax_loss(x, numpy.eye(4)[y]),
    "softmax_cross_entropy": lambda x, y: layers.softmax_cross_entropy(layers.sigmoid(x), y),
    "svm_loss": lambda x, y: layers.svm_loss(x, y),
    "l2_loss": lambda x, y: layers.l2_loss(x, y),
}


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_loss_grads(policy, loss):
    y = labels(5, 4, seed=4)
    check_grads(lambda x: LOSSES[loss](x, y), rand(5, 4, seed=5))


# -- convolution and pooling ----------------------------------------------------------------------------------------
CONV_CASES = [  # x shape, w shape, stride, pad
    ((2, 3, 5, 5), (4, 3, 3, 3), 1, 0),
    ((2, 3, 5, 6), (2, 3, 3, 3), 1, 1),
    ((1, 2, 7, 7), (3, 2, 3, 2), 2, 1),
    ((2, 1, 4, 4), (2, 1, 1, 1), 1, 0),
]
POOL_CASES = [((2, 3, 4, 4), 2, 2, 2), ((1, 2, 5, 7), 3, 2, 2), ((2, 2, 5, 5), 2, 2, 1)]


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_forward(policy, case):
    xs, ws, stride, pad = case
    x, w, b = rand(*xs, seed=1), rand(*ws, seed=2), rand(ws[0], seed=3)
    close(layers.conv(np.array(x), np.array(w), np.array(b), stride=stride, pad=pad),
          ref_conv(x, w, b, stride, pad), rtol=1e-9)


@pytest.mark.parametrize("case", POOL_CASES)
def test_pool_forward(policy, case):
    xs, ph, pw, stride = case
    x = rand(*xs, seed=4)
    close(layers.max_pool(np.array(x), ph, pw, stride), ref_pool(x, ph, pw, stride, numpy.max), rtol=1e-12)
    close(layers.avg_pool(np.array(x), ph, pw, stride), ref_pool(x, ph, pw, stride, numpy.mean), rtol=1e-9)


def test_conv_grads(policy):
    check_grads(lambda x, w, b: layers.conv(x, w, b, stride=2, pad=1), rand(2, 2, 5, 5, seed=1),
                rand(3, 2, 3, 3, seed=2), rand(3, seed=3))


@pytest.mark.parametrize("kind", ["max_pool", "avg_pool"])
def test_pool_grads(policy, kind):
    check_grads(lambda x: getattr(layers, kind)(x, 2, 2, 2), rand(2, 2, 4, 6, seed=6))


@pytest.mark.mxnet
def test_auto_policy_measures_conv_once_and_honours_overrides():
    from minpy.dispatch import AutoPolicy
    from minpy.dispatch.auto import CostModel

    model = CostModel(path=None)
    x, w, b = rand(2, 3, 6, 6, seed=1), rand(4, 3, 3, 3, seed=2), rand(4, seed=3)
    with AutoPolicy(cost_model=model):
        first = layers.conv(np.array(x), np.array(w), np.array(b), pad=1)
        again = layers.conv(np.array(x), np.array(w), np.array(b), pad=1)
    keys = [k for k in model.entries if k.startswith("nn.conv|")]
    assert len(keys) == 1 and set(model.get(keys[0])) == {"mxnet", "numpy"}, model.entries
    close(first, ref_conv(x, w, b, 1, 1), rtol=1e-9)
    close(again, ref_conv(x, w, b, 1, 1), rtol=1e-9)
    stats.reset_op_stat()
    with AutoPolicy(overrides={"nn.conv": "numpy"}, cost_model=model):
        layers.conv(np.array(x), np.array(w), np.array(b), pad=1)
    assert "tensordot" in stats.op_stats()["calls"], "the override runs the im2col implementation"


def test_conv_shape_errors(policy):
    with pytest.raises(ValueError, match="channels"):
        layers.conv(np.ones((1, 2, 4, 4)), np.ones((1, 3, 2, 2)), np.ones(1))
    with pytest.raises(ValueError, match="does not fit"):
        layers.conv(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)), np.ones(1))
    with pytest.raises(ValueError, match="does not fit"):
        layers.max_pool(np.ones((1, 1, 1, 4)))


def _outputs_and_grads(fn, args, cot):
    """fn's output and the gradients of sum(output * cot) with respect to every argument."""
    def loss(*a):
        return np.sum(fn(*a) * cot)

    out = fn(*[np.array(a) for a in args])
    grads = grad(loss, argnum=tuple(range(len(args))))(*[np.array(a) for a in args])
    return host(out), [host(g) for g in grads]


@pytest.mark.mxnet
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("op", ["conv"] + [f"pool{i}" for i in range(len(POOL_CASES))])
def test_mxnet_kernels_match_im2col(op, dtype):
    if op == "conv":
        cases = CONV_CASES
    else:
        cases = [POOL_CASES[int(op[4:])]]
    tol = dict(rtol=1e-9, atol=1e-12) if dtype == "float64" else dict(rtol=1e-4, atol=1e-5)
    for case in cases:
        if op == "conv":
            xs, ws, stride, pad = case
            args = [rand(*xs, seed=1), rand(*ws, seed=2), rand(ws[0], seed=3)]

            def fn(x, w, b):
                return layers.conv(x, w, b, stride=stride, pad=pad)
        else:
            xs, ph, pw, stride = case
            args = [rand(*xs, seed=4)]

            def fn(x):
                return layers.max_pool(x, ph, pw, stride) + layers.avg_pool(x, ph, pw, stride)
        args = [a.astype(dtype) for a in args]
        with PreferMXNetPolicy():
            out = fn(*[np.array(a) for a in args])
            assert out.backend == "mxnet"  # really MXNet's kernel
            cot = rand(*out.shape, seed=9).astype(dtype)
            mx_out, mx_grads = _outputs_and_grads(fn, args, cot)
        with OnlyNumPyPolicy():
            out = fn(*[np.array(a) for a in args])
            assert out.backend == "numpy"
            np_out, np_grads = _outputs_and_grads(fn, args, cot)
        assert mx_out.dtype == np_out.dtype == numpy.dtype(dtype)
        numpy.testing.assert_allclose(mx_out, np_out, **tol)
        for a, b in zip(mx_grads, np_grads):
            numpy.testing.assert_allclose(a, b, **tol)


@pytest.mark.mxnet
def test_mxnet_functions_are_cached():
    x, w, b = np.array(rand(1, 2, 4, 4)), np.array(rand(3, 2, 3, 3)), np.array(rand(3))
    with PreferMXNetPolicy():
        layers.conv(x, w, b)
        before = dict(layers._FUNCTIONS)
        layers.conv(x, w, b)
        assert layers._FUNCTIONS == before
        layers.conv(x, w, b, pad=1)
        assert len(layers._FUNCTIONS) == len(before) + 1


# -- recurrent layers -----------------------------------------------------------------------------------------------
N, T, D, H, V = 2, 3, 4, 3, 5


def rnn_params(gates, seed=0):
    return (rand(N, T, D, seed=seed), rand(N, H, seed=seed + 1), rand(D, gates * H, seed=seed + 2, scale=0.5),
            rand(H, gates * H, seed=seed + 3, scale=0.5), rand(gates * H, seed=seed + 4, scale=0.5))


def test_rnn_forward(policy):
    x, h0, wx, wh, b = rnn_params(1)
    close(layers.rnn_step(np.array(x[:, 0]), np.array(h0), np.array(wx), np.array(wh), np.array(b)),
          numpy.tanh(x[:, 0] @ wx + h0 @ wh + b))
    close(layers.rnn_temporal(*[np.array(a) for a in (x, h0, wx, wh, b)]), ref_rnn(x, h0, wx, wh, b))


def test_lstm_forward(policy):
    x, h0, wx, wh, b = rnn_params(4)
    c0 = rand(N, H, seed=11)
    h, c = layers.lstm_step(*[np.array(a) for a in (x[:, 0], h0, c0, wx, wh, b)])
    eh, ec = ref_lstm_step(x[:, 0], h0, c0, wx, wh, b)
    close(h, eh)
    close(c, ec)
    close(layers.lstm_temporal(*[np.array(a) for a in (x, h0, wx, wh, b)]), ref_lstm(x, h0, wx, wh, b))


def gru_params(seed=0):
    x, h0, wx, wh, b = rnn_params(2, seed)
    return x, h0, wx, wh, b, rand(D, H, seed=seed + 5), rand(H, H, seed=seed + 6), rand(H, seed=seed + 7)


def test_gru_forward(policy):
    x, h0, *w = gru_params()
    close(layers.gru_step(np.array(x[:, 0]), np.array(h0), *[np.array(a) for a in w]),
          ref_gru_step(x[:, 0], h0, *w))
    h, hs = h0, []
    for t in range(T):
        h = ref_gru_step(x[:, t], h, *w)
        hs.append(h)
    close(layers.gru_temporal(np.array(x), np.array(h0), *[np.array(a) for a in w]), numpy.stack(hs, axis=1))


def test_temporal_affine_forward(policy):
    x, w, b = rand(N, T, D, seed=1), rand(D, V, seed=2), rand(V, seed=3)
    close(layers.temporal_affine(np.array(x), np.array(w), np.array(b)), numpy.einsum("ntd,dv->ntv", x, w) + b)


def test_temporal_softmax_loss_forward(policy):
    x = rand(N, T, V, seed=4)
    y = numpy.random.default_rng(1).integers(0, V, size=(N, T))
    mask = numpy.array([[True, True, False], [True, False, False]])
    logp = ref_log_softmax(x)
    expected = -sum(logp[i, t, y[i, t]] for i in range(N) for t in range(T) if mask[i, t]) / N
    close(layers.temporal_softmax_loss(np.array(x), np.array(y), np.array(mask)), expected)
    close(layers.temporal_softmax_loss(np.array(x), y, mask.astype(float)), expected)


def test_embedding_forward(policy):
    idx = numpy.array([[0, 3, 3], [1, 0, 4]])
    w = rand(V, D, seed=5)
    close(layers.embedding(np.array(idx), np.array(w)), w[idx], rtol=0, atol=0)
    close(layers.embedding(idx, np.array(w)), w[idx], rtol=0, atol=0)


def test_recurrent_grads(policy):
    x, h0, wx, wh, b = rnn_params(1, seed=20)
    check_grads(layers.rnn_step, x[:, 0], h0, wx, wh, b)
    check_grads(layers.rnn_temporal, x, h0, wx, wh, b)
    x, h0, wx, wh, b = rnn_params(4, seed=30)
    check_grads(lambda *a: layers.lstm_step(*a)[0] + 2 * layers.lstm_step(*a)[1], x[:, 0], h0,
                rand(N, H, seed=3), wx, wh, b)
    check_grads(layers.lstm_temporal, x, h0, wx, wh, b)
    check_grads(layers.gru_step, gru_params(40)[0][:, 0], *gru_params(40)[1:])
    check_grads(layers.gru_temporal, *gru_params(50))


def test_temporal_grads(policy):
    check_grads(layers.temporal_affine, rand(N, T, D, seed=1), rand(D, V, seed=2), rand(V, seed=3))
    y = numpy.random.default_rng(1).integers(0, V, size=(N, T))
    mask = numpy.array([[1, 1, 0], [1, 0, 1]])
    check_grads(lambda x: layers.temporal_softmax_loss(x, y, mask), rand(N, T, V, seed=4))
    idx = numpy.array([[0, 3, 3], [1, 0, 4]])
    check_grads(lambda w: layers.embedding(idx, w), rand(V, D, seed=5))


def test_embedding_grad_adds_repeats(policy):
    idx = numpy.array([[0, 3, 3], [1, 0, 3]])
    g = grad(lambda w: np.sum(layers.embedding(idx, w)))(np.array(rand(V, D)))
    close(g, numpy.repeat(numpy.bincount(idx.ravel(), minlength=V)[:, None], D, axis=1).astype(float))


def _op_calls(fn):
    stats.reset_op_stat()
    fn()
    calls = stats.op_stats()["calls"]
    return sum(n for per in calls.values() for n in per.values()), calls


@pytest.mark.parametrize("layer", ["rnn", "lstm", "gru"])
def test_temporal_cost_is_linear(policy, layer, monkeypatch):
    """Operator calls (forward and backward) for 2T steps are about twice those for T steps, and the steps are
    joined by one stack, never by concatenating inside the loop: a concatenation (the LSTM's gate gradient has
    one per step) never grows with the number of steps."""
    joined = []
    real_concatenate = np.concatenate

    def concatenate(arrays, *args, **kwargs):
        out = real_concatenate(arrays, *args, **kwargs)
        joined.append(out.size)
        return out
    monkeypatch.setattr(np, "concatenate", concatenate)

    def run(steps):
        joined.clear()
        if layer == "gru":
            x, h0, *w = gru_params()
            fn = layers.gru_temporal
        else:
            x, h0, *w = rnn_params(1 if layer == "rnn" else 4)
            fn = getattr(layers, f"{layer}_temporal")
        x = numpy.concatenate([x] * (steps // T + 1), axis=1)[:, :steps]
        args = [np.array(a) for a in (x, h0, *w)]
        return _op_calls(lambda: value_and_grad(lambda *a: np.sum(fn(*a)), argnum=(0, 2))(*args))

    short, calls = run(8)
    largest_short = max(joined, default=0)
    long, _ = run(16)
    assert 1.8 < long / short < 2.1, (short, long)
    assert sum(calls.get("stack", {}).values()) == 1, calls
    assert max(joined, default=0) == largest_short, "a concatenation grew with the sequence"
    for op in ("append", "hstack", "vstack"):
        assert op not in calls, calls
