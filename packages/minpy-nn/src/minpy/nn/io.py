"""Data iteration and dataset loaders.

``NDArrayIter`` walks NumPy arrays / minpy Arrays (or dicts / lists of them) in minibatches, as MinPy 0.3's
iterator did: ``for batch in it: batch.data[0], batch.label[0]``, ``reset()`` between epochs.

``load_cifar10``, ``load_mnist`` and ``load_digits`` read the usual small image datasets into NumPy arrays.
Nothing is downloaded: point the CIFAR-10 and MNIST loaders at a directory holding the official files.
"""
import gzip
import os
import pickle
import struct
from collections import OrderedDict

import numpy as _onp

from minpy.array import Array
from minpy.backends import numpy_backend

__all__ = ["DataBatch", "DataIter", "NDArrayIter", "DataFormatError", "load_cifar10", "load_mnist",
           "load_digits", "split_iterators"]

_HANDLES = ("pad", "discard", "roll_over")


class DataFormatError(ValueError):
    """A dataset file exists but does not hold what its format promises (truncated, corrupt, wrong kind)."""


class DataBatch:
    """One minibatch.

    Attributes
    ----------
    data : list of Array
        One array per data source, each of shape ``(batch_size, ...)``.
    label : list of Array
        One array per label source (empty when the iterator has no labels).
    pad : int
        How many rows at the end of this batch are padding (repeats from the start of the epoch).
    index : numpy.ndarray of int
        For each row of the batch, its row number in the original data.
    """

    def __init__(self, data, label, pad=None, index=None):
        self.data = data
        self.label = label
        self.pad = pad
        self.index = index

    def __repr__(self):
        shapes = [tuple(d.shape) for d in self.data]
        return f"<DataBatch data {shapes}, pad {self.pad}>"


class DataIter:
    """Base class of iterators: the iteration protocol on top of ``iter_next`` and the ``get*`` methods."""

    def __init__(self, batch_size=0):
        self.batch_size = batch_size

    def __iter__(self):
        return self

    def reset(self):
        """Start a new epoch."""

    def iter_next(self):
        """Move to the next batch; False when the epoch is over."""
        return False

    def next(self):
        """The next :class:`DataBatch`; raises StopIteration at the end of the epoch."""
        if not self.iter_next():
            raise StopIteration
        return DataBatch(data=self.getdata(), label=self.getlabel(), pad=self.getpad(), index=self.getindex())

    def __next__(self):
        return self.next()

    def getdata(self):
        """The data arrays of the current batch."""
        raise NotImplementedError

    def getlabel(self):
        """The label arrays of the current batch."""
        raise NotImplementedError

    def getindex(self):
        """The row numbers of the current batch."""
        return None

    def getpad(self):
        """How many padding rows the current batch has."""
        return 0


def _as_host(value, name):
    if isinstance(value, _onp.ndarray):
        return value
    if isinstance(value, Array) or hasattr(value, "asnumpy"):
        return _onp.asarray(value.asnumpy())
    raise TypeError(f"{name}: expected a numpy.ndarray or a minpy Array, got {type(value).__name__}")


def _batch(arr, index):
    """The rows ``index`` of ``arr`` as a new contiguous array: minpy owns it (a view of the user's data set
    would be a buffer minpy does not own, copied afresh to MXNet at every use)."""
    batch = _onp.ascontiguousarray(arr[index])
    return batch.copy() if _onp.may_share_memory(batch, arr) else batch


def _sources(value, allow_empty, default_name):
    """Normalize data or labels to an ordered list of (name, NumPy array)."""
    if value is None:
        if allow_empty:
            return []
        raise ValueError("NDArrayIter needs data")
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, (list, tuple)):
        if len(value) == 1:
            items = [(default_name, value[0])]
        else:
            items = [(f"_{i}_{default_name}", v) for i, v in enumerate(value)]
    else:
        items = [(default_name, value)]
    if not items and not allow_empty:
        raise ValueError("NDArrayIter needs at least one data array")
    out = []
    for name, arr in items:
        arr = _as_host(arr, str(name))
        if arr.ndim == 0:
            raise ValueError(f"{name}: expected an array with a batch axis, got a scalar")
        out.append((str(name), arr))
    return out


