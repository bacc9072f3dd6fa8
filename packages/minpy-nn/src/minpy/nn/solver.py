"""``Solver``: trains a :class:`minpy.nn.model.ModelBase` with stochastic gradient descent (MinPy 0.3's API).

    solver = Solver(model, train_iter, test_iter, update_rule='sgd_momentum',
                    optim_config={'learning_rate': 0.1, 'momentum': 0.9}, lr_decay=0.95, num_epochs=10)
    solver.init()      # create the parameters with their init rules
    solver.train()     # afterwards model.params holds the best parameters by validation accuracy

Each training step runs ``model.grad_and_loss(batch)`` and applies the update rule (a function of
:mod:`minpy.nn.optim`, or any callable ``(w, dw, config) -> (w, config)``) to every parameter, each with its
own copy of ``optim_config``. After every epoch the learning rate of each parameter is multiplied by
``lr_decay`` and the accuracy on (a sample of) the training data and on the test data is recorded.

Progress (``verbose``): on a terminal, with tqdm installed, a progress bar per epoch (it fits in 80 columns);
otherwise, and after each epoch's bar, one plain line per epoch. Optional: loss and accuracy curves as a PNG
(``plot_path``, needs matplotlib), checkpoints every ``checkpoint_every`` epochs (``model.save``, atomic: an
interrupted run leaves the last checkpoint loadable). A loss that is not finite (NaN or infinite) stops training
with a ``FloatingPointError`` naming the epoch and the batch.

Data-parallel: with ``kvstore='dist_sync'`` (or ``'dist_async'``, ``'local'``, a :class:`minpy.nn.dist.KVStore`)
and the program started by ``python -m minpy.nn.launch``, each worker trains on its shard of the training data
and the gradients are combined through MXNet's parameter server (:class:`minpy.nn.dist.DataParallel`); only rank
0 prints and writes checkpoints, and every worker ends with the same parameters.

``jit=True`` compiles each step's forward and backward pass with :func:`minpy.jit.jit` (recorded at the first
step of each batch shape, replayed after; the same numbers as without it on NumPy's replay engine). ``jit`` may
also name the jit's engine: ``"auto"`` (what True means: the engine measured faster per program), ``"replay"``
(bit for bit as without jit on NumPy) or ``"mxnet"`` (MXNet symbol graphs; equal within float tolerance).
"""
import copy
import math
import os
import sys
import time

import numpy as onp

from minpy.array import Array
from minpy.nn import init, optim

_TASK_TYPES = ("classification", "regression")


def _as_numpy(value):
    if isinstance(value, Array):
        return value.asnumpy()
    return onp.asarray(value)


def _resolve(module, rule, what):
    if callable(rule):
        return rule
    fn = getattr(module, rule, None) if isinstance(rule, str) and not rule.startswith("_") else None
    if not callable(fn):
        raise ValueError(f"invalid {what} {rule!r}: give a function or the name of one in {module.__name__}")
    return fn


class _Batch:
    """The arrays of a data batch, as the jitted step receives them."""

    __slots__ = ("data", "label", "pad")

    def __init__(self, data, label, pad):
        self.data = data
        self.label = label
        self.pad = pad


