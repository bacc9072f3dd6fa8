"""A small convolutional network on handwritten digits, with ``layers.conv`` / ``layers.max_pool`` and the solver.

    python examples/cnn_digits.py           # about 20 s; test accuracy about 98-99%, above the two-layer net
    python examples/cnn_digits.py --quick
    python -m minpy.nn.launch -n 2 python examples/cnn_digits.py --kvstore dist_sync   # two workers

conv 3x3 (16) - ReLU - max-pool 2x2 - conv 3x3 (32) - ReLU - max-pool 2x2 - affine (64) - ReLU - affine (10).
On MXNet the convolutions and poolings run MXNet's own kernels; without MXNet, an im2col implementation in
``minpy.numpy``. The data is scikit-learn's bundled 8x8 digits, reshaped to (N, 1, 8, 8).
"""
import argparse
import logging
import sys
import time

import minpy.numpy as np
from minpy.nn import io, layers
from minpy.nn.model import ModelBase
from minpy.nn.solver import Solver


class ConvNet(ModelBase):
    def __init__(self, channels=(16, 32), hidden_size=64, num_classes=10, reg=1e-3):
        super().__init__()
        c1, c2 = channels
        self.reg = reg
        self.add_param("conv1_w", (c1, 1, 3, 3)).add_param("conv1_b", (c1,), init_rule="constant")
        self.add_param("conv2_w", (c2, c1, 3, 3)).add_param("conv2_b", (c2,), init_rule="constant")
        # 8x8 -> pool -> 4x4 -> pool -> 2x2
        self.add_param("fc1_w", (c2 * 2 * 2, hidden_size)).add_param("fc1_b", (hidden_size,), init_rule="constant")
        self.add_param("fc2_w", (hidden_size, num_classes)).add_param("fc2_b", (num_classes,), init_rule="constant")

    def forward(self, X, mode):
        p = self.params
        x = np.reshape(X, (X.shape[0], 1, 8, 8))
        x = layers.max_pool(layers.relu(layers.conv(x, p["conv1_w"], p["conv1_b"], pad=1)))
        x = layers.max_pool(layers.relu(layers.conv(x, p["conv2_w"], p["conv2_b"], pad=1)))
        x = layers.relu(layers.affine(x, p["fc1_w"], p["fc1_b"]))
        return layers.affine(x, p["fc2_w"], p["fc2_b"])

    def loss(self, predict, y):
        decay = sum(np.sum(self.params[k] ** 2) for k in ("conv1_w", "conv2_w", "fc1_w", "fc2_w"))
        return layers.softmax_loss(predict, y) + 0.5 * self.reg * decay


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--quick", action="store_true", help="a few epochs only (CI smoke run)")
    parser.add_argument("--kvstore", choices=("local", "dist_sync", "dist_async"),
                        help="train data-parallel through MXNet's kvstore (dist_*: run under python -m "
                             "minpy.nn.launch)")
    parser.add_argument("--jit", action="store_true", help="compile each training step with minpy.jit")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs = min(args.epochs, 4)
    return args


def main(argv=None):
    """Train and evaluate; returns ``{'test_acc', 'final_loss', 'seconds'}``."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    np.random.seed(args.seed)
    start = time.time()
    train, val, test = io.split_iterators(*io.load_digits(seed=args.seed), batch_size=args.batch_size,
                                          seed=args.seed)

    solver = Solver(ConvNet(), train, val, update_rule="adam", optim_config={"learning_rate": args.lr},
                    lr_decay=0.9, num_epochs=args.epochs, verbose=not args.quiet, kvstore=args.kvstore,
                    jit=args.jit)
    solver.init()
    solver.train()
    if solver.kvstore is not None and not solver.kvstore.is_root:
        return {"test_acc": None, "final_loss": solver.loss_history[-1], "seconds": time.time() - start}
    test_acc = solver.check_accuracy(test)
    seconds = time.time() - start
    workers = "" if solver.kvstore is None else f" ({solver.kvstore.num_workers} workers, {solver.kvstore.type})"
    print(f"CNN: test accuracy {test_acc:.4f} (best validation {solver.best_val_acc:.4f}); "
          f"final loss {solver.loss_history[-1]:.4f}; {seconds:.1f} s{workers}")
    return {"test_acc": test_acc, "final_loss": solver.loss_history[-1], "seconds": seconds}


if __name__ == "__main__":
    main(sys.argv[1:])
