"""``minpy.scipy.special``: ``scipy.special``'s functions on minpy arrays, differentiable where HIPS autograd's
``autograd.scipy.special`` is (and more: see the table, :mod:`minpy.scipy._table`).

Every public callable of ``scipy.special`` is here; the declared ones have gradient rules in minpy-autograd, the
others run on NumPy without a gradient. Without SciPy the names exist and raise, saying what to install.
"""
from minpy.scipy._namespace import populate as _populate

_populate(globals(), "special")
