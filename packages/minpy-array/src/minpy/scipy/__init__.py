"""``minpy.scipy``: SciPy's functions on minpy arrays, differentiable like ``minpy.numpy`` (HIPS autograd's
``autograd.scipy``, renamed): ``special``, ``stats`` (``norm``, ``t``, ``gamma``, ``beta``, ``chi2``,
``poisson``, ``multivariate_normal``, ``dirichlet``), ``signal`` (``convolve``), ``linalg``, ``integrate``
(``odeint``) and ``misc`` (``logsumexp``).

SciPy is optional (``pip install scipy``, or ``pip install 'minpy-array[scipy]'``): without it these modules
import, and their functions raise :class:`ModuleNotFoundError` saying what to install. A module is loaded (and
SciPy's imported) on first use: ``import minpy.scipy.special``, or ``minpy.scipy.special`` after
``import minpy.scipy``.
"""
import importlib
import importlib.util

SUBMODULES = ("special", "stats", "signal", "linalg", "integrate", "misc")


def __getattr__(name):
    if name in SUBMODULES:
        return importlib.import_module("minpy.scipy." + name)
    raise AttributeError(f"module 'minpy.scipy' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(SUBMODULES))


def available():
    """Whether SciPy is installed (the functions of ``minpy.scipy`` need it)."""
    return importlib.util.find_spec("scipy") is not None
