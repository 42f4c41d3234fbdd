"""TFRecord shards of slim's image format (`tfrecord:GLOB`), their writer and the folder converter."""

from __future__ import annotations

import glob
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfzoo.common.errors import DataError, DataNotFound

from .base import DataSplit, need_path, read_label_file, write_label_file
from .folder import scan, validate
from .images import decode, default_channels, probe
from .problems import handle, tf_message
from .splits import SPLIT_SEED, carve, pick

FEATURES = ("image/encoded", "image/format", "image/class/label", "image/height", "image/width")
_SPLIT_NAME = re.compile(r"_(train|val|validation|test)_")

LAYOUT = ("tfrecord:GLOB expects TFRecord shards of tf.train.Example records with " + ", ".join(FEATURES) +
          " (slim's converter format), named like NAME_train_00000-of-00002.tfrecord, NAME_val_..., NAME_test_..., "
          "and an optional labels.txt ('0:name' lines) beside them")


# -- writing -------------------------------------------------------------------------------------


def _feature(value) -> tf.train.Feature:
    if isinstance(value, bytes):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


def write_tfrecord(path, *, images: list[bytes], labels: list[int]) -> None:
    """Write encoded png/jpg images with their labels; format, height and width are read from the images."""
    if len(images) != len(labels):
        raise DataError(f"{path}: found {len(images)} images and {len(labels)} labels, expected equal counts")
    headers = []
    for i, data in enumerate(images):  # all checked before the file is opened: no half-written shard
        try:
            fmt, height, width, _ = probe(data)
        except ValueError as e:
            raise DataError(f"{path}:{i}: found an unreadable image ({e}), expected png/jpg bytes") from None
        headers.append(("jpg" if fmt == "jpeg" else fmt, height, width))  # slim writes b"jpg"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for data, label, (fmt, height, width) in zip(images, labels, headers, strict=True):
            values = (data, fmt.encode(), label, height, width)
            example = tf.train.Example(features=tf.train.Features(
                feature={key: _feature(v) for key, v in zip(FEATURES, values, strict=True)}))
            writer.write(example.SerializeToString())


def convert_folder(src_dir, out_dir, *, shards: int = 1, val: int = 0, name: str = "data") -> list[str]:
    """Convert `folder:` data to `<name>_<split>_<i:05d>-of-<n:05d>.tfrecord` shards plus labels.txt.

    A flat folder becomes train, less `val` images carved per class for val; a folder with
    train/ val/ test/ keeps its splits. Returns the paths written, labels.txt last.
    """
    if shards < 1:
        raise DataError(f"shards={shards}; expected at least 1")
    src, out = Path(src_dir), Path(out_dir)
    class_names, groups = scan(src)
    if val and set(groups) != {"train"}:
        raise DataError(f"{src}: already has {'/'.join(groups)} folders, so val={val} cannot apply")
    if val:
        items = groups["train"]
        if not 0 < val < len(items):
            raise DataError(f"val={val}; expected between 1 and {len(items) - 1} for {len(items)} images")
        parts = carve([label for _, label in items], val=val / len(items), test=0.0)
        groups = {split: [items[i] for i in parts[split]] for split in ("train", "val")}
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for split, items in groups.items():
        items, _ = validate(items, on_error="raise", where=str(src))
        # Shuffle once with the fixed seed so every shard mixes classes, as slim's converter did.
        order = np.random.default_rng(SPLIT_SEED).permutation(len(items))
        items = [items[i] for i in order]
        n = min(shards, len(items))
        per = math.ceil(len(items) / n) if n else 0
        for i in range(n):
            chunk = items[i * per:(i + 1) * per]
            path = out / f"{name}_{split}_{i:05d}-of-{n:05d}.tfrecord"
            write_tfrecord(path, images=[p.read_bytes() for p, _ in chunk], labels=[label for _, label in chunk])
            written.append(str(path))
    write_label_file(out / "labels.txt", class_names)
    return written + [str(out / "labels.txt")]


# -- reading -------------------------------------------------------------------------------------


@dataclass
class _Scan:
    """What one pass over a shard found, record by record."""

    readable: int = 0  # records before the first corrupt one; the pipeline never reads past it
    labels: list[int | None] = field(default_factory=list)  # None: not a usable Example
    shapes: list[tuple[int, int, str] | None] = field(default_factory=list)  # (h, w, mode); None: bad image
    problems: dict[int, str] = field(default_factory=dict)  # by record index
    tail: str | None = None  # a corrupt record that ends the readable part


def _scan(path: str, *, verify: bool) -> _Scan:
    found = _Scan()
    records = iter(tf.data.TFRecordDataset(path))
    while True:
        i = found.readable
        try:
            raw = next(records).numpy()
        except StopIteration:
            return found
        except tf.errors.OpError as e:  # DataLossError: bad checksum or truncated file
            found.tail = f"{path}:{i}: found a corrupt or truncated record ({tf_message(e)}), " \
                        f"expected a TFRecord record"
            return found
        found.readable += 1
        label, shape, problem = _parse(raw, verify=verify)
        found.labels.append(label)
        found.shapes.append(shape)
        if problem:
            found.problems[i] = f"{path}:{i}: {problem}"


