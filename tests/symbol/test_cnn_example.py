"""examples/cnn_symbol.py trains: symbol conv layers plus imperative classifier, under grad, loss falls."""
import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.mxnet

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cnn_symbol.py"


def test_cnn_example_loss_falls():
    spec = importlib.util.spec_from_file_location("cnn_symbol_example", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    losses = example.main(epochs=12, quick=True, seed=0, verbose=False)
    assert len(losses) == 12
    assert losses[-1] < losses[0] * 0.7, losses
