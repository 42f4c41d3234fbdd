"""Spec resolver, embedded datasets, IDX, CIFAR-10 and CSV readers on small files written here."""

import gzip
import types

import numpy as np
import pytest

from tfzoo.common import data
from tfzoo.common.data import embedded, spec
from tfzoo.common.errors import DataError, DataNotFound


def arrays(split):
    """All (images, labels) of a DataSplit as numpy arrays."""
    x, y = next(split.dataset.batch(max(split.size, 1)).as_numpy_iterator())
    assert len(y) == split.size
    return x, y


# -- resolver ------------------------------------------------------------------------------------


def test_mnist_5k_is_a_fixed_stratified_4000_500_500_split():
    parts = {s: data.resolve("mnist-5k", s) for s in data.SPLITS}
    assert [parts[s].size for s in data.SPLITS] == [4000, 500, 500]
    test_x, test_y = arrays(parts["test"])
    assert test_x.dtype == np.uint8 and test_x.shape == (500, 28, 28, 1) and test_x.max() == 255
    assert np.bincount(test_y).tolist() == [50] * 10
    assert np.bincount(arrays(parts["train"])[1]).tolist() == [400] * 10
    assert parts["train"].class_names == tuple("0123456789")
    assert parts["train"].image_shape == (28, 28, 1)
    # The training seed never moves test data.
    again_x, _ = arrays(data.resolve("mnist-5k", "test", seed=123))
    assert np.array_equal(again_x, test_x)
    # No test image is also a training image.
    train_x, _ = arrays(parts["train"])
    train_keys = {x.tobytes() for x in train_x}
    assert sum(x.tobytes() in train_keys for x in test_x) < 5  # MNIST has a few duplicate digits


def test_digits_8x8_rescaled_and_channels():
    parts = [data.resolve("digits-8x8", s) for s in data.SPLITS]
    assert sum(p.size for p in parts) == 1797
    assert 1400 <= parts[0].size <= 1460
    x, _ = arrays(parts[2])
    assert x.shape[1:] == (8, 8, 1) and x.max() == 255 and x.dtype == np.uint8
    rgb = data.resolve("digits-8x8", "test", channels=3)
    assert rgb.image_shape == (8, 8, 3)
    assert np.array_equal(arrays(rgb)[0][..., 1], x[..., 0])


def test_uci_8x8_scales_the_tight_box_and_counts_on_pixels_per_block():
    from tfzoo.common.data.embedded import uci_8x8

    image = np.zeros((28, 28), np.uint8)
    image[5:15, 4:24] = 200  # a 10x20 bar: scaled to 16x32, centred in rows 8..23 = blocks 2..5
    expected = np.zeros((8, 8), np.uint8)
    expected[2:6] = 255
    assert np.array_equal(uci_8x8(image), expected)
    image[5:15, 4:24] = 100  # below the "on" threshold of 127: nothing counts
    assert not uci_8x8(image).any()
    assert not uci_8x8(np.zeros((28, 28), np.uint8)).any()


def test_mnist_8x8_is_mnist_5k_redrawn_like_digits_8x8():
    mnist = {s: data.resolve("mnist-5k", s) for s in data.SPLITS}
    small = {s: data.resolve("mnist-8x8", s) for s in data.SPLITS}
    assert [small[s].size for s in data.SPLITS] == [4000, 500, 500]
    x, y = arrays(small["test"])
    assert x.shape[1:] == (8, 8, 1) and x.dtype == np.uint8 and small["test"].image_shape == (8, 8, 1)
    assert np.array_equal(y, arrays(mnist["test"])[1])  # the same examples in the same order
    # Framed like scikit-learn's digits: the mean images agree (r 0.86 measured), better than mnist-5k's
    # central 24x24 block-averaged to 8x8 (r 0.74: MNIST keeps each digit's aspect in a 20x20 box).
    digits, _ = arrays(data.resolve("digits-8x8", "train"))
    big, _ = arrays(mnist["test"])
    ours = np.corrcoef(x.mean(0).ravel(), digits.mean(0).ravel())[0, 1]
    blocks = big[:, 2:26, 2:26].reshape(-1, 8, 3, 8, 3).mean(axis=(0, 2, 4))
    plain = np.corrcoef(blocks.ravel(), digits.mean(0).ravel())[0, 1]
    assert ours > 0.8 and ours > plain + 0.1


