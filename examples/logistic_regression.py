"""Multinomial (softmax) logistic regression on handwritten digits, trained by the MinPy solver.

    python examples/logistic_regression.py           # a few seconds; test accuracy about 97%
    python examples/logistic_regression.py --quick

One affine layer and the softmax loss: the simplest ``ModelBase``. The digits are scikit-learn's bundled
8x8 images (nothing to download).
"""
import argparse
import logging
import sys
import time

import minpy.numpy as np
from minpy.nn import io, layers
from minpy.nn.model import ModelBase
from minpy.nn.solver import Solver


class SoftmaxRegression(ModelBase):
    """scores = X @ W + b; loss = mean cross-entropy of softmax(scores) + L2 penalty on W."""

    def __init__(self, input_size=64, num_classes=10, reg=1e-4):
        super().__init__()
        self.reg = reg
        self.add_param("W", (input_size, num_classes), init_rule="constant", init_config={"value": 0.0})
        self.add_param("b", (num_classes,), init_rule="constant", init_config={"value": 0.0})

    def forward(self, X, mode):
        return layers.affine(X, self.params["W"], self.params["b"])

    def loss(self, predict, y):
        return layers.softmax_loss(predict, y) + 0.5 * self.reg * np.sum(self.params["W"] ** 2)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--quick", action="store_true", help="a few epochs only (CI smoke run)")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs = min(args.epochs, 3)
    return args


def main(argv=None):
    """Train and evaluate; returns ``{'test_acc', 'final_loss', 'seconds'}``."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    np.random.seed(args.seed)
    start = time.time()
    train, val, test = io.split_iterators(*io.load_digits(seed=args.seed), batch_size=args.batch_size,
                                          seed=args.seed)

    solver = Solver(SoftmaxRegression(), train, val, update_rule="sgd", optim_config={"learning_rate": args.lr},
                    lr_decay=0.95, num_epochs=args.epochs, verbose=not args.quiet)
    solver.init()
    solver.train()
    test_acc = solver.check_accuracy(test)
    seconds = time.time() - start
    print(f"softmax regression: test accuracy {test_acc:.4f} (best validation {solver.best_val_acc:.4f}); "
          f"final loss {solver.loss_history[-1]:.4f}; {seconds:.1f} s")
    return {"test_acc": test_acc, "final_loss": solver.loss_history[-1], "seconds": seconds}


if __name__ == "__main__":
    main(sys.argv[1:])
