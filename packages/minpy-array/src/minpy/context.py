"""Devices on which arrays live: ``cpu()`` and ``gpu(i)``.

The rule for mixing contexts: an operator runs on the *current* context (``set_context`` or a ``with ctx:``
block; ``cpu()`` by default). Array arguments living elsewhere are copied there first, and the copy is
counted in the op statistics (bytes and count), never hidden. Creation functions put their result on the
current context. An array remembers its context (``Array.context``).

A GPU context needs a backend that can run there (an MXNet GPU build today). Making ``gpu(i)`` current
without one raises :class:`ContextError` naming what is missing.
"""
import threading


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
        stack = _state.stack
        stack.append(_state.current)
        _state.current = self
        return self

    def __exit__(self, *exc):
        _state.current = _state.stack.pop()
        return False


class _State(threading.local):
    def __init__(self):
        self.current = _CPU
        self.stack = []


_CPU = Context("cpu", 0)
_state = _State()


def cpu(device_id=0):
    """The CPU context."""
    return Context("cpu", device_id)


def gpu(device_id=0):
    """GPU number ``device_id``. Making it current needs a backend with GPU support."""
    return Context("gpu", device_id)


def current_context():
    """The context on which operators run now."""
    return _state.current


def set_context(ctx):
    """Make ``ctx`` the current context of this thread (a ``with ctx:`` block does it for a region)."""
    if not isinstance(ctx, Context):
        raise TypeError(f"set_context expects a minpy Context (cpu() or gpu(i)), got {type(ctx).__name__}")
    _check_servable(ctx)
    _state.current = ctx


def _check_servable(ctx):
    if ctx.device_type == "cpu":
        return
    from minpy.backends import backends_for_context  # late: backends import this module

    if not backends_for_context(ctx):
        from minpy.backends import describe_gpu_support

        raise ContextError(f"cannot use {ctx!r}: {describe_gpu_support()}")


# MinPy 0.3 kept the current context in a global; these names keep that code working.
def get_current_context():
    return current_context()
