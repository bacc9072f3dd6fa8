"""The import renames of tools/run_hips_autograd_tests.py: what a user switching from HIPS autograd changes, and
nothing else."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location("run_hips_autograd_tests",
                                                  ROOT / "tools" / "run_hips_autograd_tests.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_imports_are_renamed():
    rename = _tool().rename_imports
    src = ("import autograd.numpy as np\n"
           "import autograd.numpy.random as npr\n"
           "from autograd import grad, make_vjp\n"
           "from autograd.scipy.special import erf\n"
           "from autograd.test_util import check_grads\n"
           "import autograd\n")
    assert rename(src) == ("import minpy.numpy as np\n"
                           "import minpy.numpy.random as npr\n"
                           "from minpy.autograd import grad, make_vjp\n"
                           "from minpy.scipy.special import erf\n"
                           "from minpy.autograd.test_util import check_grads\n"
                           "import minpy.autograd\n")


def test_module_paths_in_code_follow_a_bare_import():
    rename = _tool().rename_imports
    src = ("import autograd.scipy.signal\n"
           "f = autograd.scipy.signal.convolve\n"
           "g = autograd.grad(f) + autograd.numpy.sum(x)\n"
           "s = 'autograd.numpy stays in strings'\n"
           "t = np.autograd_like\n")
    assert rename(src) == ("import minpy.scipy.signal\n"
                           "f = minpy.scipy.signal.convolve\n"
                           "g = minpy.autograd.grad(f) + minpy.numpy.sum(x)\n"
                           "s = 'autograd.numpy stays in strings'\n"
                           "t = np.autograd_like\n")


def test_code_is_left_alone_without_a_bare_import():
    rename = _tool().rename_imports
    # ``import autograd.numpy as np`` binds np, not autograd: a path in code then names something else
    src = "import autograd.numpy as np\nautograd = object()\ny = autograd.grad\n"
    assert rename(src) == "import minpy.numpy as np\nautograd = object()\ny = autograd.grad\n"
