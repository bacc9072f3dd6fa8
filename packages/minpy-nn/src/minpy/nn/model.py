"""``ModelBase``: the base class of a model trained by :class:`minpy.nn.solver.Solver` (MinPy 0.3's API).

A model declares its parameters (``add_param``), computes its output (``forward``) and its loss (``loss``);
``grad_and_loss(batch)`` differentiates the loss with respect to every parameter with :mod:`minpy.autograd`.

    class TwoLayerNet(ModelBase):
        def __init__(self):
            super().__init__()
            self.add_param('w1', (64, 100)).add_param('b1', (100,))
            self.add_param('w2', (100, 10)).add_param('b2', (10,))

        def forward(self, X, mode):
            h = layers.relu(layers.affine(X, self.params['w1'], self.params['b1']))
            return layers.affine(h, self.params['w2'], self.params['b2'])

        def loss(self, predict, y):
            return layers.softmax_loss(predict, y)

Checkpoints (``save`` / ``load``) are NumPy ``.npz`` files, written atomically and read without pickle.
"""
import os
import tempfile
import zipfile

import numpy as onp

import minpy.numpy as np
from minpy import autograd
from minpy.array import Array

# The checkpoint format: one .npz member per array, "param/<name>" or "aux/<name>", and this marker.
_FORMAT_KEY = "__minpy_checkpoint__"
_FORMAT_VERSION = 1
_PARAM = "param/"
_AUX = "aux/"


class ParamsNameNotFoundError(ValueError):
    """A parameter name the model does not have (MinPy 0.3's name)."""


class UnknownAccessModeError(ValueError):
    """An access mode other than the known ones (MinPy 0.3's name)."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded into this model: unreadable, corrupted, or not matching it."""


def checkpoint_path(prefix):
    """The file ``save(prefix)`` writes: ``prefix`` with ``.npz`` appended unless it already ends so."""
    prefix = os.fspath(prefix)
    return prefix if prefix.endswith(".npz") else prefix + ".npz"


def _to_numpy(value):
    while isinstance(value, autograd.Tracer):
        value = value._value
    if isinstance(value, Array):
        return value.asnumpy()
    return onp.asarray(value)


class ModelBase:
    """Base class of a neural-network model.

    ``params``: the trained parameters, ``{name: Array}``; ``param_configs``: ``{name: {'shape': ...,
    other settings such as 'init_rule'}}``; ``aux_params``: values the model keeps that back-propagation
    does not update (e.g. batch-norm running statistics); ``aux_param_configs``: their initial values.
    """

    def __init__(self):
        self.params = {}
        self.param_configs = {}
        self.aux_params = {}
        self.aux_param_configs = {}

    # -- declaring parameters ---------------------------------------------------------------------------------
    def add_param(self, name, shape, **kwargs):
        """Declare a trained parameter ``name`` of ``shape``; ``kwargs`` (e.g. ``init_rule``, ``init_config``)
        are kept in ``param_configs[name]``. The solver creates the array in ``init()``. Returns the model."""
        if name in self.param_configs:
            raise ValueError(f"duplicate parameter name {name!r}")
        self.param_configs[name] = {"shape": tuple(shape), **kwargs}
        return self

    def add_params(self, param_dict):
        """Declare several parameters at once: ``{name: {'shape': ..., ...}}``. Returns the model."""
        for name, config in param_dict.items():
            if "shape" not in config:
                raise ValueError(f"parameter {name!r}: its config needs a 'shape'")
            config = dict(config)
            self.add_param(name, config.pop("shape"), **config)
        return self

    def add_aux_param(self, name, value):
        """Declare an auxiliary parameter (not updated by back-propagation) with its initial ``value``.
        Returns the model."""
        if name in self.aux_param_configs:
            raise ValueError(f"duplicate auxiliary parameter name {name!r}")
        self.aux_param_configs[name] = value
        return self

    # -- what a model defines ---------------------------------------------------------------------------------
    def forward(self, X, mode):
        """The model's output for input ``X``; ``mode`` is ``'train'`` or ``'test'``."""
        raise NotImplementedError(f"{type(self).__name__} must define forward(X, mode)")

    def loss(self, predict, y):
        """The (scalar) loss of output ``predict`` (from ``forward``) against labels ``y``."""
        raise NotImplementedError(f"{type(self).__name__} must define loss(predict, y)")

    def forward_batch(self, batch, mode):
        """``forward`` on a data batch (``batch.data`` is a list of arrays); by default on its first array."""
        return self.forward(batch.data[0], mode)

    def loss_batch(self, batch, forward_outputs):
        """``loss`` on a data batch (``batch.label`` is a list of arrays); by default against its first label."""
        return self.loss(forward_outputs, batch.label[0])

    # -- gradients --------------------------------------------------------------------------------------------
    def grad_and_loss(self, batch):
        """``(grads, loss)``: the gradient of ``loss_batch(batch, forward_batch(batch, 'train'))`` with respect
        to every parameter, as ``{name: Array}``, and the loss value.

        While the loss runs, ``self.params`` holds the values being differentiated, so ``forward`` reads its
        parameters from ``self.params`` as usual. Auxiliary parameters written by ``forward`` (running
        statistics) are kept as plain values: no gradient flows through them.
        """
        if not self.params:
            raise ValueError(f"{type(self).__name__} has no parameters yet: create them first "
                             "(Solver.init(), or assign model.params)")
        live = self.params

        def loss_of(params):
            self.params = params
            try:
                return self.loss_batch(batch, self.forward_batch(batch, mode="train"))
            finally:
                self.params = live
                # A parameter the forward pass created (a lazily built layer) joins the live set.
                for name, value in params.items():
                    if name not in live:
                        live[name] = autograd.stop_gradient(value)

        grads, loss = autograd.grad_and_loss(loss_of)(dict(live))
        for name, value in self.aux_params.items():
            if isinstance(value, autograd.Tracer):
                self.aux_params[name] = autograd.stop_gradient(value)
        return grads, loss

    def grad(self, batch):
        """The gradients of ``grad_and_loss(batch)`` alone."""
        return self.grad_and_loss(batch)[0]

    # -- checkpoints ------------------------------------------------------------------------------------------
    def save(self, prefix):
        """Write every parameter and auxiliary parameter to ``prefix + '.npz'`` (NumPy's format, no pickle).

        The file is written to a temporary file in the same folder and moved into place, so a crash never
        leaves a half-written checkpoint under the final name. Returns the path written.
        """
        path = checkpoint_path(prefix)
        arrays = {_FORMAT_KEY: onp.array(_FORMAT_VERSION)}
        for name, value in self.params.items():
            arrays[_PARAM + name] = _to_numpy(value)
        for name, value in self.aux_params.items():
            arrays[_AUX + name] = _to_numpy(value)
        for key, value in arrays.items():
            if value.dtype.hasobject:
                raise TypeError(f"cannot save {key!r}: object arrays need pickle, which checkpoints never use")
        folder = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=os.path.basename(path) + ".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                onp.savez(f, **arrays)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
        return path

    def load(self, prefix):
        """Read a checkpoint written by :meth:`save` into ``params`` and ``aux_params``.

        The file must hold exactly the model's parameters, each with the model's shape and dtype; otherwise
        nothing is changed and :class:`CheckpointError` (a ``ValueError``) names the parameters at fault.
        The model's parameters are those in ``params``, or, before they exist, those declared in
        ``param_configs`` (shapes only).
        """
        path = checkpoint_path(prefix)
        params, aux = _read_checkpoint(path)
        _check_against(path, "parameter", params, self.params, self.param_configs)
        _check_against(path, "auxiliary parameter", aux, self.aux_params, self.aux_param_configs)
        for name, value in params.items():
            self.params[name] = np.array(value)
        for name, value in aux.items():
            self.aux_params[name] = np.array(value)
        return path


