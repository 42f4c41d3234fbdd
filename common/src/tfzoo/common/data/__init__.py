"""Datasets named by spec strings, their readers and writers.

    from tfzoo.common.data import resolve
    train = resolve("mnist-5k", "train")   # DataSplit(dataset, size, meta): meta["class_names"], ...

Built-in specs: `mnist-5k` (default), `mnist-8x8`, `digits-8x8`, `fashion-mnist`, `idx:DIR`, `folder:DIR`,
`tfrecord:GLOB`, `cifar10:DIR`, `csv:FILE`; options follow `?` (`csv:FILE?encoding=gbk`,
`folder:DIR?on_error=skip`) and are parsed by `parse_spec` alone. Domains add schemes with `register_scheme` or the
"tfzoo.data" entry-point group. Every `dataset` is unbatched, finite and in a fixed order (the
trainer shuffles); image specs yield `(uint8 [H, W, C], int64 label)`. Splits are carved with
a fixed seed, so test data never changes. Nothing is downloaded: absent data raises
`DataNotFound` naming the expected files and format; bad data raises `DataError` naming the
file and record.
"""

from .base import SPLITS, DataSplit
from .check import check
from .cifar import read_batch as read_cifar_batch
from .cifar import write_batch as write_cifar_batch
from .idx import read_idx, write_idx
from .spec import Spec, known_specs, make, parse_spec, register_scheme, resolve
from .splits import carve
from .table import read_csv
from .tfrecord import convert_folder, write_tfrecord

__all__ = [
    "SPLITS", "DataSplit", "Spec", "carve", "check", "convert_folder", "known_specs", "read_cifar_batch", "read_csv",
    "make", "parse_spec", "read_idx", "register_scheme", "resolve", "write_cifar_batch", "write_idx", "write_tfrecord",
]
