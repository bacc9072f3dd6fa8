"""Two-layer neural network on handwritten digits: MinPy 0.3's model + solver workflow, end to end.

    python examples/two_layer_digits.py            # about 10 s; prints the test accuracy (about 97%)
    python examples/two_layer_digits.py --quick    # a 2-second smoke run
    python examples/two_layer_digits.py --plot curves.png
    python examples/two_layer_digits.py --cifar10 ~/data/cifar-10-batches-py --hidden 512   # CIFAR-10 instead
    python -m minpy.nn.launch -n 2 python examples/two_layer_digits.py --kvstore dist_sync   # two workers

The data is scikit-learn's bundled 8x8 digits (1797 images, nothing to download). The network is written
as NumPy code (``minpy.numpy`` and ``minpy.nn.layers``) in a ``ModelBase`` subclass; the ``Solver`` trains it
with gradients from ``minpy.autograd``. At the end the operator statistics show which backend ran what.
"""
import argparse
import logging
import sys
import time

import minpy.numpy as np
from minpy.nn import io, layers
from minpy.nn.model import ModelBase
from minpy.nn.solver import Solver


class TwoLayerNet(ModelBase):
    """affine - ReLU - affine, with softmax loss and L2 weight decay."""

    def __init__(self, input_size=64, hidden_size=128, num_classes=10, reg=1e-3):
        super().__init__()
        self.reg = reg
        self.add_param("w1", (input_size, hidden_size)).add_param("b1", (hidden_size,))
        self.add_param("w2", (hidden_size, num_classes)).add_param("b2", (num_classes,))

    def forward(self, X, mode):
        hidden = layers.relu(layers.affine(X, self.params["w1"], self.params["b1"]))
        return layers.affine(hidden, self.params["w2"], self.params["b2"])

    def loss(self, predict, y):
        decay = np.sum(self.params["w1"] ** 2) + np.sum(self.params["w2"] ** 2)
        return layers.softmax_loss(predict, y) + 0.5 * self.reg * decay


def digits_iterators(batch_size, seed):
    """Train / validation / test iterators over the digits (test 20%, validation 10% of the rest)."""
    return io.split_iterators(*io.load_digits(test_fraction=0.2, seed=seed), batch_size=batch_size, seed=seed)


def cifar10_iterators(directory, batch_size, seed):
    """The same split from CIFAR-10's official python batches (for users who have the files)."""
    x_train, y_train, x_test, y_test = io.load_cifar10(directory)
    mean = x_train.reshape(len(x_train), -1).mean(axis=0)
    x_train = x_train.reshape(len(x_train), -1) - mean
    x_test = x_test.reshape(len(x_test), -1) - mean
    train, val, test = io.split_iterators(x_train, y_train, x_test, y_test, batch_size=batch_size,
                                          val_fraction=0.02, seed=seed)
    return train, val, test, x_train.shape[1]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", metavar="PNG", help="save the loss and accuracy curves here (needs matplotlib)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    parser.add_argument("--no-stats", action="store_true", help="do not print the operator statistics")
    parser.add_argument("--quick", action="store_true", help="a few epochs only (CI smoke run)")
    parser.add_argument("--jit", action="store_true", help="compile each training step with minpy.jit")
    parser.add_argument("--cifar10", metavar="DIR", help="train on CIFAR-10's python batches in DIR instead")
    parser.add_argument("--kvstore", choices=("local", "dist_sync", "dist_async"),
                        help="train data-parallel through MXNet's kvstore (dist_*: run under python -m "
                             "minpy.nn.launch); each worker trains on its part of the data")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs = min(args.epochs, 3)
    return args


def main(argv=None):
    """Train and evaluate; returns ``{'test_acc', 'val_acc', 'final_loss', 'seconds'}``."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    np.random.seed(args.seed)
    np.reset_op_stat()
    start = time.time()

    if args.cifar10:
        train, val, test, input_size = cifar10_iterators(args.cifar10, args.batch_size, args.seed)
    else:
        train, val, test = digits_iterators(args.batch_size, args.seed)
        input_size = 64
    model = TwoLayerNet(input_size=input_size, hidden_size=args.hidden)
    solver = Solver(model, train, val,
                    update_rule="sgd_momentum",
                    optim_config={"learning_rate": args.lr, "momentum": 0.9},
                    lr_decay=0.95,
                    num_epochs=args.epochs,
                    init_rule="xavier",
                    verbose=not args.quiet, jit=args.jit,
                    plot_path=args.plot,
                    kvstore=args.kvstore)
    solver.init()
    solver.train()   # afterwards the model holds the parameters of the best validation epoch
    if solver.kvstore is not None and not solver.kvstore.is_root:
        # every worker ends with the same parameters; rank 0 reports
        return {"test_acc": None, "val_acc": solver.best_val_acc, "final_loss": solver.loss_history[-1],
                "seconds": time.time() - start}
    test_acc = solver.check_accuracy(test)
    seconds = time.time() - start

    workers = "" if solver.kvstore is None else f" ({solver.kvstore.num_workers} workers, {solver.kvstore.type})"
    print(f"best validation accuracy {solver.best_val_acc:.4f} (epoch {solver.best_epoch}); "
          f"test accuracy {test_acc:.4f}; {seconds:.1f} s{workers}")
    if args.plot:
        print(f"curves saved to {args.plot}")
    if not args.no_stats:
        print("\nOperator statistics (calls per backend, fallbacks and why, copies between backends):\n")
        np.show_op_stat()
    return {"test_acc": test_acc, "val_acc": solver.best_val_acc, "final_loss": solver.loss_history[-1],
            "seconds": seconds}


if __name__ == "__main__":
    main(sys.argv[1:])
