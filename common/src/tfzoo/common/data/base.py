"""The `DataSplit` every reader returns, plus small helpers the readers share."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import tensorflow as tf

from tfzoo.common.errors import DataError

from .problems import handle

SPLITS = ("train", "val", "test")
ON_ERROR = ("raise", "skip")
DIGITS = tuple(str(i) for i in range(10))

# ITU-R 601 luma weights, the same ones tf.image.rgb_to_grayscale uses.
_LUMA = np.array([0.2989, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class DataSplit:
    """One split of a dataset: an unbatched, finite `dataset`, its `size`, and free-form `meta`.

    `meta` holds what the models and reports need to know about the data and is JSON-ready:
    class names, shapes, vocabularies, sample rates... Image specs yield
    `(image uint8 [H, W, C], label int64 scalar)` and set `meta["class_names"]` (what the label
    indexes) and `meta["image_shape"]` (`(H, W, C)` when every image has that shape, else None).
    """

    dataset: tf.data.Dataset
    size: int
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __init__(self, dataset: tf.data.Dataset, size: int, meta: Mapping[str, Any] | None = None, *,
                 class_names: Sequence[str] | None = None, image_shape: Sequence[int] | None = None) -> None:
        meta = dict(meta or {})
        if class_names is not None:
            meta["class_names"] = tuple(class_names)
        if image_shape is not None:
            meta["image_shape"] = tuple(int(d) for d in image_shape)
        object.__setattr__(self, "dataset", dataset)
        object.__setattr__(self, "size", int(size))
        object.__setattr__(self, "meta", MappingProxyType(meta))

    @property
    def class_names(self) -> tuple[str, ...]:
        """The names the labels index; () for unlabelled data."""
        return tuple(self.meta.get("class_names", ()))

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        """`(H, W, C)` when every image has that shape, else None."""
        shape = self.meta.get("image_shape")
        return tuple(shape) if shape is not None else None

    def replace(self, *, dataset: tf.data.Dataset | None = None, size: int | None = None,
                **meta: Any) -> DataSplit:
        """A copy with another dataset, size or meta entries (the rest kept)."""
        return DataSplit(self.dataset if dataset is None else dataset, self.size if size is None else size,
                         {**self.meta, **meta})


def check_args(*, split: str, channels: int | None, on_error: str) -> None:
    """Reject a bad split, channel count or error policy with a one-line DataError."""
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    if channels not in (None, 1, 3):
        raise DataError(f"channels={channels!r}; expected 1, 3 or None (keep the data's own)")
    if on_error not in ON_ERROR:
        raise DataError(f"on_error={on_error!r}; expected one of {', '.join(ON_ERROR)}")


def no_argument(scheme: str, arg: str) -> None:
    """Embedded datasets take no `:ARG`; say so rather than silently ignoring it."""
    if arg:
        raise DataError(f"{scheme} takes no argument, found {scheme}:{arg}")


def need_path(scheme: str, arg: str, what: str) -> Path:
    """The path of a `scheme:PATH` spec, with `~` expanded."""
    if not arg.strip():
        raise DataError(f"{scheme}: needs a {what}, e.g. {scheme}:/data/{what.split()[0]}")
    return Path(arg.strip()).expanduser()


def with_channels(images: np.ndarray, channels: int | None) -> np.ndarray:
    """Convert uint8 [N, H, W, C] images to `channels` (1 <-> 3); None keeps them."""
    have = images.shape[-1]
    if channels is None or channels == have:
        return images
    if have == 1 and channels == 3:
        return np.repeat(images, 3, axis=-1)
    if have == 3 and channels == 1:
        gray = np.rint(images.astype(np.float32) @ _LUMA)
        return np.clip(gray, 0, 255).astype(np.uint8)[..., None]
    raise DataError(f"cannot convert {have}-channel images to {channels} channels")


def from_arrays(images: np.ndarray, labels: np.ndarray, *, class_names, channels: int | None = None) -> DataSplit:
    """A DataSplit over in-memory uint8 [N, H, W, C] images and integer labels."""
    images = with_channels(np.ascontiguousarray(images, np.uint8), channels)
    labels = np.asarray(labels, np.int64)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    return DataSplit(dataset, len(labels), class_names=class_names, image_shape=images.shape[1:])


def read_label_file(path: Path) -> tuple[str, ...] | None:
    """Class names from a labels.txt: slim's `0:name` lines or one name per line. None if absent."""
    if not path.is_file():
        return None
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    indexed = [re.fullmatch(r"(\d+):(.*)", line) for line in lines]
    if lines and all(indexed):
        names = {int(m.group(1)): m.group(2).strip() for m in indexed}
        if sorted(names) != list(range(len(names))):
            raise DataError(f"{path}: found indices {sorted(names)}, expected 0..{len(names) - 1} without gaps")
        return tuple(names[i] for i in range(len(names)))
    return tuple(lines)


def write_label_file(path: Path, class_names) -> None:
    """Write slim's `0:name` labels.txt."""
    path.write_text("".join(f"{i}:{name}\n" for i, name in enumerate(class_names)), encoding="utf-8")


def drop_bad_labels(chosen: np.ndarray, labels: np.ndarray, *, n_classes: int, where: str,
                    on_error: str) -> np.ndarray:
    """`chosen` indices less those whose label is outside 0..n_classes-1 (reported as `where:index`)."""
    bad = chosen[(labels[chosen] < 0) | (labels[chosen] >= n_classes)]
    handle([f"{where}:{i}: found label {int(labels[i])}, expected 0..{n_classes - 1}" for i in bad],
           on_error=on_error, where=where)
    return chosen[~np.isin(chosen, bad)]
