"""``minpy.scipy.stats.beta``: the methods of ``scipy.stats.beta`` on minpy arrays (see :mod:`minpy.scipy.stats`)."""
from minpy.scipy._namespace import populate as _populate

_populate(globals(), "stats.beta")
