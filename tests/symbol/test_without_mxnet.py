"""minpy.symbol and minpy.core import without MXNet; a Function then says what is missing."""
import importlib.util
import subprocess
import sys

import pytest

HAVE_MXNET = importlib.util.find_spec("mxnet") is not None


def test_import_does_not_load_mxnet():
    code = ("import sys, minpy.symbol, minpy.core\n"
            "assert issubclass(minpy.core.Function, minpy.symbol.Function)\n"
            "assert 'mxnet' not in sys.modules, 'importing minpy.symbol loaded mxnet'\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.skipif(HAVE_MXNET, reason="checks the message given where MXNet is not installed")
def test_function_without_mxnet_names_what_is_missing():
    from minpy.symbol import Function

    with pytest.raises(RuntimeError, match="needs MXNet.*mxnet"):
        Function(None, {'x': (2, 3)})
