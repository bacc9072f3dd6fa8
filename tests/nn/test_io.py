"""minpy.nn.io: NDArrayIter's batching, shuffling and last-batch handling; the CIFAR-10 and MNIST loaders on
small files written here in the official formats; load_digits where scikit-learn is installed."""
import gzip
import os
import pickle
import struct
import sys

import numpy
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minpy.numpy as np
from minpy.array import Array
from minpy.nn.io import (DataBatch, DataFormatError, NDArrayIter, load_cifar10, load_digits, load_mnist,
                         split_iterators)


def host(x):
    return numpy.array(x.asnumpy()) if isinstance(x, Array) else numpy.asarray(x)


def dataset(n, features=3):
    """Row i of the data holds i (in every feature); its label is 1000 + i."""
    data = numpy.repeat(numpy.arange(n, dtype=numpy.float64)[:, None], features, axis=1)
    return data, 1000 + numpy.arange(n)


def served(it):
    """Every batch of one epoch as (row ids from data, labels, pad, index)."""
    out = []
    for batch in it:
        assert isinstance(batch, DataBatch)
        rows = host(batch.data[0])[:, 0].astype(int)
        out.append((rows, host(batch.label[0]), batch.pad, batch.index))
    return out


# -- batching ---------------------------------------------------------------------------------------------------------
def test_pad():
    data, label = dataset(10)
    it = NDArrayIter(data, label, batch_size=4)
    batches = served(it)
    assert [b[0].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 1]]
    assert [b[2] for b in batches] == [0, 0, 2]
    assert it.getnumiterations() == 3
    it.reset()
    assert [b[0].tolist() for b in served(it)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 1]]


def test_discard():
    data, label = dataset(10)
    it = NDArrayIter(data, label, batch_size=4, last_batch_handle="discard")
    assert [b[0].tolist() for b in served(it)] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert it.getnumiterations() == 2
    it.reset()
    assert len(served(it)) == 2


def test_roll_over():
    data, label = dataset(10)
    it = NDArrayIter(data, label, batch_size=4, last_batch_handle="roll_over")
    assert [b[0].tolist() for b in served(it)] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    it.reset()  # 8 and 9 were left over: they open the next epoch
    assert [b[0].tolist() for b in served(it)] == [[8, 9, 0, 1], [2, 3, 4, 5], [6, 7, 8, 9]]
    it.reset()  # nothing left over this time
    assert [b[0].tolist() for b in served(it)] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    it.reset()
    it.reset()  # a reset before anything was served keeps the leftovers
    assert served(it)[0][0].tolist() == [8, 9, 0, 1]
    it.hard_reset()
    assert served(it)[0][0].tolist() == [0, 1, 2, 3]
    assert all(b[2] == 0 for b in served(it))


def test_exact_division_and_single_batch():
    data, label = dataset(8)
    for handle in ("pad", "discard", "roll_over"):
        it = NDArrayIter(data, label, batch_size=4, last_batch_handle=handle)
        assert [b[0].tolist() for b in served(it)] == [[0, 1, 2, 3], [4, 5, 6, 7]]
        it = NDArrayIter(data, label, batch_size=8, last_batch_handle=handle)
        assert len(served(it)) == 1


@given(n=st.integers(1, 30), batch_size=st.integers(1, 30), handle=st.sampled_from(["pad", "discard", "roll_over"]),
       shuffle=st.booleans(), seed=st.integers(0, 2 ** 31 - 1), epochs=st.integers(1, 3))
def test_labels_stay_aligned(n, batch_size, handle, shuffle, seed, epochs):
    batch_size = min(batch_size, n)
    data, label = dataset(n)
    it = NDArrayIter(data, label, batch_size=batch_size, shuffle=shuffle, last_batch_handle=handle, seed=seed)
    carried = 0
    for _ in range(epochs):
        batches = served(it)
        seen = []
        for k, (rows, labels, pad, index) in enumerate(batches):
            assert len(rows) == batch_size
            numpy.testing.assert_array_equal(labels, 1000 + rows)  # data row i always with label i
            numpy.testing.assert_array_equal(index, rows)
            seen.extend(rows[:batch_size - pad].tolist())
            assert pad == 0 or (handle == "pad" and pad < batch_size and k == len(batches) - 1)
        counts = numpy.bincount(seen, minlength=n)
        if handle == "pad":
            assert counts.tolist() == [1] * n  # every example once, padding rows not counted
        elif handle == "discard":
            assert len(seen) == n // batch_size * batch_size and counts.max() == 1
        else:
            total = carried + n
            assert len(seen) == total // batch_size * batch_size
            carried = total - len(seen)
            assert counts.max() <= 2
        it.reset()


