"""The TFTS-like data API: feature keys, readers, exogenous features and the two inputs.

A reader turns a source into one series: `read()` returns `{TIMES: [T] float64, VALUES: [T, F] float32 (NaN =
missing), <exogenous name>: [T] numeric or str}`. An input decides how estimators see it: `WholeSeriesInput`
as one batch, `RandomWindowInput` as random contiguous windows. Both put the series on a regular time grid
first (a gap in the times becomes missing rows) so that every model steps one period at a time.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tfzoo.common.errors import ConfigError, DataError

TIMES = "times"
VALUES = "values"
MASK = "mask"  # batch key: True where a value was observed
EXOGENOUS = "exogenous"  # batch key: the encoded exogenous features [.., E]


# ----- exogenous features -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Numeric:
    """A numeric exogenous column used as it is (missing values read as 0)."""

    name: str

    @property
    def size(self) -> int:
        return 1

    def encode(self, column: np.ndarray, *, source: str = "") -> np.ndarray:
        try:
            x = np.asarray(column, np.float64)
        except ValueError:
            raise DataError(f"{source}: exogenous column {self.name!r} is not numeric") from None
        return np.nan_to_num(x, nan=0.0).astype(np.float32)[:, None]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "numeric", "name": self.name}


@dataclass(frozen=True)
class Categorical:
    """A categorical exogenous column, one-hot over `vocabulary` (unknown or missing values: all zeros)."""

    name: str
    vocabulary: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "vocabulary", tuple(str(v) for v in self.vocabulary))
        if not self.vocabulary:
            raise ConfigError(f"Categorical({self.name!r}) needs a non-empty vocabulary")

    @property
    def size(self) -> int:
        return len(self.vocabulary)

    def encode(self, column: np.ndarray, *, source: str = "") -> np.ndarray:
        index = {v: i for i, v in enumerate(self.vocabulary)}
        out = np.zeros((len(column), self.size), np.float32)
        for row, value in enumerate(column):
            key = _category_key(value)
            if key in index:
                out[row, index[key]] = 1.0
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "categorical", "name": self.name, "vocabulary": list(self.vocabulary)}


def _category_key(value: Any) -> str:
    # Numeric categories read from a CSV come back as floats: 1.0 and "1" are one category.
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def feature_from_dict(data: dict[str, Any]) -> Numeric | Categorical:
    """Rebuild an exogenous feature saved by `to_dict()`."""
    if data["kind"] == "numeric":
        return Numeric(data["name"])
    return Categorical(data["name"], tuple(data["vocabulary"]))


def encode_exogenous(
    features: tuple, columns: dict[str, Any], length: int, *, source: str = "", purpose: str = ""
) -> np.ndarray:
    """The `[length, E]` float32 encoding of `columns` for `features`; a missing column is a one-line error."""
    parts = [np.zeros((length, 0), np.float32)]
    for feature in features:
        if columns is None or feature.name not in columns:
            what = f" for {purpose}" if purpose else ""
            raise DataError(
                f"{source or 'input'}: exogenous feature {feature.name!r} is missing{what}; "
                f"give {length} values of it (exogenous={{{feature.name!r}: [...]}})"
            )
        column = np.asarray(columns[feature.name])
        if column.shape[:1] != (length,):
            raise DataError(
                f"{source or 'input'}: exogenous feature {feature.name!r} has {column.shape[0] if column.ndim else 1} "
                f"values; expected {length}"
            )
        parts.append(feature.encode(column, source=source))
    return np.concatenate(parts, axis=1)


def exogenous_size(features: tuple) -> int:
    return int(sum(f.size for f in features))


# ----- readers ------------------------------------------------------------------------------------------
class CSVReader:
    """A CSV file as one series.

    The default is a headerless `time,value` file. `column_names` names every column: repeating `VALUES`
    gives a multivariate series, any other name is an exogenous column (numeric, or string when
    `column_dtypes` says `str` or the values are not numbers). `skip_header_lines=None` skips one line
    when the first row is not numeric. Empty cells and NaN are missing values; bad rows and duplicate or
    unsorted times are a one-line DataError naming the file and line.
    """

    def __init__(
        self,
        path: str | Path,
        column_names: tuple[str, ...] = (TIMES, VALUES),
        column_dtypes: tuple | None = None,
        skip_header_lines: int | None = None,
        delimiter: str = ",",
        encoding: str = "utf-8",
    ) -> None:
        self.path = Path(path)
        self.column_names = tuple(column_names)
        if self.column_names.count(TIMES) != 1 or VALUES not in self.column_names:
            raise ConfigError(f"column_names {self.column_names}: expected one {TIMES!r} and at least one {VALUES!r}")
        if column_dtypes is not None and len(column_dtypes) != len(self.column_names):
            raise ConfigError(f"{len(column_dtypes)} column_dtypes for {len(self.column_names)} column_names")
        self.column_dtypes = column_dtypes
        self.skip_header_lines = skip_header_lines
        self.delimiter = delimiter
        self.encoding = encoding

    def _rows(self) -> list[tuple[int, list[str]]]:
        try:
            text = self.path.read_text(encoding=self.encoding)
        except FileNotFoundError:
            raise DataError(f"{self.path}: file not found (expected a CSV of {','.join(self.column_names)})") from None
        except UnicodeDecodeError:
            raise DataError(f"{self.path}: not {self.encoding} text; pass encoding=") from None
        rows = [(n, row) for n, row in enumerate(csv.reader(text.splitlines(), delimiter=self.delimiter), start=1)
                if any(cell.strip() for cell in row)]
        skip = self.skip_header_lines
        if skip is None:
            skip = 1 if rows and not _is_number(rows[0][1][self.column_names.index(TIMES)]
                                                if len(rows[0][1]) > self.column_names.index(TIMES) else "") else 0
        return rows[skip:]

    def read(self) -> dict[str, np.ndarray]:
        """`{TIMES, VALUES, exogenous...}` with times float64 ascending and unique."""
        rows = self._rows()
        if not rows:
            raise DataError(f"{self.path}: no data rows")
        width = len(self.column_names)
        cells: list[list[str]] = [[] for _ in range(width)]
        for line, row in rows:
            if len(row) != width:
                raise DataError(f"{self.path}:{line}: {len(row)} columns; expected {width} "
                                f"({','.join(self.column_names)})")
            for i, cell in enumerate(row):
                cells[i].append(cell.strip())
        lines = [line for line, _ in rows]
        out: dict[str, Any] = {}
        values = []
        for i, name in enumerate(self.column_names):
            dtype = self.column_dtypes[i] if self.column_dtypes else None
            if name == TIMES:
                out[TIMES] = self._numbers(cells[i], lines, name, allow_missing=False)
            elif name == VALUES:
                values.append(self._numbers(cells[i], lines, name, allow_missing=True))
            elif dtype in (str, "str", "string") or (dtype is None and not all(_is_number(c) or c == "" for c in cells[i])):
                out[name] = np.asarray(cells[i], dtype=object)
            else:
                out[name] = self._numbers(cells[i], lines, name, allow_missing=True)
        out[VALUES] = np.stack(values, axis=1).astype(np.float32)
        check_times(out[TIMES], source=str(self.path), lines=lines)
        return out

    def _numbers(self, cells: list[str], lines: list[int], name: str, *, allow_missing: bool) -> np.ndarray:
        out = np.empty(len(cells), np.float64)
        for k, cell in enumerate(cells):
            if cell == "" or cell.lower() in ("nan", "na"):
                if not allow_missing:
                    raise DataError(f"{self.path}:{lines[k]}: empty {name}; every row needs a time")
                out[k] = np.nan
                continue
            try:
                out[k] = float(cell)
            except ValueError:
                raise DataError(f"{self.path}:{lines[k]}: {name} {cell!r} is not a number") from None
            if np.isinf(out[k]):
                raise DataError(f"{self.path}:{lines[k]}: {name} {cell!r} is not finite; expected a number "
                                "(or empty / NaN for missing)")
        return out


class NumpyReader:
    """A series from arrays: `NumpyReader({TIMES: t, VALUES: v, name: x, ...})`; `v` is `[T]` or `[T, F]`."""

    def __init__(self, data: dict[str, Any], *, source: str = "arrays") -> None:
        if TIMES not in data or VALUES not in data:
            raise ConfigError(f"NumpyReader needs {TIMES!r} and {VALUES!r} arrays; got {', '.join(data)}")
        self.data = data
        self.source = source

    def read(self) -> dict[str, np.ndarray]:
        times = np.asarray(self.data[TIMES], np.float64).reshape(-1)
        values = np.asarray(self.data[VALUES], np.float32)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2 or len(values) != len(times):
            raise DataError(f"{self.source}: values of shape {values.shape} for {len(times)} times; expected [T, F]")
        out = {TIMES: times, VALUES: values}
        for name, column in self.data.items():
            if name in (TIMES, VALUES):
                continue
            column = np.asarray(column)
            if len(column) != len(times):
                raise DataError(f"{self.source}: exogenous {name!r} has {len(column)} values for {len(times)} times")
            out[name] = column
        check_times(times, source=self.source)
        return out


class SeriesReader(NumpyReader):
    """A `tfzoo.timeseries.series.Series` (from `load_series(spec)`) as a reader; calendar times become steps."""

    def __init__(self, series: Any) -> None:
        data = {TIMES: series.steps, VALUES: series.values, **dict(series.exogenous)}
        super().__init__(data, source=series.source or "series")
        self.series = series


def check_times(times: np.ndarray, *, source: str, lines: list[int] | None = None) -> None:
    """Times must be finite, ascending and unique; the error names the first offending file line (1-based), or the
    0-based row of arrays."""
    bad = np.flatnonzero(~np.isfinite(times))
    if len(bad):
        where = f"{source}:{lines[bad[0]]}" if lines else f"{source}, row {bad[0]}"
        raise DataError(f"{where}: time is not a finite number")
    diffs = np.diff(times)
    wrong = np.flatnonzero(diffs <= 0)
    if len(wrong):
        k = wrong[0] + 1
        where = f"{source}:{lines[k]}" if lines else f"{source}, row {k}"
        what = "duplicate" if diffs[wrong[0]] == 0 else "unsorted"
        raise DataError(f"{where}: {what} time {times[k]:g} after {times[k - 1]:g}; "
                        "times must be unique and ascending")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ----- regular grid ------------------------------------------------------------------------------------
def time_step(times: np.ndarray) -> float:
    """The sampling period: the smallest gap between times (1.0 for a single time)."""
    diffs = np.diff(np.asarray(times, np.float64))
    return float(diffs.min()) if len(diffs) else 1.0


def regularise(data: dict[str, np.ndarray], *, source: str = "") -> dict[str, np.ndarray]:
    """Insert missing rows where the times skip whole periods, so models step one period at a time.

    Irregular times that are not multiples of the smallest gap are kept as they are.
    """
    times = data[TIMES]
    if len(times) < 2:
        return data
    step = time_step(times)
    offsets = (times - times[0]) / step
    index = np.round(offsets).astype(np.int64)
    if not np.allclose(offsets, index, atol=1e-6) or index[-1] == len(times) - 1:
        return data
    length = int(index[-1]) + 1
    out: dict[str, np.ndarray] = {TIMES: times[0] + step * np.arange(length, dtype=np.float64)}
    for name, column in data.items():
        if name == TIMES:
            continue
        column = np.asarray(column)
        if column.dtype == object or column.dtype.kind in "US":
            full = np.full((length,) + column.shape[1:], "", dtype=object)
        else:
            full = np.full((length,) + column.shape[1:], np.nan, dtype=column.dtype if column.dtype.kind == "f"
                           else np.float64)
        full[index] = column
        out[name] = full
    return out


# ----- inputs ----------------------------------------------------------------------------------------------
class WholeSeriesInput:
    """The whole series as one batch (evaluation, and Kalman training on the full likelihood)."""

    def __init__(self, reader: Any) -> None:
        self.reader = reader

    def read(self) -> dict[str, np.ndarray]:
        """The series on its regular grid."""
        return regularise(self.reader.read(), source=_source(self.reader))


class RandomWindowInput(WholeSeriesInput):
    """Random contiguous windows of `window_size` steps, `batch_size` at a time, shuffled by `seed`.

    With an estimator's `train`, the common trainer draws the windows (its seeded shuffle is what makes
    a resumed run see the same batches). `dataset(...)` gives the same windows as a standalone tf.data
    pipeline. Missing values are masked (`MASK` is False there and the value 0).
    """

    def __init__(self, reader: Any, batch_size: int, window_size: int, seed: int = 0) -> None:
        super().__init__(reader)
        if batch_size < 1 or window_size < 1:
            raise ConfigError(f"RandomWindowInput: batch_size={batch_size}, window_size={window_size}; expected >= 1")
        self.batch_size = int(batch_size)
        self.window_size = int(window_size)
        self.seed = int(seed)

    def dataset(self, exogenous_features: tuple = (), dtype: str = "float32"):
        """An endless tf.data pipeline of batches `{TIMES, VALUES, MASK, EXOGENOUS}`."""
        import tensorflow as tf

        arrays = window_arrays(self.read(), self.window_size, exogenous_features, source=_source(self.reader),
                               dtype=dtype)
        ds = tf.data.Dataset.from_tensor_slices(arrays)
        n = len(arrays[TIMES])
        return ds.shuffle(n, seed=self.seed, reshuffle_each_iteration=True).repeat().batch(
            self.batch_size, drop_remainder=True)


def batch_arrays(
    data: dict[str, np.ndarray], exogenous_features: tuple, *, source: str = "", dtype: str = "float32"
) -> dict[str, np.ndarray]:
    """One series as the model-facing arrays: times, values (NaN -> 0), mask and encoded exogenous."""
    values = np.asarray(data[VALUES], np.float64)
    mask = np.isfinite(values)
    return {
        TIMES: np.asarray(data[TIMES], np.float64),
        VALUES: np.where(mask, values, 0.0).astype(dtype),
        MASK: mask,
        EXOGENOUS: encode_exogenous(exogenous_features, data, len(values), source=source).astype(dtype),
    }


def window_arrays(
    data: dict[str, np.ndarray], window_size: int, exogenous_features: tuple, *, source: str = "",
    dtype: str = "float32",
) -> dict[str, np.ndarray]:
    """Every contiguous window `[N, window_size, ...]` of the series (the pool random windows come from)."""
    arrays = batch_arrays(data, exogenous_features, source=source, dtype=dtype)
    length = len(arrays[TIMES])
    if length < window_size:
        raise DataError(f"{source or 'series'}: {length} time steps, shorter than one window of {window_size}; "
                        "use a smaller window_size")
    index = np.arange(length - window_size + 1)[:, None] + np.arange(window_size)[None, :]
    windows = {k: v[index] for k, v in arrays.items()}
    # A window with no observation at all teaches nothing and makes per-window means undefined.
    keep = windows[MASK].reshape(len(index), -1).any(axis=1)
    return {k: v[keep] for k, v in windows.items()}


def _source(reader: Any) -> str:
    return str(getattr(reader, "path", None) or getattr(reader, "source", "") or type(reader).__name__)


def is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
