"""Price windows for timeseries.stock: chronological splits, per-window or train-fitted normalisation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tfzoo.common.data import DataSplit
from tfzoo.common.errors import ConfigError, DataError
from tfzoo.timeseries.data import load_series
from tfzoo.timeseries.series import Scaler, Series
from tfzoo.timeseries.stock.config import StockConfig

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Windows:
    """The windows of one split as NumPy arrays, all normalised: past [N, L, F], future [N, H, 1], the last
    target value [N, 1, 1]. A window's target prices are `normalised * scales[k] + offsets[k]`."""

    past: np.ndarray
    future: np.ndarray
    last: np.ndarray
    origins: np.ndarray  # row index of each window's first future day
    offsets: np.ndarray
    scales: np.ndarray

    def __len__(self) -> int:
        return len(self.past)

    def split(self) -> DataSplit:
        """What the trainer reads: (past, future, last) examples."""
        return DataSplit(tf.data.Dataset.from_tensor_slices((self.past, self.future, self.last)), len(self))


def check(config: StockConfig) -> None:
    if config.target not in config.columns:
        raise ConfigError(f"target={config.target!r} is not among columns={','.join(config.columns)}")


def read(config: StockConfig, spec: str | None = None) -> Series:
    """The configured columns of `spec` (default `config.data`), after `skip_rows`."""
    series = load_series(spec or config.data)
    missing = [c for c in config.columns if c not in series.names]
    if missing:
        raise ConfigError(f"{series.source}: no column {missing[0]!r}; columns are {', '.join(series.names)}")
    return series.select(list(config.columns)).slice(config.skip_rows, None)


def split_ranges(config: StockConfig, length: int) -> dict[str, tuple[int, int]]:
    """Row ranges of train, val and test: consecutive and disjoint."""
    a = int(round(length * (1.0 - config.val_fraction - config.test_fraction)))
    b = int(round(length * (1.0 - config.test_fraction)))
    return {"train": (0, a), "val": (a, b), "test": (b, length)}


def normaliser(config: StockConfig, series: Series) -> dict[str, Any]:
    """What info.json keeps to normalise inputs and undo it on outputs."""
    train = split_ranges(config, len(series))["train"]
    scaler = Scaler(kind="zscore" if config.normalise == "zscore" else "none").fit(series.values[slice(*train)])
    return {"normalise": config.normalise, "columns": list(config.columns), "target": config.target,
            "target_index": list(config.columns).index(config.target), "scaler": scaler.to_dict()}


def normalise_window(past: np.ndarray, norm: dict[str, Any], *, source: str = "") -> tuple[np.ndarray, float, float]:
    """(normalised past [L, F], target offset, target scale): target value = normalised * scale + offset."""
    t = norm["target_index"]
    if norm["normalise"] == "last":
        # Relative to the last input value, minus 1: the last input day is 0, the decoder's GO value.
        last = past[-1]
        if np.any(last == 0):
            raise DataError(f"{source}: a zero price at the end of an input window; drop trading halts (halt=drop)")
        return (past / last - 1.0).astype(np.float32), float(last[t]), float(last[t])
    scaler = Scaler.from_dict(norm["scaler"])
    return scaler.transform(past), float(scaler.offset[t]), float(scaler.scale[t])


def windows(config: StockConfig, series: Series, norm: dict[str, Any], split: str) -> Windows:
    """Every window of `split` whose input and target rows all lie in that split's range."""
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    start, stop = split_ranges(config, len(series))[split]
    past_len = config.input_len
    future_len = config.output_len
    if split != "train" and config.test_len:
        past_len = future_len = config.test_len
    total = past_len + future_len
    if stop - start < total:
        raise DataError(
            f"{series.source}: the {split} range has {stop - start} rows (of {len(series)}), shorter than one window "
            f"of {past_len} + {future_len}; use shorter windows, other fractions or a longer series"
        )
    values = series.values.astype(np.float64)
    t = norm["target_index"]
    pasts, futures, lasts, origins, offsets, scales = [], [], [], [], [], []
    for s in range(start, stop - total + 1, config.stride):
        window = values[s: s + total]
        if np.isnan(window).any():
            continue  # a missing value: the window is left out (counted in info.json as the split's size)
        past, offset, scale = normalise_window(window[:past_len], norm, source=series.source)
        pasts.append(past)
        futures.append(((window[past_len:, t] - offset) / scale)[:, None])
        lasts.append(past[-1:, t:t + 1])
        origins.append(s + past_len)
        offsets.append(offset)
        scales.append(scale)
    if not pasts:
        raise DataError(f"{series.source}: every {split} window has a missing value")
    past, future, last = (np.asarray(a, np.float32) for a in (pasts, futures, lasts))
    return Windows(past, future, last, np.asarray(origins), np.asarray(offsets), np.asarray(scales))


def guess_spec(path: str) -> str:
    """A spec for a file given to `predict`: kept if it names a reader, else ohlcv: or stock-cn: by its header."""
    from tfzoo.timeseries.specs import names_kind

    if names_kind(path, "series"):
        return path
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{path}: no such file; expected an OHLCV CSV (Date,Open,High,Low,Close,Volume) or a spec")
    head = file.read_bytes()[:200].decode("utf-8", errors="ignore").lower()
    return f"ohlcv:{path}" if "date" in head and "close" in head else f"stock-cn:{path}"
