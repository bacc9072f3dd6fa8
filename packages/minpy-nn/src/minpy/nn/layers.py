"""Neural-network layers as differentiable ``minpy.numpy`` functions.

Every layer is an ordinary function of arrays: call it inside a function handed to
``minpy.autograd.grad`` and its gradient comes out with everything else. The names and signatures follow
MinPy 0.3's ``minpy.nn.layers``, with these differences:

* ``dropout`` is *inverted* dropout: kept units are scaled by ``1 / (1 - prob)`` in training and test mode is
  the identity (MinPy 0.3 scaled at test time and not in training, so the two modes disagreed in expectation).
* ``batchnorm`` starts the running variance at ones (MinPy 0.3 used zeros, which blows up test mode until the
  average has warmed up) and also accepts ``(N, C, H, W)`` inputs (spatial batch normalization).
* ``svm_loss`` broadcasts the correct-class score along each row (MinPy 0.3 broadcast along the wrong axis).
* ``conv``, ``max_pool`` and ``avg_pool`` are new here: on MXNet they run MXNet's own kernels (through
  ``minpy.symbol.Function``), elsewhere a ``minpy.numpy`` im2col implementation with the same results; the
  auto policy runs whichever it measured faster for those shapes.
* The temporal layers collect their steps in a list and stack them once, so their cost is linear in the
  sequence length (MinPy 0.3 appended to a growing array at each step: quadratic).
"""
import collections
import threading

import numpy as _onp

import minpy.numpy as np
from minpy.array import Array
from minpy.autograd import primitive, stop_gradient

__all__ = ["affine", "relu", "sigmoid", "tanh", "leaky_relu", "dropout", "batchnorm", "softmax_loss",
           "softmax_cross_entropy", "svm_loss", "l2_loss", "conv", "max_pool", "avg_pool", "rnn_step",
           "rnn_temporal", "lstm_step", "lstm_temporal", "gru_step", "gru_temporal", "temporal_affine",
           "temporal_softmax_loss", "embedding"]


# -- dense layers and activations -------------------------------------------------------------------------------------
def affine(x, w, b):
    """Fully connected layer: ``x.reshape(N, D) @ w + b``.

    Parameters
    ----------
    x : array of shape (N, d_1, ..., d_k)
        A minibatch of N examples; each is flattened to a vector of length ``D = d_1 * ... * d_k``.
    w : array of shape (D, M)
        Weights.
    b : array of shape (M,)
        Biases.

    Returns
    -------
    out : Array of shape (N, M)
    """
    n = x.shape[0]
    return np.dot(np.reshape(x, (n, -1)), w) + b


def relu(x):
    """Rectified linear unit, ``max(x, 0)`` elementwise.

    Parameters
    ----------
    x : array of any shape

    Returns
    -------
    out : Array of the same shape as ``x``
    """
    return np.maximum(x, 0)


def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))`` elementwise, computed from ``e = exp(-|x|)`` as ``1 / (1 + e)``
    for ``x >= 0`` and ``e / (1 + e)`` below: no overflow for large ``|x|``, and full relative precision on
    both sides (``sigmoid(-40)`` is 4.2e-18, not the 0 that ``(1 + tanh(x / 2)) / 2`` rounds to).

    Parameters
    ----------
    x : array of any shape

    Returns
    -------
    out : Array of the same shape as ``x``, values in (0, 1)
    """
    return _sigmoid(x)


# One recorded operation instead of four, whose rule reads only the result: gated recurrent layers call it
# three times a step, so this is most of their tape.
@primitive(reads=({0: ()}, True))
def _sigmoid(x):
    # NumPy's float64 exp costs 10 ns an element here, its tanh 25: on an LSTM's (32, 384) gate block this
    # form takes 180 us against the tanh form's 330. The numerator is 1 at and above 0 and e below: the
    # larger of e (<= 1, and 1 at 0) and sign(x) (a NaN stays NaN); one maximum instead of a select
    e = np.exp(-np.abs(x))
    return np.maximum(e, np.sign(x)) / (1.0 + e)


def _through_sigmoid(g, s):
    """The gradient ``g`` of a sigmoid's output ``s``, taken back through the sigmoid."""
    return g * s * (1.0 - s)


