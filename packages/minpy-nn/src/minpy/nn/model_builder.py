"""Model builder: networks assembled from modules, with parameter shapes inferred from the input (MinPy 0.3).

    import minpy.nn.model_builder as builder

    net = builder.Sequential(
        builder.Convolution((3, 3), 16, pad=(1, 1)), builder.ReLU(), builder.Pooling('max', (2, 2), (2, 2)),
        builder.Flatten(), builder.Affine(64), builder.ReLU(), builder.Affine(10))
    model = builder.Model(net, 'softmax')            # or Model(net, 'softmax', input_shape=(1, 8, 8))
    Solver(model, train_iter, test_iter, ...).train()

A module declares its parameters from the shape of one input sample (no batch axis); the model names them
``<module name>_<parameter>``, e.g. ``affine0_weight``, numbering each kind of module in the order it appears
in the network (or using the ``name=`` given to the module), so two models built the same way share names and
checkpoints. With ``input_shape`` the parameters are declared at once (as in MinPy 0.3); without it they are
declared, and created with each parameter's own init rule, on the first forward pass (or by ``Solver.init``,
which takes the shape from the training data).

A module's ``forward(x, model, mode)`` reads its parameters from ``model.params`` (and running statistics
from ``model.aux_params``); ``mode`` is ``'train'`` or ``'test'``.
"""
import math

import minpy.numpy as np
from minpy.nn import init as _init
from minpy.nn import layers
from minpy.nn.model import CheckpointError, ModelBase


