"""MXNet symbols as ordinary differentiable functions.

``Function(symbol, input_shapes)`` binds the symbol to an MXNet executor; calling it with keyword arrays runs
the executor's forward pass and returns minpy Arrays. Inside ``minpy.autograd.grad`` a call is one primitive:
its gradient comes from the executor's own backward pass, for every input (data and weights).

Executors are cached per signature (input shapes and dtypes). A call recorded by autograd holds its executor
until its graph is gone (the gradient call returned), so one Function can be called several times in one
graph (weight sharing, unrolled loops): a second executor is bound for the same signature while the first
is busy, and both go back to the cache afterwards.

Auxiliary states (BatchNorm's moving mean/var) are kept by the Function and shared by all its executors.
MXNet updates them in training mode when a call is differentiated (on CPU in the backward pass).
"""
import collections
import contextlib
import io
import threading
import warnings
import weakref

import numpy as onp

from minpy import extend
from minpy.array import Array
from minpy.autograd.tracer import AutogradError, Node, Tangent, Tracer, _find_top, _unbox, record
from minpy.backends import mxnet_backend, numpy_backend as _NUMPY


class SymbolError(ValueError):
    """Bad arguments to a symbol Function: missing, extra, or of the wrong shape."""


def _require_mxnet():
    if not mxnet_backend.available():
        raise RuntimeError(f"minpy.symbol needs MXNet: {mxnet_backend.unavailable_reason()}")
    mxnet_backend.ensure_np_shape()
    return mxnet_backend.mx


def _first_line(exc):
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _as_shape(fname, name, shape):
    if isinstance(shape, int):
        shape = (shape,)
    try:
        if isinstance(shape, (str, bytes)):
            raise TypeError
        return tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise TypeError(f"Function {fname}: input_shapes[{name!r}] must be a shape (a tuple of ints), "
                        f"got {shape!r}") from None


class _Bound:
    """An executor with its signature and the key of the auxiliary-state set it was bound to.

    ``ran_forward``/``ran_backward``: whether a pass has completed once. The first pass of each kind waits for
    MXNet, so that an error in it (a kernel MXNet lacks for these shapes, memory) becomes a SymbolError naming the
    Function; later passes of the same executor run the same kernels and are left asynchronous, so that
    nothing waits for the engine until a value is read. Symbols with auxiliary states always wait: MXNet 1.9's
    BatchNorm updates its moving statistics in the CPU backward pass without telling the engine, so a read of
    them could overtake the update."""

    __slots__ = ("executor", "sig", "aux_key", "ran_forward", "ran_backward")

    def __init__(self, executor, sig, aux_key):
        self.executor = executor
        self.sig = sig
        self.aux_key = aux_key
        self.ran_forward = False
        self.ran_backward = False


