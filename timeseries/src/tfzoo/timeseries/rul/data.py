"""timeseries.rul data: RUL labels, features, scaling fitted on training engines, masked windows.

Every window is `window` cycles long and labelled by its LAST cycle (the book labelled it by the
row after, and lost each engine's final window). Histories shorter than a window are left-padded
with `PAD_VALUE`, which the model masks, so every test engine is scored (the book dropped those
under 50 cycles and `drop_remainder` dropped more).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from tfzoo.common.data import DataSplit
from tfzoo.common.errors import ConfigError, DataError
from tfzoo.timeseries.series import Scaler
from tfzoo.timeseries.turbofan import SENSORS, SETTINGS, Engines, Turbofan, load_turbofan

# Scaled features lie near [0, 1]; a row of this value marks padding (keras Masking's mask_value).
PAD_VALUE = -10.0
# The shortest history in NASA's FD001 test set: cuts of run-to-failure engines start here.
MIN_CUT = 31
# Fixed seeds: the validation engines and the cut points never change with the training seed.
VAL_SEED, CUT_SEED = 50, 3034
BOOK_FEATURES = (*SETTINGS, "cycle", *SENSORS)  # the book's 25 (cycle_norm = the min-max-scaled cycle)


def class_names(config: Any) -> tuple[str, str]:
    return (f"rul>{config.w1}", f"rul<={config.w1}")


def labels(rul: np.ndarray, *, cap: int | None, w1: int = 30, w0: int = 15) -> dict[str, np.ndarray]:
    """Targets of each row: `rul` capped at `cap` (piece-wise linear), `label1` = RUL <= w1, `label2` in 0..2."""
    rul = np.asarray(rul, np.float64)
    capped = rul if cap is None else np.minimum(rul, cap)
    label1 = (rul <= w1).astype(np.int64)
    label2 = np.where(rul <= w0, 2, label1).astype(np.int64)
    return {"rul": capped, "label1": label1, "label2": label2}


@functools.lru_cache(maxsize=4)
def load(spec: str) -> Turbofan:
    """The turbofan data of a spec, read once per process."""
    return load_turbofan(spec)


def split_units(config: Any, data: Turbofan) -> tuple[np.ndarray, np.ndarray]:
    """(training, validation) engine ids: a fixed-seed `val_fraction` of the training engines is held out."""
    units = data.train.units
    if not 0.0 <= config.val_fraction < 1.0:
        raise ConfigError(f"val_fraction={config.val_fraction}; expected 0 <= val_fraction < 1")
    n_val = int(round(config.val_fraction * len(units)))
    if config.val_fraction > 0 and len(units) > 1:
        n_val = min(max(n_val, 1), len(units) - 1)
    held = np.sort(np.random.default_rng(VAL_SEED).permutation(units)[:n_val])
    return np.setdiff1d(units, held), held


def feature_names(config: Any, data: Turbofan, train: Engines) -> tuple[str, ...]:
    """The configured features, "auto" resolved, and (with `drop_constant`) flat ones removed."""
    names = tuple(config.features)
    if names == ("auto",):
        names = BOOK_FEATURES if set(BOOK_FEATURES[:3]) <= set(train.names) else tuple(train.names)
    for name in names:
        train.column(name)  # a one-line ConfigError for an unknown name
    if config.drop_constant:
        names = tuple(n for n in names if np.ptp(train.column(n)) > 1e-6 * max(1.0, float(np.abs(train.column(n)).max())))
    if not names:
        raise ConfigError(f"{data.source}: every feature is constant on the training engines; set drop_constant=false")
    return names


def fit_info(config: Any) -> dict[str, Any]:
    """What a run needs to prepare new data: features, their min-max scaler, the RUL scale. Saved as info.json."""
    data = load(config.data)
    train_units, _ = split_units(config, data)
    train = data.train.select(train_units)
    names = feature_names(config, data, train)
    scaler = Scaler(kind="minmax", feature_range=(0.0, 1.0)).fit(_columns(train, names))
    rul = train.rul()
    # The regression head is a sigmoid: the target is RUL / cap, or RUL / max training RUL without a cap
    # (the book's min-max of RUL, whose min is 0; de-normalising is then x * scale, not x * max + min).
    scale = float(config.rul_cap) if config.rul_cap is not None else float(rul.max())
    return {
        "class_names": list(class_names(config)),
        "features": list(names),
        "scaler": scaler.to_dict(),
        "rul_scale": scale,
        "window": int(config.window),
        "source": data.source,
    }


def _columns(engines: Engines, names) -> np.ndarray:
    return np.stack([engines.column(n) for n in names], axis=1).astype(np.float32)


def scaled_rows(engines: Engines, info: dict[str, Any]) -> np.ndarray:
    """The run's features of every row `[N, F]`, min-max scaled with the run's training scaler."""
    missing = [n for n in info["features"] if n != "cycle" and n not in engines.names]
    if missing:
        raise DataError(f"{engines.source}: no column {missing[0]!r}; the model uses {', '.join(info['features'])}")
    return Scaler.from_dict(info["scaler"]).transform(_columns(engines, info["features"]))


def window_index(bounds: np.ndarray, ends: np.ndarray, window: int) -> np.ndarray:
    """`[N, window]` row indices of the windows ending at rows `ends`; -1 where a window precedes its engine."""
    ends = np.asarray(ends, np.int64)
    engine = np.searchsorted(bounds, ends, side="right") - 1
    index = ends[:, None] - np.arange(window - 1, -1, -1)[None, :]
    return np.where(index >= bounds[engine][:, None], index, -1)


def gather_windows(rows: np.ndarray, index: np.ndarray) -> np.ndarray:
    """`[N, window, F]` windows from scaled rows; padded steps hold PAD_VALUE."""
    padded = np.concatenate([rows, np.full((1, rows.shape[1]), PAD_VALUE, np.float32)])
    return padded[np.where(index < 0, len(rows), index)]


def training_ends(bounds: np.ndarray, window: int, *, short: bool) -> np.ndarray:
    """Rows that end a training window: every cycle, or only those with a full window of history."""
    starts, stops = bounds[:-1], bounds[1:]
    first = starts if short else np.minimum(starts + window - 1, stops)
    return np.concatenate([np.arange(a, b) for a, b in zip(first, stops)]).astype(np.int64)


def cut_ends(bounds: np.ndarray, cuts: int, *, seed: int = CUT_SEED) -> np.ndarray:
    """`cuts` seeded random cut rows per run-to-failure engine, like NASA's truncated test engines.

    A cut keeps at least MIN_CUT cycles of history (or the whole engine when it is shorter); the
    same engine may not be cut twice at one cycle.
    """
    rng = np.random.default_rng(seed)
    ends = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        low = a + min(MIN_CUT, b - a) - 1
        choices = np.arange(low, b)
        ends.append(np.sort(rng.choice(choices, size=min(cuts, len(choices)), replace=False)))
    return np.concatenate(ends).astype(np.int64)


@dataclass(frozen=True)
class Windows:
    """The windows of one split, described by NumPy arrays (figures and baselines use them).

    `engines` are the split's engines (raw), `ends` the row of each window's last cycle in them,
    `rul` the capped true RUL in cycles, `unit` and `cycle` where the window ends. `split()` is
    what the trainer reads.
    """

    engines: Engines
    ends: np.ndarray
    rul: np.ndarray
    label1: np.ndarray
    info: dict[str, Any]

    def __len__(self) -> int:
        return len(self.ends)

    @property
    def unit(self) -> np.ndarray:
        return self.engines.unit[self.ends]

    @property
    def cycle(self) -> np.ndarray:
        return self.engines.cycle[self.ends]

    def windows(self) -> np.ndarray:
        """All windows `[N, W, F]` in NumPy (for plots and baselines)."""
        rows = scaled_rows(self.engines, self.info)
        return gather_windows(rows, window_index(self.engines.bounds, self.ends, self.info["window"]))

    def split(self, class_names: tuple[str, ...]) -> DataSplit:
        """`(window [W, F], (rul / scale, label1))` examples, gathered on the fly from the scaled rows; meta
        holds the run facts (`info`) and the engine count."""
        info = self.info
        rows = scaled_rows(self.engines, info)
        index = window_index(self.engines.bounds, self.ends, info["window"]).astype(np.int32)
        padded = tf.constant(np.concatenate([rows, np.full((1, rows.shape[1]), PAD_VALUE, np.float32)]))
        pad_row = len(rows)
        rul_norm = (self.rul / info["rul_scale"]).astype(np.float32)
        dataset = tf.data.Dataset.from_tensor_slices((index, rul_norm, self.label1.astype(np.int32)))

        def gather(index, rul, label):
            # Windows are gathered on the fly from the scaled rows: a window per cycle would hold 50 copies of each row.
            return tf.gather(padded, tf.where(index < 0, pad_row, index)), (rul, label)

        dataset = dataset.map(gather, num_parallel_calls=tf.data.AUTOTUNE)
        meta = {"info": info, "engines": int(len(np.unique(self.unit)))}
        return DataSplit(dataset, len(self), meta, class_names=class_names)


def split_windows(config: Any, split: str, info: dict[str, Any] | None = None) -> Windows | None:
    """The windows of `split` (train: every cycle of the training engines; val/test: cut or last cycles).

    None for "val" when `val_fraction=0` (the trainer then skips validation).
    """
    if split not in ("train", "val", "test"):
        raise DataError(f"unknown split {split!r}; expected train, val or test")
    info = info or fit_info(config)
    data = load(config.data)
    train_units, val_units = split_units(config, data)
    if split == "train":
        engines = data.train.select(train_units)
        ends = training_ends(engines.bounds, info["window"], short=config.short_windows)
    elif split == "val":
        if not len(val_units):
            return None  # val_fraction=0: train on every engine, without validation
        engines = data.train.select(val_units)
        ends = cut_ends(engines.bounds, config.cuts)
    else:
        engines = data.test
        ends = engines.bounds[1:] - 1 if data.truncated else cut_ends(engines.bounds, config.cuts)
    if not len(ends):
        raise DataError(f"{data.source}: no {split} windows")
    target = labels(engines.rul()[ends], cap=config.rul_cap, w1=config.w1, w0=config.w0)
    return Windows(engines=engines, ends=ends, rul=target["rul"], label1=target["label1"], info=info)


def load_split(config: Any, split: str, info: dict[str, Any] | None = None) -> DataSplit | None:
    """The DataSplit of `split` the trainer reads (see `split_windows`); None for an empty "val"."""
    windows = split_windows(config, split, info)
    return None if windows is None else windows.split(class_names(config))
