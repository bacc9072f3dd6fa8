"""The examples in examples/ run (in quick mode) and print the numbers the README's example table states.

Each example's ``main(argv)`` returns its metrics and prints them. None of them needs MXNet except
``cnn_symbol.py`` (they run on NumPy where MXNet is missing); the digits examples need scikit-learn, which ships
the data. The README table gives each example's ``--quick`` result (seeded, so the same in every run); here
each runs with ``--quick`` and what it prints must match: accuracies to within 0.01 (one digit in a hundred:
backends round float32 differently, and a policy may move an operator between them), MSEs to within a factor
of 1.5.
"""
import importlib.util
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from minpy.jit import JitWarning

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
ROW = re.compile(r"^\| `(\w+)\.py` \| (.*?) \| (test accuracy|test MSE) ([0-9.]+)(?: \([^)]*\))? \| .* \|$")
PRINTED = {
    "test accuracy": re.compile(r"test accuracy ([0-9.]+)"),
    "test MSE": re.compile(r"test MSE [0-9.]+ before training, ([0-9.]+) after"),
}


def load(name):
    spec = importlib.util.spec_from_file_location(f"minpy_example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def readme_table():
    """``{example: (what, metric, stated value)}`` from the README's example table."""
    rows = {}
    for line in (ROOT / "README.md").read_text().splitlines():
        match = ROW.match(line)
        if match:
            rows[match[1]] = (match[2], match[3], float(match[4]))
    return rows


TABLE = readme_table()


def test_the_table_lists_every_example():
    assert sorted(TABLE) == sorted(p.stem for p in EXAMPLES.glob("*.py")), TABLE


@pytest.mark.parametrize("name", sorted(TABLE))
def test_quick_run_prints_the_stated_number(name, capsys):
    what, metric, stated = TABLE[name]
    if "needs MXNet" in what and importlib.util.find_spec("mxnet") is None:
        pytest.skip("MXNet is not installed in this environment (the numpy2 env runs without it)")
    if "digits" in what:
        pytest.importorskip("sklearn")
    load(name).main(["--quick"])
    out = capsys.readouterr().out
    printed = PRINTED[metric].findall(out)
    assert printed, out[-2000:]
    value = float(printed[-1])
    if metric == "test accuracy":
        assert abs(value - stated) <= 0.01, (value, stated)
    else:
        assert stated / 1.5 <= value <= stated * 1.5, (value, stated)


def test_two_layer_digits_shows_the_op_statistics(capsys):
    pytest.importorskip("sklearn")
    result = load("two_layer_digits").main(["--quick", "--quiet"])
    out = capsys.readouterr().out
    assert result["test_acc"] > 0.9 and "test accuracy" in out
    assert "operator" in out and "dot" in out   # the op statistics table follows


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
        warnings.simplefilter("error", JitWarning)  # every step compiles (MXNet's convolution too)
        result = load(name).main(["--quick", "--quiet", "--jit", *argv])
    assert check(result)
