"""What a user sees when something goes wrong: the traceback ends at their own call (minpy's frames left out,
one re-raise line of minpy left), arrays are described the same way whatever backend held them, and a missing
minpy subpackage names the distribution to install."""
import os
import subprocess
import sys
import traceback
from pathlib import Path

import numpy
import pytest

import minpy
import minpy.numpy as np
from minpy.array import Array
from minpy.dispatch.policy import resolve_policy

ROOT = Path(__file__).resolve().parents[2]
MINPY_FOLDERS = tuple(os.path.join(os.path.abspath(p), "") for p in minpy.__path__)


def frames(exc):
    """(file, function) of each traceback entry of ``exc``."""
    return [(f.filename, f.name) for f in traceback.extract_tb(exc.__traceback__)]


def minpy_frames(exc):
    return [f for f in frames(exc) if f[0].startswith(MINPY_FOLDERS)]


def user_line_then_minpy(exc, test_name):
    """The first entry is this test (the user's call); at most one minpy entry (the re-raise) follows."""
    entries = frames(exc)
    assert entries[0] == (__file__, test_name), entries
    assert len(minpy_frames(exc)) <= 1, minpy_frames(exc)
    return entries


CALLS = {
    "dot shape mismatch": lambda a: np.dot(a, np.ones((4, 5))),
    "broadcast": lambda a: a + np.ones((4,)),
    "index out of range": lambda a: a[5],
    "setitem shape": lambda a: a.__setitem__(0, np.ones(7)),
    "reshape": lambda a: a.reshape(4, 4),
    "method axis": lambda a: a.sum(axis=3),
    "astype": lambda a: a.astype("not a dtype"),
    "keyword": lambda a: np.exp(a, nonsense=1),
}


@pytest.mark.parametrize("case", sorted(CALLS))
def test_traceback_ends_at_the_users_call(case, policy):
    """Below the user's line (the lambda) the traceback holds one line of minpy (the re-raise) and, after it,
    only what NumPy itself shows for the same call (its own Python functions)."""
    a = np.ones((2, 3))
    with pytest.raises(Exception) as info:
        CALLS[case](a)
    entries = frames(info.value)
    names = [name for _, name in entries]
    assert "<lambda>" in names, entries
    below = entries[names.index("<lambda>") + 1:]
    assert len(minpy_frames(info.value)) == 1 and below[0][0].startswith(MINPY_FOLDERS), entries
    numpy_folder = os.path.dirname(numpy.__file__)
    assert all(f.startswith(numpy_folder) or f.startswith("<") for f, _ in below[1:]), below
    assert "minpy.numpy." in str(info.value), str(info.value)   # the message still names the operator


def test_a_shape_mismatch_in_dot_is_a_few_lines():
    """The issue's example: the message follows the user's line and one minpy line (21 lines of dispatcher
    internals before)."""
    a = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"minpy\.numpy\.dot\(array\(shape=\(2, 3\).*not aligned") as info:
        np.dot(a, np.ones((4, 5)))
    user_line_then_minpy(info.value, "test_a_shape_mismatch_in_dot_is_a_few_lines")
    shown = "".join(traceback.format_exception(info.value))
    assert "_dispatch" not in shown and "_invoke" not in shown and "_run_numpy" not in shown, shown
    assert "MINPY_TRACEBACK=full" in shown   # the one minpy line says how to see the rest


def test_user_code_that_minpy_calls_back_keeps_its_frames():
    """A frame of the user's own code inside minpy's machinery (a function differentiated by grad, which then
    fails inside a minpy operator) is kept: only minpy's own files are left out."""
    grad = pytest.importorskip("minpy.autograd").grad

    def loss(w):
        return np.sum(np.dot(w, np.ones((4, 5))))

    with pytest.raises(ValueError) as info:
        grad(loss)(np.ones((2, 3)))
    names = [name for _, name in frames(info.value)]
    assert "loss" in names, names


def test_full_tracebacks_on_request(tmp_path):
    code = ("import minpy, minpy.numpy as np\n"
            "minpy.set_global_policy('only_numpy')\n"   # no MXNet to load: the traceback is the point here
            "np.dot(np.ones((2, 3)), np.ones((4, 5)))\n")
    env = dict(os.environ, MINPY_TRACEBACK="full", MINPY_AUTO_CACHE="off")
    full = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    env["MINPY_TRACEBACK"] = ""
    short = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert "ValueError" in full.stderr and "ValueError" in short.stderr
    assert "_reraise" in full.stderr and "_reraise" not in short.stderr
    assert short.stderr.count("File ") < full.stderr.count("File ")


def test_only_the_traceback_changes():
    """The exception keeps its type and message, and its context stays hidden as before."""
    with pytest.raises(ValueError) as info:
        np.dot(np.ones((2, 3)), np.ones((2, 3)))
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert str(info.value).startswith("minpy.numpy.dot(array(shape=(2, 3), dtype=float64), ")


@pytest.mark.parametrize("backend_data", ["numpy", pytest.param("mxnet", marks=pytest.mark.mxnet)])
def test_arrays_are_described_one_way(backend_data, policy):
    """``array(shape=..., dtype=...)`` for every array in a message, whichever backend held it and whichever
    path raised (NumPy on the fast path, NumPy after MXNet, the general dispatcher)."""
    if backend_data == "mxnet":
        from minpy.backends import get_backend

        mx = get_backend("mxnet")
        a = Array(mx.from_numpy(numpy.ones((2, 3)), minpy.context.cpu()), mx)
    else:
        a = np.ones((2, 3))
    with pytest.raises(ValueError) as info:
        np.dot(a, numpy.ones((4, 5)))
    message = str(info.value)
    assert "array(shape=(2, 3), dtype=float64)" in message and "array(shape=(4, 5), dtype=float64)" in message
    assert "ndarray(" not in message, message


# -- a minpy subpackage that is not installed ----------------------------------------------------------------------
def _without(dist, code):
    """Run ``code`` in a fresh interpreter that does not see the folder of ``dist`` (as if it were not
    installed)."""
    hide = os.path.join("packages", dist, "")
    prelude = (f"import sys\nsys.path[:] = [p for p in sys.path if {hide!r} not in p + '/']\n")
    env = dict(os.environ, MINPY_AUTO_CACHE="off")
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, env=env,
                          timeout=120, cwd=ROOT)


def test_missing_subpackage_names_its_distribution():
    proc = _without("minpy-autograd", "from minpy.autograd import grad\n")
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ModuleNotFoundError: No module named 'minpy.autograd': it is part of the "
                           "minpy-autograd distribution"), last
    assert "pip install ./packages/minpy-autograd" in last and "MinPy 0.3.4" in last


def test_missing_dependency_of_an_installed_subpackage():
    """minpy-nn installed without minpy-autograd: importing minpy.nn's models names minpy-autograd."""
    proc = _without("minpy-autograd", "import minpy.nn.model\n")
    assert "pip install ./packages/minpy-autograd" in proc.stderr, proc.stderr[-800:]


def test_probing_for_a_missing_subpackage_answers_none():
    proc = _without("minpy-jit",
                    "import importlib.util, minpy\n"
                    "print(importlib.util.find_spec('minpy.jit'), importlib.util.find_spec('minpy.no_such_part'))\n"
                    "try:\n    import minpy.jit\nexcept ImportError as e:\n    print(type(e).__name__, e.name)\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["None None", "ModuleNotFoundError minpy.jit"], proc.stdout


def test_unknown_names_are_plain_import_errors():
    with pytest.raises(ModuleNotFoundError, match=r"^No module named 'minpy.no_such_part'$"):
        import minpy.no_such_part  # noqa: F401