def test_shuffle_is_deterministic():
    data, label = dataset(20)

    def order(**kw):
        return numpy.concatenate([b[0] for b in served(NDArrayIter(data, label, batch_size=5, shuffle=True, **kw))])

    a = order(seed=3)
    assert sorted(a.tolist()) == list(range(20)) and a.tolist() != list(range(20))
    numpy.testing.assert_array_equal(a, order(seed=3))
    assert not numpy.array_equal(a, order(seed=4))
    numpy.random.seed(7)
    b = order()
    numpy.random.seed(7)
    numpy.testing.assert_array_equal(b, order())
    assert numpy.concatenate([r[0] for r in served(NDArrayIter(data, label, batch_size=5))]).tolist() == \
        list(range(20))


def test_shuffle_draws_a_new_order_each_epoch():
    data, label = dataset(20)
    it = NDArrayIter(data, label, batch_size=5, shuffle=True, seed=0)
    first = numpy.concatenate([b[0] for b in served(it)])
    it.reset()
    second = numpy.concatenate([b[0] for b in served(it)])
    assert sorted(second.tolist()) == list(range(20)) and not numpy.array_equal(first, second)
    again = NDArrayIter(data, label, batch_size=5, shuffle=True, seed=0)
    served(again)
    again.reset()
    numpy.testing.assert_array_equal(numpy.concatenate([b[0] for b in served(again)]), second)


# -- inputs and description -----------------------------------------------------------------------------------------
def test_dict_inputs():
    n = 7
    a = numpy.arange(n * 2, dtype=numpy.float32).reshape(n, 2)
    b = numpy.arange(n * 12, dtype=numpy.float64).reshape(n, 3, 4)
    y1, y2 = numpy.arange(n), numpy.arange(n) * 10.0
    it = NDArrayIter({"a": a, "b": np.array(b)}, {"y1": y1, "y2": y2}, batch_size=3, shuffle=True, seed=1)
    assert it.provide_data == [("a", (3, 2)), ("b", (3, 3, 4))]
    assert it.provide_label == [("y1", (3,)), ("y2", (3,))]
    assert it.num_data == n and it.batch_size == 3
    for batch in it:
        rows = batch.index
        assert len(batch.data) == 2 and len(batch.label) == 2
        assert all(isinstance(x, Array) for x in batch.data + batch.label)
        numpy.testing.assert_array_equal(host(batch.data[0]), a[rows])
        numpy.testing.assert_array_equal(host(batch.data[1]), b[rows])
        numpy.testing.assert_array_equal(host(batch.label[0]), y1[rows])
        numpy.testing.assert_array_equal(host(batch.label[1]), y2[rows])
        assert host(batch.data[0]).dtype == numpy.float32


def test_names_and_minpy_inputs():
    data, label = dataset(6)
    it = NDArrayIter(np.array(data), np.array(label), batch_size=2, data_name="x", label_name="y")
    assert it.provide_data == [("x", (2, 3))] and it.provide_label == [("y", (2,))]
    batch = next(iter(it))
    numpy.testing.assert_array_equal(host(batch.data[0]), data[:2])
    it = NDArrayIter([data, data * 2], batch_size=2)
    assert [k for k, _ in it.provide_data] == ["_0_data", "_1_data"] and it.provide_label == []
    batch = next(it)
    assert batch.label == []
    numpy.testing.assert_array_equal(host(batch.data[1]), data[:2] * 2)


def test_iteration_protocol():
    data, label = dataset(5)
    it = NDArrayIter(data, label, batch_size=2)
    with pytest.raises(RuntimeError, match="next"):
        it.getdata()
    assert it.iter_next()
    numpy.testing.assert_array_equal(host(it.getdata()[0]), data[:2])
    numpy.testing.assert_array_equal(host(it.getlabel()[0]), label[:2])
    assert it.getpad() == 0
    assert len(list(it)) == 2
    with pytest.raises(StopIteration):
        next(it)
    it.reset()
    assert len(list(it)) == 3


def test_subiter():
    data, label = dataset(20)
    it = NDArrayIter(data, label, batch_size=4, seed=0)
    sub = it.getsubiter(10)
    assert sub.num_data == 10
    for rows, labels, _, _ in served(sub):
        numpy.testing.assert_array_equal(labels, 1000 + rows)


