"""First-order update rules: ``update(w, dw, config) -> (next_w, config)``.

``config`` holds the hyperparameters and whatever state the rule keeps between steps (velocity, moment
estimates, step count); defaults are written into it on the first call, as in MinPy 0.3. Pass the returned
config to the next call. Weights are never modified in place: ``next_w`` is a new array.
"""
import minpy.numpy as np

__all__ = ["sgd", "sgd_momentum", "rmsprop", "adam"]


def sgd(w, dw, config=None):
    """Vanilla stochastic gradient descent: ``w - learning_rate * dw``.

    Parameters
    ----------
    w : array
        Current weights.
    dw : array of the same shape
        Gradient of the loss with respect to ``w``.
    config : dict, optional
        ``learning_rate`` (default 1e-2).

    Returns
    -------
    next_w : Array
    config : dict
    """
    config = _with_defaults(config, learning_rate=1e-2)
    return w - config['learning_rate'] * dw, config


def sgd_momentum(w, dw, config=None):
    """Stochastic gradient descent with momentum::

        velocity = momentum * velocity - learning_rate * dw
        next_w = w + velocity

    Parameters
    ----------
    w : array
        Current weights.
    dw : array of the same shape
        Gradient.
    config : dict, optional
        ``learning_rate`` (default 1e-2), ``momentum`` (default 0.9); ``velocity`` (state, starts at zeros).

    Returns
    -------
    next_w : Array
    config : dict
    """
    config = _with_defaults(config, learning_rate=1e-2, momentum=0.9)
    velocity = config['momentum'] * _state(config, 'velocity', w) - config['learning_rate'] * dw
    config['velocity'] = velocity
    return w + velocity, config


def rmsprop(w, dw, config=None):
    """RMSProp: per-parameter step sizes from a moving average of squared gradients::

        cache = decay_rate * cache + (1 - decay_rate) * dw ** 2
        next_w = w - learning_rate * dw / (sqrt(cache) + epsilon)

    Parameters
    ----------
    w : array
        Current weights.
    dw : array of the same shape
        Gradient.
    config : dict, optional
        ``learning_rate`` (default 1e-2), ``decay_rate`` (default 0.99), ``epsilon`` (default 1e-8);
        ``cache`` (state, starts at zeros).

    Returns
    -------
    next_w : Array
    config : dict
    """
    config = _with_defaults(config, learning_rate=1e-2, decay_rate=0.99, epsilon=1e-8)
    decay = config['decay_rate']
    cache = decay * _state(config, 'cache', w) + (1 - decay) * (dw * dw)
    config['cache'] = cache
    return w - config['learning_rate'] * dw / (np.sqrt(cache) + config['epsilon']), config


def adam(w, dw, config=None):
    """Adam, with bias-corrected first and second moment estimates::

        t = t + 1
        m = beta1 * m + (1 - beta1) * dw
        v = beta2 * v + (1 - beta2) * dw ** 2
        next_w = w - learning_rate * (m / (1 - beta1 ** t)) / (sqrt(v / (1 - beta2 ** t)) + epsilon)

    Parameters
    ----------
    w : array
        Current weights.
    dw : array of the same shape
        Gradient.
    config : dict, optional
        ``learning_rate`` (default 1e-3), ``beta1`` (default 0.9), ``beta2`` (default 0.999), ``epsilon``
        (default 1e-8); state ``m`` and ``v`` (start at zeros) and ``t`` (starts at 0).

    Returns
    -------
    next_w : Array
    config : dict
    """
    config = _with_defaults(config, learning_rate=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8, t=0)
    beta1, beta2 = config['beta1'], config['beta2']
    t = config['t'] + 1
    m = beta1 * _state(config, 'm', w) + (1 - beta1) * dw
    v = beta2 * _state(config, 'v', w) + (1 - beta2) * (dw * dw)
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    config['m'], config['v'], config['t'] = m, v, t
    return w - config['learning_rate'] * m_hat / (np.sqrt(v_hat) + config['epsilon']), config


def _with_defaults(config, **defaults):
    """``config`` (a new dict when None) with the hyperparameters it lacks set to their defaults, in place."""
    config = {} if config is None else config
    for key, value in defaults.items():
        config.setdefault(key, value)
    return config


def _state(config, key, w):
    """The state ``config[key]`` kept between steps; zeros shaped like ``w`` before the first step."""
    value = config.get(key)
    return np.zeros_like(w) if value is None else value