_sigmoid.defvjp(lambda g, ans, x: _through_sigmoid(g, ans))


def tanh(x):
    """Hyperbolic tangent elementwise.

    Parameters
    ----------
    x : array of any shape

    Returns
    -------
    out : Array of the same shape as ``x``, values in (-1, 1)
    """
    return np.tanh(x)


def leaky_relu(x, alpha=0.01):
    """Leaky rectified linear unit: ``x`` where ``x > 0``, ``alpha * x`` elsewhere.

    Parameters
    ----------
    x : array of any shape
    alpha : float, optional
        Slope for negative inputs (default 0.01).

    Returns
    -------
    out : Array of the same shape as ``x``
    """
    return np.where(x > 0, x, alpha * x)


# -- regularization and normalization ---------------------------------------------------------------------------------
def dropout(x, prob, mode='train', seed=None):
    """Inverted dropout.

    In training mode each unit is zeroed with probability ``prob`` and the kept ones are scaled by
    ``1 / (1 - prob)``, so the expected output equals ``x``; in test mode the input is returned unchanged.

    Parameters
    ----------
    x : array of any shape
    prob : float
        Probability of dropping a unit, in [0, 1]. ``prob == 1`` drops everything (the output is zero).
    mode : {'train', 'test'}, optional
    seed : int, optional
        Seed for the mask. With a seed the mask depends only on the seed and the shape (and the global
        random state is left alone), which gradient checks need; without one the mask is drawn from
        ``minpy.numpy.random`` (reproducible under ``np.random.seed``).

    Returns
    -------
    out : Array of the same shape as ``x``
    """
    if not 0.0 <= prob <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {prob!r}")
    if mode == 'test':
        return x
    if mode != 'train':
        raise ValueError(f"dropout mode must be 'train' or 'test', got {mode!r}")
    if prob == 0.0:
        return x
    if prob == 1.0:
        return x * 0.0
    shape = tuple(x.shape)
    if seed is None:
        uniform = np.random.random_sample(shape)
    else:
        uniform = np.array(_onp.random.RandomState(seed).random_sample(shape))
    scale = 1.0 / (1.0 - prob)
    mask = np.where(uniform >= prob, scale, 0.0).astype(_float_dtype(x))
    return x * mask


def _float_dtype(x):
    dtype = _onp.dtype(x.dtype)
    return dtype if dtype.kind == 'f' else _onp.dtype(_onp.float64)


def batchnorm(x, gamma, beta, mode='train', eps=1e-5, momentum=0.9, running_mean=None, running_var=None):
    """Batch normalization, for ``(N, D)`` inputs or spatially for ``(N, C, H, W)`` inputs.

    Training mode normalizes with the minibatch mean and (biased) variance, taken over N for 2-D inputs and
    over N, H and W for 4-D ones, and updates the running averages::

        running_mean = momentum * running_mean + (1 - momentum) * batch_mean
        running_var  = momentum * running_var  + (1 - momentum) * batch_var

    Test mode normalizes with the running averages. The running averages returned carry no gradient.

    Parameters
    ----------
    x : array of shape (N, D) or (N, C, H, W)
    gamma : array of shape (D,) or (C,)
        Scale.
    beta : array of shape (D,) or (C,)
        Shift.
    mode : {'train', 'test'}, optional
    eps : float, optional
        Added to the variance for numerical stability (default 1e-5).
    momentum : float, optional
        Decay of the running averages (default 0.9).
    running_mean : array of shape (D,) or (C,), optional
        Defaults to zeros.
    running_var : array of shape (D,) or (C,), optional
        Defaults to ones.

    Returns
    -------
    out : Array of the same shape as ``x``
    running_mean : Array of shape (D,) or (C,)
        Updated in training mode; as given in test mode.
    running_var : Array of shape (D,) or (C,)
        Updated in training mode; as given in test mode.
    """
    ndim = len(x.shape)
    if ndim == 2:
        axes, bshape = (0,), (1, x.shape[1])
    elif ndim == 4:
        axes, bshape = (0, 2, 3), (1, x.shape[1], 1, 1)
    else:
        raise ValueError(f"batchnorm expects (N, D) or (N, C, H, W) input, got shape {tuple(x.shape)}")
    channels = x.shape[1]
    dtype = _float_dtype(x)
    if running_mean is None:
        running_mean = np.zeros(channels, dtype=dtype)
    if running_var is None:
        running_var = np.ones(channels, dtype=dtype)
    g = np.reshape(gamma, bshape)
    b = np.reshape(beta, bshape)
    if mode == 'train':
        mean = np.mean(x, axis=axes, keepdims=True)
        centred = x - mean
        var = np.mean(centred * centred, axis=axes, keepdims=True)
        out = g * (centred / np.sqrt(var + eps)) + b
        batch_mean = np.reshape(stop_gradient(mean), (channels,))
        batch_var = np.reshape(stop_gradient(var), (channels,))
        running_mean = momentum * stop_gradient(running_mean) + (1.0 - momentum) * batch_mean
        running_var = momentum * stop_gradient(running_var) + (1.0 - momentum) * batch_var
    elif mode == 'test':
        out = g * ((x - np.reshape(running_mean, bshape)) / np.sqrt(np.reshape(running_var, bshape) + eps)) + b
    else:
        raise ValueError(f"batchnorm mode must be 'train' or 'test', got {mode!r}")
    return out, running_mean, running_var