class NDArrayIter(DataIter):
    """Minibatches of in-memory arrays.

    Parameters
    ----------
    data : array, list of arrays or dict {name: array}
        NumPy arrays or minpy Arrays; all share the length of their first axis (the examples).
    label : array, list of arrays or dict {name: array}, optional
        Labels, indexed exactly like the data (row i of every source belongs to example i).
    batch_size : int, optional
        Rows per batch (default 1); at most the number of examples.
    shuffle : bool, optional
        Visit the examples in a random order, drawn anew at construction and at every ``reset()``.
    last_batch_handle : {'pad', 'discard', 'roll_over'}, optional
        What to do with the examples left over when ``batch_size`` does not divide the data:

        * ``'pad'`` (default): the last batch is filled up with the first examples of the epoch, and its
          ``pad`` says how many rows are filler;
        * ``'discard'``: they are skipped;
        * ``'roll_over'``: they are not served in this epoch but open the next one (after ``reset()``).
    data_name, label_name : str, optional
        Names of a single data / label array (``provide_data`` / ``provide_label``); a list of arrays gets
        ``'_0_data'``, ``'_1_data'``, ... and a dict keeps its keys.
    seed : int, optional
        Seed for shuffling. Without one shuffling draws from NumPy's global generator, so
        ``numpy.random.seed`` makes it reproducible.
    num_parts, part_index : int, optional
        Serve only part ``part_index`` of ``num_parts`` (data-parallel training: each worker its own part).
        Part ``k`` is every ``num_parts``-th example starting at example ``k``, cut to ``num_data //
        num_parts`` examples, so that every part has the same size (and every worker as many batches): up to
        ``num_parts - 1`` examples at the end of the data are in no part. Without shuffling, batch ``i`` of
        the parts together is batch ``i`` of the whole data with ``num_parts`` times the batch size.

    Attributes
    ----------
    num_data : int
        Number of examples (of this part).
    batch_size : int
    data, label : list of (name, numpy.ndarray)
        The sources, in their original order.
    """

    def __init__(self, data, label=None, batch_size=1, shuffle=False, last_batch_handle='pad',
                 data_name='data', label_name='softmax_label', seed=None, num_parts=1, part_index=0):
        super().__init__(int(batch_size))
        if last_batch_handle not in _HANDLES:
            raise ValueError(f"last_batch_handle must be one of {_HANDLES}, got {last_batch_handle!r}")
        self.data = _sources(data, False, data_name)
        self.label = _sources(label, True, label_name)
        lengths = {name: arr.shape[0] for name, arr in self.data + self.label}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"data and labels must have the same number of examples, got {lengths}")
        self.num_parts, self.part_index = _check_part(num_parts, part_index)
        if self.num_parts > 1:
            rows = _part_rows(next(iter(lengths.values())), self.num_parts, self.part_index)
            self.data = [(name, arr[rows]) for name, arr in self.data]
            self.label = [(name, arr[rows]) for name, arr in self.label]
            lengths = {name: len(rows) for name in lengths}
        self.num_data = next(iter(lengths.values()))
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size!r}")
        if self.batch_size > self.num_data:
            raise ValueError(f"batch_size {self.batch_size} is larger than the number of examples "
                             f"{self.num_data}")
        self.shuffle = bool(shuffle)
        self.last_batch_handle = last_batch_handle
        self.seed = seed
        self._rng = _onp.random.RandomState(seed) if seed is not None else _onp.random
        self._carry = _onp.zeros(0, dtype=_onp.int64)
        self._start_epoch()

    # -- epochs --------------------------------------------------------------------------------------------------
    def _start_epoch(self):
        order = self._rng.permutation(self.num_data) if self.shuffle else _onp.arange(self.num_data)
        self._stream = _onp.concatenate([self._carry, order.astype(_onp.int64)])
        self._epoch_carry, self._carry = self._carry, _onp.zeros(0, dtype=_onp.int64)
        self._cursor = -self.batch_size
        self._index = None

    def reset(self):
        """Start the next epoch (reshuffled if ``shuffle``). With ``'roll_over'``, examples the finished epoch
        did not serve come first."""
        if self.last_batch_handle == "roll_over":
            if self._cursor < 0:  # nothing served yet: whatever opened this epoch opens the next one
                self._carry = self._epoch_carry
            else:
                rest = self._stream[self._cursor + self.batch_size:]
                if len(rest) < self.batch_size:
                    self._carry = rest.copy()
        self._start_epoch()

    def hard_reset(self):
        """Start a new epoch, dropping any rolled-over examples."""
        self._carry = _onp.zeros(0, dtype=_onp.int64)
        self._start_epoch()

    def iter_next(self):
        nxt = self._cursor + self.batch_size
        remaining = len(self._stream) - nxt
        if remaining <= 0 or (remaining < self.batch_size and self.last_batch_handle != "pad"):
            self._index = None
            return False
        self._cursor = nxt
        index = self._stream[nxt:nxt + self.batch_size]
        if len(index) < self.batch_size:
            index = _onp.concatenate([index, self._stream[:self.batch_size - len(index)]])
        self._index = index
        return True

    # -- the current batch ---------------------------------------------------------------------------------------
    def _take(self, sources):
        if self._index is None:
            raise RuntimeError("no current batch: call next() (or iter_next()) first, and reset() after the end "
                               "of an epoch")
        return [Array(_batch(arr, self._index), numpy_backend) for _, arr in sources]

    def getdata(self):
        return self._take(self.data)

    def getlabel(self):
        return self._take(self.label)

    def getpad(self):
        if self._index is None:
            return 0
        return max(0, self._cursor + self.batch_size - len(self._stream))

    def getindex(self):
        return None if self._index is None else self._index.copy()

    # -- description ---------------------------------------------------------------------------------------------
    @property
    def provide_data(self):
        """``[(name, (batch_size, ...))]`` for every data source."""
        return [(k, (self.batch_size,) + tuple(v.shape[1:])) for k, v in self.data]

    @property
    def provide_label(self):
        """``[(name, (batch_size, ...))]`` for every label source."""
        return [(k, (self.batch_size,) + tuple(v.shape[1:])) for k, v in self.label]

    def getnumiterations(self):
        """Batches per epoch: ``ceil(num_data / batch_size)`` with ``'pad'``, ``num_data // batch_size``
        otherwise (a rolled-over epoch can have one more)."""
        if self.last_batch_handle == "pad":
            return -(-self.num_data // self.batch_size)
        return self.num_data // self.batch_size

    def getsubiter(self, num_samples):
        """A new iterator over ``num_samples`` examples drawn at random without replacement (same names and
        batch size, at most ``num_samples``; padded last batch)."""
        num_samples = min(int(num_samples), self.num_data)
        rows = _onp.sort(self._rng.permutation(self.num_data)[:num_samples])
        data = OrderedDict((k, v[rows]) for k, v in self.data)
        label = OrderedDict((k, v[rows]) for k, v in self.label)
        return NDArrayIter(data, label or None, batch_size=min(self.batch_size, num_samples))

    def shard(self, num_parts, part_index):
        """A new iterator with the same settings over part ``part_index`` of ``num_parts`` of this one's
        examples (see ``num_parts``); this iterator must not be split already."""
        if self.num_parts != 1:
            raise ValueError(f"this iterator is already part {self.part_index} of {self.num_parts}")
        label = OrderedDict(self.label) if self.label else None
        return NDArrayIter(OrderedDict(self.data), label, batch_size=self.batch_size, shuffle=self.shuffle,
                           last_batch_handle=self.last_batch_handle, seed=self.seed, num_parts=num_parts,
                           part_index=part_index)

    def __repr__(self):
        part = f" (part {self.part_index} of {self.num_parts})" if self.num_parts > 1 else ""
        return (f"<NDArrayIter {self.num_data} examples{part}, batch_size {self.batch_size}, "
                f"{self.last_batch_handle}, data {self.provide_data}, label {self.provide_label}>")


def _check_part(num_parts, part_index):
    if isinstance(num_parts, bool) or not isinstance(num_parts, (int, _onp.integer)) or num_parts < 1:
        raise ValueError(f"num_parts must be a positive integer, got {num_parts!r}")
    if isinstance(part_index, bool) or not isinstance(part_index, (int, _onp.integer)) \
            or not 0 <= part_index < num_parts:
        raise ValueError(f"part_index must be an integer in [0, {num_parts}), got {part_index!r}")
    return int(num_parts), int(part_index)


def _part_rows(n, num_parts, part_index):
    """Rows of part ``part_index``: every ``num_parts``-th from ``part_index``, ``n // num_parts`` of them."""
    size = n // num_parts
    if size == 0:
        raise ValueError(f"cannot split {n} examples into {num_parts} parts (each part needs at least one)")
    return _onp.arange(part_index, n, num_parts)[:size]


def _shard_train(x_train, y_train, num_parts, part_index):
    num_parts, part_index = _check_part(num_parts, part_index)
    if num_parts == 1:
        return x_train, y_train
    rows = _part_rows(len(y_train), num_parts, part_index)
    return x_train[rows], y_train[rows]


# -- CIFAR-10 ---------------------------------------------------------------------------------------------------------
_CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
_NUMPY2 = int(_onp.__version__.split(".")[0]) >= 2
# What a pickled NumPy array may reference; anything else in a CIFAR batch is refused (pickle runs code).
_PICKLE_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("_codecs", "encode"),  # how Python 3 writes bytes at pickle protocols below 3
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _PICKLE_ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only NumPy arrays are expected)")
        if module.startswith("numpy.core") and _NUMPY2:
            module = "numpy._core" + module[len("numpy.core"):]
        elif module.startswith("numpy._core") and not _NUMPY2:
            module = "numpy.core" + module[len("numpy._core"):]
        return super().find_class(module, name)


