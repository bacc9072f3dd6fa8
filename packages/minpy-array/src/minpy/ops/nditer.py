"""``minpy.numpy.nditer``: NumPy's iterator over minpy Arrays, writes included.

``numpy.nditer`` takes a minpy Array only as a read-only copy (``__array__`` lends no writable memory: a write
there would bypass the Array's record of writes). This class runs ``numpy.nditer`` on the Arrays' data and hands
out what it yields as minpy Arrays, so the iterator code written for NumPy runs unchanged, CS231n's gradient check
included::

    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        ...
        it.iternext()

An operand with a write flag (``readwrite``, ``writeonly``) held by NumPy lends its own buffer: the values the
iterator yields (``it[0]``, ``it.value``, ``for v in it``, ``it.operands``) are minpy Arrays that are views tied to
it, so ``it[0][...] = v`` is a write into ``x`` seen by every later use (version bumped, cached copies on other
backends invalidated). An operand held elsewhere (MXNet, a GPU) or a detached view is iterated as a host copy: a
write into a value the iterator yielded is written into the Array at once, and the iterator and the Array agree
again at each use of the iterator (writes into the Array by minpy operators during the iteration reach the copy
there; a value yielded before such a write keeps the old value).
"""
import numpy as np

from minpy.array import Array
from minpy.backends import numpy_backend as _NUMPY

_WRITE_FLAGS = ("readwrite", "writeonly")


def _per_operand(op_flags, n):
    if op_flags is None:
        return [()] * n
    if op_flags and all(isinstance(f, str) for f in op_flags):
        return [tuple(op_flags)] * n
    return [tuple(f) if f is not None else () for f in op_flags]


class _Operand:
    """One minpy Array operand: its buffer handed to NumPy, and for a host copy, what it last agreed on."""

    __slots__ = ("array", "buffer", "direct", "write", "snapshot", "version")

    def __init__(self, array, write):
        self.array = array
        self.write = write
        array._fresh()  # a detached view whose base was written takes its values first
        if write:
            array._check_writeable()  # NumPy's error for a read-only view as a written operand
        self.direct = write and array._backend is _NUMPY and array._link is None
        if self.direct:
            self.buffer = array._data
        elif write:
            self.buffer = np.array(array._backend.to_numpy(array._data))
            self.snapshot = self.buffer.copy()
            self.version = array.version
        else:
            self.buffer = array._get(_NUMPY)

    def sync(self):
        """A host copy and its Array agree again: the iterator's writes go to the Array, the Array's own writes
        (by minpy operators) come into the copy."""
        if self.direct or not self.write:
            return
        buffer, snapshot, array = self.buffer, self.snapshot, self.array
        changed = buffer != snapshot
        if buffer.dtype.kind in "fc":
            changed &= ~(np.isnan(buffer) & np.isnan(snapshot))
        moved = array.version != self.version
        if moved:
            current = np.array(array.asnumpy())
            if changed.any():
                current[changed] = buffer[changed]
                array._assign_all(current, _NUMPY)
            buffer[...] = current
        elif changed.any():
            array._assign_all(buffer, _NUMPY)
        else:
            return
        snapshot[...] = buffer
        self.version = array.version


class _CopyView(Array):
    """A value yielded for an operand iterated as a host copy: a write into it is written into the operand at
    once (the iterator syncs the copy), as a write through NumPy's view would be."""

    __slots__ = ("_iterator",)

    def _wrote(self):
        Array._wrote(self)
        self._iterator._sync()