# -- losses ------------------------------------------------------------------------------------------------------------
def _labels_as_onehot(label, n, c, dtype, what):
    """``label`` as an (n, c) float array: class indices (n,) are one-hot encoded, (n, c) passes through."""
    shape = tuple(label.shape)
    if shape == (n, c):
        return label
    if shape == (n,):
        index = label.astype(_onp.int64) if _onp.dtype(label.dtype).kind != 'i' else label
        if getattr(index, "backend", "numpy") == "numpy":  # checked where reading the labels waits for nothing
            # truth values read, not the labels themselves: under minpy.jit they are guards whose values stay the
            # same from batch to batch (and reductions and comparisons translate to MXNet graphs)
            if index.size and (bool(np.min(index) < 0) or bool(np.max(index) >= c)):
                host = _onp.asarray(index)
                raise ValueError(f"{what}: class indices must lie in [0, {c}); got {host.min()} to {host.max()}")
        # a comparison, not eye(c)[index]: elementwise work runs on every backend (a GPU's too)
        return (np.reshape(index, (n, 1)) == np.arange(c)).astype(dtype)
    raise ValueError(f"{what}: labels must be class indices of shape ({n},) or one-hot of shape ({n}, {c}); "
                     f"got shape {shape}")


def _log_softmax(x, axis=-1):
    # The shift leaves the result unchanged, so it carries no gradient (and ties in the max do not matter).
    shifted = x - stop_gradient(np.max(x, axis=axis, keepdims=True))
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax_loss(x, label):
    """Mean cross-entropy of ``softmax(x)`` against the labels.

    Parameters
    ----------
    x : array of shape (N, C)
        Class scores (logits).
    label : array of shape (N,) or (N, C)
        Class indices ``0 <= label[i] < C``, or one-hot (or any per-row probability) encoding.

    Returns
    -------
    loss : Array scalar
        ``-sum(onehot * log_softmax(x)) / N``, computed stably (shifted by the row maximum).
    """
    n, c = x.shape
    onehot = _labels_as_onehot(label, n, c, _float_dtype(x), "softmax_loss")
    return -np.sum(_log_softmax(x, axis=1) * onehot) / n


def softmax_cross_entropy(prob, label):
    """Mean cross-entropy of given probabilities against the labels.

    Parameters
    ----------
    prob : array of shape (N, C)
        Class probabilities (e.g. a softmax output), all positive.
    label : array of shape (N,) or (N, C)
        Class indices, or one-hot encoding.

    Returns
    -------
    loss : Array scalar
        ``-sum(onehot * log(prob)) / N``.
    """
    n, c = prob.shape
    onehot = _labels_as_onehot(label, n, c, _float_dtype(prob), "softmax_cross_entropy")
    return -np.sum(np.log(prob) * onehot) / n


