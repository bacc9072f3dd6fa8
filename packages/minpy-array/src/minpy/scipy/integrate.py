"""``minpy.scipy.integrate``: ``odeint``, differentiable in the initial state, the times and the extra arguments
(the adjoint method, as in HIPS autograd)."""
from minpy.scipy._namespace import populate as _populate

_populate(globals(), "integrate")
