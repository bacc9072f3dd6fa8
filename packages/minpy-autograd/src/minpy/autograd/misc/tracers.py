"""``const_graph`` (HIPS autograd's ``autograd.misc.tracers``)."""
import functools


def const_graph(fun, *args, **kwargs):
    """``fun`` with ``args``/``kwargs`` bound, for a function that always runs the same operators. HIPS autograd
    records the graph once and replays it; here the function simply runs (same values: MinPy's dispatch
    already caches its per-operator decisions), so this is a compatibility name, not a speed-up."""
    bound = functools.partial(fun, *args, **kwargs)

    @functools.wraps(fun)
    def run(*more):
        return bound(*more)
    return run


__all__ = ["const_graph"]
