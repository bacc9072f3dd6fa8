"""MinPy demo: plain NumPy code, run on MXNet, with a transparent NumPy fallback and the op statistics.

    hatch run test.mxnet:demo      (or: python examples/demo.py, with minpy-array installed)
"""
import logging

import minpy
import minpy.numpy as np
from minpy.backends import mxnet_backend

logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def softmax(scores):
    shifted = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def main():
    print(f"backends: numpy (always), mxnet ({'available' if mxnet_backend.available() else mxnet_backend.unavailable_reason()})")
    # The default policy, auto, runs each call where it is fastest on this machine; on a CPU that is NumPy for
    # small elementwise work. prefer_mxnet (MinPy 0.3's default) shows the MXNet route and the fallback.
    minpy.set_global_policy("prefer_mxnet")
    print(f"policy: {minpy.get_global_policy().name}\n")

    # The seed's example, verbatim: zeros/ones on MXNet, logaddexp (which MXNet lacks) on NumPy,
    # and z goes on into the next MXNet operator with no copy written by the user.
    x = np.zeros((2, 3))
    y = np.ones((2, 3))
    z = np.logaddexp(x, y)
    w = np.exp(z) * 2 + y
    print("z = logaddexp(x, y) on", z.backend, "->", z.asnumpy().round(4).tolist())
    print("w = exp(z) * 2 + y on", w.backend, "->", w.asnumpy().round(4).tolist())

    # A small classifier forward pass: NumPy code as a student writes it.
    np.random.seed(0)
    data = np.random.randn(64, 20)
    weights = np.random.randn(20, 5) * 0.1
    labels = np.random.randint(0, 5, size=64)
    probs = softmax(np.dot(data, weights))
    loss = -np.mean(np.log(probs[np.arange(64), labels]))
    accuracy = np.mean(np.argmax(probs, axis=1) == labels)
    print(f"\nsoftmax classifier: loss {float(loss):.4f}, accuracy {float(accuracy):.3f}")

    print("\nOperator statistics (calls per backend, fallbacks and why, copies between backends):\n")
    np.show_op_stat()


if __name__ == "__main__":
    main()
