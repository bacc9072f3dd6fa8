"""minpy.symbol: MXNet symbols and Gluon blocks as differentiable functions.

Each layer is checked twice: against the same computation written with ``minpy.numpy`` operators (values and
autograd gradients), and against finite differences (``check_grads``, float64). Reference layers are written
out here (convolution by shifted slices, pooling by reshape); expected moving statistics with plain NumPy.
"""
import numpy
import pytest

import minpy.numpy as np
from minpy.array import Array
from minpy.autograd import AutogradError, check_grads, grad, value_and_grad, vjp

pytestmark = pytest.mark.mxnet

try:
    import mxnet as mx
except ImportError:  # the numpy2 env: conftest skips every test here
    mx = None
from minpy.symbol import BlockFunction, Function, SymbolError  # imports without MXNet


def host(x):
    return numpy.array(x.asnumpy()) if isinstance(x, Array) else numpy.asarray(x)


def close(actual, expected, rtol=1e-7, atol=1e-10):
    actual, expected = host(actual), host(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    numpy.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def rand(*shape, seed=0):
    return numpy.random.default_rng(seed).standard_normal(shape)


# -- reference layers in minpy.numpy -------------------------------------------------------------------------------
def conv_ref(x, w, b=None, pad=0):
    """2-D convolution (stride 1) as a sum over kernel offsets of shifted slices times the kernel tap."""
    if pad:  # zero padding by concatenation (np.pad has no gradient rule)
        n, c, h, wd = x.shape
        side = np.zeros((n, c, h, pad), dtype=x.dtype)
        x = np.concatenate([side, x, side], axis=3)
        top = np.zeros((n, c, pad, wd + 2 * pad), dtype=x.dtype)
        x = np.concatenate([top, x, top], axis=2)
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    ho, wo = h - kh + 1, wd - kw + 1
    out = 0.0
    for i in range(kh):
        for j in range(kw):
            patch = np.transpose(x[:, :, i:i + ho, j:j + wo], (0, 2, 3, 1))   # N, Ho, Wo, C
            out = out + np.dot(patch, np.transpose(w[:, :, i, j]))            # N, Ho, Wo, F
    out = np.transpose(out, (0, 3, 1, 2))
    return out if b is None else out + np.reshape(b, (1, f, 1, 1))


def fc_ref(x, w, b):
    return np.dot(np.reshape(x, (x.shape[0], -1)), np.transpose(w)) + b


def pool_ref(x, kind):
    n, c, h, w = x.shape
    blocks = np.reshape(x, (n, c, h // 2, 2, w // 2, 2))
    return np.max(blocks, axis=(3, 5)) if kind == "max" else np.mean(blocks, axis=(3, 5))


def log_softmax_ref(x):
    shifted = x - np.max(x, axis=1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


def one_hot(labels, k):
    return numpy.eye(k)[labels]


def grads_close(f_sym, f_ref, args, rtol=1e-7, atol=1e-10):
    """Values and gradients (for every argument) of two implementations agree."""
    nums = tuple(range(len(args)))
    v1, g1 = value_and_grad(f_sym, nums)(*args)
    v2, g2 = value_and_grad(f_ref, nums)(*args)
    close(v1, v2, rtol, atol)
    for a, b in zip(g1, g2):
        close(a, b, rtol, atol)


# -- the seed example -----------------------------------------------------------------------------------------------
def test_seed_example():
    from minpy.core import Function as CoreFunction

    assert issubclass(CoreFunction, Function)
    net = mx.sym.Variable('x')
    net = mx.sym.Convolution(net, name='conv', kernel=(3, 3), num_filter=32, no_bias=True)
    conv = CoreFunction(net, input_shapes={'x': (8, 3, 10, 10)})
    x = np.zeros((8, 3, 10, 10))
    w = np.ones((32, 3, 3, 3))
    y = np.exp(conv(x=x, conv_weight=w))
    assert isinstance(y, Array) and y.shape == (8, 32, 8, 8)
    close(y, numpy.ones((8, 32, 8, 8)))


# -- layers ----------------------------------------------------------------------------------------------------------
def test_convolution(policy):
    sym = mx.sym.Convolution(mx.sym.Variable('x'), name='conv', kernel=(3, 3), num_filter=4, pad=(1, 1))
    conv = Function(sym, {'x': (2, 3, 5, 5)})
    assert conv.arg_shapes == {'x': (2, 3, 5, 5), 'conv_weight': (4, 3, 3, 3), 'conv_bias': (4,)}
    x, w, b = rand(2, 3, 5, 5), rand(4, 3, 3, 3, seed=1), rand(4, seed=2)
    grads_close(lambda x, w, b: np.sum(np.sin(conv(x=x, conv_weight=w, conv_bias=b))),
                lambda x, w, b: np.sum(np.sin(conv_ref(x, w, b, pad=1))), (x, w, b))
    check_grads(lambda x, w, b: conv(x=x, conv_weight=w, conv_bias=b), x, w, b, rtol=1e-4)


def test_fully_connected(policy):
    fc = Function(mx.sym.FullyConnected(mx.sym.Variable('x'), name='fc', num_hidden=5), {'x': (3, 2, 2)})
    x, w, b = rand(3, 2, 2), rand(5, 4, seed=1), rand(5, seed=2)
    grads_close(lambda x, w, b: np.sum(fc(x=x, fc_weight=w, fc_bias=b) ** 2),
                lambda x, w, b: np.sum(fc_ref(x, w, b) ** 2), (x, w, b))
    check_grads(lambda x, w, b: fc(x=x, fc_weight=w, fc_bias=b), x, w, b, rtol=1e-4)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling(policy, kind):
    pool = Function(mx.sym.Pooling(mx.sym.Variable('x'), kernel=(2, 2), stride=(2, 2), pool_type=kind),
                    {'x': (2, 3, 4, 6)})
    x = rand(2, 3, 4, 6)
    grads_close(lambda x: np.sum(pool(x=x) * np.cos(pool(x=x))), lambda x: np.sum(pool_ref(x, kind) * np.cos(
        pool_ref(x, kind))), (x,))
    check_grads(lambda x: pool(x=x), x, rtol=1e-4)


@pytest.mark.parametrize("act", ["relu", "sigmoid", "tanh"])
def test_activation(policy, act):
    f = Function(mx.sym.Activation(mx.sym.Variable('x'), act_type=act), {'x': (3, 4)})
    ref = {"relu": lambda x: np.maximum(x, 0), "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "tanh": np.tanh}[act]
    x = rand(3, 4) + 0.05  # no exact zeros for relu's kink
    grads_close(lambda x: np.sum(f(x=x) * x), lambda x: np.sum(ref(x) * x), (x,), rtol=1e-6)
    check_grads(lambda x: f(x=x), x, rtol=1e-4)


def _bn(fix_gamma=False, eps=1e-3, momentum=0.9):
    sym = mx.sym.BatchNorm(mx.sym.Variable('x'), name='bn', fix_gamma=fix_gamma, eps=eps, momentum=momentum)
    return Function(sym, {'x': (6, 3, 2, 2)})


def _bn_train_ref(x, gamma, beta, eps=1e-3):
    mean = np.mean(x, axis=(0, 2, 3), keepdims=True)
    var = np.mean((x - mean) ** 2, axis=(0, 2, 3), keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * np.reshape(gamma, (1, 3, 1, 1)) + np.reshape(beta, (1, 3, 1, 1))


def _bn_predict_ref(x, gamma, beta, mm, mv, eps=1e-3):
    shape = (1, 3, 1, 1)
    return (x - np.reshape(mm, shape)) / np.sqrt(np.reshape(mv, shape) + eps) * np.reshape(gamma, shape) + \
        np.reshape(beta, shape)


def test_batchnorm_train(policy):
    bn = _bn()
    assert bn.aux_names == ('bn_moving_mean', 'bn_moving_var')
    x, gamma, beta = rand(6, 3, 2, 2) * 2 + 1, rand(3, seed=1), rand(3, seed=2)
    u = rand(6, 3, 2, 2, seed=3)
    grads_close(lambda x, g, b: np.sum(bn(x=x, bn_gamma=g, bn_beta=b) * u),
                lambda x, g, b: np.sum(_bn_train_ref(x, g, b) * u), (x, gamma, beta), rtol=1e-6, atol=1e-6)
    check_grads(lambda x, g, b: bn(x=x, bn_gamma=g, bn_beta=b), x, gamma, beta, rtol=1e-4)


def test_batchnorm_moving_stats_and_predict(policy):
    bn = _bn()
    gamma, beta = rand(3, seed=1), rand(3, seed=2)
    close(bn.aux_states['bn_moving_mean'], numpy.zeros(3))
    close(bn.aux_states['bn_moving_var'], numpy.ones(3))
    mm, mv = numpy.zeros(3), numpy.ones(3)
    for step in range(3):  # training steps: each differentiated call updates the moving averages
        x = rand(6, 3, 2, 2, seed=10 + step) * 2 + 3
        grad(lambda x: np.sum(bn(x=x, bn_gamma=gamma, bn_beta=beta) ** 2))(x)
        mm = 0.9 * mm + 0.1 * x.mean(axis=(0, 2, 3))
        mv = 0.9 * mv + 0.1 * x.var(axis=(0, 2, 3))
        close(bn.aux_states['bn_moving_mean'], mm, rtol=1e-6)
        close(bn.aux_states['bn_moving_var'], mv, rtol=1e-6)
    bn.predict()
    x = rand(6, 3, 2, 2, seed=20)
    # inference: the moving statistics, left unchanged by forward and backward passes
    grads_close(lambda x, g: np.sum(bn(x=x, bn_gamma=g, bn_beta=beta) ** 2),
                lambda x, g: np.sum(_bn_predict_ref(x, g, beta, mm, mv) ** 2), (x, gamma), rtol=1e-6, atol=1e-6)
    check_grads(lambda x, g: bn(x=x, bn_gamma=g, bn_beta=beta), x, gamma, rtol=1e-4)
    close(bn.aux_states['bn_moving_mean'], mm, rtol=1e-6)
    close(bn.aux_states['bn_moving_var'], mv, rtol=1e-6)
    bn.train()
    assert bn.is_train


def test_aux_states_setter_and_dtypes():
    bn = _bn()
    bn.aux_states = {'bn_moving_mean': numpy.full(3, 2.0), 'bn_moving_var': np.array(numpy.full(3, 4.0))}
    x = rand(6, 3, 2, 2)
    bn.predict()
    for dt in ('float32', 'float64'):  # one set of moving statistics, whatever the dtype
        out = bn(x=np.array(x, dtype=dt), bn_gamma=np.ones(3, dtype=dt), bn_beta=np.zeros(3, dtype=dt))
        assert out.dtype == numpy.dtype(dt)
        close(out, (x - 2.0) / numpy.sqrt(4.0 + 1e-3), rtol=1e-5, atol=1e-6)
    bn.train()
    grad(lambda x: np.sum(bn(x=x, bn_gamma=np.ones(3, dtype='float32'), bn_beta=np.zeros(3, dtype='float32'))))(
        np.array(x, dtype='float32'))
    grad(lambda x: np.sum(bn(x=x, bn_gamma=np.ones(3), bn_beta=np.zeros(3))))(np.array(x))
    mean = x.mean(axis=(0, 2, 3))
    close(bn.aux_states['bn_moving_mean'], 0.81 * 2.0 + 0.09 * mean + 0.1 * mean, rtol=1e-5)
    with pytest.raises(SymbolError, match="bn_moving_mean"):
        bn.aux_states = {'bn_moving_mean': numpy.zeros(4)}
    with pytest.raises(SymbolError, match="auxiliary"):
        bn.aux_states = {'nope': numpy.zeros(3)}


def test_loss_with_mxnet_ops(policy):
    x, label = mx.sym.Variable('x'), mx.sym.Variable('label')
    loss = -mx.sym.mean(mx.sym.pick(mx.sym.log_softmax(x, axis=1), label, axis=1))
    f = Function(loss, {'x': (5, 4), 'label': (5,)})
    scores, labels = rand(5, 4), numpy.array([0, 3, 1, 1, 2])
    expected = -numpy.mean(numpy.sum(host(log_softmax_ref(np.array(scores))) * one_hot(labels, 4), axis=1))
    loss_value = f(x=scores, label=labels)
    assert loss_value.shape == (1,)  # MXNet's legacy reductions give shape (1,)
    close(loss_value[0], expected)
    grads_close(lambda s: f(x=s, label=labels),
                lambda s: np.reshape(-np.mean(np.sum(log_softmax_ref(s) * one_hot(labels, 4), axis=1)), (1,)),
                (scores,))
    check_grads(lambda s: f(x=s, label=labels), scores, rtol=1e-4)


def _small_net():
    x = mx.sym.Variable('x')
    h = mx.sym.Convolution(x, name='conv', kernel=(3, 3), num_filter=3, no_bias=True)
    h = mx.sym.Pooling(mx.sym.Activation(h, act_type='relu'), kernel=(2, 2), stride=(2, 2), pool_type='max')
    return mx.sym.FullyConnected(h, name='fc', num_hidden=4)


def _small_net_ref(x, cw, fw, fb):
    return fc_ref(pool_ref(np.maximum(conv_ref(x, cw), 0), "max"), fw, fb)


def test_multi_layer_symbol(policy):
    net = Function(_small_net(), {'x': (2, 2, 6, 6)})
    assert net.arg_shapes['fc_weight'] == (4, 12)
    args = (rand(2, 2, 6, 6), rand(3, 2, 3, 3, seed=1), rand(4, 12, seed=2), rand(4, seed=3))
    labels = one_hot(numpy.array([1, 0]), 4)

    def with_symbol(x, cw, fw, fb):
        return -np.sum(log_softmax_ref(net(x=x, conv_weight=cw, fc_weight=fw, fc_bias=fb)) * labels)

    grads_close(with_symbol, lambda *a: -np.sum(log_softmax_ref(_small_net_ref(*a)) * labels), args)
    check_grads(lambda x, cw, fw, fb: net(x=x, conv_weight=cw, fc_weight=fw, fc_bias=fb), *args, rtol=1e-4)


# -- mixing with imperative code -------------------------------------------------------------------------------------
def test_imperative_before_and_after(policy):
    sym = mx.sym.Convolution(mx.sym.Variable('x'), name='conv', kernel=(2, 2), num_filter=2, no_bias=True)
    conv = Function(sym, {'x': (1, 2, 3, 3)})
    x, w = rand(1, 2, 3, 3), rand(2, 2, 2, 2, seed=1)
    grads_close(lambda x, w: np.sum(np.tanh(conv(x=np.exp(x) * 0.5 - x, conv_weight=w * w)) ** 2),
                lambda x, w: np.sum(np.tanh(conv_ref(np.exp(x) * 0.5 - x, w * w)) ** 2), (x, w))
    check_grads(lambda x, w: np.tanh(conv(x=np.exp(x) * 0.5 - x, conv_weight=w * w)), x, w, rtol=1e-4)


def test_weight_sharing_in_one_graph():
    fc = Function(mx.sym.FullyConnected(mx.sym.Variable('x'), name='fc', num_hidden=3, no_bias=True), {'x': (2, 3)})
    x, w = rand(2, 3), rand(3, 3, seed=1)
    twice = lambda x, w: np.sum(np.sin(fc(x=fc(x=x, fc_weight=w), fc_weight=w)))  # noqa: E731
    ref = lambda x, w: np.sum(np.sin(fc_ref(fc_ref(x, w, 0.0), w, 0.0)))  # noqa: E731
    grads_close(twice, ref, (x, w))
    assert fc.num_binds == 2  # the first call's executor was busy (held for the backward pass)
    for _ in range(3):
        grads_close(twice, ref, (x, w))
    assert fc.num_binds == 2  # both went back to the cache after each gradient call
    check_grads(lambda x, w: fc(x=fc(x=x, fc_weight=w), fc_weight=w), x, w, rtol=1e-4)


def test_graphs_freed_by_the_cyclic_collector_give_their_executors_back_intact():
    # A traced graph caught in a reference cycle is freed by the cyclic collector, which finalizes everything in
    # the cycle (MXNet's executors and NDArrays included) before seeing what the finalizers put back. A recorded
    # call that handed its executor back from __del__ put a freed executor in the cache: a later call then read
    # other arrays' memory (wrong shapes, wrong values or a crash). Two Functions, so that freed memory is reused.
    import gc

    fc1 = Function(mx.sym.FullyConnected(mx.sym.Variable('x'), name='a', num_hidden=3), {'x': (4, 5)})
    fc2 = Function(mx.sym.FullyConnected(mx.sym.Variable('x'), name='b', num_hidden=2), {'x': (4, 3)})
    x, w1, b1, w2, b2 = rand(4, 5), rand(3, 5, seed=1), rand(3, seed=2), rand(2, 3, seed=3), rand(2, seed=4)
    ref = lambda x: np.sum(np.tanh(fc_ref(np.tanh(fc_ref(x, w1, b1)), w2, b2)))  # noqa: E731
    kept = []

    def loss(x):
        h = fc1(x=x, a_weight=w1, a_bias=b1)
        out = fc2(x=np.tanh(h), b_weight=w2, b_bias=b2)
        cycle = [h, out]
        cycle.append(cycle)  # the graph lives until the cyclic collector finds it
        kept.append(cycle)
        return np.sum(np.tanh(out))

    expected = host(grad(ref)(x))
    for _ in range(6):
        close(grad(loss)(x), expected)
        kept.clear()
        gc.collect()
    assert fc1.num_binds == 1 and fc2.num_binds == 1  # every executor came back, and was usable


def test_executor_cache_and_new_batch_size():
    fc = Function(mx.sym.FullyConnected(mx.sym.Variable('x'), name='fc', num_hidden=2), {'x': (4, 3)})
    w, b = rand(2, 3, seed=1), rand(2, seed=2)
    sig = lambda n: (('x', (n, 3), '<f8'), ('fc_weight', (2, 3), '<f8'), ('fc_bias', (2,), '<f8'))  # noqa: E731
    for n, binds in ((4, 1), (4, 1), (7, 2), (7, 2), (4, 2)):
        x = rand(n, 3)
        close(fc(x=x, fc_weight=w, fc_bias=b), host(fc_ref(np.array(x), np.array(w), np.array(b))))
        assert fc.num_binds == binds
        assert len(fc._free[sig(n)]) == 1
    g = grad(lambda x: np.sum(fc(x=x, fc_weight=w, fc_bias=b)))(rand(7, 3))
    close(g, numpy.tile(w.sum(axis=0), (7, 1)))
    assert fc.num_binds == 2 and len(fc._free[sig(7)]) == 1
    x32 = np.array(rand(4, 3), dtype='float32')  # a new dtype is a new signature
    assert fc(x=x32, fc_weight=np.array(w, dtype='float32'), fc_bias=np.array(b, dtype='float32')).dtype == 'float32'
    assert fc.num_binds == 3


def test_dtype_promotion():
    fc = Function(mx.sym.FullyConnected(mx.sym.Variable('x'), name='fc', num_hidden=2), {'x': (4, 3)})
    x, w, b = rand(4, 3), rand(2, 3, seed=1), rand(2, seed=2)
    x32 = np.array(x, dtype='float32')
    out = fc(x=x32, fc_weight=w, fc_bias=b)
    assert out.dtype == numpy.float64  # float32 data with float64 weights computes in float64
    gx, gw = grad(lambda x, w: np.sum(fc(x=x, fc_weight=w, fc_bias=b)), (0, 1))(x32, np.array(w))
    assert gx.dtype == numpy.float32 and gw.dtype == numpy.float64  # gradients in each argument's own dtype
    close(gx, numpy.tile(w.sum(axis=0), (4, 1)), rtol=1e-6)


def test_multi_output_group():
    x = mx.sym.Variable('x')
    fc = mx.sym.FullyConnected(x, name='fc', num_hidden=3, no_bias=True)
    f = Function(mx.sym.Group([fc, mx.sym.Activation(fc, act_type='tanh')]), {'x': (2, 4)})
    assert len(f.output_names) == 2
    xs, w = rand(2, 4), rand(3, 4, seed=1)
    a, t = f(x=xs, fc_weight=w)
    close(a, xs @ w.T)
    close(t, numpy.tanh(xs @ w.T))
    grads_close(lambda x, w: np.sum(np.prod(f(x=x, fc_weight=w)[0], axis=1)) + np.sum(f(x=x, fc_weight=w)[1] ** 3),
                lambda x, w: np.sum(np.prod(fc_ref(x, w, 0.0), axis=1)) + np.sum(np.tanh(fc_ref(x, w, 0.0)) ** 3),
                (xs, w))
    grads_close(lambda x, w: np.sum(f(x=x, fc_weight=w)[1]),  # one output unused: it gets a zero gradient
                lambda x, w: np.sum(np.tanh(fc_ref(x, w, 0.0))), (xs, w))
    check_grads(lambda x, w: f(x=x, fc_weight=w)[0] * f(x=x, fc_weight=w)[1], xs, w, rtol=1e-4)


def test_vjp_walked_twice():
    fc = Function(mx.sym.FullyConnected(mx.sym.Variable('x'), name='fc', num_hidden=2, no_bias=True), {'x': (3, 2)})
    x, w = rand(3, 2), rand(2, 2, seed=1)
    _, back = vjp(lambda w: fc(x=x, fc_weight=w), np.array(w))
    u1, u2 = rand(3, 2, seed=5), rand(3, 2, seed=6)
    close(back(np.array(u1)), u1.T @ x)
    close(back(np.array(u2)), u2.T @ x)


def test_higher_order_is_an_error():
    f = Function(mx.sym.Activation(mx.sym.Variable('x'), act_type='tanh'), {'x': (3,)})
    x = rand(3)
    # an outer gradient that does not go through the executor's gradient is fine ...
    close(grad(lambda x: np.sum(f(x=x)) + np.sum(grad(lambda y: np.sum(y * y))(x)))(x), 1 - numpy.tanh(x) ** 2 + 2)
    # arguments traced by two gradient calls: the outer one differentiates the forward value
    outer = grad(lambda x: value_and_grad(lambda y: np.sum(f(x=y) * y))(x)[0])(x)
    close(outer, numpy.tanh(x) + x * (1 - numpy.tanh(x) ** 2))
    # ... one that does is refused, not silently wrong
    with pytest.raises(AutogradError, match="first-order"):
        grad(lambda x: np.sum(grad(lambda y: np.sum(f(x=y)))(x)))(x)


# -- errors ----------------------------------------------------------------------------------------------------------
@pytest.fixture
def fc():
    return Function(mx.sym.FullyConnected(mx.sym.Variable('x'), name='fc', num_hidden=5), {'x': (2, 3)})


def test_missing_and_extra_arguments(fc):
    with pytest.raises(SymbolError, match=r"missing \['fc_bias'\].*fc_weight': \(5, 3\)"):
        fc(x=np.ones((2, 3)), fc_weight=np.ones((5, 3)))
    with pytest.raises(SymbolError, match=r"unexpected \['y'\].*'x': \(2, 3\)"):
        fc(x=np.ones((2, 3)), fc_weight=np.ones((5, 3)), fc_bias=np.ones(5), y=1)
    with pytest.raises(SymbolError, match="missing"):  # the same inside a gradient
        grad(lambda x: np.sum(fc(x=x)))(rand(2, 3))


@pytest.mark.parametrize("shapes,wrong", [
    (((2, 3), (5, 4), (5,)), "fc_weight': (5, 4)"),
    (((2, 3), (5, 3), (4,)), "fc_bias': (4,)"),
    (((2, 4), (5, 3), (5,)), "fc_weight': (5, 3)"),
])
def test_wrong_shapes(fc, shapes, wrong):
    xs, ws, bs = shapes
    with pytest.raises(SymbolError) as info:
        fc(x=np.ones(xs), fc_weight=np.ones(ws), fc_bias=np.ones(bs))
    msg = str(info.value)
    assert wrong in msg.split("expected")[0] and "expected arguments and shapes" in msg
    assert f"'fc_weight': (5, {xs[1]})" in msg.split("expected")[1]
    assert not isinstance(info.value, mx.base.MXNetError)


def test_bad_input_shapes():
    sym = mx.sym.FullyConnected(mx.sym.Variable('x'), name='fc', num_hidden=5)
    with pytest.raises(SymbolError, match=r"\['y'\].*\['x', 'fc_weight', 'fc_bias'\]"):
        Function(sym, {'x': (2, 3), 'y': (1,)})
    with pytest.raises(TypeError, match="must be a dict.*got list.*fc_weight"):
        Function(sym, [(2, 3)])
    with pytest.raises(TypeError, match="shape"):
        Function(sym, {'x': 'ab'})
    with pytest.raises(SymbolError, match="do not determine"):
        Function(sym, {})
    with pytest.raises(SymbolError, match="cannot infer"):
        Function(mx.sym.Convolution(mx.sym.Variable('x'), kernel=(3, 3), num_filter=2), {'x': (2, 3)})
    with pytest.raises(TypeError, match="Symbol"):
        Function("not a symbol", {'x': (2, 3)})


def test_runtime_mxnet_errors_become_symbol_errors():
    f = Function(mx.sym.Variable('x') + mx.sym.Variable('y'), {'x': (2,), 'y': (2,)})
    with pytest.raises(SymbolError):
        f(x=np.ones(2), y=np.ones(3))


# -- Gluon blocks ----------------------------------------------------------------------------------------------------
def _mlp():
    net = mx.gluon.nn.HybridSequential()
    net.add(mx.gluon.nn.Dense(6, activation='relu'), mx.gluon.nn.Dense(3))
    net.initialize(mx.init.Xavier())
    return net


def test_block_function(policy):
    net = _mlp()
    f = BlockFunction(net, {'data': (4, 5)})
    weights = sorted(f.params)
    assert len(weights) == 4 and all(isinstance(v, Array) for v in f.params.values())
    assert {f.params[n].shape for n in weights} == {(6, 5), (6,), (3, 6), (3,)}
    x = rand(4, 5)
    expected = net(mx.nd.array(x, dtype='float64').astype('float32')).asnumpy()
    close(f(data=np.array(x, dtype='float32')), expected, rtol=1e-5, atol=1e-6)
    params = {n: np.array(host(v), dtype='float64') for n, v in f.params.items()}
    for n in weights:
        def of_param(p, n=n):
            return f(data=x, **{**params, n: p})
        check_grads(of_param, params[n], rtol=1e-4)
    g = grad(lambda ps: np.sum(f(data=x, **ps) ** 2))(params)
    assert set(g) == set(params) and all(g[n].shape == params[n].shape for n in params)


def test_block_with_batchnorm_aux():
    net = mx.gluon.nn.HybridSequential()
    net.add(mx.gluon.nn.Dense(4), mx.gluon.nn.BatchNorm())
    net.initialize()
    f = BlockFunction(net, {'data': (5, 3)}).predict()
    assert len(f.aux_names) == 2 and set(f.aux_states) == set(f.aux_names)
    x = rand(5, 3)
    with mx.autograd.predict_mode():
        expected = net(mx.nd.array(x)).asnumpy()
    close(f(data=np.array(x, dtype='float32')), expected, rtol=1e-5, atol=1e-6)
