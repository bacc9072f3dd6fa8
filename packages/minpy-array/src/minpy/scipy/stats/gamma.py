"""``minpy.scipy.stats.gamma``: the methods of ``scipy.stats.gamma`` on minpy arrays (see :mod:`minpy.scipy.stats`)."""
from minpy.scipy._namespace import populate as _populate

_populate(globals(), "stats.gamma")