class Function:
    """Wrap an MXNet symbol as a function of its arguments (keyword arrays).

    ``input_shapes``: a dict ``{argument name: shape}`` for the inputs whose shapes let MXNet infer the rest
    (usually the data). ``name`` appears in error messages. ``ctx`` is the MXNet context the executors run
    on (CPU by default). ``is_train`` selects training mode (dropout, BatchNorm batch statistics and
    moving-average updates); change it with :meth:`train` / :meth:`predict`.

    Calling it needs every argument of the symbol by keyword (see :attr:`arg_names` and :attr:`arg_shapes`);
    it returns one Array, or a tuple of Arrays for a symbol with several outputs (``mx.sym.Group``).
    """

    def __init__(self, symbol, input_shapes, name=None, ctx=None, is_train=True):
        mx = _require_mxnet()
        if not isinstance(symbol, mx.sym.Symbol):
            raise TypeError(f"Function needs an mxnet.symbol.Symbol, got {type(symbol).__name__}")
        self.symbol = symbol
        self.name = name or symbol.name or "symbol"
        if not isinstance(input_shapes, dict):
            raise TypeError(f"Function {self.name}: input_shapes must be a dict {{argument name: shape}}, e.g. "
                            f"{{'x': (8, 3, 10, 10)}}; got {type(input_shapes).__name__}. Arguments of the symbol: "
                            f"{symbol.list_arguments()}")
        self._mx = mx
        self.ctx = ctx if ctx is not None else mx.cpu()
        self.is_train = bool(is_train)
        self.arg_names = tuple(symbol.list_arguments())
        self.aux_names = tuple(symbol.list_auxiliary_states())
        self.output_names = tuple(symbol.list_outputs())
        input_shapes = {k: _as_shape(self.name, k, v) for k, v in input_shapes.items()}
        unknown = sorted(set(input_shapes) - set(self.arg_names))
        if unknown:
            raise SymbolError(f"Function {self.name}: input_shapes names {unknown}, which are not arguments of the "
                              f"symbol; its arguments are {list(self.arg_names)}")
        self.input_shapes = input_shapes
        arg_shapes, out_shapes, aux_shapes = self._infer(input_shapes)
        #: every argument's shape, as inferred from ``input_shapes``
        self.arg_shapes = dict(zip(self.arg_names, arg_shapes))
        #: every output's shape, as inferred from ``input_shapes``
        self.output_shapes = dict(zip(self.output_names, out_shapes))
        self._aux_shapes = dict(zip(self.aux_names, aux_shapes))
        # Auxiliary states: initial values (host), then one set of MXNet arrays per dtype combination, shared
        # by the executors of that dtype; _aux_latest names the set holding the newest values.
        self._aux_init = {n: (onp.ones if n.endswith("var") else onp.zeros)(s, dtype=onp.float32)
                          for n, s in self._aux_shapes.items()}
        self._aux_sets = {}
        self._aux_latest = None
        # signature -> executors ready for use, the most recently used signature last; bounded (see _release)
        self._free = collections.OrderedDict()
        # reentrant: a call's executor can come back (weakref.finalize, run by the collector) while this thread
        # holds the lock
        self._lock = threading.RLock()
        #: how many executors this Function has bound (one per signature, more when calls overlap in a graph)
        self.num_binds = 0
        self._cached_op = None   # the symbol as an MXNet CachedOp, for replays (see _Forward.replay)
        self._replayed = set()   # signatures whose replayed passes have completed once

    # -- shapes -----------------------------------------------------------------------------------------------
    def _infer(self, shapes):
        try:
            # MXNet warns before returning None for undetermined shapes, and prints the arguments on errors.
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                arg_shapes, out_shapes, aux_shapes = self.symbol.infer_shape(**shapes)
        except Exception as exc:
            raise SymbolError(f"Function {self.name}: MXNet cannot infer shapes from {shapes}: {_first_line(exc)}. "
                              f"Arguments of the symbol: {list(self.arg_names)}") from None
        if arg_shapes is None or any(s is None or -1 in s for s in arg_shapes):
            known = dict(zip(self.arg_names, arg_shapes or [None] * len(self.arg_names)))
            raise SymbolError(f"Function {self.name}: shapes {shapes} do not determine every argument; inferred "
                              f"{known}. Give the shapes of more inputs")
        return ([tuple(s) for s in arg_shapes], [tuple(s) for s in out_shapes],
                [tuple(s) for s in aux_shapes])

    def _expected_shapes(self, shapes):
        """The argument shapes the symbol wants given the shapes of the ``input_shapes`` arguments only."""
        try:
            arg_shapes, _, _ = self._infer({n: shapes[n] for n in self.input_shapes})
            return dict(zip(self.arg_names, arg_shapes))
        except SymbolError:
            return self.arg_shapes

    def _shape_error(self, shapes, detail):
        expected = self._expected_shapes(shapes)
        wrong = {n: shapes[n] for n in self.arg_names if expected.get(n) != shapes[n]}
        raise SymbolError(f"Function {self.name}: wrong argument shapes {wrong or shapes}; expected arguments and "
                          f"shapes: {expected} ({detail})")

    def get_output_shapes(self):
        """MinPy 0.3's spelling of :attr:`output_shapes` (``{output name: shape}``)."""
        return dict(self.output_shapes)

    @property
    def param_shapes(self):
        """``{name: shape}`` of the arguments not named in ``input_shapes`` (the learnable parameters)."""
        return {n: s for n, s in self.arg_shapes.items() if n not in self.input_shapes}

    #: MinPy 0.3 code read this private attribute; kept as an alias of :attr:`param_shapes`.
    _param_shapes = param_shapes

    def get_params(self):
        """MinPy 0.3's: ``{parameter name: {'shape': shape}}``."""
        return {n: {"shape": s} for n, s in self.param_shapes.items()}

    def get_one_output_shape(self):
        """MinPy 0.3's: the shape of the only output (an error for a symbol with several outputs)."""
        if len(self.output_shapes) != 1:
            raise SymbolError(f"Function {self.name} has {len(self.output_shapes)} outputs "
                              f"{list(self.output_names)}; use output_shapes")
        return next(iter(self.output_shapes.values()))

    # -- modes and auxiliary states ---------------------------------------------------------------------------
    def train(self):
        """Training mode: dropout active, BatchNorm uses batch statistics and updates its moving averages."""
        self.is_train = True
        return self

    def predict(self):
        """Inference mode: dropout off, BatchNorm uses its moving averages."""
        self.is_train = False
        return self

    @property
    def aux_states(self):
        """The auxiliary states (e.g. BatchNorm moving mean/var) as minpy Arrays (copies). Assign a dict
        ``{name: array}`` to set some or all of them."""
        if self._aux_latest is None:
            return {n: Array(onp.array(v), _NUMPY) for n, v in self._aux_init.items()}
        return {n: Array(v.asnumpy(), _NUMPY) for n, v in self._aux_sets[self._aux_latest].items()}

    @aux_states.setter
    def aux_states(self, values):
        unknown = sorted(set(values) - set(self.aux_names))
        if unknown:
            raise SymbolError(f"Function {self.name}: {unknown} are not auxiliary states; they are "
                              f"{list(self.aux_names)}")
        for n, v in values.items():
            host = onp.asarray(v.asnumpy() if isinstance(v, (Array, Tracer)) else v)
            if host.shape != self._aux_shapes[n]:
                raise SymbolError(f"Function {self.name}: auxiliary state {n!r} has shape {self._aux_shapes[n]}, "
                                  f"got {host.shape}")
            self._aux_init[n] = host.astype(onp.float32)
            for aux in self._aux_sets.values():
                aux[n][:] = host.astype(aux[n].dtype)

    def _aux_set(self, dtypes):
        key = tuple(onp.dtype(d).str for d in dtypes)
        if key not in self._aux_sets:
            source = self.aux_states
            mx = self._mx
            self._aux_sets[key] = {n: mx.nd.array(source[n].asnumpy(), ctx=self.ctx, dtype=d)
                                   for n, d in zip(self.aux_names, dtypes)}
            if self._aux_latest is None:
                self._aux_latest = key
        return key

    def _sync_aux(self, key):
        """Make set ``key`` hold the newest auxiliary values (they may have been updated in another dtype)."""
        latest = self._aux_latest
        if latest is not None and latest != key and self.aux_names:
            src, dst = self._aux_sets[latest], self._aux_sets[key]
            for n in self.aux_names:
                src[n].astype(dst[n].dtype).copyto(dst[n])
        self._aux_latest = key

    # -- calling ----------------------------------------------------------------------------------------------
    #: when true, an argument left out of a call reads as zeros of its inferred shape (MinPy 0.3's behaviour,
    #: used by ``minpy.core.Function``); by default a missing argument is an error
    missing_as_zeros = False

    def __call__(self, **kwargs):
        if self.missing_as_zeros:
            kwargs = {**{n: onp.zeros(s, dtype=onp.float32) for n, s in self.arg_shapes.items() if n not in kwargs},
                      **kwargs}
        top = _find_top((), kwargs)
        if top == 0:
            return extend.call_opaque(_Forward(self, keep=False), (), kwargs)
        uargs, ukwargs, parents = _unbox((), kwargs, top)
        call = _RecordedCall(self)
        value = call.forward(ukwargs)
        if _find_top((), ukwargs):  # outer gradient calls trace some arguments too: record the call there
            value = self(**ukwargs)
        # a reverse trace records the call; a forward one asks for its tangent (which the executor cannot give:
        # the transposed VJP reaches _NoHigherOrder and says so)
        return record(call, (), ukwargs, value, parents, top)

    def _check_args(self, kwargs):
        missing = [n for n in self.arg_names if n not in kwargs]
        extra = sorted(set(kwargs) - set(self.arg_names))
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {missing}")
            if extra:
                parts.append(f"unexpected {extra}")
            raise SymbolError(f"Function {self.name}: {'; '.join(parts)}. Expected arguments and shapes: "
                              f"{self.arg_shapes}")

    def _as_inputs(self, kwargs):
        """Each argument as MXNet (legacy nd) data. A symbol computes in one dtype, so the arguments are cast
        to their common dtype by NumPy's promotion rules (float64 data with float32 weights runs in float64;
        gradients are cast back to each argument's own dtype). Integer and boolean inputs compute in float64."""
        return self._to_mxnet(self._values(kwargs))

    def _values(self, kwargs):
        """Each argument as an Array (traced values unboxed; host data as a float Array on NumPy)."""
        values = {}
        for name in self.arg_names:
            value = kwargs[name]
            while isinstance(value, Tracer):
                value = value._value
            if not isinstance(value, Array):
                host = onp.asarray(value)
                value = Array(onp.array(host, dtype=host.dtype if host.dtype.kind == "f" else onp.float64), _NUMPY)
            values[name] = value
        return values

    def _to_mxnet(self, values):
        """The Arrays of :meth:`_values` as MXNet data in their common dtype, and their own dtypes."""
        common = onp.result_type(*[v.dtype for v in values.values()])
        if common.kind != "f" or not mxnet_backend.supports_dtype(common):
            common = onp.dtype(onp.float64)
        inputs = {}
        for name, value in values.items():
            if value.dtype != common:
                value = value.astype(common)
            inputs[name] = value._get(mxnet_backend).as_nd_ndarray()
        return inputs, {n: v.dtype for n, v in values.items()}

    def _signature(self, inputs):
        return tuple((n, tuple(inputs[n].shape), onp.dtype(inputs[n].dtype).str) for n in self.arg_names)

    @contextlib.contextmanager
    def _mx_errors(self, what):
        try:
            yield
        except self._mx.base.MXNetError as exc:
            raise SymbolError(f"Function {self.name}: MXNet failed in {what}: {_first_line(exc)}") from None

    def _acquire(self, sig, inputs):
        with self._lock:
            pool = self._free.get(sig)
            if pool:
                self._free.move_to_end(sig)
                return pool.pop()
        shapes = {n: tuple(inputs[n].shape) for n in self.arg_names}
        try:
            arg_shapes, _, aux_shapes = self._infer(shapes)
        except SymbolError as exc:
            detail = str(exc).split(": ", 1)[-1]
        else:
            detail = None
        if detail is not None:
            self._shape_error(shapes, detail)
        for n, want in zip(self.arg_names, arg_shapes):
            if want != shapes[n]:
                self._shape_error(shapes, f"{n!r} should be {want}")
        for n, got in zip(self.aux_names, aux_shapes):
            if got != self._aux_shapes[n]:
                raise SymbolError(f"Function {self.name}: these input shapes give auxiliary state {n!r} the shape "
                                  f"{got}, not {self._aux_shapes[n]} as for input_shapes {self.input_shapes}")
        mx = self._mx
        dtype = inputs[self.arg_names[0]].dtype if self.arg_names else onp.float32
        with self._mx_errors("type inference"):
            _, _, aux_types = self.symbol.infer_type(**{n: dtype for n in self.arg_names})
        aux_key = self._aux_set(aux_types or [dtype] * len(self.aux_names))
        aux = [self._aux_sets[aux_key][n] for n in self.aux_names]
        args = {n: mx.nd.zeros(shapes[n], ctx=self.ctx, dtype=dtype) for n in self.arg_names}
        grads = {n: mx.nd.zeros(shapes[n], ctx=self.ctx, dtype=dtype) for n in self.arg_names}
        with self._mx_errors("binding"):
            executor = self.symbol.bind(self.ctx, args=args, args_grad=grads, grad_req="write", aux_states=aux)
        self.num_binds += 1
        return _Bound(executor, sig, aux_key)

    #: executors kept ready per signature (more are bound while calls overlap, then dropped) and signatures
    #: kept (the least recently used go first): each executor holds memory for its shapes
    max_free_per_signature = 4
    max_signatures = 8

    def _release(self, bound):
        with self._lock:
            free = self._free
            pool = free.get(bound.sig)
            if pool is None:
                pool = free[bound.sig] = []
            free.move_to_end(bound.sig)
            if len(pool) < self.max_free_per_signature:
                pool.append(bound)
            while len(free) > self.max_signatures:
                free.popitem(last=False)

    def _run(self, kwargs, copy_outputs=True):
        """Forward pass: (the executor it used, the outputs, the arguments' own dtypes). ``copy_outputs=False``:
        the outputs are the executor's own buffers (which its next pass overwrites), for a caller that does not
        read them."""
        self._check_args(kwargs)
        inputs, arg_dtypes = self._as_inputs(kwargs)
        sig = self._signature(inputs)
        bound = self._acquire(sig, inputs)
        executor = bound.executor
        try:
            with self._mx_errors("the forward pass"):
                for n in self.arg_names:
                    inputs[n].copyto(executor.arg_dict[n])
                self._sync_aux(bound.aux_key)
                executor.forward(is_train=self.is_train)
                outs = []
                for o in executor.outputs:
                    if copy_outputs:
                        o = o.copy()
                    if not bound.ran_forward or self.aux_names:
                        o.wait_to_read()
                    outs.append(Array(o.as_np_ndarray(), mxnet_backend))
                bound.ran_forward = True
        except BaseException:
            self._release(bound)
            raise
        return bound, (outs[0] if len(outs) == 1 else tuple(outs)), arg_dtypes

    def __repr__(self):
        return f"<minpy.symbol.Function {self.name}: arguments {list(self.arg_names)}>"

    # -- replays ----------------------------------------------------------------------------------------------
    def _replayable(self):
        """Whether a replay may run this symbol as a CachedOp: on the CPU, with no auxiliary states (whose
        per-dtype sets the executors keep in step)."""
        return not self.aux_names and self.ctx.device_type == "cpu"

    def _op(self):
        op = self._cached_op
        if op is None:
            with self._lock:
                if self._cached_op is None:
                    with self._mx_errors("building a CachedOp"):
                        self._cached_op = self._mx.nd.CachedOp(self.symbol)
                op = self._cached_op
        return op

    def _replay_inputs(self, kwargs):
        """The arguments as MXNet arrays that a replayed pass may keep until its backward pass: data that lives
        on NumPy (its MXNet copy is minpy's cache, never written: a write to the Array drops it) or that was
        cast here is used as it is; an Array that lives on MXNet is copied, as an executor's forward pass copies
        it, so that a later in-place write to it cannot reach the backward pass."""
        values = self._values(kwargs)
        inputs, arg_dtypes = self._to_mxnet(values)
        for name in self.arg_names:
            value, data = values[name], inputs[name]
            if value._backend is mxnet_backend and value.dtype == data.dtype:
                inputs[name] = data.copy()  # (not cast: the same memory as the Array's)
            else:
                inputs[name] = data.detach()  # a handle of its own, for MXNet's autograd to mark
        return [inputs[n] for n in self.arg_names], arg_dtypes

    def _wait_first(self, key, arrays):
        """Wait for ``arrays`` on the first replayed pass of ``key``, so that MXNet's errors name this Function
        (later passes of the same shapes run the same kernels and are left asynchronous)."""
        if key not in self._replayed:
            for a in arrays:
                a.wait_to_read()
            self._replayed.add(key)


