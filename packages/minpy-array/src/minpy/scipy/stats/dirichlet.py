"""``minpy.scipy.stats.dirichlet``: the methods of ``scipy.stats.dirichlet`` on minpy arrays (see :mod:`minpy.scipy.stats`)."""
from minpy.scipy._namespace import populate as _populate

_populate(globals(), "stats.dirichlet")
