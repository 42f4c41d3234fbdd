"""Delimited text tables: `read_csv` for numeric columns and the `csv:FILE` classification reader.

(Named table.py rather than csv.py so that it never shadows the standard library's csv.)
"""

from __future__ import annotations

import codecs
import csv
import io
import math
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfzoo.common.errors import DataError, DataNotFound

from .base import DataSplit, need_path
from .splits import pick

LAYOUT = ("csv:FILE expects a delimited text table with a header row, numeric feature columns and the class "
          "label in the last column; options follow '?', e.g. csv:data.csv?encoding=gbk&delimiter=;&header=0")


def _text(path: Path, encoding: str) -> str:
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise DataError(f"encoding={encoding!r} is not a known text encoding") from None
    raw = path.read_bytes()
    try:
        # utf-8-sig drops a byte-order mark, which would otherwise stick to the first column name.
        return raw.decode("utf-8-sig" if codec == "utf-8" else encoding)
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        hint = ""
        if codec != "gbk":
            try:
                raw.decode("gbk")
                hint = '; it decodes as GBK, so pass encoding="gbk" (csv:FILE?encoding=gbk in a spec)'
            except UnicodeDecodeError:
                hint = '; pass the file\'s encoding, e.g. encoding="latin-1"'
        raise DataError(f"{path}: line {line}: found bytes that are not {encoding} "
                        f"(byte {e.start}: {raw[e.start:e.start + 2]!r}){hint}") from None


def read_csv(path, *, columns: list[str] | None = None, delimiter: str = ",", encoding: str = "utf-8",
             header: bool = True) -> dict[str, np.ndarray]:
    """Numeric columns of a delimited text file as float64 arrays, keyed by column name.

    Without a header the columns are named "0", "1", ... Only the requested columns must be
    numeric; a NaN, infinity, empty cell or non-number is a DataError naming the file, the
    row (1-based line number) and the column.
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFound(f"{path}: no such file; expected a {delimiter!r}-delimited text table"
                           f"{' with a header row' if header else ''} in {encoding}")
    rows = csv.reader(io.StringIO(_text(path, encoding), newline=""), delimiter=delimiter)
    names = [name.strip() for name in next(rows, [])] if header else None
    values: list[list[float]] = []
    wanted: list[int] = []
    for row in rows:
        if not row or not "".join(row).strip():  # blank line
            continue
        if names is None:
            names = [str(i) for i in range(len(row))]
        if not wanted:
            wanted = _indices(path, names, columns)
        if len(row) != len(names):
            raise DataError(f"{path}: row {rows.line_num}: found {len(row)} fields, expected {len(names)}")
        values.append([_number(path, rows.line_num, names[j], row[j]) for j in wanted])
    names = names or []
    wanted = wanted or _indices(path, names, columns)
    table = np.array(values, np.float64).reshape(len(values), len(wanted))
    return {names[j]: table[:, k] for k, j in enumerate(wanted)}


def _indices(path: Path, names: list[str], columns: list[str] | None) -> list[int]:
    if columns is None:
        return list(range(len(names)))
    missing = [c for c in columns if c not in names]
    if missing:
        raise DataError(f"{path}: no column {', '.join(map(repr, missing))}; available columns: {', '.join(names)}")
    return [names.index(c) for c in columns]


def _number(path: Path, line: int, column: str, text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        value = None
    if value is None or not math.isfinite(value):
        raise DataError(f"{path}: row {line}, column {column!r}: found {text.strip()!r}, expected a finite number")
    return value


def read(arg: str, split: str, *, seed: int = 0, channels: int | None = None, on_error: str = "raise",
         encoding: str = "utf-8", delimiter: str = ",", header: str = "1") -> DataSplit:
    """Reader for `csv:FILE[?encoding=..&delimiter=..&header=0]`.

    Yields (features float32 [K], label int64): the LAST column is the class label, every other
    column a feature. Class names are the sorted distinct labels; the label yielded is the
    index into them. Splits are carved 80/10/10, stratified, with the fixed split seed.
    """
    delimiter = {"tab": "\t", "comma": ",", "semicolon": ";", "space": " "}.get(delimiter, delimiter)
    path = need_path("csv", arg, "file")
    if not path.is_file():
        raise DataNotFound(f"{path}: no such file; {LAYOUT}")
    table = read_csv(path, delimiter=delimiter, encoding=encoding,
                     header=str(header).lower() not in ("0", "false", "no"))
    if len(table) < 2:
        raise DataError(f"{path}: found {len(table)} column(s), expected features and a label column")
    *features, label = table
    raw = table[label]
    if not np.all(raw == np.round(raw)):
        bad = int(np.flatnonzero(raw != np.round(raw))[0])
        raise DataError(f"{path}: data row {bad + 1}, column {label!r}: found {raw[bad]}, "
                        f"expected an integer class label (the last column)")
    classes, labels = np.unique(raw.astype(np.int64), return_inverse=True)
    x = np.stack([table[name] for name in features], axis=1).astype(np.float32)
    chosen = pick(split, present={"train"}, labels=labels)
    dataset = tf.data.Dataset.from_tensor_slices((x[chosen], labels[chosen].astype(np.int64)))
    return DataSplit(dataset, len(chosen), class_names=[str(c) for c in classes])