class Solver:
    """Trains ``model`` on ``train_dataiter``, evaluating on ``test_dataiter`` after every epoch.

    After ``train()``: ``loss_history`` (one loss per step), ``train_acc_history`` and ``val_acc_history``
    (one value per epoch; for ``task_type='regression'`` they hold the mean loss instead of an accuracy),
    ``best_params`` / ``best_aux_params`` (copies of the parameters of the best epoch by validation
    accuracy, or lowest validation loss for regression; ties go to the later epoch), ``best_val_acc`` and
    ``best_epoch``. The best
    parameters are copied back into the model at the end of training.
    """

    def __init__(self, model, train_dataiter, test_dataiter, update_rule="sgd", optim_config=None,
                 lr_decay=1.0, num_epochs=10, init_rule="xavier", init_config=None, print_every=None, verbose=True,
                 train_acc_num_samples=1000, task_type="classification", checkpoint_every=None,
                 checkpoint_dir=None, plot_path=None, kvstore=None, jit=False):
        if task_type not in _TASK_TYPES:
            raise ValueError(f"task_type must be one of {_TASK_TYPES}, got {task_type!r}")
        if checkpoint_every is not None and (int(checkpoint_every) < 1 or checkpoint_dir is None):
            raise ValueError("checkpoint_every needs a positive number of epochs and a checkpoint_dir")
        if plot_path is not None:
            _require_matplotlib()   # fail now, not after the training
        self.model = model
        self.train_dataiter = train_dataiter
        self.test_dataiter = test_dataiter
        self.update_rule = _resolve(optim, update_rule, "update_rule")
        self.optim_config = dict(optim_config or {})
        self.lr_decay = lr_decay
        self.num_epochs = int(num_epochs)
        self.init_rule = init_rule
        self.init_config = dict(init_config or {})
        # None: progress once per epoch (and a terminal's bar refreshes its loss every 10 steps); a number: also a
        # line with the loss every that many steps where there is no bar (MinPy 0.3's iteration lines)
        self.print_every = None if print_every is None else max(1, int(print_every))
        self.verbose = verbose
        self.train_acc_num_samples = train_acc_num_samples
        self.task_type = task_type
        self.checkpoint_every = None if checkpoint_every is None else int(checkpoint_every)
        self.checkpoint_dir = checkpoint_dir
        self.plot_path = plot_path
        if jit not in (False, True, None, "auto", "replay", "mxnet"):
            raise ValueError(f"Solver: jit must be True, False or an engine ('auto', 'replay', 'mxnet'), got {jit!r}")
        self.jit = bool(jit)
        self.jit_engine = jit if isinstance(jit, str) else "auto"
        self._jitted = None
        _resolve(init, init_rule, "init_rule")
        self._parallel = _data_parallel(kvstore)
        self.kvstore = None if self._parallel is None else self._parallel.kvstore
        if self._parallel is not None:
            self.train_dataiter = self._parallel.shard(train_dataiter)
            self.verbose = verbose and self._parallel.is_root   # only rank 0 prints
        self._reset()

    # -- book-keeping -----------------------------------------------------------------------------------------
    def _reset(self):
        self.epoch = 0
        self._epoch_first_step = 0  # index in loss_history of the current epoch's first step
        self._progress = None
        self.best_val_acc = None
        self.best_epoch = None
        self.best_params = {}
        self.best_aux_params = {}
        self.loss_history = []
        self._unread = 0  # loss_history[_unread:] are still arrays (see _read_losses)
        self.train_acc_history = []
        self.val_acc_history = []
        self.checkpoints = []
        self.optim_configs = {}
        self._reset_data_iterators()

    def _reset_data_iterators(self):
        for it in (self.train_dataiter, self.test_dataiter):
            if it is not None:
                it.reset()

    def _optim_config(self, name):
        """The update rule's config of parameter ``name`` (its own copy of ``optim_config``)."""
        config = self.optim_configs.get(name)
        if config is None:
            config = self.optim_configs[name] = copy.deepcopy(self.optim_config)
        return config

    def _better(self, value):
        if self.best_val_acc is None:
            return True
        # Ties go to the later epoch: as good on the validation data, and trained longer.
        if self.task_type == "classification":
            return value >= self.best_val_acc
        return value <= self.best_val_acc

    # -- initialisation ---------------------------------------------------------------------------------------
    def _input_shape(self):
        """The shape of one training sample, for a model whose parameter shapes come from its input."""
        provide = getattr(self.train_dataiter, "provide_data", None)
        if provide:
            return tuple(provide[0][1][1:])
        self.train_dataiter.reset()
        batch = next(iter(self.train_dataiter))
        self.train_dataiter.reset()
        return tuple(batch.data[0].shape[1:])

    def init(self):
        """Create every parameter declared in ``model.param_configs`` with its init rule: the one in its config
        (``init_rule`` / ``init_config``) or else the solver's; and every auxiliary parameter from
        ``model.aux_param_configs``."""
        model = self.model
        if getattr(model, "built", True) is False:   # a model_builder Model whose shapes come from the input
            model.build(self._input_shape())
        for name, config in model.param_configs.items():
            if "init_rule" in config:
                rule = _resolve(init, config["init_rule"], "init_rule")
                init_config = copy.deepcopy(config.get("init_config", {}))
            else:
                rule = _resolve(init, self.init_rule, "init_rule")
                init_config = copy.deepcopy(self.init_config)
            model.params[name] = rule(tuple(config["shape"]), init_config)
        for name, value in model.aux_param_configs.items():
            model.aux_params[name] = value.copy() if hasattr(value, "copy") else value
        self.optim_configs = {name: copy.deepcopy(self.optim_config) for name in model.params}

    # -- training ---------------------------------------------------------------------------------------------
    def _step(self, batch):
        """One gradient update on ``batch``; returns the loss as computed, not read back: reading a value
        waits for an asynchronous backend (MXNet's engine, a GPU), so losses are read only to be printed and
        at the end of each epoch (:meth:`_read_losses`)."""
        grads, loss = self._jit_grad_and_loss(batch) if self.jit else self.model.grad_and_loss(batch)
        params = self.model.params
        parallel = self._parallel
        if parallel is not None:
            grads, loss = parallel.gradients(grads, loss)
            before = dict(params)
        self.loss_history.append(loss)
        for name, dw in grads.items():
            config = self._optim_config(name)
            params[name], next_config = self.update_rule(params[name], dw, config)
            if next_config is not config:
                self.optim_configs[name] = next_config
        if parallel is not None:
            parallel.updated(params, before)
        return loss

    def _jit_grad_and_loss(self, batch):
        """``model.grad_and_loss(batch)`` compiled by ``minpy.jit``: parameters, auxiliary parameters and the
        batch's arrays are the compiled function's arguments, so each step replays the recorded forward and
        backward pass on the current values; auxiliary parameters the forward pass rebinds (running statistics)
        come back as results. The update rules run as usual (they keep Python counters, such as Adam's step
        number, that would make every step a new signature)."""
        if self._jitted is None:
            from minpy.jit import jit

            self._jitted = jit(self._grad_and_loss_of, max_signatures=64, engine=self.jit_engine)
        model = self.model
        grads, loss, aux = self._jitted(dict(model.params), dict(model.aux_params), list(batch.data),
                                        list(batch.label), int(getattr(batch, "pad", 0) or 0))
        model.aux_params.update(aux)
        return grads, loss

    def _grad_and_loss_of(self, params, aux_params, data, label, pad):
        model = self.model
        live_params, live_aux = model.params, model.aux_params
        model.params, model.aux_params = params, aux_params
        try:
            grads, loss = model.grad_and_loss(_Batch(data, label, pad))
            for name, value in params.items():  # parameters a lazily built model created in this call
                if name not in live_params:
                    live_params[name] = value
            return grads, loss, dict(model.aux_params)
        finally:
            model.params, model.aux_params = live_params, live_aux

    def _read_losses(self):
        """Turn the losses recorded since the last read into floats (one wait for the device in all). A loss that
        is not finite stops training (FloatingPointError): found here, at the latest when the epoch ends, so the
        steps pay no wait for the device."""
        history = self.loss_history
        for i in range(self._unread, len(history)):
            history[i] = float(_as_numpy(history[i]))
            if not math.isfinite(history[i]):
                self._unread = i + 1
                self._diverged(i, history[i])
        self._unread = len(history)

    def _diverged(self, index, value):
        """Stop training at a loss that is not finite (``loss_history[index]``, in the current epoch): the model
        gets the best parameters so far back, and the error names the epoch and the batch."""
        batch = index - self._epoch_first_step + 1
        if self.best_params:
            self._restore_best()
            kept = f"the model holds the parameters of the best epoch so far (epoch {self.best_epoch})"
        else:
            kept = "no epoch had finished, so the model holds the parameters it diverged to"
        raise FloatingPointError(
            f"Solver: the training loss is {value} at epoch {self.epoch}, batch {batch} (step {index + 1} of the "
            f"training): the training diverged, or the data or the loss produce NaN. Lower the learning rate, "
            f"check the data and the loss; {kept}.")

    def _decay_learning_rate(self):
        for config in self.optim_configs.values():
            if "learning_rate" in config:
                config["learning_rate"] *= self.lr_decay

    def _num_batches(self):
        it = self.train_dataiter
        n, size = getattr(it, "num_data", None), getattr(it, "batch_size", None)
        if not n or not size:
            return None
        if getattr(it, "last_batch_handle", "pad") == "discard":
            return n // size
        return math.ceil(n / size)

    def train(self):
        """Run ``num_epochs`` epochs of training. Parameters not created yet are created first (``init()``)."""
        try:
            return self._train()
        finally:   # an interrupt or an error must not leave a bar behind on the terminal
            if self._progress is not None:
                self._progress.close()

    def _train(self):
        model = self.model
        if getattr(model, "built", True) is False or any(n not in model.params for n in model.param_configs):
            self.init()
        total = self._num_batches()
        if self._parallel is not None:
            self._parallel.start(model, self.num_epochs, total)
        progress = self._progress = _Progress(self, total) if self.verbose else None
        for epoch in range(self.num_epochs):
            start = time.time()
            self.epoch = epoch + 1
            self._epoch_first_step = len(self.loss_history)
            self.train_dataiter.reset()
            if progress is not None:
                progress.start_epoch()
            for batch in self.train_dataiter:
                self._step(batch)
                if progress is not None:
                    progress.step()
            self._read_losses()

            train_acc, val_acc = self._epoch_metrics()
            self.train_acc_history.append(train_acc)
            self.val_acc_history.append(val_acc)

            if progress is not None:
                progress.end_epoch(train_acc, val_acc, time.time() - start)

            if self._better(val_acc):
                self.best_val_acc = val_acc
                self.best_epoch = self.epoch
                self.best_params = {k: _copy(v) for k, v in model.params.items()}
                self.best_aux_params = {k: _copy(v) for k, v in model.aux_params.items()}

            if self.checkpoint_every and self.epoch % self.checkpoint_every == 0 and self._writes_files():
                os.makedirs(self.checkpoint_dir, exist_ok=True)
                prefix = os.path.join(self.checkpoint_dir, f"epoch{self.epoch:04d}")
                self.checkpoints.append(model.save(prefix))

            self._decay_learning_rate()

        self._restore_best()
        if self._parallel is not None:
            self._parallel.finish(model)
        if self.plot_path is not None and self._writes_files():
            self.plot(self.plot_path)
        return self

    def _restore_best(self):
        """Put (copies of) the best parameters into the model; best_params stays the solver's own copy."""
        if self.best_params:
            self.model.params.update({k: _copy(v) for k, v in self.best_params.items()})
            self.model.aux_params.update({k: _copy(v) for k, v in self.best_aux_params.items()})

    def _writes_files(self):
        """Whether this process writes checkpoints and plots (with a kvstore: rank 0 only)."""
        return self._parallel is None or self._parallel.is_root

    # -- evaluation -------------------------------------------------------------------------------------------
    def _epoch_metrics(self):
        """``(train_acc, val_acc)`` of the epoch just ended (with a kvstore: rank 0's, on every worker)."""
        def compute():
            train_acc = self.check_accuracy(self.train_dataiter, num_samples=self.train_acc_num_samples)
            val_acc = train_acc if self.test_dataiter is None else self.check_accuracy(self.test_dataiter)
            return train_acc, val_acc
        if self._parallel is None:
            return compute()
        return self._parallel.epoch_metrics(self.model, compute)

    def check_accuracy(self, dataiter, num_samples=None):
        """The fraction of samples of ``dataiter`` that the model classifies correctly (for regression: the
        mean loss per batch). With ``num_samples``, on a random subset of that many samples."""
        it = dataiter
        n = getattr(dataiter, "num_data", None)
        if num_samples is not None and n is not None and n > num_samples and hasattr(dataiter, "getsubiter"):
            it = dataiter.getsubiter(num_samples)
        it.reset()
        correct = count = 0
        loss_sum = 0.0
        batches = 0
        for batch in it:
            predict = self.model.forward_batch(batch, mode="test")
            real = batch.data[0].shape[0] - int(getattr(batch, "pad", 0) or 0)
            if self.task_type == "classification":
                scores = _as_numpy(predict)[:real]
                labels = _as_numpy(batch.label[0])[:real].reshape(-1)
                correct += int(onp.sum(onp.argmax(scores, axis=1) == labels))
                count += real
            else:
                loss_sum += float(_as_numpy(self.model.loss_batch(batch, predict)))
                batches += 1
        it.reset()
        if self.task_type == "classification":
            return correct / count if count else 0.0
        return loss_sum / batches if batches else 0.0

    # -- curves -----------------------------------------------------------------------------------------------
    def plot(self, path):
        """Save the loss (per step) and accuracy (per epoch) curves as an image at ``path`` (needs matplotlib)."""
        _require_matplotlib()
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        fig = Figure(figsize=(10, 4))
        FigureCanvasAgg(fig)
        ax_loss, ax_acc = fig.subplots(1, 2)
        ax_loss.plot(range(1, len(self.loss_history) + 1), self.loss_history, lw=0.8)
        ax_loss.set_xlabel("iteration")
        ax_loss.set_ylabel("training loss")
        ax_loss.set_title("loss")
        epochs = range(1, len(self.train_acc_history) + 1)
        target = "accuracy" if self.task_type == "classification" else "loss"
        ax_acc.plot(epochs, self.train_acc_history, "o-", label=f"train {target}")
        ax_acc.plot(epochs, self.val_acc_history, "s-", label=f"validation {target}")
        ax_acc.set_xlabel("epoch")
        ax_acc.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax_acc.set_ylabel(target)
        ax_acc.set_title(target)
        ax_acc.legend()
        fig.tight_layout()
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        fig.savefig(path, format="png")
        return path


