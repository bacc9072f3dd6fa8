"""``minpy.scipy.stats.norm``: the methods of ``scipy.stats.norm`` on minpy arrays (see :mod:`minpy.scipy.stats`)."""
from minpy.scipy._namespace import populate as _populate

_populate(globals(), "stats.norm")
