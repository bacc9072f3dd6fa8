"""MinPy demo: plain NumPy code, run on MXNet, with a transparent NumPy fallback and the op statistics.

    hatch run test.mxnet:fallback-demo      (or: python examples/demo.py [--quick], with minpy-array installed)

It runs the seed's example (``logaddexp``, which MXNet lacks, between MXNet operators), then trains a softmax
classifier written as a student writes NumPy code (forward pass, hand-derived gradient, gradient descent) on
generated data, and prints its test accuracy (about 0.93 after 200 steps; ``--quick``: 40 steps, above 0.88)
and the operator statistics.
"""
import argparse
import logging
import sys

import minpy
import minpy.numpy as np
from minpy.backends import mxnet_backend

CLASSES, FEATURES = 5, 20


def softmax(scores):
    shifted = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def make_data(n, true_weights):
    """``n`` points in FEATURES dimensions, labelled by the class a hidden linear model scores highest."""
    data = np.random.randn(n, FEATURES)
    return data, np.argmax(np.dot(data, true_weights), axis=1)


def train(data, labels, steps, lr=1.0):
    """Softmax regression by gradient descent, gradient derived by hand: d(mean cross-entropy)/dW."""
    n = data.shape[0]
    weights = np.zeros((FEATURES, CLASSES))
    onehot = np.eye(CLASSES)[labels]
    for _ in range(steps):
        probs = softmax(np.dot(data, weights))
        weights -= lr * np.dot(data.T, probs - onehot) / n
    loss = -np.mean(np.log(softmax(np.dot(data, weights))[np.arange(n), labels]))
    return weights, float(loss)


def run(args):
    """The seed's example, then the classifier; returns ``(test accuracy, training loss)``."""
    # The seed's example, verbatim: zeros/ones on MXNet, logaddexp (which MXNet lacks) on NumPy,
    # and z goes on into the next MXNet operator with no copy written by the user.
    x = np.zeros((2, 3))
    y = np.ones((2, 3))
    z = np.logaddexp(x, y)
    w = np.exp(z) * 2 + y
    print("z = logaddexp(x, y) on", z.backend, "->", z.asnumpy().round(4).tolist())
    print("w = exp(z) * 2 + y on", w.backend, "->", w.asnumpy().round(4).tolist())

    # A softmax classifier as a student writes it in NumPy, trained on points a hidden linear model labelled.
    np.random.seed(args.seed)
    true_weights = np.random.randn(FEATURES, CLASSES)
    train_data, train_labels = make_data(1024, true_weights)
    test_data, test_labels = make_data(512, true_weights)
    weights, loss = train(train_data, train_labels, args.steps)
    test_acc = float(np.mean(np.argmax(np.dot(test_data, weights), axis=1) == test_labels))
    print(f"\nsoftmax classifier, {args.steps} gradient-descent steps: training loss {loss:.4f}, "
          f"test accuracy {test_acc:.4f}")
    return test_acc, loss


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="gradient-descent steps of the classifier")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="40 steps only (CI smoke run)")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps = min(args.steps, 40)
    return args


def main(argv=None):
    """Run the demo; returns ``{'test_acc', 'train_loss'}``."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    print(f"backends: numpy (always), mxnet ({'available' if mxnet_backend.available() else mxnet_backend.unavailable_reason()})")
    # The default policy, auto, runs each call where it is fastest on this machine; on a CPU that is NumPy for
    # small elementwise work. prefer_mxnet (MinPy 0.3's default) shows the MXNet route and the fallback.
    with minpy.dispatch.PreferMXNetPolicy() as policy:
        print(f"policy: {policy.name}\n")
        test_acc, loss = run(args)
    print("\nOperator statistics (calls per backend, fallbacks and why, copies between backends):\n")
    np.show_op_stat()
    return {"test_acc": test_acc, "train_loss": loss}


if __name__ == "__main__":
    main(sys.argv[1:])
