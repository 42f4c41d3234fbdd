"""Fault cases of the timeseries tasks against the CLI: each ends in a non-zero exit and one `error:` line
naming the file and its 1-based line, or works as the README documents (the Reliability benchmark counts
them)."""

import json

import numpy as np
import pytest

from tfzoo.common.testing import run_cli


def _one_line_error(code, err, *, expected_code=3):
    assert code == expected_code, (code, err)
    lines = [line for line in err.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _series(path, values, *, header="month,passengers"):
    """A monthly CSV series: the header on line 1, value k on line k + 2."""
    months = [f"{1950 + k // 12}-{k % 12 + 1:02d}" for k in range(len(values))]
    path.write_text(header + "\n" + "".join(f"{m},{v}\n" for m, v in zip(months, values)))
    return path


def _train(task, data, tmp_path, *sets):
    args = ["train", task, "--preset", "tiny", "--run-dir", str(tmp_path / "run"), "--data", data,
            *[a for s in ("train.steps=1", *sets) for a in ("--set", s)]]
    return run_cli(*args)


def _values(n=60):
    return [f"{100 + 10 * np.sin(k / 2):.3f}" for k in range(n)]


@pytest.mark.parametrize("task, cell", [("timeseries.ar", "inf"), ("timeseries.structural", "-inf"),
                                        ("timeseries.temperature", "inf"), ("timeseries.ar", "1e39")])
def test_non_finite_value_is_one_line_naming_file_and_line(tmp_path, task, cell):
    values = _values()
    values[30] = cell  # file line 32
    path = _series(tmp_path / "series.csv", values)
    code, _, err = _train(task, f"csv:{path}", tmp_path)
    line = _one_line_error(code, err)
    assert "series.csv:32: column 'passengers' has" in line and not (tmp_path / "run" / "config.json").exists()


def test_log_transform_of_a_non_positive_value_names_the_file_line_not_the_row(tmp_path):
    values = _values()
    values[30] = "0"  # the 31st value, on file line 32 (the old message said "row 30")
    path = _series(tmp_path / "series.csv", values)
    code, _, err = _train("timeseries.ar", f"series:{path}", tmp_path, "transform=log")
    line = _one_line_error(code, err)
    assert "series.csv:32: a value of 0; transform=log needs positive values" in line


def test_a_gap_in_the_stateful_series_names_the_file_line(tmp_path):
    values = _values()
    values[40] = ""
    path = _series(tmp_path / "series.csv", values)
    code, _, err = _train("timeseries.temperature", f"series:{path}", tmp_path)
    assert "series.csv:42: the value at 1953-05-01 is missing" in _one_line_error(code, err)


@pytest.mark.parametrize("cell", ["", "NaN"])
def test_all_missing_series_says_so_instead_of_zero_training_examples(tmp_path, cell):
    path = _series(tmp_path / "series.csv", [cell] * 60)
    code, _, err = _train("timeseries.ar", f"series:{path}?columns=passengers", tmp_path)
    line = _one_line_error(code, err)
    assert "no observed value in 60 rows of passengers" in line and "examples" not in line


def test_an_empty_chosen_column_says_so(tmp_path):
    path = tmp_path / "two.csv"
    path.write_text("month,a,b\n" + "".join(f"1950-{m:02d},{m},\n" for m in range(1, 13)))
    code, _, err = _train("timeseries.ar", f"series:{path}", tmp_path, "columns=b")
    assert "column 'b' has no value in any of its 12 rows" in _one_line_error(code, err)


def test_unknown_spec_option_is_one_line(tmp_path):
    code, _, err = _train("timeseries.ar", "sktime:airline?colums=x", tmp_path)
    assert "unknown option colums for sktime:" in _one_line_error(code, err, expected_code=2)


@pytest.fixture(scope="module")
def ar_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("ar") / "run"
    code, _, err = run_cli("train", "timeseries.ar", "--preset", "tiny", "--run-dir", str(run),
                           "--set", "train.steps=1")
    assert code == 0, err
    return run


def test_infinite_value_in_a_predict_continuation_names_the_line(ar_run, tmp_path):
    path = tmp_path / "more.csv"
    path.write_text("date,passengers\n1961-01,420\n1961-02,inf\n")
    code, _, err = run_cli("predict", str(ar_run), str(path))
    assert "more.csv:3:" in _one_line_error(code, err) and "infinite" in err


def test_tflite_export_of_ar_needs_the_flex_delegate_as_documented(ar_run):
    # The AR model's phase buckets are float64 floor/mod arithmetic, which TFLite has only as TensorFlow (Flex)
    # ops: the export works, says so on stderr and in manifest.json (README, "Export").
    code, out, err = run_cli("export", str(ar_run), "--format", "tflite")
    assert code == 0, err
    assert out.strip().endswith("model.tflite") and "Flex delegate" in err
    manifest = json.loads((ar_run / "export" / "manifest.json").read_text())
    assert manifest["tflite"] == {"file": "model.tflite", "needs_flex_delegate": True}
