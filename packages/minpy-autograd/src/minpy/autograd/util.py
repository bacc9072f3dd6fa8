"""HIPS autograd's ``autograd.util``: small helpers its users import (``subvals``, ``subval``, ``toposort``) and
the deprecated ``quick_grad_check``."""
import operator
import warnings

from minpy.autograd.test_util import check_grads


def subvals(x, ivs):
    """``x`` (a sequence) as a tuple with item ``i`` replaced by ``v`` for each ``(i, v)`` in ``ivs``."""
    out = list(x)
    for i, v in ivs:
        out[i] = v
    return tuple(out)


def subval(x, i, v):
    """``x`` as a tuple with item ``i`` replaced by ``v``."""
    return subvals(x, [(i, v)])


def toposort(end_node, parents=operator.attrgetter("parents")):
    """The nodes reachable from ``end_node`` through ``parents(node)``, each after every node it is a parent of
    (``end_node`` first)."""
    pending = {}  # node -> how many of its children are still to be yielded
    stack = [end_node]
    while stack:
        node = stack.pop()
        seen = node in pending
        pending[node] = pending.get(node, 0) + 1
        if not seen:
            stack.extend(parents(node))
    ready = [end_node]
    while ready:
        node = ready.pop()
        yield node
        for parent in parents(node):
            pending[parent] -= 1
            if pending[parent] == 0:
                ready.append(parent)


def quick_grad_check(fun, arg0, extra_args=(), kwargs={}, verbose=True, eps=1e-4, rtol=1e-4, atol=1e-6,
                     rs=None):
    """Deprecated (as in HIPS autograd): ``test_util.check_grads(fun, modes=['rev'], order=1)``."""
    warnings.warn("quick_grad_check is deprecated: use minpy.autograd.test_util.check_grads", DeprecationWarning,
                  stacklevel=2)

    def unary(x):
        return fun(x, *extra_args, **kwargs)
    unary.__name__ = getattr(fun, "__name__", "[unknown name]")  # a failed check names the function
    check_grads(unary, modes=["rev"], order=1)(arg0)


__all__ = ["subvals", "subval", "toposort", "quick_grad_check"]