def test_bad_arguments():
    data, label = dataset(5)
    with pytest.raises(ValueError, match="same number"):
        NDArrayIter(data, label[:4])
    with pytest.raises(ValueError, match="batch_size"):
        NDArrayIter(data, label, batch_size=6)
    with pytest.raises(ValueError, match="last_batch_handle"):
        NDArrayIter(data, label, last_batch_handle="wrap")
    with pytest.raises(TypeError, match="numpy.ndarray"):
        NDArrayIter([[1, 2], [3, 4]], batch_size=1)
    with pytest.raises(ValueError, match="needs data"):
        NDArrayIter(None)


# -- CIFAR-10 -------------------------------------------------------------------------------------------------------
CIFAR_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def write_cifar(directory, rows=3, seed=0):
    """Python-pickle batches as the official archive has them: dicts with bytes keys, uint8 (N, 3072) data and
    a list of int labels. Returns {file name: (data, labels)}."""
    rng = numpy.random.default_rng(seed)
    written = {}
    for k, name in enumerate(CIFAR_FILES):
        data = rng.integers(0, 256, size=(rows + k, 3072), dtype=numpy.uint8)
        labels = rng.integers(0, 10, size=rows + k).tolist()
        batch = {b"batch_label": name.encode(), b"labels": labels, b"data": data,
                 b"filenames": [f"img_{i}.png".encode() for i in range(rows + k)]}
        with open(os.path.join(directory, name), "wb") as f:
            pickle.dump(batch, f, protocol=2)
        written[name] = (data, labels)
    return written


def test_load_cifar10(tmp_path):
    written = write_cifar(tmp_path)
    x_train, y_train, x_test, y_test = load_cifar10(tmp_path)
    train_data = numpy.concatenate([written[n][0] for n in CIFAR_FILES[:5]])
    assert x_train.shape == (len(train_data), 3, 32, 32) and x_train.dtype == numpy.uint8
    # channel-major rows: R (1024 values, row by row), then G, then B
    assert x_train[4, 1, 2, 3] == train_data[4, 1024 + 2 * 32 + 3]
    numpy.testing.assert_array_equal(x_train.reshape(len(train_data), -1), train_data)
    numpy.testing.assert_array_equal(y_train, sum((written[n][1] for n in CIFAR_FILES[:5]), []))
    numpy.testing.assert_array_equal(x_test.reshape(len(x_test), -1), written["test_batch"][0])
    numpy.testing.assert_array_equal(y_test, written["test_batch"][1])
    assert y_train.dtype == numpy.int64


def test_load_cifar10_from_parent_folder(tmp_path):
    nested = tmp_path / "cifar-10-batches-py"
    nested.mkdir()
    write_cifar(nested)
    assert load_cifar10(tmp_path)[0].shape[1:] == (3, 32, 32)


def test_load_cifar10_missing(tmp_path):
    write_cifar(tmp_path)
    os.remove(tmp_path / "data_batch_3")
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        load_cifar10(tmp_path)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("corruption", ["truncated", "garbage", "not_a_dict", "no_labels", "wrong_shape",
                                        "label_count", "code"])
def test_load_cifar10_corrupt(tmp_path, corruption):
    write_cifar(tmp_path)
    path = tmp_path / "data_batch_2"
    good = {b"data": numpy.zeros((2, 3072), numpy.uint8), b"labels": [1, 2]}
    if corruption == "truncated":
        path.write_bytes(path.read_bytes()[:500])
    elif corruption == "garbage":
        path.write_bytes(b"this is not a pickle")
    else:
        content = {
            "not_a_dict": [1, 2, 3],
            "no_labels": {b"data": good[b"data"]},
            "wrong_shape": {b"data": numpy.zeros((2, 100), numpy.uint8), b"labels": [1, 2]},
            "label_count": {b"data": good[b"data"], b"labels": [1, 2, 3]},
            "code": {b"data": good[b"data"], b"labels": [1, 2], b"x": _Evil()},
        }[corruption]
        path.write_bytes(pickle.dumps(content, protocol=2))
    with pytest.raises(DataFormatError, match="data_batch_2"):
        load_cifar10(tmp_path)