def test_bad_split_unknown_scheme_and_arguments():
    with pytest.raises(DataError, match="unknown split 'dev'"):
        data.resolve("mnist-5k", "dev")
    with pytest.raises(DataError, match=r"known specs: .*idx:DIR.*cifar10:DIR"):
        data.resolve("nosuch:x", "train")
    with pytest.raises(DataError, match="takes no argument"):
        data.resolve("mnist-5k:foo", "train")
    with pytest.raises(DataError, match="on_error"):
        data.resolve("mnist-5k", "train", on_error="ignore")


def test_register_scheme_and_entry_points(monkeypatch):
    monkeypatch.setattr(spec, "_readers", dict(spec._readers))  # undo the registration afterwards
    seen = {}

    def reader(arg, split, *, seed, channels, on_error):
        seen.update(arg=arg, split=split, seed=seed)
        return data.DataSplit(dataset=None, size=0, class_names=(), image_shape=None)

    data.register_scheme("fake", reader)
    assert data.resolve("fake:a:b", "val", seed=4).size == 0
    assert seen == {"arg": "a:b", "split": "val", "seed": 4}
    assert "fake[:ARG]" in data.known_specs()

    point = types.SimpleNamespace(name="plugged", load=lambda: reader)
    monkeypatch.setattr(spec, "_entry_points", lambda: {"plugged": point})
    data.resolve("plugged:z", "test")
    assert seen["arg"] == "z"
    with pytest.raises(DataError, match="scheme name"):
        data.register_scheme("a:b", reader)


# -- IDX -----------------------------------------------------------------------------------------


def write_mnist_layout(root, *, n_train=30, n_test=6, gz=True, dot=False):
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    sep = "." if dot else "-"
    sets = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 4, 5), dtype=np.uint8)
        labels = np.arange(n, dtype=np.uint8) % 3
        data.write_idx(root / f"{prefix}-images{sep}idx3-ubyte{suffix}", images)
        data.write_idx(root / f"{prefix}-labels{sep}idx1-ubyte{suffix}", labels)
        sets[prefix] = images, labels
    return sets


@pytest.mark.parametrize("gz,dot", [(True, False), (False, False), (False, True)])
def test_idx_round_trip(tmp_path, gz, dot):
    written = write_mnist_layout(tmp_path, gz=gz, dot=dot)
    train, val, test = (data.resolve(f"idx:{tmp_path}", s) for s in data.SPLITS)
    assert (train.size, val.size, test.size) == (27, 3, 6)
    assert train.image_shape == (4, 5, 1) and train.class_names == tuple("0123456789")
    x, y = arrays(test)
    assert np.array_equal(x[..., 0], written["t10k"][0]) and np.array_equal(y, written["t10k"][1])
    # val is one per class here, and train plus val is exactly the train file.
    vx, vy = arrays(val)
    assert sorted(vy.tolist()) == [0, 1, 2]
    tx, _ = arrays(train)
    together = {im.tobytes() for im in np.concatenate([tx, vx])[..., 0]}
    assert together == {im.tobytes() for im in written["train"][0]}


def test_idx_labels_txt_names_classes(tmp_path):
    write_mnist_layout(tmp_path)
    (tmp_path / "labels.txt").write_text("cat\ndog\nbird\n")
    assert data.resolve(f"idx:{tmp_path}", "test").class_names == ("cat", "dog", "bird")


