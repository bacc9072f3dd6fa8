"""An LSTM learns the adding problem: the sum of the two marked numbers in a random sequence.

    python examples/rnn_sequence.py           # under a minute; the test MSE ends far below 0.17
    python examples/rnn_sequence.py --quick   # a few seconds; the test MSE ends below 0.01

Each sequence has T steps of two features: a random number in [0, 1) and a marker, 1 at exactly two steps
and 0 elsewhere. The target is the sum of the two marked numbers. Predicting the mean (1.0) scores an MSE of
1/6, so a falling test loss well under that shows the network remembers the marked values across the
sequence. The model is an LSTM (``layers.lstm_temporal``) with an affine read-out of its last hidden state,
trained by the solver as a regression task (``task_type='regression'``: the "accuracy" histories hold the
mean loss).
"""
import argparse
import logging
import sys
import time

import numpy as onp

import minpy.numpy as np
from minpy.nn import io, layers
from minpy.nn.model import ModelBase
from minpy.nn.solver import Solver


def adding_problem(num, steps, rng):
    """``(x, y)``: x of shape (num, steps, 2), y of shape (num, 1)."""
    values = rng.uniform(0.0, 1.0, size=(num, steps))
    markers = onp.zeros((num, steps))
    for row in markers:
        first, second = rng.choice(steps, size=2, replace=False)
        row[first] = row[second] = 1.0
    x = onp.stack([values, markers], axis=2)
    y = onp.sum(values * markers, axis=1, keepdims=True)
    return x, y


class LSTMRegressor(ModelBase):
    def __init__(self, input_size=2, hidden_size=32):
        super().__init__()
        self.hidden_size = hidden_size
        self.add_param("Wx", (input_size, 4 * hidden_size))
        self.add_param("Wh", (hidden_size, 4 * hidden_size))
        # forget-gate bias 1: the cell keeps its memory by default (gate order i, f, o, g)
        bias = onp.zeros(4 * hidden_size)
        bias[hidden_size:2 * hidden_size] = 1.0
        self.add_param("b", (4 * hidden_size,), init_rule="custom",
                       init_config={"function": lambda shape: np.array(bias.copy())})
        self.add_param("W_out", (hidden_size, 1))
        self.add_param("b_out", (1,), init_rule="constant")

    def forward(self, X, mode):
        p = self.params
        h0 = np.zeros((X.shape[0], self.hidden_size))
        hidden = layers.lstm_temporal(X, h0, p["Wx"], p["Wh"], p["b"])
        last = hidden[:, -1, :]
        return layers.affine(last, p["W_out"], p["b_out"])

    def loss(self, predict, y):
        return np.mean((predict - y) ** 2)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=10, help="sequence length")
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--lr", type=float, default=2e-2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--quick", action="store_true", help="a short run (CI smoke run)")
    parser.add_argument("--jit", action="store_true", help="compile each training step with minpy.jit")
    args = parser.parse_args(argv)
    if args.quick:
        # 200 steps of 25 sequences: past the plateau where the LSTM only predicts the mean (the adding problem
        # is learnt all at once after it), in a few seconds
        args.epochs = min(args.epochs, 5)
        args.train_size = min(args.train_size, 1000)
        args.batch_size = min(args.batch_size, 25)
    return args


def main(argv=None):
    """Train and evaluate; returns ``{'baseline_mse', 'initial_mse', 'test_mse', 'seconds'}``."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    np.random.seed(args.seed)
    start = time.time()
    # the test set has its own generator: the same 500 sequences whatever the training set's size
    x_train, y_train = adding_problem(args.train_size, args.steps, onp.random.RandomState(args.seed))
    x_test, y_test = adding_problem(500, args.steps, onp.random.RandomState(args.seed + 1))
    train = io.NDArrayIter(x_train, y_train, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    test = io.NDArrayIter(x_test, y_test, batch_size=100)
    baseline = float(onp.mean((y_test - 1.0) ** 2))

    solver = Solver(LSTMRegressor(hidden_size=args.hidden), train, test, update_rule="adam",
                    optim_config={"learning_rate": args.lr}, lr_decay=0.95, num_epochs=args.epochs,
                    task_type="regression", train_acc_num_samples=500, verbose=not args.quiet, jit=args.jit)
    solver.init()
    initial = solver.check_accuracy(test)
    solver.train()
    test_mse = solver.check_accuracy(test)
    seconds = time.time() - start
    print(f"adding problem (T={args.steps}): test MSE {initial:.4f} before training, {test_mse:.4f} after "
          f"(predicting the mean: {baseline:.4f}); {seconds:.1f} s")
    return {"baseline_mse": baseline, "initial_mse": initial, "test_mse": test_mse, "seconds": seconds}


if __name__ == "__main__":
    main(sys.argv[1:])