# -- MNIST ----------------------------------------------------------------------------------------------------------
def idx_bytes(array):
    """An idx file: two zero bytes, type 0x08 (unsigned byte), the number of dimensions, big-endian sizes."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape)
    return header + array.astype(numpy.uint8).tobytes()


def write_mnist(directory, compress, n_train=5, n_test=3, seed=0):
    rng = numpy.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, size=(n_train, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, size=n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, size=(n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, size=n_test),
    }
    for name, array in arrays.items():
        raw = idx_bytes(array)
        if compress:
            with gzip.open(os.path.join(directory, name + ".gz"), "wb") as f:
                f.write(raw)
        else:
            with open(os.path.join(directory, name), "wb") as f:
                f.write(raw)
    return arrays


@pytest.mark.parametrize("compress", [False, True])
def test_load_mnist(tmp_path, compress):
    arrays = write_mnist(tmp_path, compress)
    x_train, y_train, x_test, y_test = load_mnist(tmp_path)
    assert x_train.dtype == numpy.uint8 and x_train.shape == (5, 28, 28)
    assert y_train.dtype == numpy.int64
    numpy.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte"])
    numpy.testing.assert_array_equal(y_train, arrays["train-labels-idx1-ubyte"])
    numpy.testing.assert_array_equal(x_test, arrays["t10k-images-idx3-ubyte"])
    numpy.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte"])


def test_load_mnist_header_is_big_endian(tmp_path):
    write_mnist(tmp_path, False)
    raw = (tmp_path / "train-images-idx3-ubyte").read_bytes()
    assert raw[:4] == b"\x00\x00\x08\x03" and raw[4:8] == b"\x00\x00\x00\x05"  # magic 2051, 5 images
    assert (tmp_path / "train-labels-idx1-ubyte").read_bytes()[:4] == b"\x00\x00\x08\x01"  # magic 2049


def test_load_mnist_missing(tmp_path):
    write_mnist(tmp_path, False)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte")
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path)


@pytest.mark.parametrize("corruption", ["magic", "dims", "truncated", "extra", "count", "gzip", "empty"])
def test_load_mnist_corrupt(tmp_path, corruption):
    write_mnist(tmp_path, False)
    path = tmp_path / "train-images-idx3-ubyte"
    raw = path.read_bytes()
    if corruption == "magic":
        raw = b"\x12\x34" + raw[2:]
    elif corruption == "dims":
        raw = idx_bytes(numpy.zeros((5, 784)))
    elif corruption == "truncated":
        raw = raw[:-10]
    elif corruption == "extra":
        raw = raw + b"\x00"
    elif corruption == "count":
        raw = idx_bytes(numpy.zeros((4, 28, 28)))
    elif corruption == "gzip":
        raw = gzip.compress(raw)[:-20]
    else:
        raw = b""
    path.write_bytes(raw)
    with pytest.raises(DataFormatError, match="train-"):
        load_mnist(tmp_path)


# -- digits ---------------------------------------------------------------------------------------------------------
def test_load_digits():
    pytest.importorskip("sklearn")
    x_train, y_train, x_test, y_test = load_digits()
    assert x_train.shape[1] == 64 and len(x_train) + len(x_test) == 1797
    assert abs(len(x_test) - 0.2 * 1797) < 1
    assert x_train.dtype == numpy.float64 and y_train.dtype == numpy.int64
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0
    again = load_digits()
    numpy.testing.assert_array_equal(again[1], y_train)
    assert not numpy.array_equal(load_digits(seed=1)[1], y_train)


def test_load_digits_without_sklearn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"minpy-nn\[data\]"):
        load_digits()


def test_split_iterators_sizes_and_alignment():
    x = numpy.arange(100, dtype=numpy.float64).reshape(50, 2)
    y = numpy.arange(50)
    xt, yt = x[:7] + 1000, y[:7] + 1000
    train, val, test = split_iterators(x, y, xt, yt, batch_size=4, val_fraction=0.2, seed=1)
    assert (train.num_data, val.num_data, test.num_data) == (40, 10, 7)
    for it, offset in ((train, 0), (val, 0), (test, 1000)):
        for batch in it:
            data, label = numpy.asarray(batch.data[0]), numpy.asarray(batch.label[0])
            assert numpy.array_equal(data[:, 0], 2 * (label - offset) + offset)  # row i stays with label i
    assert split_iterators(x, y, xt, yt, batch_size=6, val_fraction=0.1)[1].num_data == 6  # at least one batch
    with pytest.raises(ValueError, match="val_fraction"):
        split_iterators(x, y, xt, yt, batch_size=4, val_fraction=1.5)


# -- parts for data-parallel workers ----------------------------------------------------------------------------------
@given(n=st.integers(1, 60), parts=st.integers(1, 7), batch_size=st.integers(1, 8), shuffle=st.booleans(),
       handle=st.sampled_from(["pad", "discard", "roll_over"]))
def test_parts_are_disjoint_equal_and_strided(n, parts, batch_size, shuffle, handle):
    data, label = dataset(n)
    if n < parts:
        with pytest.raises(ValueError, match="cannot split"):
            NDArrayIter(data, label, num_parts=parts, part_index=0)
        return
    size = n // parts
    seen = []
    counts = set()
    for k in range(parts):
        it = NDArrayIter(data, label, batch_size=min(batch_size, size), shuffle=shuffle, seed=k,
                         last_batch_handle=handle, num_parts=parts, part_index=k)
        assert (it.num_data, it.num_parts, it.part_index) == (size, parts, k)
        rows = host(it.data[0][1])[:, 0].astype(int)
        numpy.testing.assert_array_equal(rows, numpy.arange(k, n, parts)[:size])  # every parts-th from k
        numpy.testing.assert_array_equal(host(it.label[0][1]), 1000 + rows)       # labels stay aligned
        seen.extend(rows.tolist())
        batches = served(it)
        counts.add(len(batches))
        for got, labels, _, _ in batches:
            numpy.testing.assert_array_equal(labels, 1000 + got)
    assert len(seen) == len(set(seen)) == size * parts      # disjoint; at most parts - 1 examples left out
    assert len(counts) == 1                                 # every worker takes as many steps


def test_parts_of_unshuffled_batches_make_the_whole_batch():
    """Batch i of the parts together is batch i of the whole data with num_parts times the batch size (what
    the data-parallel equivalence test relies on)."""
    data, label = dataset(48)
    whole = [set(rows.tolist()) for rows, _, _, _ in served(NDArrayIter(data, label, batch_size=12))]
    parts = [served(NDArrayIter(data, label, batch_size=4, num_parts=3, part_index=k)) for k in range(3)]
    for i, batch in enumerate(whole):
        assert set().union(*(set(p[i][0].tolist()) for p in parts)) == batch


def test_shard_keeps_the_settings():
    data, label = dataset(30)
    it = NDArrayIter({"x": data}, {"y": label}, batch_size=4, shuffle=True, seed=3, last_batch_handle="discard")
    part = it.shard(3, 2)
    assert isinstance(part, NDArrayIter) and part is not it
    assert (part.num_data, part.batch_size, part.shuffle, part.seed, part.last_batch_handle) == \
        (10, 4, True, 3, "discard")
    assert part.provide_data == [("x", (4, 3))] and part.provide_label == [("y", (4,))]
    assert "part 2 of 3" in repr(part)
    with pytest.raises(ValueError, match="already part"):
        part.shard(2, 0)
    assert it.num_data == 30  # the original is untouched


@pytest.mark.parametrize("parts, index", [(0, 0), (2, 2), (2, -1), (1.5, 0), (True, 0), (2, None)])
def test_bad_parts(parts, index):
    data, label = dataset(10)
    with pytest.raises(ValueError, match="num_parts|part_index"):
        NDArrayIter(data, label, num_parts=parts, part_index=index)


def test_loaders_and_split_iterators_serve_parts(tmp_path):
    write_mnist(tmp_path, False)
    whole = load_mnist(tmp_path)
    part = load_mnist(tmp_path, num_parts=2, part_index=1)
    numpy.testing.assert_array_equal(part[0], whole[0][1::2][:len(whole[1]) // 2])
    numpy.testing.assert_array_equal(part[1], whole[1][1::2][:len(whole[1]) // 2])
    numpy.testing.assert_array_equal(part[2], whole[2])   # the test split stays whole
    x = numpy.arange(100, dtype=numpy.float64).reshape(50, 2)
    y = numpy.arange(50)
    train, val, test = split_iterators(x, y, x[:7], y[:7], batch_size=4, val_fraction=0.2, num_parts=3,
                                       part_index=1)
    assert (train.num_data, val.num_data, test.num_data) == (13, 10, 7)
    numpy.testing.assert_array_equal(host(train.label[0][1]), numpy.arange(10, 50)[1::3][:13])


def test_load_digits_parts():
    pytest.importorskip("sklearn")
    x, y, xt, yt = load_digits()
    px, py, pxt, pyt = load_digits(num_parts=4, part_index=3)
    numpy.testing.assert_array_equal(py, y[3::4][:len(y) // 4])
    numpy.testing.assert_array_equal(pxt, xt)
