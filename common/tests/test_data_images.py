"""Encoded-image readers on files written here: folder:, tfrecord:, convert_folder and check()."""

import io
import re

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfzoo.common import data
from tfzoo.common.data import spec
from tfzoo.common.data.images import decode
from tfzoo.common.errors import DataError, DataNotFound

RNG = np.random.default_rng(7)


def encode(array, fmt="PNG"):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, fmt)
    return buffer.getvalue()


def image(shape=(6, 5, 3)):
    return RNG.integers(0, 256, shape, dtype=np.uint8)


def write_classes(root, counts=None, shape=(6, 5, 3)):
    """root/<class>/<i>.png|jpg; returns {path: (pixels, label)} for the png files."""
    written = {}
    for label, (name, n) in enumerate(sorted((counts or {"cat": 10, "dog": 10}).items())):
        (root / name).mkdir(parents=True)
        for i in range(n):
            fmt, ext = ("JPEG", "jpg") if i % 2 else ("PNG", "png")
            pixels = image(shape)
            path = root / name / f"{i:03d}.{ext}"
            path.write_bytes(encode(pixels, fmt))
            if fmt == "PNG":
                written[str(path)] = pixels, label
    return written


def items(split):
    return list(split.dataset.as_numpy_iterator())


# -- folder: -------------------------------------------------------------------------------------


def test_folder_flat_png_and_jpg(tmp_path):
    write_classes(tmp_path)
    (tmp_path / "cat" / "notes.txt").write_text("not an image, and ignored")
    train, val, test = (data.resolve(f"folder:{tmp_path}", s) for s in data.SPLITS)
    assert (train.size, val.size, test.size) == (16, 2, 2)
    assert train.class_names == ("cat", "dog") and train.image_shape == (6, 5, 3)
    assert sorted(int(y) for _, y in items(val)) == [0, 1]  # stratified
    for x, y in items(train):
        assert x.dtype == np.uint8 and x.shape == (6, 5, 3) and y.dtype == np.int64
    # The same images on every call, and no overlap between splits.
    keys = [{x.tobytes() for x, _ in items(s)} for s in (train, val, test)]
    assert not (keys[0] & keys[1]) and not (keys[0] & keys[2]) and not (keys[1] & keys[2])
    assert keys[2] == {x.tobytes() for x, _ in items(data.resolve(f"folder:{tmp_path}", "test", seed=5))}


def test_folder_png_pixels_exact_and_channels(tmp_path):
    written = write_classes(tmp_path, {"a": 2, "b": 2})
    decoded = [x for x, _ in items(data.resolve(f"folder:{tmp_path}", "train"))]
    keys = {x.tobytes() for x in decoded}
    # With 4 files nothing is carved for val/test; every png decodes to its exact pixels.
    assert all(pixels.tobytes() in keys for pixels, _ in written.values())
    gray = data.resolve(f"folder:{tmp_path}", "train", channels=1)
    assert gray.image_shape == (6, 5, 1)
    grey_dir = tmp_path / "grey"
    write_classes(grey_dir, {"a": 2, "b": 1}, shape=(4, 4))
    (grey_dir / "a" / "002.gif").write_bytes(encode(image((4, 4)), "GIF"))
    (grey_dir / "b" / "003.bmp").write_bytes(encode(image((4, 4)), "BMP"))
    parts = [data.resolve(f"folder:{grey_dir}", s) for s in data.SPLITS]  # first image is mode L
    assert {p.image_shape for p in parts} == {(4, 4, 1)} and sum(p.size for p in parts) == 5
    assert {x.shape for p in parts for x, _ in items(p)} == {(4, 4, 1)}