class nditer:  # noqa: N801  (NumPy's name)
    """NumPy's ``nditer`` over minpy Arrays (see the module documentation); arguments as ``numpy.nditer``."""

    __slots__ = ("_it", "_operands", "_single", "_allocated", "_copies")

    def __init__(self, op, flags=None, op_flags=None, op_dtypes=None, order="K", casting="safe", op_axes=None,
                 itershape=None, buffersize=0):
        single = not isinstance(op, (list, tuple))
        ops = [op] if single else list(op)
        modes = _per_operand(op_flags, len(ops))
        operands = []
        data = []
        for i, x in enumerate(ops):
            write = i < len(modes) and any(f in _WRITE_FLAGS for f in modes[i])
            if isinstance(x, Array):
                operand = _Operand(x, write)
                operands.append(operand)
                data.append(operand.buffer)
            else:
                operands.append(None)
                data.append(x)
        object.__setattr__(self, "_operands", operands)
        object.__setattr__(self, "_single", single)
        # buffered or copied operands: NumPy writes them back at each step and on close, not through the views
        # it yields, so those writes are recorded then
        copies = "buffered" in (flags or ()) or any("updateifcopy" in m or "copy" in m for m in modes)
        object.__setattr__(self, "_copies", copies)
        object.__setattr__(self, "_it", np.nditer(data[0] if single else data, flags=flags, op_flags=op_flags,
                                                  op_dtypes=op_dtypes, order=order, casting=casting,
                                                  op_axes=op_axes, itershape=itershape, buffersize=buffersize))
        # operands NumPy allocated (None in ``op``): one Array each, so that views of it are tied to one owner
        object.__setattr__(self, "_allocated", [Array(o, _NUMPY) if operands[i] is None and ops[i] is None else None
                                                for i, o in enumerate(self._it.operands)])

    # -- values handed out ----------------------------------------------------------------------------------------
    def _array(self, i, value):
        """NumPy's ``value`` for operand ``i`` as a minpy Array: a view tied to the operand's owner when it is in
        the operand's memory."""
        if not isinstance(value, np.ndarray):
            return value
        operand = self._operands[i] if i < len(self._operands) else None
        if operand is not None and operand.write and not operand.direct and np.may_share_memory(value,
                                                                                               operand.buffer):
            view = _CopyView(value, _NUMPY)
            view._iterator = self
            return view
        owner = operand.array if operand is not None and operand.direct else self._allocated[i]
        if owner is not None:
            base = owner._data
            if value is base:
                return owner
            wrapped = Array(value, _NUMPY)
            if np.may_share_memory(value, base):
                wrapped._root = owner._root if owner._root is not None else owner
            return wrapped
        return Array(value, _NUMPY)

    def _values(self, values):
        if isinstance(values, tuple):
            return tuple(self._array(i, v) for i, v in enumerate(values))
        return self._array(0, values)

    def _sync(self):
        for operand in self._operands:
            if operand is not None:
                operand.sync()

    def __getitem__(self, key):
        self._sync()
        got = self._it[key]
        if isinstance(key, slice):
            start = range(len(self._operands))[key]
            return tuple(self._array(i, v) for i, v in zip(start, got))
        return self._array(key % len(self._operands) if isinstance(key, int) else 0, got)

    def __setitem__(self, key, value):
        self._sync()
        if isinstance(value, Array):
            value = value.asnumpy()
        self._it[key] = value
        self._wrote(key)

    def _wrote(self, key):
        indices = range(len(self._operands))
        for i in (indices[key] if isinstance(key, slice) else [key % len(self._operands)]):
            operand = self._operands[i]
            if operand is not None and operand.direct:
                operand.array._wrote()
        self._sync()

    @property
    def value(self):
        self._sync()
        return self._values(self._it.value)

    @property
    def operands(self):
        self._sync()
        return tuple(self._array(i, o) for i, o in enumerate(self._it.operands))

    @property
    def itviews(self):
        self._sync()
        return tuple(self._array(i, o) for i, o in enumerate(self._it.itviews))

    # -- iteration ------------------------------------------------------------------------------------------------
    def __iter__(self):
        return self

    def __next__(self):
        self._sync()
        try:
            return self._values(next(self._it))
        finally:
            self._flush()

    def iternext(self):
        self._sync()
        more = self._it.iternext()
        self._flush()
        self._sync()
        return more

    def reset(self):
        self._sync()
        self._it.reset()

    def close(self):
        self._sync()
        self._it.close()
        self._flush()

    def _flush(self):
        # NumPy writes its buffered or copied operands back at steps and on close: those writes are recorded
        if not self._copies:
            return
        for operand in self._operands:
            if operand is not None and operand.write and operand.direct:
                operand.array._wrote()

    def __enter__(self):
        self._it.__enter__()
        return self

    def __exit__(self, *exc):
        self._sync()
        result = self._it.__exit__(*exc)
        self._flush()
        return result

    def __len__(self):
        return len(self._it)

    def copy(self):
        raise NotImplementedError("minpy.numpy.nditer.copy(): iterate the arrays again instead")

    def __getattr__(self, name):  # multi_index, finished, index, iterindex, shape, ndim, nop, dtypes...
        return getattr(self._it, name)

    def __setattr__(self, name, value):  # multi_index, index, iterindex, iterrange
        setattr(self._it, name, value)

    def __repr__(self):
        return f"<minpy.numpy.nditer over {len(self._operands)} operand(s)>"
