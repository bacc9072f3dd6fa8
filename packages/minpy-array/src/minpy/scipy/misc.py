"""``minpy.scipy.misc``: HIPS autograd's ``autograd.scipy.misc`` (``logsumexp``, which SciPy once kept in
``scipy.misc``); the same operator as ``minpy.scipy.special.logsumexp``."""
from minpy.scipy.special import logsumexp  # noqa: F401