def _get(batch, key):
    for k in (key.encode(), key):
        if k in batch:
            return batch[k]
    raise KeyError(key)


def _load_cifar_batch(path):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"CIFAR-10 batch {path} not found: the directory should hold the python "
                                f"version's data_batch_1 ... data_batch_5 and test_batch ({_CIFAR_URL})")
    try:
        with open(path, "rb") as f:
            batch = _ArrayUnpickler(f, encoding="bytes").load()
    except Exception as exc:
        raise DataFormatError(f"{path} is not a CIFAR-10 python batch: unpickling failed "
                              f"({type(exc).__name__}: {exc})") from None
    if not isinstance(batch, dict):
        raise DataFormatError(f"{path} is not a CIFAR-10 python batch: it holds a {type(batch).__name__}, "
                              "not a dict")
    try:
        data, labels = _get(batch, "data"), _get(batch, "labels")
    except KeyError as exc:
        raise DataFormatError(f"{path} is not a CIFAR-10 python batch: no {exc.args[0]!r} entry "
                              f"(keys: {sorted(map(repr, batch))})") from None
    data = _onp.asarray(data)
    if data.dtype != _onp.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataFormatError(f"{path}: 'data' must be uint8 of shape (N, 3072), got {data.dtype} "
                              f"{data.shape}")
    try:
        labels = _onp.asarray(labels, dtype=_onp.int64)
    except (TypeError, ValueError):
        raise DataFormatError(f"{path}: 'labels' are not integers") from None
    if labels.shape != (data.shape[0],):
        raise DataFormatError(f"{path}: {data.shape[0]} images but labels of shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataFormatError(f"{path}: labels outside 0..9")
    return data.reshape(-1, 3, 32, 32), labels


def load_cifar10(directory, num_parts=1, part_index=0):
    """Load CIFAR-10 from the official python-pickle batches.

    Parameters
    ----------
    directory : str or path
        Folder holding ``data_batch_1`` ... ``data_batch_5`` and ``test_batch`` (the extracted
        ``cifar-10-batches-py``; its parent folder works too). Only NumPy arrays are unpickled from them.
    num_parts, part_index : int, optional
        Return only part ``part_index`` of ``num_parts`` of the training examples (every ``num_parts``-th, as
        ``NDArrayIter(..., num_parts=, part_index=)`` splits them); the test examples are returned whole.

    Returns
    -------
    X_train : numpy.ndarray of uint8, shape (N_train, 3, 32, 32)
    y_train : numpy.ndarray of int64, shape (N_train,)
    X_test : numpy.ndarray of uint8, shape (N_test, 3, 32, 32)
    y_test : numpy.ndarray of int64, shape (N_test,)

    Raises
    ------
    FileNotFoundError
        A batch file is missing.
    DataFormatError
        A batch file is not a CIFAR-10 python batch (corrupt, truncated, wrong contents).
    """
    directory = os.fspath(directory)
    nested = os.path.join(directory, "cifar-10-batches-py")
    if not os.path.exists(os.path.join(directory, "test_batch")) and os.path.isdir(nested):
        directory = nested
    parts = [_load_cifar_batch(os.path.join(directory, f"data_batch_{i}")) for i in range(1, 6)]
    x_test, y_test = _load_cifar_batch(os.path.join(directory, "test_batch"))
    x_train = _onp.concatenate([p[0] for p in parts])
    y_train = _onp.concatenate([p[1] for p in parts])
    x_train, y_train = _shard_train(x_train, y_train, num_parts, part_index)
    return x_train, y_train, x_test, y_test


# -- MNIST ------------------------------------------------------------------------------------------------------------
_MNIST_URL = "http://yann.lecun.com/exdb/mnist/"
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _find_idx(directory, name):
    """The path of idx file ``name`` (e.g. 'train-images-idx3-ubyte'), plain or gzipped."""
    dotted = name.replace("-idx", ".idx")  # some mirrors spell it 'train-images.idx3-ubyte'
    candidates = [os.path.join(directory, n + ext) for n in (name, dotted) for ext in ("", ".gz")]
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"MNIST file {name} not found in {directory} (looked for "
                            f"{', '.join(os.path.basename(c) for c in candidates[::2])} and their .gz forms; "
                            f"see {_MNIST_URL})")