def _data_parallel(kvstore):
    """The data-parallel helper for ``kvstore`` (None without one); minpy.nn.dist imports MXNet only then."""
    if kvstore is None:
        return None
    from minpy.nn import dist

    return dist.DataParallel(kvstore)


def _copy(value):
    """A copy that shares no memory with ``value`` (Arrays and NumPy arrays), or the value itself."""
    if isinstance(value, (Array, onp.ndarray)):
        return value.copy()
    return copy.deepcopy(value)


def _optional_tqdm():
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


class _Progress:
    """What ``train()`` shows: on a terminal with tqdm, a progress bar per epoch that fits in 80 columns (the
    loss refreshed every ``print_every`` steps, 10 by default) and replaced at the end of the epoch by one plain
    line; elsewhere (output piped to a file, a notebook, no tqdm) only the plain lines, one per epoch, and the
    loss every ``print_every`` steps when the solver was given a ``print_every``."""

    BAR = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]"
    BAR_UNSIZED = "{desc}: {n_fmt} batches [{elapsed}{postfix}]"

    def __init__(self, solver, total):
        self.solver = solver
        self.total = total
        tqdm = _optional_tqdm()
        self.tqdm = tqdm if tqdm is not None and _is_terminal(sys.stderr) else None
        self.bar = None
        self.step_index = 0

    def start_epoch(self):
        if self.tqdm is not None:
            s = self.solver
            self.bar = self.tqdm(total=self.total, desc=f"epoch {s.epoch}/{s.num_epochs}", leave=False,
                                 bar_format=self.BAR if self.total else self.BAR_UNSIZED,
                                 ncols=min(_terminal_columns(), 80), file=sys.stderr)

    def step(self):
        s = self.solver
        every = s.print_every
        if self.bar is not None:
            self.bar.update(1)
            if self.step_index % (every or 10) == 0:
                s._read_losses()
                self.bar.set_postfix_str(f"loss {s.loss_history[-1]:.4f}", refresh=False)
        elif every is not None and self.step_index % every == 0:
            s._read_losses()
            of = "?" if self.total is None else self.total * s.num_epochs
            print(f"iteration {self.step_index + 1}/{of}: loss {s.loss_history[-1]:.6f}", flush=True)
        self.step_index += 1

    def end_epoch(self, train_acc, val_acc, seconds):
        s = self.solver
        self.close()
        target = "acc" if s.task_type == "classification" else "loss"
        loss = f"loss {s.loss_history[-1]:.4f}, " if s.loss_history else ""
        print(f"epoch {s.epoch}/{s.num_epochs}: {loss}train {target} {train_acc:.4f}, val {target} {val_acc:.4f} "
              f"({seconds:.1f} s)", flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):   # no isatty, or a closed stream
        return False


def _terminal_columns():
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return 80


def _require_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError("Solver(plot_path=...) saves its curves with matplotlib, which is not installed: "
                          "pip install matplotlib (or leave plot_path unset)") from None