def test_folder_corrupt_files(tmp_path, capsys):
    write_classes(tmp_path, {"cat": 4, "dog": 4})
    truncated = tmp_path / "cat" / "zz_truncated.png"
    truncated.write_bytes(encode(image((64, 64, 3)))[:300])
    text = tmp_path / "dog" / "zz_text.png"
    text.write_text("hello, I am not a png")
    with pytest.raises(DataError, match=r"zz_truncated.png: not a readable image \(.*\) \(and 1 more\)"):
        data.resolve(f"folder:{tmp_path}", "train")
    truncated.unlink()
    with pytest.raises(DataError, match=r"dog/zz_text.png: not a readable image"):
        data.resolve(f"folder:{tmp_path}", "train")
    text.unlink()
    # PIL's verify() passes a truncated JPEG; only a full load() finds it.
    jpeg = encode(image((64, 64, 3)), "JPEG")
    (tmp_path / "dog" / "zz_half.jpg").write_bytes(jpeg[:len(jpeg) // 2])
    with pytest.raises(DataError, match=r"dog/zz_half.jpg: not a readable image \(OSError: image file is truncated"):
        data.resolve(f"folder:{tmp_path}", "train")
    truncated.write_bytes(encode(image((64, 64, 3)))[:300])
    text.write_text("hello, I am not a png")
    capsys.readouterr()
    skipped = [data.resolve(f"folder:{tmp_path}", s, on_error="skip") for s in data.SPLITS]
    assert sum(s.size for s in skipped) == 8 and sum(len(items(s)) for s in skipped) == 8
    counts = re.findall(r"skipped (\d+) unreadable record", capsys.readouterr().err)
    assert sum(map(int, counts)) == 3


def test_folder_split_layout(tmp_path):
    write_classes(tmp_path / "train", {"a": 3, "b": 3})
    write_classes(tmp_path / "val", {"a": 1, "b": 1})
    write_classes(tmp_path / "test", {"a": 2, "c": 1})
    sizes = [data.resolve(f"folder:{tmp_path}", s).size for s in data.SPLITS]
    assert sizes == [6, 2, 3]
    test = data.resolve(f"folder:{tmp_path}", "test")
    assert test.class_names == ("a", "b", "c")
    assert sorted(int(y) for _, y in items(test)) == [0, 0, 2]


def test_folder_missing_and_misplaced(tmp_path):
    with pytest.raises(DataNotFound, match=r"absent: no such directory; folder:DIR expects DIR/<class>/<image>"):
        data.resolve(f"folder:{tmp_path / 'absent'}", "train")
    (tmp_path / "x.png").write_bytes(encode(image()))
    with pytest.raises(DataError, match="found images directly in the folder"):
        data.resolve(f"folder:{tmp_path}", "train")


# -- tfrecord: -----------------------------------------------------------------------------------


def test_write_tfrecord_round_trip(tmp_path):
    pictures = [image() for _ in range(6)]
    labels = [0, 1, 2, 0, 1, 2]
    for split, chunk in (("train", slice(0, 4)), ("val", slice(4, 5)), ("test", slice(5, 6))):
        data.write_tfrecord(tmp_path / f"d_{split}_00000-of-00001.tfrecord",
                            images=[encode(p) for p in pictures[chunk]], labels=labels[chunk])
    (tmp_path / "labels.txt").write_text("0:daisy\n1:rose\n2:tulip\n")
    train = data.resolve(f"tfrecord:{tmp_path}/*.tfrecord", "train")
    assert train.size == 4 and train.class_names == ("daisy", "rose", "tulip")
    assert train.image_shape == (6, 5, 3)
    got = items(train)
    assert all(np.array_equal(x, p) for (x, _), p in zip(got, pictures[:4], strict=True))
    assert [int(y) for _, y in got] == labels[:4]
    test = data.resolve(f"tfrecord:{tmp_path}", "test")  # a directory means DIR/*.tfrecord*
    assert test.size == 1 and np.array_equal(items(test)[0][0], pictures[5])
    # slim's Example layout.
    raw = next(iter(tf.data.TFRecordDataset(str(tmp_path / "d_val_00000-of-00001.tfrecord")))).numpy()
    feature = tf.train.Example.FromString(raw).features.feature
    assert feature["image/format"].bytes_list.value[0] == b"png"
    assert feature["image/height"].int64_list.value[0] == 6 and feature["image/width"].int64_list.value[0] == 5
    assert feature["image/class/label"].int64_list.value[0] == 1


def test_convert_folder_and_read_back(tmp_path):
    src = tmp_path / "flowers"
    written = write_classes(src, {"daisy": 6, "rose": 4})
    paths = data.convert_folder(src, tmp_path / "out", shards=2, val=2, name="flowers")
    names = sorted(p.rsplit("/", 1)[1] for p in paths)
    assert names == ["flowers_train_00000-of-00002.tfrecord", "flowers_train_00001-of-00002.tfrecord",
                     "flowers_val_00000-of-00002.tfrecord", "flowers_val_00001-of-00002.tfrecord", "labels.txt"]
    assert (tmp_path / "out" / "labels.txt").read_text() == "0:daisy\n1:rose\n"
    spec = f"tfrecord:{tmp_path}/out/flowers_*.tfrecord"
    train, val, test = (data.resolve(spec, s) for s in data.SPLITS)
    # No test shards: 10% of train is carved off for test.
    assert (train.size + test.size, val.size, test.size) == (8, 2, 1)
    assert sorted(int(y) for _, y in items(val)) == [0, 1]
    assert train.class_names == ("daisy", "rose")
    keys = {x.tobytes() for s in (train, val, test) for x, _ in items(s)}
    assert all(pixels.tobytes() in keys for pixels, _ in written.values())


def test_tfrecord_without_split_names_and_labels(tmp_path):
    data.write_tfrecord(tmp_path / "all.tfrecord", images=[encode(image()) for _ in range(20)],
                        labels=[i % 4 for i in range(20)])
    parts = [data.resolve(f"tfrecord:{tmp_path}/all.tfrecord", s) for s in data.SPLITS]
    assert [p.size for p in parts] == [16, 2, 2]
    assert parts[0].class_names == ("0", "1", "2", "3")


def test_tfrecord_corrupt_records(tmp_path, capsys):
    good = [encode(image()) for _ in range(5)]
    data.write_tfrecord(tmp_path / "d_test_00000-of-00001.tfrecord", images=good, labels=[0, 1, 0, 1, 0])
    path = tmp_path / "d_test_00000-of-00001.tfrecord"
    path.write_bytes(path.read_bytes()[:-40])  # truncates the last record
    with pytest.raises(DataError, match=r"d_test_00000-of-00001.tfrecord:4: found a corrupt or truncated record"):
        data.resolve(f"tfrecord:{tmp_path}", "test")
    skipped = data.resolve(f"tfrecord:{tmp_path}", "test", on_error="skip")
    assert skipped.size == 4 and len(items(skipped)) == 4
    assert "skipped 1" in capsys.readouterr().err
    with pytest.raises(DataError, match="found 1 images and 2 labels"):
        data.write_tfrecord(tmp_path / "x.tfrecord", images=good[:1], labels=[0, 1])
    with pytest.raises(DataError, match=r"bad.tfrecord:0: found an unreadable image"):
        data.write_tfrecord(tmp_path / "bad.tfrecord", images=[b"text"], labels=[0])
    assert not (tmp_path / "bad.tfrecord").exists()
    # An image that PIL cannot read inside an otherwise valid record.
    example = tf.train.Example(features=tf.train.Features(feature={
        "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[good[0][:60]])),
        "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[1]))}))
    with tf.io.TFRecordWriter(str(tmp_path / "d_val_00000-of-00001.tfrecord")) as writer:
        writer.write(example.SerializeToString())
    with pytest.raises(DataError, match=r"d_val_00000-of-00001.tfrecord:0: found an unreadable image/encoded"):
        data.resolve(f"tfrecord:{tmp_path}", "val")


def test_tfrecord_bad_examples_and_labels(tmp_path):
    shard = tmp_path / "d_train_00000-of-00001.tfrecord"
    data.write_tfrecord(shard, images=[encode(image()) for _ in range(3)], labels=[0, 1, 5])
    (tmp_path / "labels.txt").write_text("a\nb\n")
    with pytest.raises(DataError, match=r"d_train_00000-of-00001.tfrecord:2: found label 5, expected 0..1"):
        data.resolve(f"tfrecord:{shard}", "train")
    no_image = tf.train.Example(features=tf.train.Features(feature={
        "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[1]))}))
    with tf.io.TFRecordWriter(str(shard)) as writer:
        writer.write(no_image.SerializeToString())
        writer.write(tf.train.Example().SerializeToString())
    with pytest.raises(DataError, match=r"tfrecord:0: found no image/encoded feature.* \(and 1 more\)"):
        data.resolve(f"tfrecord:{shard}", "val")  # carved splits report records that have no label too


def test_tfrecord_missing(tmp_path):
    with pytest.raises(DataNotFound, match=r"no files match; tfrecord:GLOB expects .*image/class/label"):
        data.resolve(f"tfrecord:{tmp_path}/*.tfrecord", "train")


# -- check() -------------------------------------------------------------------------------------


def test_check_folder_lists_corrupt_file(tmp_path):
    write_classes(tmp_path / "train", {"cat": 3, "dog": 2})
    write_classes(tmp_path / "test", {"cat": 1, "dog": 1})
    (tmp_path / "train" / "dog" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    report = data.check(f"folder:{tmp_path}")
    assert report["spec"] == f"folder:{tmp_path}"
    assert len(report["errors"]) == 1 and "dog/broken.jpg: not a readable image" in report["errors"][0]
    counts = {split: info["count"] for split, info in report["splits"].items()}
    assert sum(counts.values()) == 7 and counts["test"] == 2
    assert report["splits"]["test"]["classes"] == {"cat": 1, "dog": 1}
    assert report["splits"]["test"]["shapes"] == [[6, 5, 3]]


def test_check_collects_file_level_errors_and_missing(tmp_path):
    data.write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((10, 2, 2), np.uint8))
    data.write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(10) % 2)
    data.write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((3, 2, 2), np.uint8))
    data.write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(4, np.uint8))
    report = data.check(f"idx:{tmp_path}")
    assert report["splits"]["train"]["count"] == 9 and sum(report["splits"]["val"]["classes"].values()) == 1
    assert report["errors"] == [f"{tmp_path}/t10k-labels-idx1-ubyte: found 4 labels, expected 3 to match "
                                f"t10k-images-idx3-ubyte"]
    with pytest.raises(DataNotFound):
        data.check(f"folder:{tmp_path / 'absent'}")


def test_check_reports_records_that_fail_in_the_pipeline(monkeypatch):
    monkeypatch.setattr(spec, "_readers", dict(spec._readers))
    png = encode(image())

    def broken(arg, split, *, seed, channels, on_error):
        dataset = tf.data.Dataset.from_tensor_slices(([png, b"junk", png], [0, 1, 1])).map(
            lambda raw, label: (decode(raw, 3), tf.cast(label, tf.int64)))
        return data.DataSplit(dataset=dataset, size=3, class_names=("a", "b"), image_shape=None)

    data.register_scheme("broken", broken)
    report = data.check("broken")
    assert report["splits"]["test"]["count"] == 2 and report["splits"]["test"]["classes"] == {"a": 1, "b": 1}
    assert report["errors"][0].startswith("broken [train]:1: found ")
    assert report["errors"][1] == "broken [train]: found 2 records, expected 3"
    assert len(report["errors"]) == 6  # two per split
