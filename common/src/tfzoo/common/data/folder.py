"""Image folders (`folder:DIR`): one subfolder per class, optionally under train/ val/ test/."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from tfzoo.common.errors import DataError, DataNotFound

from .base import DataSplit, need_path
from .images import decode, default_channels, probe
from .problems import handle
from .splits import pick

EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif"})
SPLIT_DIRS = {"train": "train", "val": "val", "validation": "val", "test": "test"}

LAYOUT = ("folder:DIR expects DIR/<class>/<image> (one subfolder per class), or DIR/train/<class>/..., "
          "DIR/val/<class>/... and DIR/test/<class>/...; images .jpg .jpeg .png .bmp .gif")


def _subdirs(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))


def _images(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir()
                  if p.suffix.lower() in EXTENSIONS and p.is_file() and not p.name.startswith("."))


def scan(root: Path) -> tuple[tuple[str, ...], dict[str, list[tuple[Path, int]]]]:
    """Sorted class names and, per group (train/val/test), the (path, label) of each image.

    A folder without train/ val/ test/ is one "train" group; the reader carves missing splits from train.
    """
    if not root.is_dir():
        raise DataNotFound(f"{root}: no such directory; {LAYOUT}")
    tops = {SPLIT_DIRS[d.name]: d for d in _subdirs(root) if d.name in SPLIT_DIRS}
    group_dirs = tops or {"train": root}
    classes = {group: {d.name: d for d in _subdirs(path)} for group, path in group_dirs.items()}
    class_names = tuple(sorted(set().union(*classes.values())))
    if not class_names and _images(root):
        raise DataError(f"{root}: found images directly in the folder, expected one subfolder per class; {LAYOUT}")
    if not class_names:
        raise DataNotFound(f"{root}: found no class subfolders; {LAYOUT}")
    index = {name: i for i, name in enumerate(class_names)}
    groups = {group: [(p, index[name]) for name, d in sorted(dirs.items()) for p in _images(d)]
              for group, dirs in classes.items()}
    if not any(groups.values()):
        raise DataNotFound(f"{root}: found no images; {LAYOUT}")
    return class_names, groups


def validate(items: list[tuple[Path, int]], *, on_error: str, where: str) -> tuple[list, list]:
    """The readable items and their (height, width, mode); unreadable ones are raised or skipped."""
    good, shapes, problems = [], [], []
    for path, label in items:
        try:
            _, height, width, mode = probe(path)
        except ValueError as e:
            problems.append(f"{path}: not a readable image ({e})")
            continue
        good.append((path, label))
        shapes.append((height, width, mode))
    handle(problems, on_error=on_error, where=where)
    return good, shapes


def first_channels(groups: dict[str, list[tuple[Path, int]]]) -> int:
    """Channels implied by the first readable image of the whole folder, so every split agrees."""
    for items in groups.values():
        for path, _ in items:
            try:
                return default_channels(probe(path)[3])
            except ValueError:
                continue
    return 3


def read(arg: str, split: str, *, seed: int = 0, channels: int | None = None, on_error: str = "raise") -> DataSplit:
    """Reader for `folder:DIR`: files are checked with PIL now and decoded by TensorFlow in the pipeline."""
    root = need_path("folder", arg, "directory")
    class_names, groups = scan(root)
    source = split if split in groups else "train"
    if source not in groups:
        raise DataNotFound(f"{root}: has {', '.join(groups)} but no train/; {LAYOUT}")
    items = groups[source]
    chosen = pick(split, present=groups, labels=np.array([label for _, label in items], np.int64))
    items, shapes = validate([items[i] for i in chosen], on_error=on_error, where=str(root))
    channels = channels or first_channels(groups)
    sizes = {(h, w) for h, w, _ in shapes}
    image_shape = (*sizes.pop(), channels) if len(sizes) == 1 else None

    paths = tf.constant([str(p) for p, _ in items], tf.string)
    labels = tf.constant([label for _, label in items], tf.int64)

    def load(path, label):
        image = decode(tf.io.read_file(path), channels)
        return (tf.ensure_shape(image, image_shape) if image_shape else image), label

    dataset = tf.data.Dataset.from_tensor_slices((paths, labels)).map(
        load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return DataSplit(dataset, len(items), class_names=class_names, image_shape=image_shape)