class _Forward:
    """A Function's forward pass as one opaque call (``minpy.extend.call_opaque``), which a jit records and runs
    again. With ``keep`` the executor stays with this object (per thread) for the backward pass that follows:
    :meth:`take` hands it over (a call recorded by autograd), or :class:`_Backward` finds it there (a replay),
    until the next forward pass of this object in the thread gives it back to the Function's cache."""

    def __init__(self, function, keep):
        self.function = function
        self.keep = keep
        self.name = f"symbol.Function({function.name})"
        self._tls = threading.local()

    def __call__(self, **kwargs):
        return self._pass(kwargs, True)

    def call_unread(self, **kwargs):
        """The pass for a caller that reads none of its outputs (a jit replay whose program drops them): they are
        the executor's buffers, not copies (the copy of a convolution's output costs as much as a kernel)."""
        return self._pass(kwargs, False)

    def _pass(self, kwargs, copy_outputs):
        fn = self.function
        if self.keep:
            held = self._tls.__dict__.pop("held", None)
            if held is not None:
                fn._release(held[0])
        bound, outputs, arg_dtypes = fn._run(kwargs, copy_outputs)
        if self.keep:
            self._tls.held = (bound, arg_dtypes, fn.is_train)
        else:
            fn._release(bound)
        return outputs

    def replay(self, args, kwargs, unread=False):
        """The pass run again by a compiled program (a jit's opaque-call protocol). On the CPU, for a symbol
        without auxiliary states, it runs the symbol as an MXNet CachedOp under MXNet's autograd instead of an
        executor: the arguments are not copied in, the outputs and (in :meth:`_Backward.replay`) the gradients
        are arrays of their own, not an executor's buffers to copy out - measured on a convolution's forward
        and backward, 0.95x the time of a bound executor's passes against 1.07-1.14x for the executor with its
        copies. The kernels are the executor's (the same results). Otherwise it is the eager pass."""
        fn = self.function
        if not fn._replayable():
            return self._pass(kwargs, not unread)
        mx = fn._mx
        fn._check_args(kwargs)
        op = fn._op()
        inputs, arg_dtypes = fn._replay_inputs(kwargs)
        is_train = fn.is_train
        with fn._mx_errors("the forward pass"):
            if self.keep:
                # marked with buffers that are never read (mx.autograd.grad gives new arrays): left unfilled
                unread_buffers = [mx.nd.empty(a.shape, ctx=a.context, dtype=a.dtype) for a in inputs]
                mx.autograd.mark_variables(inputs, unread_buffers)
                with mx.autograd.record(train_mode=is_train):
                    outs = op(*inputs)
            else:
                with mx.autograd.train_mode() if is_train else mx.autograd.predict_mode():
                    outs = op(*inputs)
            outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
            sig = fn._signature(dict(zip(fn.arg_names, inputs)))
            fn._wait_first(sig, outs)
        if self.keep:
            self._tls.replayed = (inputs, outs, arg_dtypes, is_train, sig)
        wrapped = [Array(o.as_np_ndarray(), mxnet_backend) for o in outs]
        return wrapped[0] if len(wrapped) == 1 else tuple(wrapped)

    def held(self):
        """(executor, argument dtypes, training mode) this thread's last forward pass kept, or None."""
        return self._tls.__dict__.get("held")

    def take(self):
        return self._tls.__dict__.pop("held")


