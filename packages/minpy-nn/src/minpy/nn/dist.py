"""Data parallelism on MXNet's parameter server: ``minpy.nn.dist``.

    from minpy.nn import dist

    kv = dist.KVStore('dist_sync')              # joins the parameter server the launcher started
    params = kv.init(params)                    # every worker gets rank 0's values (after a shape check)
    grads = kv.allreduce(grads, op='mean')      # the mean over all workers
    kv.barrier()

Start the program under the launcher: ``python -m minpy.nn.launch -n 2 python train.py``. The store is MXNet's
own (``mx.kv.create``: ps-lite's scheduler, servers and workers); this module moves minpy arrays in and out of it
and adds what a training loop needs on top: structures of arrays (dicts, lists, tuples), a check that every worker
holds the same parameter names, shapes and dtypes before anything is pushed, and clear errors instead of ps-lite's
hangs and aborts.

Kinds: ``'local'`` (one process; MXNet's local store), ``'dist_sync'`` (every push of a round is summed on the
servers before anyone reads it: all workers see the same values) and ``'dist_async'`` (the servers apply each
worker's push as it arrives).

Data movement: a float32 Array whose data lives on MXNet is pushed from its own buffer. One on NumPy is handed
to MXNet without a copy (``mx.nd.from_numpy(..., zero_copy=True)`` shares its memory); where MXNet cannot share
it, it is copied once and the copy is counted in minpy's statistics (``minpy.stats``). Results come back on the
backend the input was on. MXNet's dist kvstore pulls into the buffer it pushed from, so every push goes from a
buffer this module owns: a fresh copy, or the input's own buffer when the caller donates it (``donate=True``:
the Solver donates its gradients, which it does not use afterwards).

Precision: MXNet 1.9's parameter server sums in float32. (Its server keeps float32 copies of other dtypes when
a flag is set, and that flag, ``multi_precision_``, is never initialised: measured here, float64 pushes come back
rounded to float32.) So that the result does not depend on that accident, sums in a ``dist_*`` store travel as
float32 on purpose: float64 and float16 arrays are converted (a :class:`PrecisionWarning`, once, on rank 0),
integers too (exact below 2**24, an error above). Broadcasts (``init``, ``broadcast``) are exact for every dtype:
they move the bytes, and no arithmetic touches them.

Arrays on a GPU (minpy's CuPy backend) are summed with NCCL through ``cupyx.distributed`` when it is available
(no trip through host memory); otherwise through the parameter server with a copy each way, reported as a
fallback in the op statistics.

Every collective call (``init``, ``broadcast``, ``allreduce``, ``add``, ``barrier``) must be made by every worker,
in the same order, with structures of the same shapes. Calls from several threads of one process are serialized.
"""
import atexit
import json
import math
import numbers
import os
import socket
import struct
import sys
import threading
import time
import warnings
import zlib

import numpy as onp

from minpy import stats
from minpy.array import Array
from minpy.backends import cupy_backend, mxnet_backend, numpy_backend

__all__ = ["KVStore", "KINDS", "DistributedError", "UnknownKindError", "WorkerMismatchError", "PrecisionWarning",
           "launch_environment", "check_environment"]

#: the kvstore kinds minpy supports
KINDS = ("local", "dist_sync", "dist_async")
#: what the launcher sets for every process of a job (ps-lite reads them)
ENV_VARS = ("DMLC_ROLE", "DMLC_PS_ROOT_URI", "DMLC_PS_ROOT_PORT", "DMLC_NUM_SERVER", "DMLC_NUM_WORKER")
#: what sums travel as in a dist store (MXNet's server aborts on integer pushes and rounds others to float32)
_WIRE = onp.dtype(onp.float32)
#: integers travel as float32, which holds them exactly up to this magnitude
_EXACT_INT = 2 ** 24
#: set by the launcher: this worker's index in launch order, and where it reports joining the parameter server
_WORKER_INDEX_ENV = "MINPY_WORKER_INDEX"
_JOIN_DIR_ENV = "MINPY_LAUNCH_JOIN_DIR"


class DistributedError(RuntimeError):
    """A distributed setup that cannot work: unknown kvstore kind, missing launcher environment, no scheduler."""


class UnknownKindError(DistributedError, ValueError):
    """A kvstore kind minpy does not support (a ValueError too)."""


class WorkerMismatchError(DistributedError):
    """Workers disagree about what they exchange (parameter names, shapes, dtypes, batches per epoch)."""


class PrecisionWarning(UserWarning):
    """Arrays of another dtype than float32 are summed in float32 on the parameter server."""


# -- the environment the launcher sets ---------------------------------------------------------------------------------
def launch_environment(environ=None):
    """``{'role', 'root_uri', 'root_port', 'num_servers', 'num_workers'}`` from the DMLC variables, or None when
    this process was not started by a launcher (none of them is set)."""
    env = os.environ if environ is None else environ
    if not any(name in env for name in ENV_VARS):
        return None
    return {"role": env.get("DMLC_ROLE"), "root_uri": env.get("DMLC_PS_ROOT_URI"),
            "root_port": env.get("DMLC_PS_ROOT_PORT"), "num_servers": env.get("DMLC_NUM_SERVER"),
            "num_workers": env.get("DMLC_NUM_WORKER")}


