"""``minpy.scipy.stats.multivariate_normal``: the methods of ``scipy.stats.multivariate_normal`` on minpy arrays (see :mod:`minpy.scipy.stats`)."""
from minpy.scipy._namespace import populate as _populate

_populate(globals(), "stats.multivariate_normal")
