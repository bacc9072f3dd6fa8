"""Parameter initializers: ``init(shape, config) -> Array``.

Each takes the shape to fill and a config dict (MinPy 0.3's convention; defaults are written into the
dict). Random ones draw from ``minpy.numpy.random``, i.e. NumPy's global generator, so ``np.random.seed``
makes them reproducible.
"""
import numpy as _onp

import minpy.numpy as np

__all__ = ["xavier", "gaussian", "constant", "custom"]


def _fans(shape):
    """(fan_in, fan_out) of a weight: (D, M) for an affine weight; C*k and F*k for (F, C, *kernel) filters."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(_onp.prod(shape[2:]))
    return shape[1] * receptive, shape[0] * receptive


def xavier(shape, config=None):
    """Glorot (Xavier) uniform initialization.

    Draws from ``U(-a, a)`` with ``a = gain * sqrt(6 / (fan_in + fan_out))``, so the variance is
    ``gain**2 * 2 / (fan_in + fan_out)``. For a 2-D shape ``(D, M)`` (an affine weight) ``fan_in = D`` and
    ``fan_out = M``; for filters ``(F, C, kh, kw)`` ``fan_in = C * kh * kw`` and ``fan_out = F * kh * kw``.
    (MinPy 0.3 multiplied a *normal* sample by ``a``, three times the intended variance.)

    Parameters
    ----------
    shape : tuple of ints
        Shape of the array.
    config : dict, optional
        ``gain`` (default 1.0).

    Returns
    -------
    Array of shape ``shape``
    """
    config = {} if config is None else config
    gain = config.setdefault('gain', 1.0)
    shape = tuple(int(s) for s in shape)
    fan_in, fan_out = _fans(shape)
    bound = gain * _onp.sqrt(6.0 / (fan_in + fan_out))
    return np.random.uniform(-bound, bound, size=shape)


def gaussian(shape, config=None):
    """Normal initialization.

    Parameters
    ----------
    shape : tuple of ints
        Shape of the array.
    config : dict, optional
        ``mu``: mean (default 0.0); ``stdvar``: standard deviation (default 0.001).

    Returns
    -------
    Array of shape ``shape``
    """
    config = {} if config is None else config
    mu = config.setdefault('mu', 0.0)
    std = config.setdefault('stdvar', 0.001)
    shape = tuple(int(s) for s in shape)
    return np.random.standard_normal(shape) * std + mu


def constant(shape, config=None):
    """Constant initialization.

    Parameters
    ----------
    shape : tuple of ints
        Shape of the array.
    config : dict, optional
        ``value`` (default 0.0).

    Returns
    -------
    Array of shape ``shape`` filled with ``value``
    """
    config = {} if config is None else config
    value = config.setdefault('value', 0.0)
    return np.full(tuple(int(s) for s in shape), value, dtype=_onp.float64)


def custom(shape, config=None):
    """Initialization by a user function.

    Parameters
    ----------
    shape : tuple of ints
        Shape of the array.
    config : dict, optional
        ``function``: called with the shape, returns the array (default ``minpy.numpy.zeros``).

    Returns
    -------
    Array of shape ``shape``

    Raises
    ------
    ValueError
        If the function returns an array of another shape.
    """
    config = {} if config is None else config
    function = config.setdefault('function', np.zeros)
    shape = tuple(int(s) for s in shape)
    result = function(shape)
    if not isinstance(result, np.ndarray):
        result = np.array(result)
    if tuple(result.shape) != shape:
        raise ValueError(f"custom initializer {function!r} returned shape {tuple(result.shape)}, expected {shape}")
    return result
