"""A CS231n-style program, written for NumPy: the idioms the course's assignments use (numerical gradient checks
with ``np.nditer``, layers with their backward passes, an embedding's backward with ``np.add.at``, im2col through
``np.lib.stride_tricks.as_strided``, ``np.int``, in-place updates, ``np.random.seed``), checked against each other
as the notebooks check them. It is plain NumPy code; ``tests/array/test_cs231n_style.py`` runs it as it is and
with its import line changed to ``import minpy.numpy as np``, and compares every result.

``python tests/array/cs231n_style.py`` runs it on NumPy and prints the checks.
"""
import warnings

import numpy as np

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    # the course's np.int (NumPy 1.x keeps it, deprecated); NumPy 2 dropped it, and the builtin is what it was
    INT = np.int if hasattr(np, "int") else int


# -- gradient checking -------------------------------------------------------------------------------------------
def eval_numerical_gradient(f, x, h=1e-5):
    """The gradient of the scalar function f at x, by central differences, one element at a time."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        oldval = x[ix]
        x[ix] = oldval + h
        fxph = f(x)
        x[ix] = oldval - h
        fxmh = f(x)
        x[ix] = oldval
        grad[ix] = (fxph - fxmh) / (2 * h)
        it.iternext()
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """The gradient of sum(f(x) * df) at x; writes through the iterator's view, as some solutions do."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        oldval = x[ix]
        it[0][...] = oldval + h
        pos = f(x).copy()
        x[ix] = oldval - h
        neg = f(x).copy()
        x[ix] = oldval
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def rel_error(x, y):
    return np.max(np.abs(x - y) / (np.maximum(1e-8, np.abs(x) + np.abs(y))))


