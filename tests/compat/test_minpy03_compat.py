"""MinPy 0.3 import paths and idioms, used the way MinPy 0.3 code used them (issue 8).

Each name is an alias onto the new packages; these tests pin that the old spellings keep working.
"""
import io
import contextlib

import numpy
import pytest

import minpy
import minpy.numpy as np
import minpy.numpy.random as random
from minpy import core
from minpy.array import Array, Number, wrap
from minpy.array_variants import ArrayType


def close(a, b, tol=1e-6):
    a = a.asnumpy() if isinstance(a, Array) else numpy.asarray(a)
    b = b.asnumpy() if isinstance(b, Array) else numpy.asarray(b)
    assert numpy.allclose(a, b, rtol=tol, atol=tol), (a, b)


# -- minpy.core -----------------------------------------------------------------------------------------------------
def test_core_grad_scalar_and_argnum():
    def loss(w, x):
        return np.sum(np.tanh(np.dot(x, w)))

    w, x = numpy.random.RandomState(0).randn(3, 2), numpy.random.RandomState(1).randn(4, 3)
    gw = core.grad(loss)(w, x)
    gx = core.grad(loss, argnum=1)(w, x)
    assert isinstance(gw, Array) and gw.shape == (3, 2) and gx.shape == (4, 3)
    inner = 1 - numpy.tanh(x @ w) ** 2
    close(gw, x.T @ inner)


def test_core_grad_of_non_scalar_output_is_gradient_of_sum():
    x = numpy.arange(6.0).reshape(3, 2)
    close(core.grad(lambda a: a * a)(x), 2 * x)
    grads, out = core.grad_and_loss(lambda a: 3 * a)(x)
    close(grads, numpy.full((3, 2), 3.0))
    close(out, 3 * x)  # the loss is the function's own output, not its sum


def test_strict_autograd_grad_still_rejects_non_scalar():
    import minpy.autograd

    with pytest.raises(TypeError, match="scalar"):
        minpy.autograd.grad(lambda a: a * a)(numpy.ones(3))


def test_core_grad_and_loss_several_argnums():
    def f(a, b):
        return np.sum(a * b)

    (ga, gb), loss = core.grad_and_loss(f, [0, 1])(numpy.array([1.0, 2.0]), numpy.array([3.0, 4.0]))
    close(ga, [3.0, 4.0])
    close(gb, [1.0, 2.0])
    close(loss, 11.0)


def test_convert_args_as_decorator_and_on_values():
    from minpy.autograd import Tracer

    @core.convert_args
    def check(x, y=None):
        assert isinstance(x, (Array, Tracer)) and isinstance(y, (Array, Tracer))  # traced under grad
        return np.sum(x + y)

    close(check(numpy.ones(3), y=numpy.ones(3)), 6.0)
    close(core.grad(check)(numpy.ones(3), numpy.ones(3)), numpy.ones(3))
    converted = core.convert_args([numpy.zeros(2), {"a": numpy.ones(1)}])
    assert isinstance(converted[0], Array) and isinstance(converted[1]["a"], Array)


def test_numpy_minpy_conversions_and_return_numpy():
    m = core.numpy_to_minpy({"w": numpy.ones((2, 2)), "bs": [numpy.zeros(2)]})
    assert isinstance(m["w"], Array) and isinstance(m["bs"][0], Array)
    n = core.minpy_to_numpy(m)
    assert isinstance(n["w"], numpy.ndarray) and isinstance(n["bs"][0], numpy.ndarray)

    @core.return_numpy
    def f(x):
        return x * 2, [x + 1]

    out = f(np.ones(2))
    assert isinstance(out[0], numpy.ndarray) and isinstance(out[1][0], numpy.ndarray)
    loss_and_grad = core.return_numpy(core.grad_and_loss(lambda x: np.sum(x * x)))
    g, loss = loss_and_grad(numpy.array([1.0, 2.0]))
    assert isinstance(g, numpy.ndarray)
    close(g, [2.0, 4.0])


@pytest.mark.mxnet
def test_core_function_mxnet_symbol():
    import mxnet as mx

    x = mx.sym.Variable("x")
    fc = mx.sym.FullyConnected(name="fc", data=x, num_hidden=3)
    f = core.Function(fc, {"x": (4, 5)})
    assert f.get_one_output_shape() == (4, 3)
    assert f._param_shapes == {"fc_weight": (3, 5), "fc_bias": (3,)}
    assert f.get_params() == {"fc_weight": {"shape": (3, 5)}, "fc_bias": {"shape": (3,)}}
    rs = numpy.random.RandomState(0)
    xv, wv = rs.randn(4, 5), rs.randn(3, 5)
    # MinPy 0.3: an argument left out (here the bias) reads as zeros
    out = f(x=xv, fc_weight=wv)
    close(out, xv @ wv.T, 1e-5)
    gw = core.grad(lambda w: np.sum(f(x=xv, fc_weight=w)))(wv)
    close(gw, numpy.ones((4, 3)).T @ xv, 1e-5)


@pytest.mark.mxnet
def test_symbol_function_stays_strict_about_missing_arguments():
    import mxnet as mx
    from minpy.symbol import Function, SymbolError

    fc = mx.sym.FullyConnected(name="fc", data=mx.sym.Variable("x"), num_hidden=3)
    with pytest.raises(SymbolError, match="missing"):
        Function(fc, {"x": (4, 5)})(x=numpy.ones((4, 5)), fc_weight=numpy.ones((3, 5)))