def test_idx_wrong_magic(tmp_path):
    write_mnist_layout(tmp_path, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    raw = bytearray(path.read_bytes())
    raw[3] = 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: found magic 0x00000801, expected 0x00000803"):
        data.resolve(f"idx:{tmp_path}", "train")
    assert data.resolve(f"idx:{tmp_path}", "test").size == 6  # test files are fine


def test_idx_truncated_file_and_gzip(tmp_path):
    write_mnist_layout(tmp_path, gz=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte: found 129 bytes, expected 136"):
        data.resolve(f"idx:{tmp_path}", "test")
    gz = tmp_path / "gz"
    gz.mkdir()
    write_mnist_layout(gz)
    labels = gz / "train-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:-10])
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.gz: found a corrupt gzip stream"):
        data.resolve(f"idx:{gz}", "train")


def test_idx_count_mismatch_and_bad_label(tmp_path):
    write_mnist_layout(tmp_path)
    data.write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(5, np.uint8))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz: found 5 labels, expected 6"):
        data.resolve(f"idx:{tmp_path}", "test")
    data.write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([0, 1, 2, 12, 1, 0], np.uint8))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz:3: found label 12, expected 0..9"):
        data.resolve(f"idx:{tmp_path}", "test")
    assert data.resolve(f"idx:{tmp_path}", "test", on_error="skip").size == 5


def test_idx_missing(tmp_path):
    with pytest.raises(DataNotFound, match=r"no such directory; idx:DIR expects .*train-images-idx3-ubyte"):
        data.resolve(f"idx:{tmp_path / 'absent'}", "train")
    write_mnist_layout(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataNotFound, match=r"no t10k-labels-idx1-ubyte\[.gz\]"):
        data.resolve(f"idx:{tmp_path}", "test")


def test_fashion_mnist(tmp_path, monkeypatch):
    monkeypatch.setattr(embedded, "FASHION_MNIST_DIR", tmp_path / "absent")
    with pytest.raises(DataNotFound, match="apt-get install dataset-fashion-mnist"):
        data.resolve("fashion-mnist", "train")
    write_mnist_layout(tmp_path)
    monkeypatch.setattr(embedded, "FASHION_MNIST_DIR", tmp_path)
    test = data.resolve("fashion-mnist", "test")
    assert test.size == 6 and test.class_names[0] == "T-shirt/top" and test.class_names[9] == "Ankle boot"


# -- CIFAR-10 ------------------------------------------------------------------------------------


def write_cifar(root, per_file=2):
    rng = np.random.default_rng(1)
    written = {}
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        images = rng.integers(0, 256, (per_file, 32, 32, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, per_file)
        data.write_cifar_batch(root / name, images=images, labels=labels)
        written[name] = images, labels
    (root / "batches.meta.txt").write_text("airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n")
    return written


def test_cifar10_round_trip(tmp_path):
    inner = tmp_path / "cifar-10-batches-bin"
    inner.mkdir()
    written = write_cifar(inner)
    # The record layout is label, then the R, G and B planes.
    raw = (inner / "test_batch.bin").read_bytes()
    assert raw[0] == written["test_batch.bin"][1][0] and raw[1] == written["test_batch.bin"][0][0, 0, 0, 0]
    assert raw[1 + 1024] == written["test_batch.bin"][0][0, 0, 0, 1]
    train, val, test = (data.resolve(f"cifar10:{tmp_path}", s) for s in data.SPLITS)
    assert (train.size, val.size, test.size) == (9, 1, 2)
    assert test.image_shape == (32, 32, 3) and test.class_names[9] == "truck"
    x, y = arrays(test)
    assert np.array_equal(x, written["test_batch.bin"][0]) and np.array_equal(y, written["test_batch.bin"][1])
    vx, _ = arrays(val)  # the last record of the train batches
    assert np.array_equal(vx[0], written["data_batch_5.bin"][0][1])


def test_cifar10_bad_size_label_and_missing(tmp_path):
    write_cifar(tmp_path)
    with open(tmp_path / "data_batch_3.bin", "ab") as f:
        f.write(b"\0" * 10)
    with pytest.raises(DataError, match=r"data_batch_3.bin: found 6156 bytes, expected a non-zero multiple of 3073"):
        data.resolve(f"cifar10:{tmp_path}", "train")
    raw = bytearray((tmp_path / "test_batch.bin").read_bytes())
    raw[3073] = 42  # label of record 1
    (tmp_path / "test_batch.bin").write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"test_batch.bin:1: found label 42, expected 0..9"):
        data.resolve(f"cifar10:{tmp_path}", "test")
    (tmp_path / "data_batch_2.bin").unlink()
    with pytest.raises(DataNotFound, match=r"missing data_batch_2.bin; cifar10:DIR expects"):
        data.resolve(f"cifar10:{tmp_path}", "val")
    with pytest.raises(DataNotFound, match="3073-byte records"):
        data.resolve(f"cifar10:{tmp_path / 'absent'}", "test")


