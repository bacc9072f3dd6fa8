"""Devices on which arrays live: ``cpu()`` and ``gpu(i)``.

The rule for mixing contexts: an operator runs on the *current* context (``set_context`` or a ``with ctx:``
block; ``cpu()`` by default). Array arguments living elsewhere are copied there first, and the copy is
counted in the op statistics (bytes and count), never hidden. Creation functions put their result on the
current context. An array remembers its context (``Array.context``).

A GPU context needs a backend that can run there (an MXNet GPU build or CuPy). Making ``gpu(i)`` current
without one raises :class:`ContextError` naming what is missing.

Threads: ``set_context`` sets the process default, which every thread follows unless it is inside its own
``with ctx:`` block (see :mod:`minpy.routing`); a new thread starts on the default.
"""
from minpy import routing


class ContextError(RuntimeError):
    """A context was asked for that no installed backend can serve."""


class Context:
    """A device: ``device_type`` is ``"cpu"`` or ``"gpu"``, ``device_id`` the index."""

    __slots__ = ("device_type", "device_id")

    def __init__(self, device_type, device_id=0):
        if device_type not in ("cpu", "gpu"):
            raise ValueError(f"device_type must be 'cpu' or 'gpu', got {device_type!r}")
        self.device_type = device_type
        self.device_id = int(device_id)

    def __eq__(self, other):
        return (isinstance(other, Context) and other.device_type == self.device_type
                and other.device_id == self.device_id)

    def __hash__(self):
        return hash((self.device_type, self.device_id))

    def __repr__(self):
        return f"{self.device_type}({self.device_id})"

    def __enter__(self):
        _check_servable(self)
        state = routing.thread
        state.context_stack.append(state.context)
        state.context = self
        state.refresh_key()
        return self

    def __exit__(self, *exc):
        state = routing.thread
        state.context = state.context_stack.pop()
        state.refresh_key()
        return False


_CPU = Context("cpu", 0)
_default = [_CPU]  # the process default context (set_context)


def cpu(device_id=0):
    """The CPU context."""
    return Context("cpu", device_id)


def gpu(device_id=0):
    """GPU number ``device_id``. Making it current needs a backend with GPU support."""
    return Context("gpu", device_id)


def current_context():
    """The context on which operators run now in this thread."""
    ctx = routing.thread.context
    return ctx if ctx is not None else _default[0]


def set_context(ctx):
    """Make ``ctx`` the process default context: every thread runs there unless it is inside its own
    ``with ctx:`` block. Called inside such a block, the calling thread follows the new default from then on
    until the block ends (MinPy 0.3 kept one global context)."""
    if not isinstance(ctx, Context):
        raise TypeError(f"set_context expects a minpy Context (cpu() or gpu(i)), got {type(ctx).__name__}")
    _check_servable(ctx)
    _default[0] = ctx
    state = routing.thread
    state.context = None
    state.refresh_key()
    routing.bump(defaults_only=True)


#: ``check(ctx)``: raises ContextError when no backend can serve ``ctx``; installed by minpy.backends (which
#: knows the backends; this module sits below it)
_servable_check = [None]


def _check_servable(ctx):
    if ctx.device_type == "cpu":
        return
    check = _servable_check[0]
    if check is None:
        raise ContextError(f"cannot use {ctx!r}: no backend is loaded (import minpy.numpy first)")
    check(ctx)


# MinPy 0.3 kept the current context in a global; these names keep that code working.
def get_current_context():
    return current_context()
