"""MNIST-layout IDX files (`idx:DIR`), raw or gzip, and a writer for fixtures."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from tfzoo.common.errors import DataError, DataNotFound

from .base import DIGITS, DataSplit, drop_bad_labels, from_arrays, need_path, read_label_file
from .splits import pick

IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension

LAYOUT = ("idx:DIR expects DIR/train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
          "t10k-labels-idx1-ubyte (raw or .gz; 'train-images.idx3-ubyte' also accepted): big-endian IDX, "
          "magic 0x00000803 for images and 0x00000801 for labels; an optional labels.txt names the classes")


def _read_bytes(path: Path) -> bytes:
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        return gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError; truncation is an EOFError
        raise DataError(f"{path}: found a corrupt gzip stream ({e}), expected gzip-compressed IDX") from None


def read_idx(path, *, magic: int) -> np.ndarray:
    """Read one IDX file of unsigned bytes, checking magic, dimensions and length."""
    path = Path(path)
    raw = _read_bytes(path)
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: found {len(raw)} bytes, expected an IDX header of {header} bytes")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise DataError(f"{path}: found magic 0x{found:08x}, expected 0x{magic:08x} "
                        f"(IDX of unsigned bytes with {ndim} dimension{'s' if ndim > 1 else ''})")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(raw) != expected:
        raise DataError(f"{path}: found {len(raw)} bytes, expected {expected} for dimensions "
                        f"{'x'.join(map(str, dims))} (truncated or trailing data)")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


def write_idx(path, array) -> None:
    """Write a uint8 array as IDX (gzip if the name ends in .gz)."""
    array = np.ascontiguousarray(array, np.uint8)
    raw = struct.pack(f">I{array.ndim}I", 0x0800 | array.ndim, *array.shape) + array.tobytes()
    Path(path).write_bytes(gzip.compress(raw, mtime=0) if str(path).endswith(".gz") else raw)


def _find(root: Path, prefix: str, kind: str, rank: int) -> Path:
    for name in (f"{prefix}-{kind}-idx{rank}-ubyte", f"{prefix}-{kind}.idx{rank}-ubyte"):
        for candidate in (root / name, root / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    raise DataNotFound(f"{root}: no {prefix}-{kind}-idx{rank}-ubyte[.gz]; {LAYOUT}")


def read_idx_dir(root: Path, split: str, *, channels: int | None = None, on_error: str = "raise",
                 class_names: tuple[str, ...] | None = None) -> DataSplit:
    """One split of an MNIST-layout directory: test is t10k, val a fixed stratified 10% of train."""
    if not root.is_dir():
        raise DataNotFound(f"{root}: no such directory; {LAYOUT}")
    prefix = "t10k" if split == "test" else "train"
    images_path, labels_path = _find(root, prefix, "images", 3), _find(root, prefix, "labels", 1)
    images, labels = read_idx(images_path, magic=IMAGES_MAGIC), read_idx(labels_path, magic=LABELS_MAGIC)
    if len(images) != len(labels):
        raise DataError(f"{labels_path}: found {len(labels)} labels, expected {len(images)} "
                        f"to match {images_path.name}")
    names = class_names or read_label_file(root / "labels.txt") or DIGITS
    chosen = np.arange(len(labels)) if split == "test" else pick(split, present={"train", "test"}, labels=labels)
    chosen = drop_bad_labels(chosen, labels, n_classes=len(names), where=str(labels_path), on_error=on_error)
    return from_arrays(images[chosen][..., None], labels[chosen], class_names=names, channels=channels)


def read(arg: str, split: str, *, seed: int = 0, channels: int | None = None, on_error: str = "raise") -> DataSplit:
    """Reader for `idx:DIR`."""
    return read_idx_dir(need_path("idx", arg, "directory"), split, channels=channels, on_error=on_error)