def _read_checkpoint(path):
    """``({name: ndarray}, {name: ndarray})`` for the parameters and auxiliary parameters in ``path``."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        data = onp.load(path, allow_pickle=False)
        if not isinstance(data, onp.lib.npyio.NpzFile):
            raise CheckpointError(f"checkpoint {path} is a single .npy array, not a MinPy .npz checkpoint")
        with data:
            # Reading every member here checks each one's CRC and header: corruption shows now, not later.
            arrays = {key: data[key] for key in data.files}
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise CheckpointError(f"checkpoint {path} is corrupted or not a .npz file: {exc}") from None
    if _FORMAT_KEY not in arrays:
        raise CheckpointError(f"{path} is a .npz file but not a MinPy checkpoint (no {_FORMAT_KEY!r} entry)")
    version = arrays.pop(_FORMAT_KEY)
    if version.shape != () or int(version) != _FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path} has format version {version!r}; this MinPy reads version "
                              f"{_FORMAT_VERSION}")
    params, aux = {}, {}
    for key, value in arrays.items():
        if key.startswith(_PARAM):
            params[key[len(_PARAM):]] = value
        elif key.startswith(_AUX):
            aux[key[len(_AUX):]] = value
        else:
            raise CheckpointError(f"checkpoint {path} has an unknown entry {key!r}")
    return params, aux


def _check_against(path, kind, loaded, live, configs):
    """Raise CheckpointError unless ``loaded`` has exactly the names, shapes and dtypes the model expects."""
    expected = {}
    for name, config in configs.items():
        shape = config.get("shape") if isinstance(config, dict) else getattr(config, "shape", None)
        expected[name] = (None if shape is None else tuple(shape), None)
    for name, value in live.items():
        expected[name] = (tuple(value.shape), onp.dtype(value.dtype))
    missing = sorted(set(expected) - set(loaded))
    extra = sorted(set(loaded) - set(expected))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"the model's {kind}s {missing} are not in the file")
        if extra:
            parts.append(f"the file's {kind}s {extra} are not in the model")
        raise CheckpointError(f"checkpoint {path} does not match the model: {'; '.join(parts)}")
    for name in sorted(expected):
        shape, dtype = expected[name]
        value = loaded[name]
        if shape is not None and tuple(value.shape) != shape:
            raise CheckpointError(f"checkpoint {path}: {kind} {name!r} has shape {tuple(value.shape)} in the file, "
                                  f"the model's has shape {shape}")
        if dtype is not None and value.dtype != dtype:
            raise CheckpointError(f"checkpoint {path}: {kind} {name!r} has dtype {value.dtype} in the file, "
                                  f"the model's has dtype {dtype}")
