"""``minpy.scipy.stats.poisson``: the methods of ``scipy.stats.poisson`` on minpy arrays (see :mod:`minpy.scipy.stats`)."""
from minpy.scipy._namespace import populate as _populate

_populate(globals(), "stats.poisson")