def _pair(value, what):
    if isinstance(value, int):
        return (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise ValueError(f"{what} must be an int or a pair of ints, got {value!r}")
    return value


def _default_setting(local_name):
    """The init rule of a parameter by its name: weights Xavier, biases and shifts zero, scales one."""
    if local_name.endswith(("bias", "beta", "moving_mean", "running_mean")):
        return {"init_rule": "constant", "init_config": {"value": 0.0}}
    if local_name.endswith(("gamma", "moving_var", "running_var")):
        return {"init_rule": "constant", "init_config": {"value": 1.0}}
    return {"init_rule": "xavier", "init_config": {}}


# -- the base classes ----------------------------------------------------------------------------------------------
class Module:
    """A building block of a network. Subclasses define ``forward`` and, where they have parameters,
    ``param_shapes`` (and ``aux_param_shapes``); ``output_shape`` when the output shape differs from the input's.

    ``init``: ``{parameter: {'init_rule': ..., 'init_config': {...}}}`` overriding the default init rules
    of this module's parameters (MinPy 0.3's ``initializer``).
    """

    kind = "module"          # the stem of the names the model gives modules of this class

    def __init__(self, name=None, init=None):
        self.name = name
        self.init = dict(init or {})

    # shapes (of one sample: no batch axis)
    def param_shapes(self, input_shape):
        """``{parameter: shape}`` of the trained parameters for an input of ``input_shape``."""
        return {}

    def aux_param_shapes(self, input_shape):
        """``{parameter: shape}`` of the auxiliary parameters (running statistics)."""
        return {}

    def output_shape(self, input_shape):
        return tuple(input_shape)

    def param_settings(self):
        """``{parameter: {'init_rule': ..., 'init_config': ...}}`` for this module's parameters."""
        return dict(self.init)

    def children(self):
        return ()

    # names in the model
    def param_name(self, local_name):
        if self.name is None:
            raise RuntimeError(f"{type(self).__name__} is not part of a Model yet (its parameters have no names)")
        return f"{self.name}_{local_name}"

    def param(self, model, local_name):
        return model.params[self.param_name(local_name)]

    def infer(self, input_shape, declare):
        """Declare this module's parameters for an input of ``input_shape`` with ``declare(name, shape, setting,
        aux)`` and return the output shape. Containers pass the shapes on to their children."""
        settings = self.param_settings()
        for local, shape in self.param_shapes(input_shape).items():
            declare(self.param_name(local), shape, settings.get(local) or _default_setting(local), False)
        for local, shape in self.aux_param_shapes(input_shape).items():
            declare(self.param_name(local), shape, settings.get(local) or _default_setting(local), True)
        return tuple(int(d) for d in self.output_shape(tuple(input_shape)))

    def forward(self, x, model, mode):
        raise NotImplementedError(f"{type(self).__name__} must define forward(x, model, mode)")

    def __repr__(self):
        return f"{type(self).__name__}({self.name or ''})"


class Sequential(Module):
    """Modules applied one after the other."""

    kind = "sequential"

    def __init__(self, *modules, name=None):
        super().__init__(name)
        for m in modules:
            _check_module(m)
        self.modules = list(modules)

    def append(self, module):
        self.modules.append(_check_module(module))

    def insert(self, index, module):
        self.modules.insert(index, _check_module(module))

    def remove(self, index):
        del self.modules[index]

    def children(self):
        return tuple(self.modules)

    def infer(self, input_shape, declare):
        shape = tuple(input_shape)
        for m in self.modules:
            shape = m.infer(shape, declare)
        return shape

    def output_shape(self, input_shape):
        shape = tuple(input_shape)
        for m in self.modules:
            shape = m.output_shape(shape)
        return shape

    def forward(self, x, model, mode):
        for m in self.modules:
            x = m.forward(x, model, mode)
        return x

    def __repr__(self):
        return f"Sequential({', '.join(map(repr, self.modules))})"


class Parallel(Module):
    """Branches applied to the same input, their outputs added (``merge='add'``, the default) or concatenated
    along the first axis of a sample (``merge='concat'``: features, or channels of NCHW data)."""

    kind = "parallel"

    def __init__(self, *branches, merge="add", name=None):
        super().__init__(name)
        if merge not in ("add", "concat"):
            raise ValueError(f"merge must be 'add' or 'concat', got {merge!r}")
        if not branches:
            raise ValueError("Parallel needs at least one branch")
        for b in branches:
            _check_module(b)
        self.branches = list(branches)
        self.merge = merge

    def children(self):
        return tuple(self.branches)

    def _merge_shapes(self, shapes):
        if self.merge == "add":
            if any(s != shapes[0] for s in shapes):
                raise ValueError(f"{self!r}: branches added together must have one output shape, got {shapes}")
            return shapes[0]
        if any(len(s) != len(shapes[0]) or s[1:] != shapes[0][1:] for s in shapes):
            raise ValueError(f"{self!r}: concatenated branches must agree on every axis but the first, got {shapes}")
        return (sum(s[0] for s in shapes),) + tuple(shapes[0][1:])

    def infer(self, input_shape, declare):
        return self._merge_shapes([b.infer(input_shape, declare) for b in self.branches])

    def output_shape(self, input_shape):
        return self._merge_shapes([tuple(b.output_shape(input_shape)) for b in self.branches])

    def forward(self, x, model, mode):
        outputs = [b.forward(x, model, mode) for b in self.branches]
        if self.merge == "concat":
            return np.concatenate(outputs, axis=1)
        total = outputs[0]
        for out in outputs[1:]:
            total = total + out
        return total


class Add(Parallel):
    """Branches applied to the same input and added elementwise (MinPy 0.3's ``Add``)."""

    kind = "add"

    def __init__(self, *branches, name=None):
        super().__init__(*branches, merge="add", name=name)


def _check_module(m):
    if not isinstance(m, Module):
        raise TypeError(f"expected a model_builder Module, got {type(m).__name__}")
    return m


# -- layers --------------------------------------------------------------------------------------------------------
class Identity(Module):
    """The input, unchanged (a shortcut branch of a residual block)."""

    kind = "identity"

    def forward(self, x, model, mode):
        return x


class Affine(Module):
    """Fully connected layer with ``hidden_number`` outputs; inputs with more axes are flattened first.
    Parameters ``weight`` (D, hidden_number), ``bias`` (hidden_number,)."""

    kind = "affine"

    def __init__(self, hidden_number, name=None, init=None):
        super().__init__(name, init)
        self.hidden_number = int(hidden_number)

    def param_shapes(self, input_shape):
        return {"weight": (math.prod(input_shape), self.hidden_number), "bias": (self.hidden_number,)}

    def output_shape(self, input_shape):
        return (self.hidden_number,)

    def forward(self, x, model, mode):
        return layers.affine(x, self.param(model, "weight"), self.param(model, "bias"))


class ReLU(Module):
    kind = "relu"

    def forward(self, x, model, mode):
        return layers.relu(x)


class Sigmoid(Module):
    kind = "sigmoid"

    def forward(self, x, model, mode):
        return layers.sigmoid(x)


class Tanh(Module):
    kind = "tanh"

    def forward(self, x, model, mode):
        return layers.tanh(x)


class Dropout(Module):
    """Inverted dropout with drop probability ``p`` in training mode; the identity in test mode."""

    kind = "dropout"

    def __init__(self, p, name=None):
        super().__init__(name)
        self.p = float(p)

    def forward(self, x, model, mode):
        return layers.dropout(x, self.p, mode)


class BatchNormalization(Module):
    """Batch normalization of (N, D) data, or per channel of (N, C, H, W) data. Parameters ``gamma`` and
    ``beta``; auxiliary parameters ``running_mean`` and ``running_var``, updated in training mode."""

    kind = "batchnorm"

    def __init__(self, epsilon=1e-5, momentum=0.9, name=None, init=None):
        super().__init__(name, init)
        self.epsilon = float(epsilon)
        self.momentum = float(momentum)

    def param_shapes(self, input_shape):
        if len(input_shape) not in (1, 3):
            raise ValueError(f"{self!r}: expects samples of shape (D,) or (C, H, W), got {tuple(input_shape)}")
        return {"gamma": (input_shape[0],), "beta": (input_shape[0],)}

    def aux_param_shapes(self, input_shape):
        return {"running_mean": (input_shape[0],), "running_var": (input_shape[0],)}

    def forward(self, x, model, mode):
        mean_name, var_name = self.param_name("running_mean"), self.param_name("running_var")
        out, mean, var = layers.batchnorm(x, self.param(model, "gamma"), self.param(model, "beta"), mode,
                                          self.epsilon, self.momentum, model.aux_params[mean_name],
                                          model.aux_params[var_name])
        if mode == "train":
            model.aux_params[mean_name] = mean
            model.aux_params[var_name] = var
        return out


SpatialBatchNormalization = BatchNormalization   # MinPy 0.3's name for the (N, C, H, W) case


class Convolution(Module):
    """2-D convolution of NCHW data: ``kernel_number`` filters of ``kernel_shape``. Parameters ``weight``
    (kernel_number, C, kh, kw) and ``bias`` (kernel_number,)."""

    kind = "convolution"

    def __init__(self, kernel_shape, kernel_number, stride=(1, 1), pad=(0, 0), name=None, init=None):
        super().__init__(name, init)
        self.kernel_shape = _pair(kernel_shape, "kernel_shape")
        self.kernel_number = int(kernel_number)
        self.stride = _pair(stride, "stride")
        self.pad = _pair(pad, "pad")

    def param_shapes(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{self!r}: expects samples of shape (C, H, W), got {tuple(input_shape)}")
        return {"weight": (self.kernel_number, input_shape[0]) + self.kernel_shape, "bias": (self.kernel_number,)}

    def output_shape(self, input_shape):
        _, h, w = input_shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_shape, self.stride, self.pad
        return (self.kernel_number, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1)

    def forward(self, x, model, mode):
        return layers.conv(x, self.param(model, "weight"), self.param(model, "bias"), self.stride, self.pad)


class Pooling(Module):
    """Max (``mode='max'``) or average (``'avg'``) pooling of NCHW data over ``kernel_shape`` windows."""

    kind = "pooling"

    def __init__(self, mode, kernel_shape, stride=(1, 1), pad=(0, 0), name=None):
        super().__init__(name)
        if mode not in ("max", "avg"):
            raise ValueError(f"pooling mode must be 'max' or 'avg', got {mode!r}")
        if _pair(pad, "pad") != (0, 0):
            raise ValueError("Pooling supports no padding (pad=(0, 0))")
        self.mode = mode
        self.kernel_shape = _pair(kernel_shape, "kernel_shape")
        self.stride = _pair(stride, "stride")

    def output_shape(self, input_shape):
        c, h, w = input_shape
        (kh, kw), (sh, sw) = self.kernel_shape, self.stride
        return (c, (h - kh) // sh + 1, (w - kw) // sw + 1)

    def forward(self, x, model, mode):
        pool = layers.max_pool if self.mode == "max" else layers.avg_pool
        return pool(x, self.kernel_shape[0], self.kernel_shape[1], self.stride)


class Reshape(Module):
    """Each sample reshaped to ``shape`` (the batch axis is kept)."""

    kind = "reshape"

    def __init__(self, shape, name=None):
        super().__init__(name)
        self.shape = tuple(int(d) for d in shape)

    def output_shape(self, input_shape):
        if math.prod(input_shape) != math.prod(self.shape):
            raise ValueError(f"{self!r}: cannot reshape samples of shape {tuple(input_shape)} to {self.shape}")
        return self.shape

    def forward(self, x, model, mode):
        return np.reshape(x, (x.shape[0],) + self.shape)


class Flatten(Module):
    """Each sample flattened to a vector."""

    kind = "flatten"

    def output_shape(self, input_shape):
        return (math.prod(input_shape),)

    def forward(self, x, model, mode):
        return np.reshape(x, (x.shape[0], -1))


class Symbolic(Module):
    """An MXNet symbol (or a ``minpy.symbol.Function``'s symbol) as a layer. Its argument ``data`` receives
    the input; every other argument is a trained parameter of this layer, with the shape MXNet infers.
    Auxiliary states (BatchNorm's moving averages) stay inside the Function and are not checkpointed.
    Needs MXNet."""

    kind = "symbolic"

    def __init__(self, symbol, data="data", name=None, init=None):
        super().__init__(name, init)
        self.symbol = getattr(symbol, "symbol", symbol)   # a Function carries its symbol
        self.data = data
        self._function = None
        arguments = self.symbol.list_arguments()
        if data not in arguments:
            raise ValueError(f"the symbol has no argument {data!r}; its arguments are {arguments}")
        self.arguments = [a for a in arguments if a != data]

    def _infer(self, input_shape):
        arg_shapes, out_shapes, _ = self.symbol.infer_shape(**{self.data: (1,) + tuple(input_shape)})
        if arg_shapes is None:
            raise ValueError(f"{self!r}: MXNet cannot infer the symbol's shapes from input {tuple(input_shape)}")
        return dict(zip(self.symbol.list_arguments(), arg_shapes)), out_shapes[0]

    def param_shapes(self, input_shape):
        shapes, _ = self._infer(input_shape)
        return {a: tuple(shapes[a]) for a in self.arguments}

    def output_shape(self, input_shape):
        return tuple(self._infer(input_shape)[1][1:])

    def forward(self, x, model, mode):
        if self._function is None:
            from minpy.symbol import Function
            self._function = Function(self.symbol, {self.data: tuple(x.shape)}, name=self.name)
        self._function.is_train = mode == "train"
        kwargs = {a: self.param(model, a) for a in self.arguments}
        kwargs[self.data] = x
        return self._function(**kwargs)


FunctionLayer = Symbolic


# -- the model -----------------------------------------------------------------------------------------------------
class Model(ModelBase):
    """A :class:`~minpy.nn.model.ModelBase` made of a module (usually a ``Sequential``) and a loss:
    ``'softmax'``, ``'svm'``, ``'l2'`` (the functions of :mod:`minpy.nn.layers`) or ``loss(predict, y)``.

    ``input_shape``: the shape of one sample (no batch axis). Given, the parameters are declared now;
    otherwise on the first forward pass (or ``build(input_shape)``), and created with their init rules then.
    """

    def __init__(self, container, loss, input_shape=None):
        super().__init__()
        self.container = _check_module(container)
        if isinstance(loss, str):
            if loss not in ("softmax", "svm", "l2"):
                raise ValueError(f"loss must be 'softmax', 'svm', 'l2' or a function, got {loss!r}")
            self.loss_function = getattr(layers, f"{loss}_loss")
        elif callable(loss):
            self.loss_function = loss
        else:
            raise TypeError(f"loss must be a name or a function, got {type(loss).__name__}")
        self._name_modules()
        self.input_shape = None
        if input_shape is not None:
            self.build(input_shape)

    def _name_modules(self):
        counters, names, seen = {}, set(), set()

        def visit(m):
            if id(m) in seen:      # a module used twice shares its parameters
                return
            seen.add(id(m))
            if m.name is None:
                n = counters.get(m.kind, 0)
                while f"{m.kind}{n}" in names:
                    n += 1
                m.name = f"{m.kind}{n}"
                counters[m.kind] = n + 1
            elif m.name in names:
                raise ValueError(f"two modules of the model are named {m.name!r}")
            names.add(m.name)
            for child in m.children():
                visit(child)
        visit(self.container)

    @property
    def built(self):
        """Whether the parameters have been declared (their shapes known)."""
        return self.input_shape is not None

    def build(self, input_shape):
        """Declare every parameter for samples of ``input_shape`` (no batch axis). Returns the model."""
        input_shape = tuple(int(d) for d in input_shape)
        if self.built:
            if input_shape != self.input_shape:
                raise ValueError(f"the model was built for samples of shape {self.input_shape}, got {input_shape}")
            return self

        def declare(name, shape, setting, aux):
            shape = tuple(int(d) for d in shape)
            if aux:
                self.add_aux_param(name, _create(shape, setting))
            elif name in self.param_configs:      # a module used twice: one parameter
                if self.param_configs[name]["shape"] != shape:
                    raise ValueError(f"parameter {name!r} is used with shapes {self.param_configs[name]['shape']} "
                                     f"and {shape}")
            else:
                self.add_param(name, shape, **setting)

        self.output_shape = self.container.infer(input_shape, declare)
        self.input_shape = input_shape
        return self

    def _materialize(self, sample_shape):
        """Build for ``sample_shape`` if needed and create every parameter not created yet."""
        if not self.built:
            self.build(sample_shape)
        for name, config in self.param_configs.items():
            if name not in self.params:
                self.params[name] = _create(config["shape"], config)
        for name, value in self.aux_param_configs.items():
            if name not in self.aux_params:
                self.aux_params[name] = value.copy()

    def forward(self, X, mode="train"):
        self._materialize(tuple(X.shape[1:]))
        return self.container.forward(X, self, mode)

    def loss(self, predict, y):
        return self.loss_function(predict, y)

    def grad_and_loss(self, batch):
        self._materialize(tuple(batch.data[0].shape[1:]))
        return super().grad_and_loss(batch)

    def load(self, prefix):
        if not self.built:
            raise CheckpointError("the model's parameter shapes are not known yet: give Model(..., input_shape=...) "
                                  "or call build(input_shape) before load")
        return super().load(prefix)


def _create(shape, setting):
    rule = setting.get("init_rule", "xavier")
    fn = getattr(_init, rule, None) if isinstance(rule, str) else rule
    if not callable(fn):
        raise ValueError(f"unknown init_rule {rule!r}")
    return fn(tuple(shape), dict(setting.get("init_config", {})))
