"""``minpy.scipy.linalg``: ``scipy.linalg``'s functions on minpy arrays; ``sqrtm``, ``expm``, ``logm``, ``inv``,
``det``, ``solve``, ``solve_triangular``, ``solve_banded``, ``solve_sylvester``, ``solve_continuous_lyapunov``,
``cholesky``, ``cho_factor`` and ``cho_solve`` are differentiable (the rest runs on NumPy without a gradient)."""
from minpy.scipy._namespace import populate as _populate

_populate(globals(), "linalg")