def svm_loss(x, y):
    """Multiclass SVM (hinge) loss with margin 1.

    Parameters
    ----------
    x : array of shape (N, C)
        Class scores.
    y : array of shape (N,) or (N, C)
        Class indices ``0 <= y[i] < C``, or one-hot encoding.

    Returns
    -------
    loss : Array scalar
        ``sum over i and j != y[i] of max(0, x[i, j] - x[i, y[i]] + 1)``, divided by N.
    """
    n, c = x.shape
    onehot = _labels_as_onehot(y, n, c, _float_dtype(x), "svm_loss")
    correct = np.sum(x * onehot, axis=1, keepdims=True)
    margins = np.maximum(x - correct + 1.0, 0.0) * (1.0 - onehot)
    return np.sum(margins) / n


def l2_loss(x, label):
    """Mean squared error ``sum((x - label) ** 2) / N``.

    Parameters
    ----------
    x : array of shape (N, ...)
        Predictions.
    label : array
        Targets of the same shape as ``x``; for ``(N, C)`` predictions also class indices of shape (N,),
        which are one-hot encoded (as in MinPy 0.3).

    Returns
    -------
    loss : Array scalar
    """
    n = x.shape[0]
    if tuple(label.shape) != tuple(x.shape):
        if len(x.shape) != 2:
            raise ValueError(f"l2_loss: labels of shape {tuple(label.shape)} do not match predictions of shape "
                             f"{tuple(x.shape)}")
        label = _labels_as_onehot(label, n, x.shape[1], _float_dtype(x), "l2_loss")
    diff = x - label
    return np.sum(diff * diff) / n


# -- convolution and pooling -------------------------------------------------------------------------------------------
def _pair(value, what):
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{what} must be an int or a pair, got {value!r}")
        return int(value[0]), int(value[1])
    return int(value), int(value)


def _out_size(size, kernel, stride, pad, what):
    out = (size + 2 * pad - kernel) // stride + 1
    if out < 1 or kernel < 1 or stride < 1:
        raise ValueError(f"{what}: a window of {kernel} with stride {stride} and padding {pad} does not fit an "
                         f"input of size {size}")
    return out


def _use_mxnet():
    """Whether MXNet's kernels may run: MXNet serves the current context and the policy in force would run
    operators there."""
    from minpy.backends import mxnet_backend
    from minpy.context import current_context
    from minpy.dispatch.policy import current_policy

    return "mxnet" in current_policy().preference and mxnet_backend.supports_context(current_context())


def _fastest(key, on_mxnet, on_numpy):
    """Run MXNet's kernel (``on_mxnet``) or the im2col implementation (``on_numpy``): under the auto policy on
    the CPU the one measured faster for this computation (see minpy.dispatch.auto.choose), else MXNet's."""
    from minpy.context import current_context
    from minpy.dispatch.auto import choose
    from minpy.dispatch.policy import current_policy

    policy = current_policy()
    if policy.cost_model is None or current_context().device_type != "cpu":
        return on_mxnet()
    return choose(policy, key, {"mxnet": on_mxnet, "numpy": on_numpy}, settle=_settled)


def _settled(result):
    """``result`` once computed (MXNet runs asynchronously; a traced result wraps the array)."""
    value = result
    while not isinstance(value, Array) and hasattr(value, "_value"):
        value = value._value
    if isinstance(value, Array):
        value.wait_to_read()
    return result


#: (kind, shapes, parameters, context) -> minpy.symbol.Function, the most recently used last. Each holds bound
#: executors (memory for its shapes), so only the newest MAX_FUNCTIONS are kept: a program whose shapes keep
#: changing (a last smaller batch, variable sequence lengths) would otherwise keep every one.
_FUNCTIONS = collections.OrderedDict()
MAX_FUNCTIONS = 32
_functions_lock = threading.Lock()