# -- layers ----------------------------------------------------------------------------------------------------------
def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], np.prod(x.shape[1:])).dot(w) + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T.dot(dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db


def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    dx = dout.copy()
    dx[cache <= 0] = 0
    return dx


def softmax_loss(x, y):
    shifted = x - np.max(x, axis=1, keepdims=True)
    z = np.sum(np.exp(shifted), axis=1, keepdims=True)
    log_probs = shifted - np.log(z)
    probs = np.exp(log_probs)
    n = x.shape[0]
    loss = -np.sum(log_probs[np.arange(n), y]) / n
    dx = probs.copy()
    dx[np.arange(n), y] -= 1
    dx /= n
    return loss, dx


def svm_loss(x, y):
    n = x.shape[0]
    correct = x[np.arange(n), y]
    margins = np.maximum(0, x - correct[:, np.newaxis] + 1.0)
    margins[np.arange(n), y] = 0
    loss = np.sum(margins) / n
    num_pos = np.sum(margins > 0, axis=1)
    dx = np.zeros_like(x)
    dx[margins > 0] = 1
    dx[np.arange(n), y] -= num_pos
    dx /= n
    return loss, dx


def batchnorm_forward(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    xhat = (x - mu) / np.sqrt(var + eps)
    return gamma * xhat + beta, (xhat, gamma, var, eps)


def batchnorm_backward(dout, cache):
    xhat, gamma, var, eps = cache
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    dx = (1.0 / n) / np.sqrt(var + eps) * (n * dxhat - dxhat.sum(axis=0) - xhat * np.sum(dxhat * xhat, axis=0))
    return dx, dgamma, dbeta


def dropout_forward(x, p, seed):
    np.random.seed(seed)
    mask = (np.random.rand(*x.shape) < p) / p
    return x * mask, mask


def conv_forward_naive(x, w, b, stride, pad):
    n, c, h, wd = x.shape
    f, _, hh, ww = w.shape
    xp = np.pad(x, ((0,), (0,), (pad,), (pad,)), mode="constant")
    out_h = 1 + (h + 2 * pad - hh) // stride
    out_w = 1 + (wd + 2 * pad - ww) // stride
    out = np.zeros((n, f, out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            window = xp[:, :, i * stride:i * stride + hh, j * stride:j * stride + ww]
            for k in range(f):
                out[:, k, i, j] = np.sum(window * w[k], axis=(1, 2, 3)) + b[k]
    return out


def conv_forward_strides(x, w, b, stride, pad):
    """im2col through as_strided, as the course's fast layers do."""
    n, c, h, wd = x.shape
    f, _, hh, ww = w.shape
    p = pad
    x_padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), mode="constant")
    h += 2 * pad
    wd += 2 * pad
    out_h = (h - hh) // stride + 1
    out_w = (wd - ww) // stride + 1
    shape = (c, hh, ww, n, out_h, out_w)
    strides = (h * wd, wd, 1, c * h * wd, stride * wd, stride)
    strides = x.itemsize * np.array(strides)
    x_stride = np.lib.stride_tricks.as_strided(x_padded, shape=shape, strides=strides)
    x_cols = np.ascontiguousarray(x_stride)
    x_cols.shape = (c * hh * ww, n * out_h * out_w)
    res = w.reshape(f, -1).dot(x_cols) + b.reshape(-1, 1)
    res.shape = (f, n, out_h, out_w)
    out = res.transpose(1, 0, 2, 3)
    return np.ascontiguousarray(out)


def max_pool_forward_naive(x, size, stride):
    n, c, h, w = x.shape
    out_h = 1 + (h - size) // stride
    out_w = 1 + (w - size) // stride
    out = np.zeros((n, c, out_h, out_w))
    where = np.zeros((n, c, out_h, out_w), dtype=INT)
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size].reshape(n, c, -1)
            out[:, :, i, j] = np.max(window, axis=2)
            where[:, :, i, j] = np.argmax(window, axis=2)
    return out, where


def word_embedding_forward(x, w):
    return w[x], (x, w)


def word_embedding_backward(dout, cache):
    x, w = cache
    dw = np.zeros_like(w)
    np.add.at(dw, x, dout)
    return dw


def rnn_step_forward(x, prev_h, wx, wh, b):
    next_h = np.tanh(x.dot(wx) + prev_h.dot(wh) + b)
    return next_h, (x, prev_h, wx, wh, next_h)


def rnn_step_backward(dnext_h, cache):
    x, prev_h, wx, wh, next_h = cache
    da = dnext_h * (1 - next_h ** 2)
    return da.dot(wx.T), da.dot(wh.T), x.T.dot(da), prev_h.T.dot(da), da.sum(axis=0)


def sgd_momentum(w, dw, config):
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    w += v
    config["velocity"] = v
    return w, config


# -- the checks ------------------------------------------------------------------------------------------------------
def run():
    """Every check's results, by name (arrays and floats). Each check also asserts what its notebook asserts."""
    results = {}
    np.random.seed(231)
    x = np.random.randn(4, 3, 2)
    w = np.random.randn(6, 5)
    b = np.random.randn(5)
    dout = np.random.randn(4, 5)
    out, cache = affine_forward(x, w, b)
    dx, dw, db = affine_backward(dout, cache)
    dx_num = eval_numerical_gradient_array(lambda v: affine_forward(v, w, b)[0], x, dout)
    dw_num = eval_numerical_gradient_array(lambda v: affine_forward(x, v, b)[0], w, dout)
    db_num = eval_numerical_gradient_array(lambda v: affine_forward(x, w, v)[0], b, dout)
    assert rel_error(dx, dx_num) < 1e-7 and rel_error(dw, dw_num) < 1e-7 and rel_error(db, db_num) < 1e-7
    results.update(affine_out=out, affine_dx=dx, affine_dw=dw, affine_dx_num=dx_num, affine_db_num=db_num)

    xr = np.random.randn(3, 4)
    relu_num = eval_numerical_gradient_array(lambda v: relu_forward(v)[0], xr, np.ones((3, 4)))
    assert rel_error(relu_backward(np.ones((3, 4)), xr), relu_num) < 1e-7
    results["relu_dx"] = relu_num

    scores = np.random.randn(6, 4) * 0.5
    labels = np.random.randint(4, size=6)
    for name, loss_fn in (("softmax", softmax_loss), ("svm", svm_loss)):
        loss, dscores = loss_fn(scores, labels)
        num = eval_numerical_gradient(lambda v: loss_fn(v, labels)[0], scores)
        assert rel_error(dscores, num) < 1e-6
        results[name + "_loss"] = float(loss)
        results[name + "_dx"] = num

    xb = 4 * np.random.randn(6, 3) + 2
    gamma, beta = np.random.randn(3), np.random.randn(3)
    out, cache = batchnorm_forward(xb, gamma, beta)
    dob = np.random.randn(6, 3)
    dxb, dgamma, dbeta = batchnorm_backward(dob, cache)
    dxb_num = eval_numerical_gradient_array(lambda v: batchnorm_forward(v, gamma, beta)[0], xb, dob)
    assert rel_error(dxb, dxb_num) < 1e-6
    results.update(bn_mean=out.mean(axis=0), bn_std=out.std(axis=0), bn_dx=dxb, bn_dgamma=dgamma)

    dropped, mask = dropout_forward(np.ones((50, 20)), 0.3, seed=123)
    results["dropout_fraction"] = float(np.mean(dropped == 0))
    results["dropout_mask"] = mask

    xc = np.random.randn(2, 3, 5, 5)
    wc = np.random.randn(4, 3, 3, 3)
    bc = np.random.randn(4)
    naive = conv_forward_naive(xc, wc, bc, stride=2, pad=1)
    fast = conv_forward_strides(xc, wc, bc, stride=2, pad=1)
    assert rel_error(naive, fast) < 1e-9
    results.update(conv_naive=naive, conv_fast=fast)

    pooled, where = max_pool_forward_naive(np.random.randn(2, 2, 4, 4), size=2, stride=2)
    results.update(pool=pooled, pool_argmax=where)

    words = np.array([[0, 3, 1, 2], [2, 1, 0, 3]])
    table = np.random.randn(5, 3)
    emb, cache = word_embedding_forward(words, table)
    demb = np.random.randn(2, 4, 3)
    dtable = word_embedding_backward(demb, cache)
    dtable_num = eval_numerical_gradient_array(lambda v: word_embedding_forward(words, v)[0], table, demb)
    assert rel_error(dtable, dtable_num) < 1e-8
    results.update(embedding=emb, embedding_dw=dtable)

    n, d, h = 3, 4, 5
    xs, hs = np.random.randn(n, d), np.random.randn(n, h)
    wx, wh, bh = np.random.randn(d, h), np.random.randn(h, h), np.random.randn(h)
    nh, cache = rnn_step_forward(xs, hs, wx, wh, bh)
    dnh = np.random.randn(*nh.shape)
    grads = rnn_step_backward(dnh, cache)
    dwh_num = eval_numerical_gradient_array(lambda v: rnn_step_forward(xs, hs, wx, v, bh)[0], wh, dnh)
    assert rel_error(grads[3], dwh_num) < 1e-7
    results.update(rnn_h=nh, rnn_dwh=grads[3])

    # a few steps of training a two-layer net, with in-place updates
    np.random.seed(0)
    data = np.random.randn(16, 6)
    target = np.random.randint(3, size=16)
    params = {"W1": 0.1 * np.random.randn(6, 8), "b1": np.zeros(8), "W2": 0.1 * np.random.randn(8, 3),
              "b2": np.zeros(3)}
    configs = {k: {} for k in params}
    losses = []
    for _ in range(5):
        hid, c1 = affine_forward(data, params["W1"], params["b1"])
        act, c2 = relu_forward(hid)
        sc, c3 = affine_forward(act, params["W2"], params["b2"])
        loss, dsc = softmax_loss(sc, target)
        loss += 0.5 * 1e-3 * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))
        dact, dw2, db2 = affine_backward(dsc, c3)
        dhid = relu_backward(dact, c2)
        _, dw1, db1 = affine_backward(dhid, c1)
        dw1 += 1e-3 * params["W1"]
        dw2 += 1e-3 * params["W2"]
        for key, grad in (("W1", dw1), ("b1", db1), ("W2", dw2), ("b2", db2)):
            params[key], configs[key] = sgd_momentum(params[key], grad, configs[key])
        losses.append(float(loss))
    params["W1"] -= 1e-2 * dw1  # vanilla SGD step, in place
    accuracy = np.mean(np.argmax(sc, axis=1) == target)
    results.update(losses=np.array(losses), W1=params["W1"], accuracy=float(accuracy))

    # reductions of shape tuples, ufunc methods, np.int
    results["prod_of_shape"] = int(np.prod(data.shape))
    results["add_reduce"] = np.add.reduce(data, axis=1)
    results["maximum_accumulate"] = np.maximum.accumulate(data[:, 0])
    results["multiply_outer"] = np.multiply.outer(np.arange(3), np.arange(4))
    results["as_int"] = (data * 10).astype(INT)
    np.random.seed(231)
    results["seeded"] = np.random.randn(3)
    return results


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {np.asarray(value).ravel()[:4]}")
