"""The examples in examples/ run (in quick mode) and reach their metric.

Each example's ``main(argv)`` returns its metrics. None of them needs MXNet (they run on NumPy where MXNet
is missing); the digits examples need scikit-learn, which ships the data.
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import warnings

import pytest

from minpy.jit import JitWarning

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(f"minpy_example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_two_layer_digits_quick(capsys):
    pytest.importorskip("sklearn")
    result = load("two_layer_digits").main(["--quick", "--quiet"])
    assert result["test_acc"] > 0.8
    assert result["seconds"] < 60
    out = capsys.readouterr().out
    assert "test accuracy" in out
    assert "operator" in out and "dot" in out   # the op statistics table follows


def test_logistic_regression_quick():
    pytest.importorskip("sklearn")
    result = load("logistic_regression").main(["--quick", "--quiet"])
    assert result["test_acc"] > 0.8
    assert result["seconds"] < 60


def test_cnn_digits_quick():
    pytest.importorskip("sklearn")
    result = load("cnn_digits").main(["--quick", "--quiet", "--epochs", "1"])
    assert result["test_acc"] > 0.6
    assert result["seconds"] < 60


def test_rnn_sequence_loss_falls():
    result = load("rnn_sequence").main(["--quick", "--quiet"])
    assert result["test_mse"] < 0.5 * result["initial_mse"]
    assert result["seconds"] < 60


def test_main_demo_runs_as_a_command():
    pytest.importorskip("sklearn")
    proc = subprocess.run([sys.executable, str(EXAMPLES / "two_layer_digits.py"), "--quick", "--quiet"],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy" in proc.stdout


def test_two_layer_trains_on_cifar10_files(tmp_path):
    """The CIFAR-10 path of the main example, on a small directory in the official python-batch format."""
    spec = importlib.util.spec_from_file_location("minpy_test_io", Path(__file__).with_name("test_io.py"))
    test_io = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(test_io)
    test_io.write_cifar(tmp_path, rows=20)
    result = load("two_layer_digits").main(["--cifar10", str(tmp_path), "--quick", "--quiet", "--no-stats",
                                            "--batch-size", "8", "--hidden", "16"])
    assert 0.0 <= result["test_acc"] <= 1.0
    assert result["final_loss"] == result["final_loss"]  # finite, not NaN


@pytest.mark.parametrize("name, argv, check", [
    ("two_layer_digits", ["--no-stats"], lambda r: r["test_acc"] > 0.8),
    ("cnn_digits", ["--epochs", "1"], lambda r: r["test_acc"] > 0.6),
    ("rnn_sequence", [], lambda r: r["test_mse"] < 0.5 * r["initial_mse"]),
])
def test_examples_with_jit(name, argv, check):
    if name != "rnn_sequence":
        pytest.importorskip("sklearn")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", JitWarning)  # MXNet's convolution (a symbol Function) runs eagerly
        result = load(name).main(["--quick", "--quiet", "--jit", *argv])
    assert check(result)