class _Backward:
    """A Function's backward pass as one opaque call: the output gradients in, every argument's gradient out
    (in ``arg_names`` order), on the executor of the forward pass (see :class:`_Forward`)."""

    def __init__(self, forward, owner):
        self.forward = forward
        self.owner = weakref.ref(owner)
        self.name = f"gradient of {forward.name}"

    def replay(self, args, kwargs, unread=False):
        """The backward pass run again by a compiled program, on the pass :meth:`_Forward.replay` kept in this
        thread (MXNet's autograd gives new arrays for the gradients; the graph is kept for another backward
        pass of the same forward pass, as an executor's is)."""
        state = self.forward._tls.__dict__.get("replayed")
        if state is None:
            return self(*args)
        fn = self.forward.function
        inputs, outs, arg_dtypes, is_train, sig = state
        heads = []
        for o, ref in zip(args, outs):
            data = o._get(mxnet_backend).as_nd_ndarray()
            heads.append(data if data.dtype == ref.dtype else data.astype(ref.dtype))
        mx = fn._mx
        with fn._mx_errors("the backward pass"):
            grads = mx.autograd.grad(outs, inputs, head_grads=heads, retain_graph=True, train_mode=is_train)
            fn._wait_first(("backward",) + sig, grads)
        return tuple(_gradient(gr, arg_dtypes.get(n)) for n, gr in zip(fn.arg_names, grads))

    def __call__(self, *out_grads):
        fn = self.forward.function
        held = self.forward.held()
        if held is None:  # the call autograd recorded owns the executor
            owner = self.owner()
            if owner is None or owner.bound is None:
                raise AutogradError(f"{self.name}: its executor was already released")
            held = (owner.bound, owner.arg_dtypes, owner.is_train)
        bound, arg_dtypes, is_train = held
        executor = bound.executor
        grads = []
        with fn._mx_errors("the backward pass"):
            fn._sync_aux(bound.aux_key)  # BatchNorm's CPU backward updates the moving statistics
            executor.backward([o._get(mxnet_backend).as_nd_ndarray() for o in out_grads], is_train=is_train)
            for n in fn.arg_names:
                gr = executor.grad_dict[n].copy()
                if not bound.ran_backward or fn.aux_names:
                    gr.wait_to_read()
                grads.append(_gradient(gr, arg_dtypes.get(n)))
            bound.ran_backward = True
        return tuple(grads)


