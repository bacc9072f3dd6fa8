"""``minpy.scipy.signal``: ``convolve``, SciPy's and HIPS autograd's (with ``axes`` and ``dot_axes``),
differentiable in both inputs."""
from minpy.scipy._namespace import populate as _populate

_populate(globals(), "signal")
