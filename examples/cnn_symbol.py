"""A small CNN whose convolution layers are MXNet symbols and whose classifier is plain minpy.numpy code.

Two ``minpy.symbol.Function`` layers (convolution, relu, 2x2 max pooling each) feed an affine layer and a
softmax cross-entropy loss written with ``minpy.numpy``; ``minpy.autograd.grad`` differentiates through both
kinds of code and plain SGD trains every weight. The data are generated: 12x12 noisy images holding one
bright bar, horizontal, vertical or diagonal (three classes).

    python examples/cnn_symbol.py [--epochs N] [--quick]       (needs MXNet)
"""
import argparse
import time

import mxnet as mx
import numpy

import minpy.numpy as np
from minpy.autograd import value_and_grad
from minpy.symbol import Function

SIZE = 12
CLASSES = ("horizontal", "vertical", "diagonal")


def make_data(n, seed=0, noise=0.4):
    """``n`` images (n, 1, SIZE, SIZE) with one bar each (length SIZE/2, at a random place), plus Gaussian
    noise."""
    rng = numpy.random.default_rng(seed)
    labels = rng.integers(0, len(CLASSES), size=n)
    images = rng.normal(0.0, noise, size=(n, 1, SIZE, SIZE))
    k = numpy.arange(SIZE // 2)
    for i, label in enumerate(labels):
        at, start = rng.integers(0, SIZE), rng.integers(0, SIZE // 2 + 1)
        if label == 0:
            images[i, 0, at, start + k] += 1.0
        elif label == 1:
            images[i, 0, start + k, at] += 1.0
        else:
            images[i, 0, start + k, rng.integers(0, SIZE // 2 + 1) + k] += 1.0
    return images.astype(numpy.float32), labels


def conv_layer(name, in_shape, filters):
    """convolution (3x3, same padding) -> relu -> 2x2 max pooling, as one differentiable Function."""
    x = mx.sym.Variable('x')
    h = mx.sym.Convolution(x, name=name, kernel=(3, 3), pad=(1, 1), num_filter=filters)
    h = mx.sym.Pooling(mx.sym.Activation(h, act_type='relu'), kernel=(2, 2), stride=(2, 2), pool_type='max')
    return Function(h, input_shapes={'x': in_shape}, name=name)


def init_params(layers, rng, hidden):
    """He-scaled weights for every argument of the symbol layers (except their data), and the affine layer."""
    params = {}
    for layer in layers:
        for arg, shape in layer.arg_shapes.items():
            if arg == 'x':
                continue
            fan_in = int(numpy.prod(shape[1:])) if len(shape) > 1 else 1
            scale = numpy.sqrt(2.0 / fan_in) if arg.endswith('weight') else 0.0
            params[arg] = np.array((rng.standard_normal(shape) * scale).astype(numpy.float32))
    params['fc_w'] = np.array((rng.standard_normal((hidden, len(CLASSES))) * numpy.sqrt(1.0 / hidden))
                              .astype(numpy.float32))
    params['fc_b'] = np.zeros(len(CLASSES), dtype=numpy.float32)
    return params


def forward(layers, params, images):
    h = images
    for layer in layers:
        h = layer(x=h, **{a: params[a] for a in layer.arg_names if a != 'x'})
    h = np.reshape(h, (h.shape[0], -1))
    return np.dot(h, params['fc_w']) + params['fc_b']


def softmax_loss(scores, onehot):
    shifted = scores - np.max(scores, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.mean(np.sum(log_probs * onehot, axis=1))


def main(epochs=15, quick=False, batch=32, lr=0.2, seed=0, verbose=True):
    """Train; returns the mean training loss of each epoch."""
    n = 256 if quick else 1024
    images, labels = make_data(n, seed=seed)
    test_images, test_labels = make_data(256, seed=seed + 1)
    onehot = numpy.eye(len(CLASSES), dtype=numpy.float32)[labels]
    layers = [conv_layer('conv1', (batch, 1, SIZE, SIZE), 8), conv_layer('conv2', (batch, 8, SIZE // 2, SIZE // 2), 16)]
    hidden = 16 * (SIZE // 4) ** 2
    rng = numpy.random.default_rng(seed)
    params = init_params(layers, rng, hidden)

    def loss_fn(params, x, y):
        return softmax_loss(forward(layers, params, x), y)

    step = value_and_grad(loss_fn)
    losses = []
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = rng.permutation(n)
        total = 0.0
        for i in range(0, n, batch):
            idx = order[i:i + batch]
            loss, grads = step(params, np.array(images[idx]), np.array(onehot[idx]))
            params = {k: params[k] - lr * grads[k] for k in params}
            total += float(loss) * len(idx)
        losses.append(total / n)
        if verbose:
            scores = forward(layers, params, np.array(test_images))
            accuracy = float(numpy.mean(numpy.argmax(scores.asnumpy(), axis=1) == test_labels))
            print(f"epoch {epoch}: loss {losses[-1]:.4f}, test accuracy {accuracy:.3f} "
                  f"({time.perf_counter() - start:.1f} s)")
    return losses


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="a quarter of the training data")
    args = parser.parse_args()
    main(epochs=args.epochs, quick=args.quick)
