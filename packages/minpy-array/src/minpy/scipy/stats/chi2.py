"""``minpy.scipy.stats.chi2``: the methods of ``scipy.stats.chi2`` on minpy arrays (see :mod:`minpy.scipy.stats`)."""
from minpy.scipy._namespace import populate as _populate

_populate(globals(), "stats.chi2")
