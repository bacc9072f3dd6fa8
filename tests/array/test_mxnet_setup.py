"""MXNet as a new user meets it: quiet by default, the user's logging left alone, and an MXNet that is installed
but cannot be imported reported once, with the cause and the fix, wherever it would have been used.

Each test runs a fresh interpreter: what is checked happens when MXNet is first loaded.
"""
import os
import subprocess
import sys
import textwrap

import numpy
import pytest

# An installed MXNet that fails to import as MXNet 1.9.1 does under NumPy >= 1.24.
FAKE_BROKEN_MXNET = "raise AttributeError(\"module 'numpy' has no attribute 'bool'\")\n"


def run(code, tmp_path, env=None, broken_mxnet=False):
    environ = dict(os.environ, MINPY_AUTO_CACHE="off")
    environ.pop("MXNET_SUBGRAPH_VERBOSE", None)
    if broken_mxnet:
        (tmp_path / "mxnet").mkdir()
        (tmp_path / "mxnet" / "__init__.py").write_text(FAKE_BROKEN_MXNET)
        environ["PYTHONPATH"] = os.pathsep.join([str(tmp_path), environ.get("PYTHONPATH", "")])
    environ.update(env or {})
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=environ, timeout=180, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


BROKEN = "MXNet is installed but cannot be imported (AttributeError: module 'numpy' has no attribute 'bool')"


def test_an_unimportable_mxnet_is_reported_once_with_cause_and_fix(tmp_path):
    proc = run("""
        import minpy, minpy.numpy as np
        from minpy.dispatch.policy import PolicyError
        with minpy.dispatch.OnlyNumPyPolicy():
            np.exp(np.ones(3))
        print("only_numpy done", flush=True)
        for name in ("prefer_mxnet", "auto", "auto_blacklist", "prefer_mxnet"):
            minpy.set_global_policy(name)
            x = np.ones((2, 3))
            y = np.tanh(x) + x
        minpy.set_global_policy("only_mxnet")
        try:
            np.exp(x)
        except PolicyError as exc:
            print("only_mxnet:", exc)
        np.show_op_stat()
        """, tmp_path, broken_mxnet=True)
    err = proc.stderr
    assert err.count("MXNet is installed but cannot be imported") == 1, err
    said = next(line for line in err.splitlines() if "cannot be imported" in line)
    assert BROKEN in said and "the prefer_mxnet policy runs every operator on NumPy" in said, said
    if numpy.lib.NumpyVersion(numpy.__version__) >= "1.24.0":
        assert f"needs NumPy < 1.24 and this is NumPy {numpy.__version__}: pip install 'numpy<1.24'" in said
        assert "./packages/minpy[mxnet]" in said
    else:
        assert "python -c 'import mxnet'" in said
    out = proc.stdout
    assert out.index("only_numpy done") < len(out)   # nothing said while only NumPy was asked for
    assert "only_mxnet:" in out and BROKEN in out.split("only_mxnet:")[1].splitlines()[0]
    table = out.split("only_mxnet:")[1]
    assert f"mxnet: {BROKEN}" in table, table   # the statistics table starts with it


BIND_TWICE = """
        import mxnet as mx
        import minpy.numpy as np
        from minpy.symbol import Function
        x = mx.sym.Variable('x')
        f = Function(mx.sym.Convolution(x, kernel=(3, 3), num_filter=2, no_bias=True, name='c'),
                     input_shapes={'x': (1, 1, 5, 5)})
        f(x=np.ones((1, 1, 5, 5)), c_weight=np.ones((2, 1, 3, 3))).asnumpy()
        f(x=np.ones((2, 1, 5, 5)), c_weight=np.ones((2, 1, 3, 3))).asnumpy()   # a second bind
        """


@pytest.mark.mxnet
def test_quiet_by_default_and_the_users_logging_stays_theirs(tmp_path):
    """No "Subgraph backend MKLDNN is activated." per bind, and after the first MXNet operator a basicConfig()
    of the user's still configures logging (MXNet's set_np_shape logs through the root logger, which configured
    it behind the user's back)."""
    proc = run("""
        import logging
        import minpy
        with minpy.dispatch.PreferMXNetPolicy():
            y = minpy.numpy.ones((2, 3)) + 1
        assert y.backend == "mxnet", y.backend
        assert logging.getLogger().handlers == [], logging.getLogger().handlers
        """ + BIND_TWICE + """
        logging.basicConfig(level=logging.INFO, format="USER %(name)s %(message)s")
        logging.getLogger("mine").info("configured")
        """, tmp_path)
    assert "USER mine configured" in proc.stderr, proc.stderr
    assert "Subgraph backend" not in proc.stderr, proc.stderr


@pytest.mark.mxnet
def test_the_users_own_settings_are_kept(tmp_path):
    """MXNET_SUBGRAPH_VERBOSE=1 set by the user brings MXNet's messages back; a logging configuration made
    before minpy loads MXNet is neither replaced nor added to."""
    proc = run("""
        import logging
        logging.basicConfig(level=logging.WARNING, format="EARLY %(message)s")
        handlers = list(logging.getLogger().handlers)
        """ + BIND_TWICE + """
        assert logging.getLogger().handlers == handlers
        logging.getLogger("mine").warning("still mine")
        """, tmp_path, env={"MXNET_SUBGRAPH_VERBOSE": "1"})
    assert "EARLY still mine" in proc.stderr, proc.stderr
    assert "Subgraph backend MKLDNN is activated" in proc.stderr, proc.stderr