def _mx_function(key, build, input_shapes):
    with _functions_lock:
        fn = _FUNCTIONS.get(key)
        if fn is not None:
            _FUNCTIONS.move_to_end(key)
            return fn
    from minpy.backends import mxnet_backend
    from minpy.context import current_context
    from minpy.symbol import Function

    mx = mxnet_backend.mx
    ctx = current_context()
    mx_ctx = mx.gpu(ctx.device_id) if ctx.device_type == "gpu" else mx.cpu()
    fn = Function(build(mx), input_shapes=input_shapes, name=key[0], ctx=mx_ctx)
    with _functions_lock:
        fn = _FUNCTIONS.setdefault(key, fn)  # another thread may have built it meanwhile: one stays
        _FUNCTIONS.move_to_end(key)
        while len(_FUNCTIONS) > MAX_FUNCTIONS:
            _FUNCTIONS.popitem(last=False)
    return fn


def _context_key():
    from minpy.context import current_context

    return current_context()


def _zero_pad(x, ph, pw):
    """Zero-pad the last two axes of an (N, C, H, W) array (concatenation keeps it differentiable)."""
    if ph == 0 and pw == 0:
        return x
    n, c, h, w = x.shape
    dtype = _float_dtype(x)
    if ph:
        rows = np.zeros((n, c, ph, w), dtype=dtype)
        x = np.concatenate([rows, x, rows], axis=2)
    if pw:
        cols = np.zeros((n, c, h + 2 * ph, pw), dtype=dtype)
        x = np.concatenate([cols, x, cols], axis=3)
    return x


def _windows(x, kh, kw, sh, sw, ho, wo):
    """im2col: an (N, C, kh * kw, ho, wo) array of every window position, one strided slice per offset."""
    parts = [x[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw]
             for i in range(kh) for j in range(kw)]
    return np.stack(parts, axis=2)


def conv(x, w, b, stride=1, pad=0):
    """2-D convolution (cross-correlation, as in every deep-learning framework) of NCHW data.

    On MXNet this runs MXNet's Convolution operator (a cached ``minpy.symbol.Function`` per shape and
    parameters); under the only-NumPy policy, or without MXNet, a ``minpy.numpy`` im2col implementation; under
    the auto policy the one measured faster for these shapes (the first call measures both). Both give the
    same results and both are differentiable in ``x``, ``w`` and ``b``.

    Parameters
    ----------
    x : array of shape (N, C, H, W)
    w : array of shape (F, C, HH, WW)
        Filters (OIHW layout).
    b : array of shape (F,)
        Biases.
    stride : int or pair of ints, optional
        Step between window positions, vertically and horizontally (default 1).
    pad : int or pair of ints, optional
        Zeros added on each side of the height and width axes (default 0).

    Returns
    -------
    out : Array of shape (N, F, H', W')
        ``H' = (H + 2 * pad - HH) // stride + 1`` and likewise ``W'``.
    """
    n, c, h, wd = x.shape
    f, c2, kh, kw = w.shape
    if c2 != c:
        raise ValueError(f"conv: input has {c} channels, filters expect {c2} (x {tuple(x.shape)}, "
                         f"w {tuple(w.shape)})")
    if tuple(b.shape) != (f,):
        raise ValueError(f"conv: bias must have shape ({f},), got {tuple(b.shape)}")
    sh, sw = _pair(stride, "stride")
    ph, pw = _pair(pad, "pad")
    ho = _out_size(h, kh, sh, ph, "conv")
    wo = _out_size(wd, kw, sw, pw, "conv")
    def on_numpy():
        cols = np.reshape(_windows(_zero_pad(x, ph, pw), kh, kw, sh, sw, ho, wo), (n, c * kh * kw, ho, wo))
        out = np.tensordot(np.reshape(w, (f, c * kh * kw)), cols, axes=([1], [1]))  # (F, N, H', W')
        return np.transpose(out, (1, 0, 2, 3)) + np.reshape(b, (1, f, 1, 1))

    if not _use_mxnet():
        return on_numpy()
    key = ("conv", tuple(x.shape), tuple(w.shape), (sh, sw), (ph, pw), _context_key())

    def build(mx):
        return mx.sym.Convolution(data=mx.sym.Variable("x"), weight=mx.sym.Variable("w"),
                                  bias=mx.sym.Variable("b"), kernel=(kh, kw), stride=(sh, sw),
                                  pad=(ph, pw), num_filter=f, name="conv")

    def on_mxnet():
        return _mx_function(key, build, {"x": tuple(x.shape), "w": tuple(w.shape), "b": (f,)})(x=x, w=w, b=b)
    return _fastest(_cost_key(key, x), on_mxnet, on_numpy)