def check_environment(kind, environ=None):
    """Check that this process can join a ``kind`` kvstore; returns the parsed environment (None for 'local').

    Needs no MXNet: it only reads the DMLC variables the launcher sets. Raises :class:`DistributedError` naming
    what is missing or malformed, and how to start the program instead.
    """
    if kind not in KINDS:
        raise UnknownKindError(f"unknown kvstore kind {kind!r}: minpy supports {', '.join(map(repr, KINDS))}")
    if kind == "local":
        return None
    env = os.environ if environ is None else environ
    how = ("start the program with the launcher, e.g. `python -m minpy.nn.launch -n 2 python train.py "
           f"--kvstore {kind}`, which runs the scheduler and servers and sets these variables")
    missing = [name for name in ENV_VARS if not env.get(name)]
    if missing:
        raise DistributedError(f"KVStore({kind!r}) needs the parameter server's environment, and "
                               f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: {how}")
    role = env["DMLC_ROLE"]
    if role != "worker":
        raise DistributedError(f"KVStore({kind!r}) runs in a worker, but DMLC_ROLE is {role!r} here (schedulers "
                               "and servers only `import mxnet`)")
    parsed = {"role": role, "root_uri": env["DMLC_PS_ROOT_URI"]}
    for name, key, low in (("DMLC_PS_ROOT_PORT", "root_port", 1), ("DMLC_NUM_SERVER", "num_servers", 1),
                           ("DMLC_NUM_WORKER", "num_workers", 1)):
        try:
            value = int(env[name])
        except ValueError:
            value = None
        if value is None or value < low or (key == "root_port" and value > 65535):
            raise DistributedError(f"{name}={env[name]!r} is not a valid {'port' if key == 'root_port' else 'count'}"
                                   f"; {how}")
        parsed[key] = value
    return parsed


def _wait_for_scheduler(host, port, timeout):
    """Wait until something listens at the scheduler's address; a DistributedError after ``timeout`` seconds.
    ps-lite itself would wait for ever (the scheduler starts at the same time as the workers, so a refused
    connection is retried until the deadline)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            with socket.create_connection((host, port), timeout=min(2.0, max(0.1, timeout))):
                return
        except OSError as exc:
            last = exc
        if time.monotonic() >= deadline:
            raise DistributedError(f"no parameter-server scheduler answers at {host}:{port} after {timeout:g} s "
                                   f"({last}); is the job running under `python -m minpy.nn.launch`?")
        time.sleep(0.1)


# -- one process's membership in the parameter server ------------------------------------------------------------------
_joined = None      # (kind, mx kvstore) of this process, once it joined a dist kvstore
_join_lock = threading.Lock()


def _mx():
    if not mxnet_backend.available():
        raise DistributedError(f"minpy.nn.dist needs MXNet (its kvstore is the parameter server): "
                               f"{mxnet_backend.unavailable_reason()}")
    return mxnet_backend.mx


def _report_join(stage, rank=None):
    """Tell the launcher (through a file in its folder) that this worker is joining / has joined, so that it
    can tell a worker that exits without ever joining from one that is still on its way."""
    folder, index = os.environ.get(_JOIN_DIR_ENV), os.environ.get(_WORKER_INDEX_ENV)
    if not folder or index is None:
        return
    try:
        with open(os.path.join(folder, f"worker-{index}.{stage}"), "w") as f:
            f.write(f"{os.getpid()} {'' if rank is None else rank}")
    except OSError:
        pass  # the launcher's folder is gone or on another machine: only its diagnosis is poorer


def _exit_on_uncaught_exception():
    """An uncaught exception in a worker of a dist kvstore ends the process at once (status 1). Otherwise
    MXNet's kvstore waits at interpreter exit for the other workers in a final barrier they never reach
    (they wait for this worker's pushes), and the job hangs instead of failing."""
    previous = sys.excepthook

    def hook(kind, value, tb):
        try:
            previous(kind, value, tb)
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(1)

    sys.excepthook = hook


def _join(kind, connect_timeout):
    """The process's MXNet dist kvstore (created once; ps-lite allows one membership per process)."""
    global _joined
    env = check_environment(kind)
    with _join_lock:
        if _joined is not None:
            if _joined[0] != kind:
                raise DistributedError(f"this process already joined the parameter server as {_joined[0]!r}; "
                                       f"it cannot join again as {kind!r}")
            return _joined[1]
        mx = _mx()
        _wait_for_scheduler(env["root_uri"], env["root_port"], connect_timeout)
        _report_join("joining")
        kv = mx.kv.create(kind)
        _report_join("joined", kv.rank)
        _exit_on_uncaught_exception()
        if kind == "dist_async" and kv.rank == 0:
            # The servers need an updater in async mode (MXNet aborts a push without one). SGD with
            # learning_rate -1, no momentum, no weight decay computes stored + pushed exactly: the servers add
            # what workers push. Sent once, by rank 0, before anyone pushes (the barrier below).
            kv.set_optimizer(mx.optimizer.SGD(learning_rate=-1.0, momentum=0.0, wd=0.0, rescale_grad=1.0,
                                              clip_gradient=None))
        if kind == "dist_async":
            kv._barrier()
        _joined = (kind, kv)
        atexit.register(_leave, kv)
        return kv


def _leave(kv):
    """Leave the parameter server at interpreter exit, while MXNet is still whole: its kvstore waits for the
    other workers (a final barrier), rank 0 stops the servers, and ps-lite's threads end. Left to the garbage
    collector, the store can outlive MXNet's engine, and the process aborts on its way out
    ("terminate called without an active exception")."""
    handle = getattr(kv, "handle", None)
    if handle is None:
        return
    mx = mxnet_backend.mx
    mx.nd.waitall()
    kv.handle = None  # MXNet's __del__ then frees nothing
    mx.base.check_call(mx.base._LIB.MXKVStoreFree(handle))


# -- structures of arrays -----------------------------------------------------------------------------------------------
def _sorted_keys(d):
    # Every worker must walk a dict in the same order; insertion order can differ between them.
    return sorted(d, key=lambda k: (type(k).__name__, repr(k)))


def _flatten(tree, path=(), out=None):
    """``[(path, leaf)]`` of a structure of dicts, lists and tuples, in an order every worker agrees on."""
    out = [] if out is None else out
    if isinstance(tree, dict):
        for k in _sorted_keys(tree):
            _flatten(tree[k], path + (k,), out)
    elif isinstance(tree, (list, tuple)):
        for i, v in enumerate(tree):
            _flatten(v, path + (i,), out)
    else:
        out.append((path, tree))
    return out


def _rebuild(tree, values):
    """``tree`` with its leaves replaced, in :func:`_flatten`'s order, by the iterator ``values``."""
    if isinstance(tree, dict):
        new = {k: _rebuild(tree[k], values) for k in _sorted_keys(tree)}
        ordered = [(k, new[k]) for k in tree]   # the caller's own order
        if type(tree) is dict:
            return dict(ordered)
        try:
            return type(tree)(ordered)
        except TypeError:  # a dict subclass with another constructor (defaultdict): a plain dict
            return dict(ordered)
    if isinstance(tree, (list, tuple)):
        items = [_rebuild(v, values) for v in tree]
        if isinstance(tree, tuple) and hasattr(tree, "_fields"):
            return type(tree)(*items)
        return type(tree)(items)
    return next(values)


def _path_name(path):
    return "".join(f"[{k!r}]" for k in path) or "(the value)"


def _share(host):
    """An MXNet array sharing the memory of ``host`` (C-contiguous, at least 1-d), or None when MXNet cannot
    share it. MXNet may write it (the kvstore pulls into what it pushed from)."""
    if not host.flags.c_contiguous or host.ndim == 0 or not host.flags.writeable:
        return None
    try:
        # from_numpy marks the array it is given read-only: give it a view, so ``host`` stays writable
        return mxnet_backend.mx.nd.from_numpy(host.view(), zero_copy=True)
    except Exception:  # a dtype or alignment MXNet cannot share: the caller copies
        return None


def _counted(src, dst, nbytes, start):
    stats.count_copy(src, dst, nbytes, stats.perf_counter() - start)


_warned_precision = False


def _warn_precision(leaves):
    """A PrecisionWarning, once per process, when floats other than float32 are about to be summed in float32."""
    global _warned_precision
    if _warned_precision:
        return
    for leaf in leaves:
        if leaf.wire != leaf.dtype and leaf.dtype.kind == "f":
            _warned_precision = True
            warnings.warn(f"minpy.nn.dist: {_path_name(leaf.path)} ({leaf.dtype}) and any other array that is not "
                          "float32 is summed in float32 on MXNet's parameter server", PrecisionWarning,
                          stacklevel=_caller_level())
            return


def _caller_level():
    """The warnings stack level of the first frame outside this module (the user's call)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename == __file__:
        frame, level = frame.f_back, level + 1
    return level


class _Leaf:
    """One value of a structure, and how it travels in a sum: ``route`` is 'kv' (through the kvstore), 'nccl'
    (NCCL between GPUs) or 'empty' (nothing to send); ``wire`` is the dtype it travels as."""

    __slots__ = ("path", "value", "kind", "shape", "dtype", "wire", "route")

    def __init__(self, path, value, wire32=False, nccl=False):
        self.path = path
        self.value = value
        if isinstance(value, Array):
            self.kind = "array"
            value._fresh()  # a detached view whose base was written takes its values (its data is read below)
            self.shape, self.dtype = tuple(value.shape), onp.dtype(value.dtype)
        elif isinstance(value, onp.ndarray):
            self.kind = "ndarray"
            self.shape, self.dtype = value.shape, value.dtype
        elif isinstance(value, (bool, onp.bool_)):
            raise TypeError(f"minpy.nn.dist: {_path_name(path)} is a bool; only numbers and arrays of numbers "
                            "can be exchanged between workers")
        elif isinstance(value, onp.generic):
            self.kind = "npscalar"
            self.shape, self.dtype = (), value.dtype
        elif isinstance(value, numbers.Number) and not isinstance(value, complex):
            self.kind = "int" if isinstance(value, numbers.Integral) else "float"
            self.shape, self.dtype = (), onp.dtype(onp.int64 if self.kind == "int" else onp.float64)
        else:
            raise TypeError(f"minpy.nn.dist: {_path_name(path)} is a {type(value).__name__}; expected minpy "
                            "Arrays, NumPy arrays or numbers, in dicts, lists and tuples")
        if self.dtype.kind not in "fiu":
            raise TypeError(f"minpy.nn.dist: {_path_name(path)} has dtype {self.dtype}; only float and integer "
                            "values can be exchanged between workers")
        self.wire = _WIRE if wire32 else self.dtype
        if math.prod(self.shape) == 0:
            self.route = "empty"
        elif nccl and self.kind == "array" and value._backend is cupy_backend:
            self.route = "nccl"
        else:
            self.route = "kv"

    def signature(self):
        return [_path_name(self.path), self.route, list(self.shape), str(self.dtype)]

    # -- for a sum: an MXNet buffer the kvstore may overwrite, and how to read the result ----------------------
    def staging(self, donate):
        """``(buffer, finish)``: an MXNet array holding this value (as ``wire``) that the kvstore may overwrite,
        and ``finish(n, op)`` that turns the buffer, once the kvstore is done with it, into the result."""
        value = self.value
        if self.kind == "array":
            backend = value._backend
            if backend is mxnet_backend and self.shape != () and self.dtype.kind == "f" \
                    and value._data.ctx.device_type == "cpu":
                data = value._data
                if self.dtype == self.wire:
                    if donate and value._root is None:
                        return data, self._donated
                    buf = data.copy()  # on MXNet: a copy within the backend, no move between backends
                    return buf, lambda n, op: Array(_mean_in_place(buf, n, op), mxnet_backend)
                buf = data.astype(self.wire)
                dtype = self.dtype
                return buf, lambda n, op: Array(_mean_in_place(buf, n, op).astype(dtype), mxnet_backend)
            if backend is numpy_backend:
                host = value._data
                if donate and self.dtype == self.wire and value._root is None:
                    buf = _share(host)
                    if buf is not None:
                        return buf, self._donated
                return self._via_host(host, False, _as_array)
            # MXNet on a GPU, CuPy without NCCL, integers on MXNet: through host memory, both ways counted
            start = stats.perf_counter()
            host = backend.to_numpy(value._data)
            _counted(backend.name, "numpy", host.nbytes, start)
            ctx = value.context
            return self._via_host(host, True, lambda h: _to_backend(h, backend, ctx))
        if self.kind == "ndarray":
            return self._via_host(value, False, lambda h: h)
        if self.kind == "npscalar":
            return self._via_host(onp.array(value), True, lambda h: h[()])
        python_type = int if self.kind == "int" else float
        return self._via_host(onp.array(value, dtype=self.dtype), True, lambda h: python_type(h[()]))

    def _via_host(self, host, owned, finish):
        """Stage a host array: as ``wire``, in memory MXNet shares (else one counted copy)."""
        if host.dtype != self.wire:
            wire = self._to_wire(host)
        elif owned and host.flags.c_contiguous and host.flags.writeable:
            wire = host
        else:
            wire = onp.array(host, order="C", copy=True)
        flat = wire.reshape(-1)  # a view (0-d becomes (1,): MXNet's kvstore wants at least one axis)
        buf = _share(flat)
        if buf is None:
            start = stats.perf_counter()
            buf = mxnet_backend.mx.nd.array(flat, dtype=flat.dtype)
            _counted("numpy", "mxnet", flat.nbytes, start)

            def read_back(n, op):
                t0 = stats.perf_counter()
                result = buf.asnumpy()
                _counted("mxnet", "numpy", result.nbytes, t0)
                return finish(self._from_wire(_mean_in_place(result, n, op)).reshape(self.shape))
            return buf, read_back
        return buf, lambda n, op: finish(self._from_wire(_mean_in_place(wire, n, op)))

    def _to_wire(self, host):
        if self.dtype.kind in "iu" and self.wire.kind == "f" and host.size:
            big = int(onp.abs(host.astype(onp.int64)).max())
            if big >= _EXACT_INT:
                raise ValueError(f"minpy.nn.dist: {_path_name(self.path)} holds integers up to {big}; sums travel "
                                 f"as {self.wire}, exact only below {_EXACT_INT}")
        return onp.ascontiguousarray(host, dtype=self.wire)

    def _from_wire(self, result):
        if result.dtype == self.dtype:
            return result
        if self.dtype.kind in "iu":
            return onp.rint(result).astype(self.dtype)
        return result.astype(self.dtype)

    def _donated(self, n, op):
        """The donated Array, now holding the result (its buffer was written behind its back: recorded)."""
        value = self.value
        _mean_in_place(value._data, n, op)
        value._wrote()
        return value

    # -- for a broadcast: the bytes ------------------------------------------------------------------------------
    def host_bytes(self):
        """This value as a C-contiguous host array of its own dtype (a counted copy off a device)."""
        if self.kind == "array":
            return onp.ascontiguousarray(self.value.asnumpy())
        return onp.ascontiguousarray(onp.asarray(self.value, dtype=self.dtype))

    def from_bytes(self, host):
        """A value of this leaf's kind (and backend) holding ``host`` (an array owned by the caller)."""
        if self.kind == "array":
            backend = self.value._backend
            if backend is numpy_backend:
                return Array(host, numpy_backend)
            return _to_backend(host, backend, self.value.context)
        if self.kind == "ndarray":
            return host
        if self.kind == "npscalar":
            return host[()]
        return (int if self.kind == "int" else float)(host[()])


def _mean_in_place(buf, n, op):
    if op == "mean" and n != 1:
        buf /= n
    return buf


def _as_array(host):
    return Array(host, numpy_backend)


def _to_backend(host, backend, ctx):
    start = stats.perf_counter()
    data = backend.from_numpy(host, ctx)
    _counted("numpy", backend.name, host.nbytes, start)
    return Array(data, backend)


def _pack(leaves):
    """One uint8 buffer holding every leaf's bytes, each at an offset aligned to 8, the total a multiple of 4
    (it travels as float32 words); and the offsets."""
    offsets, total = [], 0
    for leaf in leaves:
        offsets.append(total)
        total += -(-math.prod(leaf.shape) * leaf.dtype.itemsize // 8) * 8
    return offsets, total


# -- the store ------------------------------------------------------------------------------------------------------------
class KVStore:
    """A connection to MXNet's key-value store, for data-parallel training.

    Parameters
    ----------
    kind : {'local', 'dist_sync', 'dist_async'}
        ``'local'``: this process alone (rank 0 of 1). ``'dist_sync'`` / ``'dist_async'``: join the parameter
        server of a job started by ``python -m minpy.nn.launch`` (a :class:`DistributedError` otherwise). A
        process joins once: later ``KVStore`` objects of the same kind share the membership.
    connect_timeout : float, optional
        Seconds to wait for the scheduler to answer (default 60, or ``MINPY_DIST_CONNECT_TIMEOUT``).
    nccl : bool, optional
        Sum arrays on the GPU (CuPy backend) with NCCL through ``cupyx.distributed`` when it is available
        (default True; ``MINPY_DIST_NCCL=0`` turns it off).

    Attributes
    ----------
    type : str
        The kind.
    rank : int
        This worker's rank, in ``range(num_workers)`` (assigned by ps-lite's scheduler; the launcher makes it
        the worker's launch index on one machine).
    num_workers : int
    bytes_pushed, bytes_pulled : int
        Payload bytes this worker has sent to and received from the servers (or NCCL).
    """

    def __init__(self, kind="local", connect_timeout=None, nccl=None):
        if not isinstance(kind, str) or kind not in KINDS:
            raise UnknownKindError(f"unknown kvstore kind {kind!r}: minpy supports {', '.join(map(repr, KINDS))}")
        if connect_timeout is None:
            connect_timeout = float(os.environ.get("MINPY_DIST_CONNECT_TIMEOUT", "60"))
        if nccl is None:
            nccl = os.environ.get("MINPY_DIST_NCCL", "1").lower() not in ("0", "false", "no", "off")
        self.type = kind
        self._kv = _join(kind, connect_timeout) if kind != "local" else _mx().kv.create("local")
        self.rank = self._kv.rank
        self.num_workers = self._kv.num_workers
        self._wire32 = kind != "local"
        self._use_nccl = bool(nccl)
        self._nccl_comm = None
        self._lock = threading.RLock()
        self._slots = {}          # signature of a structure -> its keys, for allreduce
        self._named = {}          # name -> (keys, signature, values), for add
        self._next_key = 1 << 20  # well above keys a user of the raw store would pick by hand
        self.bytes_pushed = 0
        self.bytes_pulled = 0

    def __repr__(self):
        return f"<minpy.nn.dist.KVStore {self.type!r} rank {self.rank} of {self.num_workers}>"

    @property
    def is_root(self):
        """Whether this is rank 0 (the worker that prints and writes checkpoints)."""
        return self.rank == 0

    @property
    def mxnet_kvstore(self):
        """The underlying ``mxnet.kvstore.KVStore``."""
        return self._kv

    # -- public collectives ------------------------------------------------------------------------------------
    def barrier(self):
        """Wait until every worker has called ``barrier()``."""
        with self._lock:
            if self.num_workers > 1:
                mxnet_backend.mx.nd.waitall()
                self._kv._barrier()

    def init(self, tree, name=None):
        """Rank 0's values of ``tree`` on every worker.

        ``tree`` is a minpy Array, a NumPy array or a number, or dicts, lists and tuples of them. Before
        anything is sent, the workers check that all hold the same structure (names, shapes and dtypes): a
        :class:`WorkerMismatchError` on every worker otherwise. The values arrive bit for bit, whatever their
        dtype, each on the backend this worker's own value is on; on rank 0 the result is ``tree`` itself.
        With ``name``, the values are also kept under that name for :meth:`add`.
        """
        with self._lock:
            leaves = [_Leaf(path, value) for path, value in _flatten(tree)]
            signature = [leaf.signature() for leaf in leaves]
            self._agree("the structure of the values (names, shapes, dtypes)", signature)
            result = _rebuild(tree, iter(self._broadcast_leaves(leaves)))
            if name is not None:
                self._register(name, signature, result)
            return result

    def broadcast(self, tree, root=0):
        """Rank 0's values of ``tree`` on every worker, as :meth:`init` (``root`` must be 0: MXNet's store
        initialises keys from rank 0). Each broadcast leaves its payload on a server until the job ends."""
        if root != 0:
            raise ValueError(f"broadcast(root={root!r}): only rank 0 can be the root (MXNet's kvstore "
                             "initialises keys from rank 0)")
        return self.init(tree)

    def allreduce(self, tree, op="mean", donate=False):
        """The sum (``op='sum'``) or mean (``op='mean'``) over all workers of each value of ``tree``.

        Every worker gets the same result, each value on the backend its input was on. Only for ``'local'`` and
        ``'dist_sync'``: a ``'dist_async'`` store applies each push as it arrives (use :meth:`add`). With
        ``donate=True`` the input Arrays may be overwritten with the result (and returned): no copy where MXNet
        can use their memory. In a ``dist_*`` store the sum is computed in float32 (see the module's notes);
        integers are summed exactly below 2**24, and their mean is refused.
        """
        if op not in ("sum", "mean"):
            raise ValueError(f"allreduce: op must be 'sum' or 'mean', got {op!r}")
        if self.type == "dist_async":
            raise DistributedError("allreduce needs synchronous rounds, and a 'dist_async' store applies each push "
                                   "as it arrives: use KVStore.add(name, deltas), or a 'dist_sync' store")
        with self._lock:
            nccl = self._use_nccl and self.num_workers > 1 and _nccl_available()
            leaves = [_Leaf(path, value, self._wire32, nccl) for path, value in _flatten(tree)]
            if op == "mean":
                for leaf in leaves:
                    if leaf.dtype.kind in "iu":
                        raise TypeError(f"allreduce(op='mean'): {_path_name(leaf.path)} is an integer value "
                                        f"({leaf.dtype}); use op='sum'")
            signature = tuple((leaf.path, leaf.route, leaf.shape, leaf.dtype) for leaf in leaves)
            keys = self._slots.get(signature)
            if keys is None:
                keys = self._reduce_slot(leaves, signature)
                if self.rank == 0:  # every worker does the same: one of them says so
                    _warn_precision(leaves)
            return _rebuild(tree, iter(self._pushpull(leaves, keys, op, donate)))

    def add(self, name, deltas, donate=False):
        """Add ``deltas`` to the values kept under ``name`` (by ``init(values, name=name)``); returns the values
        now kept.

        In ``'dist_async'`` the servers add each worker's deltas as they arrive, and the result includes what
        other workers pushed meanwhile (asynchronous SGD: push an update, read the freshest weights). In
        ``'dist_sync'`` and ``'local'`` the deltas of one round are summed over the workers and added once, so
        every worker gets the same values. In a ``dist_*`` store the arithmetic is float32.
        """
        with self._lock:
            if name not in self._named:
                raise KeyError(f"KVStore.add: nothing is kept under {name!r}; call init(values, name={name!r}) "
                               "first")
            keys, signature, current = self._named[name]
            leaves = [_Leaf(path, value, self._wire32) for path, value in _flatten(deltas)]
            mine = [leaf.signature() for leaf in leaves]
            if mine != signature:
                raise ValueError(f"KVStore.add({name!r}): the deltas' structure {mine} is not that of the values "
                                 f"kept {signature}")
            if self.type == "dist_async":
                values = self._pushpull(leaves, keys, "sum", donate)
            else:
                sums = self.allreduce(deltas, op="sum", donate=donate)
                values = [_add(c, d) for (_, c), (_, d) in zip(_flatten(current), _flatten(sums))]
            result = _rebuild(deltas, iter(values))
            self._named[name] = (keys, signature, result)
            return result

    def check_same(self, what, value):
        """Collective: raise :class:`WorkerMismatchError` on every worker unless all pass an equal ``value``
        (anything JSON encodes, e.g. the number of batches per epoch). ``what`` names it in the error."""
        with self._lock:
            self._agree(what, value)

    # -- keys and the raw exchanges ------------------------------------------------------------------------------
    def _new_keys(self, count):
        first = self._next_key
        self._next_key += count
        return list(range(first, first + count))

    def _broadcast_words(self, words, count):
        """Rank 0's ``words`` (a float32 array of ``count`` elements; ignored elsewhere) on every worker, bit for
        bit: rank 0 initialises a fresh key with them (MXNet's init pushes from rank 0 and waits at a barrier),
        the others pull it. The server only copies, so no value is changed."""
        if self.num_workers == 1 or count == 0:
            return words
        key = self._new_keys(1)[0]
        nbytes = count * 4
        if self.rank == 0:
            self._kv.init(key, _share(words))
            self.bytes_pushed += nbytes
            return words
        recv = onp.zeros(count, dtype=onp.float32)
        buf = _share(recv)
        self._kv.init(key, buf)
        self._kv.pull(key, out=buf)
        buf.wait_to_read()
        self.bytes_pulled += nbytes
        return recv

    def _broadcast_bytes(self, payload, nbytes):
        """Rank 0's ``payload`` (bytes, ``nbytes`` long) on every worker."""
        words = -(-nbytes // 4)
        buf = onp.zeros(words * 4, dtype=onp.uint8)
        if self.rank == 0:
            buf[:nbytes] = onp.frombuffer(payload, dtype=onp.uint8)
        got = self._broadcast_words(buf.view(onp.float32), words)
        return got.view(onp.uint8)[:nbytes].tobytes()

    def _raw_sum(self, vector):
        """The sum over workers of small integers (float32, exact below 2**24), in sync and async modes alike:
        a fresh key initialised to zeros, everyone pushes (summed per round in sync mode, added on arrival in
        async mode), a barrier, everyone pulls."""
        mx = mxnet_backend.mx
        vector = onp.asarray(vector, dtype=onp.float32)
        if self.num_workers == 1:
            return vector.copy()
        key = self._new_keys(1)[0]
        self._kv.init(key, mx.nd.zeros(vector.shape, dtype="float32"))
        self._kv.push(key, mx.nd.array(vector, dtype="float32"))
        mx.nd.waitall()
        self._kv._barrier()
        out = mx.nd.zeros(vector.shape, dtype="float32")
        self._kv.pull(key, out=out)
        self.bytes_pushed += vector.nbytes
        self.bytes_pulled += vector.nbytes
        return out.asnumpy()

    def _agree(self, what, description):
        """Check that every worker passes the same ``description`` (JSON-able); otherwise every worker raises
        :class:`WorkerMismatchError` (the ones that differ from rank 0 say how)."""
        if self.num_workers == 1:
            return
        text = json.dumps(description, sort_keys=True, separators=(",", ":")).encode()
        # Rank 0's length and checksum (a fixed size), then the number of workers that differ from it: every
        # worker learns whether anyone differs, so all of them stop, not only the odd one out.
        head = self._broadcast_bytes(struct.pack("<QI", len(text), zlib.crc32(text)), 12)
        root_len, root_crc = struct.unpack("<QI", head)
        differs = (root_len, root_crc) != (len(text), zlib.crc32(text))
        count = int(round(float(self._raw_sum([1.0 if differs else 0.0])[0])))
        if count == 0:
            return
        root_text = self._broadcast_bytes(text, root_len)  # its length is known to all now
        if differs:
            root = json.loads(root_text.decode(errors="replace"))
            raise WorkerMismatchError(f"worker rank {self.rank} disagrees with rank 0 about {what}: "
                                      f"{_describe_difference(root, description)}")
        raise WorkerMismatchError(f"{count} worker(s) disagree with rank 0 about {what} (this worker, rank "
                                  f"{self.rank}, agrees with rank 0); see their errors")

    # -- internals -----------------------------------------------------------------------------------------------
    def _broadcast_leaves(self, leaves):
        """Rank 0's value of every leaf on every worker (rank 0 keeps its own objects): all of them packed into
        one buffer of bytes, sent as one key."""
        if self.num_workers == 1:
            return [leaf.value for leaf in leaves]
        offsets, total = _pack(leaves)
        buf = onp.zeros(total, dtype=onp.uint8)
        if self.rank == 0:
            for leaf, offset in zip(leaves, offsets):
                host = leaf.host_bytes()
                buf[offset:offset + host.nbytes] = host.reshape(-1).view(onp.uint8)
        got = self._broadcast_words(buf.view(onp.float32), total // 4).view(onp.uint8)
        if self.rank == 0:
            return [leaf.value for leaf in leaves]
        out = []
        for leaf, offset in zip(leaves, offsets):
            size = math.prod(leaf.shape) * leaf.dtype.itemsize
            host = got[offset:offset + size].view(leaf.dtype).reshape(leaf.shape).copy()
            out.append(leaf.from_bytes(host))
        return out

    def _register(self, name, signature, values):
        """Keep ``values`` (identical on every worker after init) under ``name`` for add(). In async mode they are
        also stored on the servers (rank 0 initialises the keys), where the workers' deltas are added."""
        keys = None
        if self.type == "dist_async":
            stored = [leaf for leaf in (_Leaf(p, v, self._wire32) for p, v in _flatten(values))
                      if leaf.route != "empty"]
            keys = self._new_keys(len(stored))
            if self.rank == 0:
                _warn_precision(stored)
            if stored:
                self._kv.init(keys, [leaf.staging(donate=False)[0] for leaf in stored])
        self._named[name] = (keys, signature, values)

    def _reduce_slot(self, leaves, signature):
        """Keys for a structure of this signature, created (collectively) the first time it is reduced."""
        self._agree("the structure of the values to reduce (names, shapes, dtypes, devices)",
                    [leaf.signature() for leaf in leaves])
        kv_leaves = [leaf for leaf in leaves if leaf.route == "kv"]
        keys = self._new_keys(len(kv_leaves))
        if kv_leaves:
            mx = mxnet_backend.mx
            self._kv.init(keys, [mx.nd.zeros(leaf.shape or (1,), dtype=leaf.wire) for leaf in kv_leaves])
        self._slots[signature] = keys
        return keys

    def _pushpull(self, leaves, keys, op, donate):
        """Push every leaf and pull the stored result back: one MXNet call for all of them."""
        n = self.num_workers
        results = [None] * len(leaves)
        staged, finishers = [], []
        for i, leaf in enumerate(leaves):
            if leaf.route == "empty":
                results[i] = _copy_leaf(leaf)
            elif leaf.route == "nccl":
                results[i] = self._nccl_allreduce(leaf, op, donate)
            else:
                buf, finish = leaf.staging(donate)
                staged.append(buf)
                finishers.append((i, finish))
        if staged:
            # MXNet's dist store pulls into the buffer it pushed from: push and pull the same buffers.
            self._kv.pushpull(keys, staged, out=staged)
            nbytes = 0
            for buf in staged:
                buf.wait_to_read()
                nbytes += buf.size * onp.dtype(buf.dtype).itemsize
            if self.type != "local":
                self.bytes_pushed += nbytes
                self.bytes_pulled += nbytes
            for i, finish in finishers:
                results[i] = finish(n, op)
        return results

    # -- NCCL between GPUs -------------------------------------------------------------------------------------
    def _nccl(self):
        """The NCCL communicator (cupyx.distributed), made on first use: rank 0 picks its address and a free
        port for the rendezvous and tells the others through the kvstore."""
        if self._nccl_comm is None:
            import cupyx.distributed

            payload = b""
            if self.rank == 0:
                host = _my_address()
                payload = socket.inet_aton(host) + struct.pack("<I", _free_port(host))
            got = self._broadcast_bytes(payload, 8)
            host, port = socket.inet_ntoa(got[:4]), struct.unpack("<I", got[4:])[0]
            self._nccl_comm = cupyx.distributed.init_process_group(self.num_workers, self.rank, host=host,
                                                                   port=port)
        return self._nccl_comm

    def _nccl_allreduce(self, leaf, op, donate):
        cp = cupy_backend.cp
        value = leaf.value
        data = value._data
        # NCCL works on the current device, and the communicator is made for the device it is first used on
        with cp.cuda.Device(data.device.id):
            if donate and value._root is None and data.flags.c_contiguous:
                buf = data
            else:
                buf = cp.ascontiguousarray(data).copy()
            self._nccl().all_reduce(buf, buf, "sum")
            if op == "mean":
                buf /= self.num_workers
        self.bytes_pushed += buf.nbytes
        self.bytes_pulled += buf.nbytes
        if buf is data:
            value._wrote()
            return value
        return Array(buf, cupy_backend)


def _copy_leaf(leaf):
    return leaf.value.copy() if leaf.kind in ("array", "ndarray") else leaf.value


def _add(current, delta):
    return current + delta


_nccl_state = None


def _nccl_available():
    """Whether cupyx.distributed with NCCL can be used here (cached; its absence is reported once)."""
    global _nccl_state
    if _nccl_state is None:
        ok = False
        if cupy_backend.available():
            try:
                import cupyx.distributed  # noqa: F401
                from cupy.cuda import nccl

                ok = bool(getattr(nccl, "available", True))
            except Exception:
                ok = False
            if not ok:
                stats.count_fallback("dist.allreduce", "cupyx.distributed (NCCL) is not available: arrays on the "
                                     "GPU are summed through the parameter server, with a copy to and from the host")
        _nccl_state = ok
    return _nccl_state


def _my_address():
    """This machine's address as the other workers reach it: DMLC_NODE_HOST when set, else the address of the
    interface on the route to the scheduler."""
    host = os.environ.get("DMLC_NODE_HOST")
    if host:
        return socket.gethostbyname(host)
    root = os.environ.get("DMLC_PS_ROOT_URI", "127.0.0.1")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((socket.gethostbyname(root), 9))
        return s.getsockname()[0]


def _free_port(host):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _describe_difference(root, mine):
    """How ``mine`` differs from rank 0's ``root`` (for structures: lists of [name, route, shape, dtype])."""
    def is_structure(x):
        return isinstance(x, list) and all(isinstance(e, list) and len(e) == 4 for e in x)

    if not (is_structure(root) and is_structure(mine)):
        return f"rank 0 has {json.dumps(root)}, this worker {json.dumps(mine)}"
    theirs = {r[0]: r for r in root}
    ours = {m[0]: m for m in mine}
    parts = []
    only_root = [k for k in theirs if k not in ours]
    only_mine = [k for k in ours if k not in theirs]
    if only_root:
        parts.append(f"rank 0 has {', '.join(only_root)}, which this worker lacks")
    if only_mine:
        parts.append(f"this worker has {', '.join(only_mine)}, which rank 0 lacks")
    for name, m in ours.items():
        r = theirs.get(name)
        if r is None or r == m:
            continue
        if r[2] != m[2]:
            parts.append(f"{name} has shape {tuple(m[2])} here, {tuple(r[2])} on rank 0")
        if r[3] != m[3]:
            parts.append(f"{name} has dtype {m[3]} here, {r[3]} on rank 0")
        if r[1] != m[1]:
            parts.append(f"{name} travels by {m[1]} here, by {r[1]} on rank 0 (its device differs)")
    return "; ".join(parts) or "the same values in another order"


# -- what the Solver does with a kvstore ------------------------------------------------------------------------------
class NotShardedWarning(UserWarning):
    """A training iterator the Solver cannot split between workers: every worker reads all of it."""


class DataParallel:
    """Data-parallel training for :class:`minpy.nn.solver.Solver` (``Solver(..., kvstore=...)``).

    In ``'dist_sync'`` (and ``'local'``) every step's gradients are averaged over the workers and every worker
    runs the same update rule on the same average: the workers stay in step, and two workers on half a batch
    each compute what one process computes on the whole batch. In ``'dist_async'`` each worker runs the update
    rule on its own gradients and adds the change it made to the weights kept on the servers, then continues
    from the freshest weights there (asynchronous SGD; each worker keeps its own optimizer state).

    MXNet's own optimizers on the servers are not used: MXNet's Adam and RMSProp place epsilon differently
    from minpy's, and a learning-rate decay would mean re-sending the optimizer (which resets its state), so
    they would not compute minpy's update rules.
    """

    def __init__(self, kvstore):
        self.kvstore = kvstore if isinstance(kvstore, KVStore) else KVStore(kvstore)
        self.rank = self.kvstore.rank
        self.num_workers = self.kvstore.num_workers
        self.is_root = self.rank == 0
        self.asynchronous = self.kvstore.type == "dist_async"

    def shard(self, iterator):
        """This worker's part of ``iterator``: itself when it is already split into ``num_workers`` parts (or
        there is one worker), else ``iterator.shard(num_workers, rank)`` when it can (``NDArrayIter`` can)."""
        if iterator is None or self.num_workers == 1:
            return iterator
        parts = getattr(iterator, "num_parts", None)
        if parts == self.num_workers:
            return iterator
        if parts not in (None, 1):
            raise DistributedError(f"the training iterator is split into {parts} parts, but the job has "
                                   f"{self.num_workers} workers")
        if callable(getattr(iterator, "shard", None)):
            return iterator.shard(self.num_workers, self.rank)
        warnings.warn(f"Solver(kvstore=...): the training iterator ({type(iterator).__name__}) has no shard(); "
                      "every worker trains on all of it. Give each worker its own part (e.g. NDArrayIter(..., "
                      "num_parts=, part_index=)).", NotShardedWarning, stacklevel=3)
        return iterator

    def start(self, model, num_epochs, batches_per_epoch):
        """Before training: check that the workers agree, then give every worker rank 0's parameters."""
        kv = self.kvstore
        kv.check_same("the number of epochs and of batches per epoch (each worker must take as many steps; "
                      "give them equal shards and batch sizes)", [num_epochs, batches_per_epoch])
        synced = kv.init({"params": dict(model.params), "aux": _array_items(model.aux_params)})
        model.params.update(synced["params"])
        model.aux_params.update(synced["aux"])
        if self.asynchronous:
            # the weights kept on the servers, which every worker's changes are added to
            params = dict(model.params)
            with kv._lock:
                kv._register("params", [_Leaf(p, v).signature() for p, v in _flatten(params)], params)

    def gradients(self, grads, loss):
        """``(grads, loss)`` to apply and record: in sync mode the means over the workers, in one exchange (the
        solver's own gradients are donated: it does not read them afterwards). The mean of the workers' losses
        on their parts of a batch is the loss on the whole batch, the same on every worker (so a decision
        taken on it, such as stopping on a NaN, is taken by all of them); in async mode each has its own."""
        if self.asynchronous or self.num_workers == 1 and self.kvstore.type == "local":
            return grads, loss
        mean = self.kvstore.allreduce({"grads": grads, "loss": loss}, op="mean", donate=True)
        return mean["grads"], mean["loss"]

    def updated(self, params, before):
        """After the update rule ran (async mode): add the change to the servers' weights, continue from theirs."""
        if not self.asynchronous:
            return
        names = [name for name in before if name in params]
        deltas = {name: params[name] - before[name] for name in names}
        params.update(self.kvstore.add("params", deltas, donate=True))

    def epoch_metrics(self, model, compute):
        """Rank 0's ``compute()`` (the training and validation metrics), on every worker; the others do not
        evaluate. In sync mode the auxiliary parameters (running statistics) are averaged first."""
        if not self.asynchronous and self.num_workers > 1:
            aux = _array_items(model.aux_params)
            if aux:
                model.aux_params.update(self.kvstore.allreduce(aux, op="mean"))
        values = compute() if self.is_root else (0.0, 0.0)
        return tuple(float(v) for v in self.kvstore.broadcast([float(v) for v in values]))

    def finish(self, model):
        """After training: every worker takes rank 0's parameters (its best epoch's, as the solver left them)."""
        state = self.kvstore.broadcast({"params": dict(model.params), "aux": _array_items(model.aux_params)})
        model.params.update(state["params"])
        model.aux_params.update(state["aux"])


def _array_items(mapping):
    """The entries of ``mapping`` that hold float arrays (running statistics; not flags or counters)."""
    out = {}
    for name, value in mapping.items():
        if isinstance(value, (Array, onp.ndarray)) and onp.dtype(value.dtype).kind == "f":
            out[name] = value
    return out