def _gradient(data, want):
    """An argument's gradient (MXNet data) as an Array, cast back to the argument's own float dtype ``want``."""
    gr = Array(data.as_np_ndarray(), mxnet_backend)
    return gr if want is None or gr.dtype == want or want.kind != "f" else gr.astype(want)


class _RecordedCall:
    """One call of a Function recorded by autograd. It holds its executor (whose forward state the backward
    pass needs) until the graph is gone, then hands it back to the Function's cache."""

    kind = "function"
    wrap_result = True
    differentiable = True

    def __init__(self, function):
        self.function = function
        self.name = f"symbol.Function({function.name})"
        self.bound = None
        self.is_train = True
        self.arg_dtypes = {}
        self._g = None       # the output gradient of the last backward pass, and the gradients it gave
        self._grads = None
        self.pass_ = None    # the forward pass as an opaque call (whose executor this call owns)

    def forward(self, kwargs):
        self.is_train = self.function.is_train
        self.pass_ = _Forward(self.function, keep=True)
        outputs = extend.call_opaque(self.pass_, (), kwargs)
        self.bound, self.arg_dtypes, _ = self.pass_.take()
        # The executor goes back to the Function's cache when this call is gone. Not by __del__: a graph in a
        # reference cycle is freed by the cyclic collector, which runs the finalizers of everything in the
        # cycle, MXNet's own included (freeing the executor and its arrays), before seeing that __del__ put
        # the executor back; a weakref.finalize holds its arguments from outside the cycle.
        done = weakref.finalize(self, self.function._release, self.bound)
        done.atexit = False
        return outputs

    def rule(self, argpos, g, ans, args, kwargs):
        # One backward pass asks once per traced argument with the same ``g``; a graph walked again (vjp)
        # brings a new one.
        if self._grads is None or g is not self._g:
            self._grads = self._backward(g, kwargs)
            self._g = g
        return self._grads[argpos]

    def _backward(self, g, kwargs):
        fn = self.function
        bound = self.bound
        if bound is None:
            raise AutogradError(f"{self.name}: its executor was already released")
        executor = bound.executor
        outs = g if isinstance(g, tuple) else (g,)
        out_grads = []
        for o, ref in zip(outs, executor.outputs):
            while isinstance(o, Tracer):
                o = o._value
            if not isinstance(o, Array):
                o = Array(onp.array(o), _NUMPY)
            if o.dtype != onp.dtype(ref.dtype):
                o = o.astype(ref.dtype)
            out_grads.append(o)
        grads = extend.call_opaque(_Backward(self.pass_, self), tuple(out_grads))
        return _guard_higher_order(dict(zip(fn.arg_names, grads)), g, kwargs, self.name)