def _read_idx(path, ndim):
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataFormatError(f"{path}: cannot decompress ({type(exc).__name__}: {exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise DataFormatError(f"{path} is not an idx file: bad magic number {raw[:4].hex() or '(empty)'}")
    if raw[3] != ndim:
        raise DataFormatError(f"{path}: expected an idx file of {ndim} dimensions, the header says {raw[3]}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataFormatError(f"{path}: truncated header")
    shape = struct.unpack(">" + "I" * ndim, raw[4:header])
    dtype = _onp.dtype(_IDX_TYPES[raw[2]])
    expected = int(_onp.prod(shape, dtype=_onp.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataFormatError(f"{path}: the header promises shape {shape} ({expected} bytes of data), the file "
                              f"has {len(raw) - header}")
    return _onp.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _load_mnist_part(directory, prefix):
    images_path = _find_idx(directory, f"{prefix}-images-idx3-ubyte")
    labels_path = _find_idx(directory, f"{prefix}-labels-idx1-ubyte")
    images = _read_idx(images_path, 3)
    labels = _read_idx(labels_path, 1).astype(_onp.int64)
    if images.shape[0] != labels.shape[0]:
        raise DataFormatError(f"{images_path} has {images.shape[0]} images but {labels_path} has "
                              f"{labels.shape[0]} labels")
    return images, labels


def load_mnist(directory, num_parts=1, part_index=0):
    """Load MNIST from the official idx files.

    Parameters
    ----------
    directory : str or path
        Folder holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``
        and ``t10k-labels-idx1-ubyte``, each plain or gzipped (``.gz``).
    num_parts, part_index : int, optional
        Return only part ``part_index`` of ``num_parts`` of the training examples (every ``num_parts``-th, as
        ``NDArrayIter(..., num_parts=, part_index=)`` splits them); the test examples are returned whole.

    Returns
    -------
    X_train : numpy.ndarray of uint8, shape (N_train, rows, cols), (60000, 28, 28) for MNIST
    y_train : numpy.ndarray of int64, shape (N_train,)
    X_test : numpy.ndarray of uint8, shape (N_test, rows, cols)
    y_test : numpy.ndarray of int64, shape (N_test,)

    Raises
    ------
    FileNotFoundError
        A file is missing.
    DataFormatError
        A file is not an idx file of the expected kind, is truncated, or images and labels disagree in number.
    """
    directory = os.fspath(directory)
    x_train, y_train = _load_mnist_part(directory, "train")
    x_test, y_test = _load_mnist_part(directory, "t10k")
    x_train, y_train = _shard_train(x_train, y_train, num_parts, part_index)
    return x_train, y_train, x_test, y_test


# -- scikit-learn's digits -------------------------------------------------------------------------------------------
def load_digits(test_fraction=0.2, seed=0, scale=True, num_parts=1, part_index=0):
    """scikit-learn's 8x8 handwritten digits (1797 images), split into train and test sets.

    Needs scikit-learn (``pip install 'minpy-nn[data]'``); the data ships with it, nothing is downloaded.

    Parameters
    ----------
    test_fraction : float, optional
        Share of the examples held out for testing (default 0.2).
    seed : int, optional
        Seed of the split; the same seed gives the same split (default 0).
    scale : bool, optional
        Divide the pixel values (0..16) by 16 so they lie in [0, 1] (default True).
    num_parts, part_index : int, optional
        Return only part ``part_index`` of ``num_parts`` of the training examples (every ``num_parts``-th, as
        ``NDArrayIter(..., num_parts=, part_index=)`` splits them); the test examples are returned whole.

    Returns
    -------
    X_train : numpy.ndarray of float64, shape (N_train, 64)
    y_train : numpy.ndarray of int64, shape (N_train,)
    X_test : numpy.ndarray of float64, shape (N_test, 64)
    y_test : numpy.ndarray of int64, shape (N_test,)

    Raises
    ------
    ImportError
        scikit-learn is not installed.
    """
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError:
        raise ImportError("minpy.nn.io.load_digits needs scikit-learn, which is not installed: "
                          "pip install 'minpy-nn[data]' (or pip install scikit-learn)") from None
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    digits = _sk_load_digits()
    x = _onp.asarray(digits.data, dtype=_onp.float64)
    if scale:
        x = x / 16.0
    y = _onp.asarray(digits.target, dtype=_onp.int64)
    order = _onp.random.RandomState(seed).permutation(len(y))
    n_test = int(round(len(y) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    x_train, y_train = _shard_train(x[train], y[train], num_parts, part_index)
    return x_train, y_train, x[test], y[test]


def split_iterators(x_train, y_train, x_test, y_test, batch_size, val_fraction=0.1, seed=None, num_parts=1,
                    part_index=0):
    """Train / validation / test iterators: the first ``val_fraction`` of the training rows (at least one
    batch) become the validation set; the training iterator shuffles (deterministically under ``seed``).
    With ``num_parts``, the training iterator serves part ``part_index`` of the remaining training rows
    (``NDArrayIter(..., num_parts=, part_index=)``); validation and test stay whole.

    Returns
    -------
    (train, val, test) : NDArrayIter
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    n_val = max(int(len(y_train) * val_fraction), batch_size) if val_fraction else 0
    train = NDArrayIter(x_train[n_val:], y_train[n_val:], batch_size=batch_size, shuffle=True, seed=seed,
                        num_parts=num_parts, part_index=part_index)
    val = NDArrayIter(x_train[:n_val], y_train[:n_val], batch_size=batch_size) if n_val else None
    test = NDArrayIter(x_test, y_test, batch_size=batch_size)
    return train, val, test