# -- minpy.primitive.customop ---------------------------------------------------------------------------------------
def test_customop_with_def_grad():
    from minpy.primitive import customop

    @customop("numpy")
    def cube(x):
        assert isinstance(x, numpy.ndarray)
        return x ** 3

    def cube_grad(ans, x):
        def grad(g):
            return g * 3 * x ** 2
        return grad

    cube.def_grad(cube_grad)
    x = numpy.array([1.0, -2.0, 0.5])
    close(cube(x), x ** 3)
    close(core.grad(lambda a: np.sum(cube(a)))(x), 3 * x ** 2)
    assert core.customop is customop


# -- minpy.array, array_variants, context, random -------------------------------------------------------------------
def test_array_number_wrap_arraytype():
    a = wrap(numpy.ones((2, 3)))
    assert isinstance(a, Array) and a.shape == (2, 3)
    assert wrap(a) is a and wrap(2.5) == 2.5
    s = np.sum(a)
    assert float(s) == 6.0
    assert isinstance(Number(1.5), float)
    assert {t.name for t in ArrayType} >= {"NUMPY", "MXNET"}


def test_context_and_random():
    import minpy.context as context

    with context.cpu():
        assert context.current_context() == context.cpu()
    r = random.rand(3, 4)
    assert isinstance(r, Array) and r.shape == (3, 4)
    assert numpy.all((r.asnumpy() >= 0) & (r.asnumpy() < 1))
    i = random.randint(0, 5, 10)
    assert i.shape == (10,)
    assert random.randn(2, 2).shape == (2, 2)


# -- policies -------------------------------------------------------------------------------------------------------
def test_policies_by_string_and_class():
    import minpy.dispatch.policy as plc

    old = minpy.get_global_policy()
    try:
        minpy.set_global_policy("only_numpy")
        assert isinstance(minpy.get_global_policy(), plc.OnlyNumPyPolicy)
        minpy.set_global_policy(plc.PreferMXNetPolicy())
        assert isinstance(minpy.get_global_policy(), plc.PreferMXNetPolicy)
    finally:
        minpy.set_global_policy(old)

    @minpy.wrap_policy(plc.OnlyNumPyPolicy)
    def inside():
        return minpy.get_global_policy()

    assert isinstance(inside(), plc.OnlyNumPyPolicy)
    with plc.OnlyNumPyPolicy():
        close(np.dot(numpy.eye(2), numpy.ones(2)), numpy.ones(2))


# -- minpy.utils ----------------------------------------------------------------------------------------------------
def test_minprof_decorator_and_with_timer():
    from minpy.utils.minprof import minprof

    minprof.reset()

    @minprof
    def countdown(i):
        return 0 if i == 0 else countdown(i - 1)

    assert countdown(20) == 0
    with minprof("block"):
        with minprof():
            pass
    stats = minprof.stats()
    assert stats[f"{countdown.__module__}.{countdown.__qualname__}"][0] == 1  # recursion counted once
    assert stats["block"][0] == 1
    buf = io.StringIO()
    minprof.print_stats(file=buf)
    assert "block" in buf.getvalue()
    minprof.reset()
    assert minprof.stats() == {}


def test_gradient_checker_quick_grad_check():
    import minpy.utils.gradient_checker as gradient_checker

    @core.convert_args
    def fn(x):
        return np.sum(np.tanh(x) * x)

    with contextlib.redirect_stdout(io.StringIO()):
        assert gradient_checker.quick_grad_check(fn, numpy.random.RandomState(0).randn(4, 3),
                                                 rs=numpy.random.RandomState(1))


def test_op_statistics():
    np.record_op_stat()
    try:
        np.add(np.ones(3), np.ones(3))
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            np.show_op_stat()
        assert "add" in buf.getvalue()
    finally:
        np.record_op_stat(False)


# -- minpy.nn -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["numpy", "minpy"])
def test_ndarrayiter(kind):
    from minpy.nn.io import NDArrayIter

    data = numpy.arange(20.0).reshape(10, 2)
    label = numpy.arange(10)
    if kind == "minpy":
        data, label = np.array(data), np.array(label)
    it = NDArrayIter(data=data, label=label, batch_size=4, shuffle=False)
    batches = list(it)
    assert len(batches) == 3 and batches[-1].pad == 2
    first = batches[0]
    close(first.data[0], numpy.arange(8.0).reshape(4, 2))
    close(first.label[0], numpy.arange(4))
    it.reset()
    assert len(list(it)) == 3


def test_nn_layers():
    import minpy.nn.layers as layers

    rs = numpy.random.RandomState(0)
    x, w, b = rs.randn(4, 5), rs.randn(5, 3), rs.randn(3)
    close(layers.affine(x, w, b), x @ w + b)
    close(layers.relu(numpy.array([-1.0, 2.0])), [0.0, 2.0])
    loss = layers.softmax_loss(rs.randn(4, 3), numpy.array([0, 1, 2, 0]))
    assert float(loss) > 0
    # inverted dropout (MinPy 0.3's was not inverted): kept units are scaled by 1 / (1 - prob)
    out = layers.dropout(numpy.ones((100, 100)), 0.5, mode="train", seed=0).asnumpy()
    assert set(numpy.unique(out)) <= {0.0, 2.0}
    close(layers.dropout(numpy.ones(3), 0.5, mode="test"), numpy.ones(3))