def _cost_key(key, x):
    return f"nn.{key[0]}|{x.dtype.str}|" + "|".join(str(k) for k in key[1:-1])


def _pool(kind, x, pool_height, pool_width, stride):
    n, c, h, wd = x.shape
    sh, sw = _pair(stride, "stride")
    ho = _out_size(h, pool_height, sh, 0, f"{kind}_pool")
    wo = _out_size(wd, pool_width, sw, 0, f"{kind}_pool")
    def on_numpy():
        windows = _windows(x, pool_height, pool_width, sh, sw, ho, wo)
        return np.max(windows, axis=2) if kind == "max" else np.mean(windows, axis=2)

    if not _use_mxnet():
        return on_numpy()
    key = (f"{kind}_pool", tuple(x.shape), (pool_height, pool_width), (sh, sw), _context_key())

    def build(mx):
        return mx.sym.Pooling(data=mx.sym.Variable("x"), kernel=(pool_height, pool_width), stride=(sh, sw),
                              pool_type=kind, pooling_convention="valid", name=f"{kind}_pool")

    return _fastest(_cost_key(key, x), lambda: _mx_function(key, build, {"x": tuple(x.shape)})(x=x), on_numpy)


def max_pool(x, pool_height=2, pool_width=2, stride=2):
    """Max pooling over windows of NCHW data (no padding; windows that do not fit are left out).

    Runs MXNet's Pooling operator on MXNet and a ``minpy.numpy`` im2col implementation otherwise (see
    :func:`conv`).

    Parameters
    ----------
    x : array of shape (N, C, H, W)
    pool_height, pool_width : int, optional
        Window size (default 2 x 2).
    stride : int or pair of ints, optional
        Step between windows (default 2).

    Returns
    -------
    out : Array of shape (N, C, H', W')
        ``H' = (H - pool_height) // stride + 1`` and likewise ``W'``.
    """
    return _pool("max", x, int(pool_height), int(pool_width), stride)


def avg_pool(x, pool_height=2, pool_width=2, stride=2):
    """Average pooling over windows of NCHW data; otherwise as :func:`max_pool`.

    Parameters
    ----------
    x : array of shape (N, C, H, W)
    pool_height, pool_width : int, optional
        Window size (default 2 x 2).
    stride : int or pair of ints, optional
        Step between windows (default 2).

    Returns
    -------
    out : Array of shape (N, C, H', W')
    """
    return _pool("avg", x, int(pool_height), int(pool_width), stride)


# -- recurrent layers --------------------------------------------------------------------------------------------------
def rnn_step(x, prev_h, Wx, Wh, b):
    """One step of a vanilla (tanh) RNN.

    Parameters
    ----------
    x : array of shape (N, D)
        Input at this step.
    prev_h : array of shape (N, H)
        Previous hidden state.
    Wx : array of shape (D, H)
        Input-to-hidden weights.
    Wh : array of shape (H, H)
        Hidden-to-hidden weights.
    b : array of shape (H,)
        Biases.

    Returns
    -------
    next_h : Array of shape (N, H)
        ``tanh(x @ Wx + prev_h @ Wh + b)``.
    """
    return np.tanh(np.dot(x, Wx) + np.dot(prev_h, Wh) + b)