class _NoHigherOrder:
    """The operator of a gradient that came out of an MXNet executor: it has no derivative itself."""

    kind = "function"
    wrap_result = True
    differentiable = True

    def __init__(self, name):
        self.name = f"gradient of {name}"

    def rule(self, argpos, g, ans, args, kwargs):
        raise AutogradError(f"{self.name} cannot be differentiated again: MXNet executors give first-order "
                            "gradients only (higher-order gradients through minpy.symbol.Function are not "
                            "supported)")


def _guard_higher_order(grads, g, kwargs, name):
    """When the backward pass runs under an outer gradient call (``grad(grad(f))``), the executor's gradients
    depend on traced values (the output gradient, the arguments) without the outer trace knowing. Box them
    with a node whose rule raises, so that differentiating them is an error, not a silently wrong answer."""
    sources = list(g) if isinstance(g, tuple) else [g]
    sources += list(kwargs.values()) if kwargs else []
    levels = {}
    for i, s in enumerate(sources):
        while type(s) is Tracer:
            levels.setdefault(s._trace, []).append((i, s._node))
            s = s._value
    if not levels:
        return grads
    if any(type(node) is Tangent for nodes in levels.values() for _, node in nodes):
        raise AutogradError(f"{name}: forward mode (make_jvp, hessian-vector products) cannot go through an MXNet "
                            "executor, which gives first-order reverse gradients only")
    op = _NoHigherOrder(name)
    guarded = {}
    for k, v in grads.items():
        for trace in sorted(levels):
            v = Tracer(v, Node(op, (), None, v, tuple(levels[trace])), trace)
        guarded[k] = v
    return guarded
