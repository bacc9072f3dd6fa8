"""Gradient-based optimizers (HIPS autograd's ``autograd.misc.optimizers``): ``sgd`` with momentum,
``rmsprop`` and ``adam``.

Each takes ``grad(x, i)`` (the gradient at ``x`` in iteration ``i``), a starting point ``x0`` (an array, or
any nesting of lists, tuples and dicts of arrays), an optional ``callback(x, i, g)`` called every iteration
before the step, and its settings; it returns the final point in ``x0``'s structure. The updates are written in
``minpy.numpy``, so an optimizer run can itself be differentiated (meta-optimization).
"""
import functools

import minpy.numpy as np
from minpy.autograd.misc.flatten import flatten


def unflatten_optimizer(optimize):
    """An optimizer of flat 1-d arrays as one of nested containers of arrays."""
    @functools.wraps(optimize)
    def optimizer(grad, x0, callback=None, *args, **kwargs):
        flat0, unflatten = flatten(x0)

        def flat_grad(x, i):
            return flatten(grad(unflatten(x), i))[0]
        flat_callback = None
        if callback is not None:
            def flat_callback(x, i, g):
                return callback(unflatten(x), i, unflatten(g))
        return unflatten(optimize(flat_grad, flat0, flat_callback, *args, **kwargs))
    return optimizer


@unflatten_optimizer
def sgd(grad, x, callback=None, num_iters=200, step_size=0.1, mass=0.9):
    """Stochastic gradient descent with momentum ``mass``."""
    velocity = np.zeros(len(x))
    for i in range(num_iters):
        g = grad(x, i)
        if callback:
            callback(x, i, g)
        velocity = mass * velocity - (1.0 - mass) * g
        x = x + step_size * velocity
    return x


@unflatten_optimizer
def rmsprop(grad, x, callback=None, num_iters=100, step_size=0.1, gamma=0.9, eps=10 ** -8):
    """Root-mean-square propagation: steps scaled by a running average of squared gradients."""
    avg_sq_grad = np.ones(len(x))
    for i in range(num_iters):
        g = grad(x, i)
        if callback:
            callback(x, i, g)
        avg_sq_grad = avg_sq_grad * gamma + g ** 2 * (1 - gamma)
        x = x - step_size * g / (np.sqrt(avg_sq_grad) + eps)
    return x


@unflatten_optimizer
def adam(grad, x, callback=None, num_iters=100, step_size=0.001, b1=0.9, b2=0.999, eps=10 ** -8):
    """Adam (Kingma & Ba, arXiv:1412.6980): bias-corrected running moments of the gradient."""
    m = np.zeros(len(x))
    v = np.zeros(len(x))
    for i in range(num_iters):
        g = grad(x, i)
        if callback:
            callback(x, i, g)
        m = (1 - b1) * g + b1 * m
        v = (1 - b2) * (g ** 2) + b2 * v
        mhat = m / (1 - b1 ** (i + 1))
        vhat = v / (1 - b2 ** (i + 1))
        x = x - step_size * mhat / (np.sqrt(vhat) + eps)
    return x


__all__ = ["sgd", "rmsprop", "adam", "unflatten_optimizer"]