def rnn_temporal(x, h0, Wx, Wh, b):
    """A vanilla RNN over a whole sequence.

    Parameters
    ----------
    x : array of shape (N, T, D)
        Input sequences.
    h0 : array of shape (N, H)
        Initial hidden state.
    Wx, Wh, b
        As in :func:`rnn_step`.

    Returns
    -------
    h : Array of shape (N, T, H)
        The hidden state after every step.
    """
    return _over_time(lambda x_t, h: rnn_step(x_t, h, Wx, Wh, b), x, h0)


def lstm_step(x, prev_h, prev_c, Wx, Wh, b):
    """One step of an LSTM.

    The pre-activation ``a = x @ Wx + prev_h @ Wh + b`` is split into four blocks of width H, in order the
    input gate i, forget gate f, output gate o (all sigmoid) and the candidate g (tanh).

    Parameters
    ----------
    x : array of shape (N, D)
        Input at this step.
    prev_h : array of shape (N, H)
        Previous hidden state.
    prev_c : array of shape (N, H)
        Previous cell state.
    Wx : array of shape (D, 4H)
    Wh : array of shape (H, 4H)
    b : array of shape (4H,)

    Returns
    -------
    next_h : Array of shape (N, H)
        ``o * tanh(next_c)``.
    next_c : Array of shape (N, H)
        ``f * prev_c + i * g``.
    """
    a = np.dot(x, Wx) + np.dot(prev_h, Wh) + b
    i, f, o, g = _lstm_gates(a)
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c


# The four gates as one recorded operation (as fused RNN kernels do): one tape entry whose rule reads only the
# gates and writes the pre-activation's gradient with one concatenation, instead of four slices, three sigmoids
# and a tanh, each with its own entry and gradient buffer. Sigmoid as in :func:`sigmoid`.
@primitive(reads=({0: ()}, True))
def _lstm_gates(a):
    n, hidden = a.shape[0], a.shape[1] // 4
    # one gate-major copy (4, N, H): each gate is then contiguous, not an (N, H) slice with a row stride of 4H;
    # NumPy's elementwise kernels take 1.5-2x as long on such slices, and the gates feed about 20 of them per
    # step, forward and backward (the jitted LSTM: 1.10x -> 1.04x hand-written NumPy, interleaved)
    gates = np.copy(np.transpose(np.reshape(a, (n, 4, hidden)), (1, 0, 2)), order="C")
    ifo = _sigmoid(gates[:3])  # a plain call here: the primitive's own arguments are not traced
    return ifo[0], ifo[1], ifo[2], np.tanh(gates[3])


def _lstm_gates_vjp(grads, gates, a):
    (di, df, do, dg), (i, f, o, g) = grads, gates
    return np.concatenate([_through_sigmoid(di, i), _through_sigmoid(df, f), _through_sigmoid(do, o),
                           dg * (1.0 - g * g)], axis=1)


_lstm_gates.defvjp(_lstm_gates_vjp)


def lstm_temporal(x, h0, Wx, Wh, b):
    """An LSTM over a whole sequence; the initial cell state is zero and the cell states are not returned.

    Parameters
    ----------
    x : array of shape (N, T, D)
        Input sequences.
    h0 : array of shape (N, H)
        Initial hidden state.
    Wx, Wh, b
        As in :func:`lstm_step`.

    Returns
    -------
    h : Array of shape (N, T, H)
        The hidden state after every step.
    """
    def step(x_t, state):
        return lstm_step(x_t, state[0], state[1], Wx, Wh, b)
    return _over_time(step, x, (h0, np.zeros(tuple(h0.shape), dtype=_float_dtype(h0))), hidden=lambda s: s[0])