# -- CSV -----------------------------------------------------------------------------------------


def test_read_csv_columns_and_errors(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("date,open,close\n2020-01-01,1.5,2\n\n2020-01-02,3,4e1\n")
    table = data.read_csv(path, columns=["open", "close"])
    assert table["close"].tolist() == [2.0, 40.0] and list(table) == ["open", "close"]
    with pytest.raises(DataError, match=r"no column 'volume'; available columns: date, open, close"):
        data.read_csv(path, columns=["volume"])
    with pytest.raises(DataError, match=r"t.csv: row 2, column 'date': found '2020-01-01', expected a finite number"):
        data.read_csv(path)
    path.write_text("a;b\n1;2\n3;NaN\n")
    with pytest.raises(DataError, match=r"t.csv: row 3, column 'b': found 'NaN'"):
        data.read_csv(path, delimiter=";")
    assert data.read_csv(path, columns=["a"], delimiter=";")["a"].tolist() == [1.0, 3.0]
    with pytest.raises(DataError, match=r"row 1, column '0': found 'a'"):
        data.read_csv(path, delimiter=";", header=False)
    with pytest.raises(DataNotFound):
        data.read_csv(tmp_path / "absent.csv")


def test_read_csv_gbk_needs_encoding(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes("开盘,收盘\n1,2\n".encode("gbk"))
    with pytest.raises(DataError, match=r'gbk.csv: line 1: found bytes that are not utf-8.*encoding="gbk"'):
        data.read_csv(path)
    assert data.read_csv(path, encoding="gbk")["收盘"].tolist() == [2.0]


def test_csv_spec(tmp_path):
    path = tmp_path / "iris.csv"
    rows = [f"{i},{i * 0.5},{[3, 7][i % 2]}" for i in range(20)]
    path.write_text("x1\tx2\tlabel\n".replace("\t", ";") + "\n".join(r.replace(",", ";") for r in rows) + "\n")
    parts = [data.resolve(f"csv:{path}?delimiter=;", s) for s in data.SPLITS]
    assert [p.size for p in parts] == [16, 2, 2]
    assert parts[0].class_names == ("3", "7") and parts[0].image_shape is None
    x, y = next(parts[1].dataset.as_numpy_iterator())
    assert x.dtype == np.float32 and x.shape == (2,) and y.dtype == np.int64
    assert y == (0 if x[0] % 2 == 0 else 1)  # label is the index into class_names
    with pytest.raises(DataError, match="unknown option sep"):
        data.resolve(f"csv:{path}?sep=;", "train")
    gz = gzip.compress(b"not,csv\n")  # not valid utf-8 and not GBK either
    (tmp_path / "bin.csv").write_bytes(gz)
    with pytest.raises(DataError, match="found bytes that are not utf-8"):
        data.resolve(f"csv:{tmp_path / 'bin.csv'}", "train")