def _parse(raw: bytes, *, verify: bool) -> tuple[int | None, tuple[int, int, str] | None, str | None]:
    """(label, (height, width, mode), problem) of one serialized record."""
    try:
        feature = tf.train.Example.FromString(raw).features.feature
    except Exception as e:  # protobuf's DecodeError
        return None, None, f"found bytes that are not a tf.train.Example ({e}), expected {LAYOUT}"
    missing = [key for key in ("image/encoded", "image/class/label") if key not in feature]
    if missing:
        return None, None, f"found no {' or '.join(missing)} feature, expected {', '.join(FEATURES)}"
    label = int(feature["image/class/label"].int64_list.value[0])
    if not verify:
        return label, None, None
    try:
        _, height, width, mode = probe(feature["image/encoded"].bytes_list.value[0])
    except ValueError as e:
        return label, None, f"found an unreadable image/encoded ({e}), expected png/jpg bytes"
    for key, actual in (("image/height", height), ("image/width", width)):
        stated = feature[key].int64_list.value if key in feature else None
        if stated and stated[0] != actual:
            return label, None, f"found {key} {stated[0]}, expected {actual} (the decoded image's)"
    return label, (height, width, mode), None


def _match(arg: str) -> list[str]:
    pattern = str(need_path("tfrecord", arg, "glob"))
    if Path(pattern).is_dir():
        pattern = str(Path(pattern) / "*.tfrecord*")
    files = sorted(f for f in glob.glob(pattern) if Path(f).is_file() and not f.endswith(".txt"))
    if not files:
        raise DataNotFound(f"tfrecord:{arg}: no files match; {LAYOUT}")
    return files


def _groups(files: list[str]) -> dict[str, list[str]]:
    """Shards per split by file name; names without a split all count as train."""
    groups: dict[str, list[str]] = {}
    for f in files:
        found = _SPLIT_NAME.search(Path(f).name)
        split = {"validation": "val"}.get(found.group(1), found.group(1)) if found else "train"
        groups.setdefault(split, []).append(f)
    if len(groups) > 1 and any(not _SPLIT_NAME.search(Path(f).name) for f in files):
        raise DataError(f"{Path(files[0]).parent}: some shards name a split (_train_/_val_/_test_) and some "
                        f"do not; expected all or none")
    return groups


def read(arg: str, split: str, *, seed: int = 0, channels: int | None = None, on_error: str = "raise") -> DataSplit:
    """Reader for `tfrecord:GLOB`. Records are checked once now (labels, images) and decoded in the pipeline."""
    files = _match(arg)
    groups = _groups(files)
    source = split if split in groups else "train"
    if source not in groups:
        raise DataNotFound(f"tfrecord:{arg}: found {', '.join(groups)} shards but no _train_ ones; {LAYOUT}")
    scans = {f: _scan(f, verify=True) for f in groups[source]}
    class_names = read_label_file(Path(files[0]).parent / "labels.txt")
    if class_names is None:  # "0".."N-1" over every shard, so all splits agree
        others = [_scan(f, verify=False) for f in files if f not in scans]
        top = max((x for s in [*scans.values(), *others] for x in s.labels if x is not None), default=-1)
        class_names = tuple(str(i) for i in range(top + 1))

    # Positions in the stream of readable records of all source shards, in order.
    labels = [x for s in scans.values() for x in s.labels]
    shapes = [x for s in scans.values() for x in s.shapes]
    problems = _problems(scans, labels, n_classes=len(class_names))
    # Carve by label; records without one belong to no split, so every split of these shards reports them.
    usable = np.array([i for i, x in enumerate(labels) if x is not None], np.int64)
    chosen = usable[pick(split, present=groups, labels=np.array([labels[i] for i in usable], np.int64))]
    unusable = [p for i, p in problems.items() if labels[i] is None]
    tails = [s.tail for s in scans.values() if s.tail]  # reading stops there: every split of the file is short
    handle([problems[i] for i in chosen if i in problems] + unusable + tails, on_error=on_error,
           where=f"tfrecord:{arg}")
    chosen = np.array([i for i in chosen if i not in problems], np.int64)

    keep = np.zeros(len(labels), bool)
    keep[chosen] = True
    channels = channels or _first_channels(files[0])
    sizes = {shapes[i][:2] for i in chosen}
    image_shape = (*sizes.pop(), channels) if len(sizes) == 1 else None
    dataset = _pipeline(list(scans), [s.readable for s in scans.values()], keep, channels, image_shape)
    return DataSplit(dataset, len(chosen), class_names=class_names, image_shape=image_shape)


def _first_channels(path: str) -> int:
    """Channels implied by the very first record, so that every split decodes alike."""
    try:
        for raw in tf.data.TFRecordDataset(path).take(1):
            shape = _parse(raw.numpy(), verify=True)[1]
            return default_channels(shape[2]) if shape else 3
    except tf.errors.OpError:
        pass
    return 3


def _problems(scans: dict[str, _Scan], labels: list[int | None], *, n_classes: int) -> dict[int, str]:
    """Problems by position in the stream of readable records: bad records and out-of-range labels."""
    problems, offset = {}, 0
    for f, s in scans.items():
        problems.update({offset + i: p for i, p in s.problems.items()})
        for i, label in enumerate(s.labels):
            if label is not None and not 0 <= label < n_classes and offset + i not in problems:
                problems[offset + i] = f"{f}:{i}: found label {label}, expected 0..{n_classes - 1}"
        offset += s.readable
    return problems


def _pipeline(files, counts, keep, channels, image_shape) -> tf.data.Dataset:
    spec = {"image/encoded": tf.io.FixedLenFeature([], tf.string),
            "image/class/label": tf.io.FixedLenFeature([], tf.int64)}
    keep = tf.constant(keep)

    def load(raw):
        example = tf.io.parse_single_example(raw, spec)
        image = decode(example["image/encoded"], channels)
        return (tf.ensure_shape(image, image_shape) if image_shape else image), example["image/class/label"]

    records = tf.data.Dataset.from_tensor_slices((files, tf.constant(counts, tf.int64))).flat_map(
        lambda f, n: tf.data.TFRecordDataset(f).take(n))  # take(n): never read into a corrupt tail
    records = records.enumerate().filter(lambda i, _: keep[i]).map(lambda _, raw: raw)
    return records.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
