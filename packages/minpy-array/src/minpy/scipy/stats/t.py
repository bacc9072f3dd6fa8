"""``minpy.scipy.stats.t``: the methods of ``scipy.stats.t`` on minpy arrays (see :mod:`minpy.scipy.stats`)."""
from minpy.scipy._namespace import populate as _populate

_populate(globals(), "stats.t")
