"""CIFAR-10 binary batches (`cifar10:DIR`) and a writer for fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tfzoo.common.errors import DataError, DataNotFound

from .base import DataSplit, drop_bad_labels, from_arrays, need_path, read_label_file

RECORD = 3073  # 1 label byte, then 1024 R, 1024 G, 1024 B bytes of a row-major 32x32 image
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILES = ("test_batch.bin",)
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

LAYOUT = ("cifar10:DIR expects DIR (or DIR/cifar-10-batches-bin) to hold data_batch_1.bin .. data_batch_5.bin, "
          "test_batch.bin and batches.meta.txt: 3073-byte records, a label byte then 1024 bytes each of "
          "R, G and B, row-major 32x32")


def read_batch(path) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [N, 32, 32, 3], labels int64 [N]) of one batch file."""
    path = Path(path)
    raw = path.read_bytes()
    if not raw or len(raw) % RECORD:
        raise DataError(f"{path}: found {len(raw)} bytes, expected a non-zero multiple of {RECORD} "
                        f"(CIFAR-10 records: 1 label byte + 3072 pixel bytes)")
    records = np.frombuffer(raw, np.uint8).reshape(-1, RECORD)
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # planes -> HWC
    return images, records[:, 0].astype(np.int64)


def write_batch(path, *, images, labels) -> None:
    """Write uint8 [N, 32, 32, 3] images and their labels as one CIFAR-10 binary batch."""
    images = np.asarray(images, np.uint8).transpose(0, 3, 1, 2).reshape(len(images), -1)
    labels = np.asarray(labels, np.uint8)[:, None]
    Path(path).write_bytes(np.concatenate([labels, images], axis=1).tobytes())


def _locate(root: Path) -> Path:
    for candidate in (root, root / "cifar-10-batches-bin"):
        if (candidate / TRAIN_FILES[0]).is_file() or (candidate / TEST_FILES[0]).is_file():
            return candidate
    raise DataNotFound(f"{root}: no CIFAR-10 batches; {LAYOUT}")


def read(arg: str, split: str, *, seed: int = 0, channels: int | None = None, on_error: str = "raise") -> DataSplit:
    """Reader for `cifar10:DIR`: val is the last tenth of the train batches (5,000 of 50,000)."""
    root = _locate(need_path("cifar10", arg, "directory"))
    files = [root / name for name in (TEST_FILES if split == "test" else TRAIN_FILES)]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise DataNotFound(f"{root}: missing {', '.join(missing)}; {LAYOUT}")
    names = read_label_file(root / "batches.meta.txt") or CLASS_NAMES
    batches = [read_batch(f) for f in files]
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    chosen = np.arange(len(labels))
    if split != "test":
        n_val = len(labels) // 10
        chosen = chosen[len(labels) - n_val:] if split == "val" else chosen[:len(labels) - n_val]
    # Check labels file by file so that a bad one is named by its file and record.
    kept, start = [], 0
    for f, (_, batch_labels) in zip(files, batches, strict=True):
        end = start + len(batch_labels)
        local = chosen[(chosen >= start) & (chosen < end)] - start
        kept.append(drop_bad_labels(local, batch_labels, n_classes=len(names), where=str(f), on_error=on_error) + start)
        start = end
    chosen = np.concatenate(kept)
    return from_arrays(images[chosen], labels[chosen], class_names=names, channels=channels)
