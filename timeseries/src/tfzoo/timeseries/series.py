"""The `Series` every reader returns, chronological splits, windows and saved scalers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tfzoo.common.errors import ConfigError, DataError


@dataclass(frozen=True)
class Series:
    """A regularly or irregularly sampled, possibly multivariate time series.

    `times` is sorted ascending and unique: `datetime64[ns]` for calendar data, float64 otherwise.
    `values` is `[T, F]` float32 with NaN where an observation is missing (masked, never dropped).
    `exogenous` maps a column name to a `[T]` array (numeric or string). `freq` is a pandas offset
    alias when the calendar spacing is known ("MS", "W-SAT", "QS", "YS", "B"), `season_length`
    the seasonal period in steps when one is natural (12 for monthly data).
    """

    times: np.ndarray
    values: np.ndarray
    names: tuple[str, ...]
    source: str = ""
    exogenous: dict[str, np.ndarray] = field(default_factory=dict)
    freq: str | None = None
    season_length: int | None = None
    lines: np.ndarray | None = None  # the 1-based file line of each row, when read from a file

    def __post_init__(self) -> None:
        if self.values.ndim != 2 or len(self.values) != len(self.times):
            raise DataError(
                f"{self.source}: values of shape {self.values.shape} for {len(self.times)} times; expected [T, F]"
            )
        if len(self.names) != self.values.shape[1]:
            raise DataError(f"{self.source}: {len(self.names)} names for {self.values.shape[1]} value columns")
        if self.lines is not None and len(self.lines) != len(self.times):
            raise DataError(f"{self.source}: {len(self.lines)} line numbers for {len(self.times)} rows")

    def __len__(self) -> int:
        return len(self.times)

    @property
    def num_features(self) -> int:
        return self.values.shape[1]

    @property
    def steps(self) -> np.ndarray:
        """Numeric times: 0, 1, 2, ... for calendar series (one step per period), else `times` itself."""
        if np.issubdtype(self.times.dtype, np.datetime64):
            return np.arange(len(self.times), dtype=np.float64)
        return self.times.astype(np.float64)

    @property
    def missing(self) -> int:
        return int(np.isnan(self.values).sum())

    def where(self, row: int) -> str:
        """`file:line` of row `row` (0-based) for error messages; `source, row N` when the lines are unknown."""
        if self.lines is not None:
            return f"{self.source}:{int(self.lines[row])}"
        return f"{self.source}, row {row + 1}"

    def column(self, name: str) -> np.ndarray:
        """One value column `[T]` by name."""
        if name not in self.names:
            raise ConfigError(f"{self.source}: no column {name!r}; columns are {', '.join(self.names)}")
        return self.values[:, self.names.index(name)]

    def select(self, names: tuple[str, ...] | list[str]) -> Series:
        """The same series restricted to the value columns `names`, in that order.

        A chosen column without a single observed value is a DataError: nothing could learn from it.
        """
        index = [self.names.index(n) if n in self.names else self.column(n) for n in names]
        values = self.values[:, index]
        empty = [n for n, observed in zip(names, np.isfinite(values).any(axis=0)) if not observed]
        if empty:
            raise DataError(f"{self.source}: column {empty[0]!r} has no value in any of its {len(self)} rows "
                            "(every cell empty or NaN); choose another column")
        return Series(
            times=self.times, values=values, names=tuple(names), source=self.source,
            exogenous=self.exogenous, freq=self.freq, season_length=self.season_length, lines=self.lines,
        )

    def slice(self, start: int | None, stop: int | None) -> Series:
        """Rows `start:stop` (exogenous columns sliced alike)."""
        part = slice(start, stop)
        return Series(
            times=self.times[part], values=self.values[part], names=self.names, source=self.source,
            exogenous={k: v[part] for k, v in self.exogenous.items()}, freq=self.freq,
            season_length=self.season_length, lines=None if self.lines is None else self.lines[part],
        )


def split_point(length: int, *, test_fraction: float) -> int:
    """The first test index of a chronological split that keeps `test_fraction` for testing."""
    if not 0.0 < test_fraction < 1.0:
        raise ConfigError(f"test_fraction={test_fraction}; expected a number between 0 and 1")
    return int(round(length * (1.0 - test_fraction)))


def windows(values: np.ndarray, *, input_len: int, output_len: int, stride: int = 1, source: str = "") -> tuple:
    """All (input `[N, input_len, F]`, target `[N, output_len, F]`) windows of `values [T, F]`, in time order.

    Window k starts at `k * stride`; its target immediately follows its input. A series shorter
    than one window is a DataError naming the lengths.
    """
    values = np.asarray(values)
    if values.ndim == 1:
        values = values[:, None]
    total = input_len + output_len
    if len(values) < total:
        raise DataError(
            f"{source or 'series'}: {len(values)} values, shorter than one window of "
            f"{input_len} inputs + {output_len} targets; use a shorter window or a longer series"
        )
    starts = np.arange(0, len(values) - total + 1, stride)
    index = starts[:, None] + np.arange(total)[None, :]
    both = values[index]
    return both[:, :input_len], both[:, input_len:]


class Scaler:
    """Per-feature affine scaling fitted on the training range only, saved with the run.

    `kind="minmax"` maps [min, max] to `feature_range`; `kind="zscore"` subtracts the mean and
    divides by the standard deviation; `kind="none"` is the identity. NaNs are ignored when fitting
    and pass through unchanged.
    """

    KINDS = ("minmax", "zscore", "none")

    def __init__(self, *, kind: str = "zscore", feature_range: tuple[float, float] = (-1.0, 1.0),
                 offset: Any = None, scale: Any = None) -> None:
        if kind not in self.KINDS:
            raise ConfigError(f"scaler {kind!r}; choose one of {', '.join(self.KINDS)}")
        self.kind = kind
        self.feature_range = tuple(float(v) for v in feature_range)
        self.offset = None if offset is None else np.asarray(offset, np.float64)
        self.scale = None if scale is None else np.asarray(scale, np.float64)

    def fit(self, values: np.ndarray) -> Scaler:
        values = np.asarray(values, np.float64).reshape(len(values), -1)
        if self.kind == "none":
            self.offset, self.scale = np.zeros(values.shape[1]), np.ones(values.shape[1])
        elif self.kind == "zscore":
            self.offset = np.nanmean(values, axis=0)
            self.scale = np.nanstd(values, axis=0)
        else:
            low, high = self.feature_range
            vmin, vmax = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
            self.scale = (vmax - vmin) / (high - low)
            self.offset = vmin - low * self.scale
        self.scale = np.where(self.scale > 0, self.scale, 1.0)  # a constant column maps to 0, not NaN
        return self

    def transform(self, values: np.ndarray) -> np.ndarray:
        return ((np.asarray(values, np.float64) - self.offset) / self.scale).astype(np.float32)

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return (np.asarray(values, np.float64) * self.scale + self.offset).astype(np.float32)

    def inverse_std(self, std: np.ndarray) -> np.ndarray:
        """Standard deviations in scaled units back to original units."""
        return (np.asarray(std, np.float64) * self.scale).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "feature_range": list(self.feature_range),
                "offset": self.offset.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Scaler:
        return cls(kind=state["kind"], feature_range=tuple(state["feature_range"]),
                   offset=state["offset"], scale=state["scale"])