def gru_step(x, prev_h, Wx, Wh, b, Wxh, Whh, bh):
    """One step of a GRU (as in Jozefowicz et al., 2015).

    ``[r, z] = sigmoid(x @ Wx + prev_h @ Wh + b)`` (reset and update gates, width H each),
    ``h~ = tanh(x @ Wxh + (r * prev_h) @ Whh + bh)`` and ``next_h = z * prev_h + (1 - z) * h~``.

    Parameters
    ----------
    x : array of shape (N, D)
        Input at this step.
    prev_h : array of shape (N, H)
        Previous hidden state.
    Wx : array of shape (D, 2H)
        Input-to-gate weights (r then z).
    Wh : array of shape (H, 2H)
        Hidden-to-gate weights.
    b : array of shape (2H,)
        Gate biases.
    Wxh : array of shape (D, H)
        Input-to-candidate weights.
    Whh : array of shape (H, H)
        Hidden-to-candidate weights.
    bh : array of shape (H,)
        Candidate biases.

    Returns
    -------
    next_h : Array of shape (N, H)
    """
    hidden = prev_h.shape[1]
    gates = sigmoid(np.dot(x, Wx) + np.dot(prev_h, Wh) + b)
    r = gates[:, 0:hidden]
    z = gates[:, hidden:2 * hidden]
    candidate = np.tanh(np.dot(x, Wxh) + np.dot(r * prev_h, Whh) + bh)
    return z * prev_h + (1.0 - z) * candidate


def gru_temporal(x, h0, Wx, Wh, b, Wxh, Whh, bh):
    """A GRU over a whole sequence.

    Parameters
    ----------
    x : array of shape (N, T, D)
        Input sequences.
    h0 : array of shape (N, H)
        Initial hidden state.
    Wx, Wh, b, Wxh, Whh, bh
        As in :func:`gru_step`.

    Returns
    -------
    h : Array of shape (N, T, H)
        The hidden state after every step.
    """
    return _over_time(lambda x_t, h: gru_step(x_t, h, Wx, Wh, b, Wxh, Whh, bh), x, h0)


def _over_time(step, x, state, hidden=lambda state: state):
    """Run ``state = step(x_t, state)`` along the time axis of ``x`` (N, T, D) and stack ``hidden(state)`` of
    every step once, at the end (joining inside the loop would cost time quadratic in T)."""
    outputs = []
    for t in range(x.shape[1]):
        state = step(x[:, t, :], state)
        outputs.append(hidden(state))
    return np.stack(outputs, axis=1)


def temporal_affine(x, w, b):
    """An affine layer applied at every step of a sequence.

    Parameters
    ----------
    x : array of shape (N, T, D)
    w : array of shape (D, M)
    b : array of shape (M,)

    Returns
    -------
    out : Array of shape (N, T, M)
    """
    n, t, d = x.shape
    m = w.shape[1]
    return np.reshape(np.dot(np.reshape(x, (n * t, d)), w), (n, t, m)) + b


def temporal_softmax_loss(x, y, mask):
    """Softmax cross-entropy at every step of a sequence, summed over the steps ``mask`` selects and averaged
    over the minibatch.

    Parameters
    ----------
    x : array of shape (N, T, V)
        Scores over a vocabulary of size V at every step.
    y : integer array of shape (N, T)
        Target indices, ``0 <= y[i, t] < V``.
    mask : array of shape (N, T)
        Boolean (or 0/1) weights: whether the step counts (padding steps do not).

    Returns
    -------
    loss : Array scalar
        ``-sum(mask[i, t] * log_softmax(x[i, t])[y[i, t]]) / N``.
    """
    n, t, v = x.shape
    logp = _log_softmax(np.reshape(x, (n * t, v)), axis=1)
    onehot = _labels_as_onehot(np.reshape(y, (n * t,)), n * t, v, _float_dtype(x), "temporal_softmax_loss")
    weights = np.reshape(mask, (n * t,)).astype(_float_dtype(x))
    return -np.sum(np.sum(logp * onehot, axis=1) * weights) / n


def embedding(x, W):
    """Look up rows of an embedding matrix.

    Parameters
    ----------
    x : integer array of any shape, e.g. (N, T)
        Indices into the rows of ``W``, ``0 <= x < V``.
    W : array of shape (V, D)
        One D-dimensional vector per index.

    Returns
    -------
    out : Array of shape ``x.shape + (D,)``
        ``W[x]``; the gradient with respect to ``W`` adds up over repeated indices.
    """
    if not hasattr(x, "dtype"):
        x = _onp.asarray(x)
    if _onp.dtype(x.dtype).kind not in 'iu':
        x = x.astype(_onp.int64)
    return np.take(W, x, axis=0)
