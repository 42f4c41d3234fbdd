"""CLI tasks timeseries.ar, .lstm and .structural: train tiny, evaluate (holdout metrics), predict (JSON + plot)."""

import json
from pathlib import Path

import numpy as np

from tfzoo.common.testing import run_cli, smoke_test_task


def check_forecast(result, horizon, features):
    assert len(result["times"]) == horizon
    mean = np.asarray(result["mean"])
    assert mean.shape == (horizon, features) and np.all(np.isfinite(mean))
    assert np.all(np.asarray(result["low95"]) <= mean) and np.all(mean <= np.asarray(result["high95"]))
    assert Path(result["plot"]).is_file() and Path(result["json"]).is_file()


def test_ar_smoke_holdout_and_csv_continuation(tmp_path):
    run = tmp_path / "ar"
    out = smoke_test_task("timeseries.ar", run, predict_inputs=["-"])
    holdout = out["evaluation"]["holdout"]
    assert holdout["points"] == 12 and np.isfinite(holdout["mase"]) and 0 <= holdout["coverage95"] <= 1
    assert Path(out["evaluation"]["holdout_png"]).is_file()
    check_forecast(out["predictions"][0], 12, 1)
    # A continuation CSV (date, value) is filtered before forecasting: the forecast starts after it.
    continuation = tmp_path / "more.csv"
    continuation.write_text("date,passengers\n1961-01,420\n1961-02,400\n")
    code, stdout, err = run_cli("predict", str(run), str(continuation))
    assert code == 0, err
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["times"][0] == "1961-03-01"
    bad = tmp_path / "bad.csv"
    bad.write_text("1961-01,420,7\n")
    code, _, err = run_cli("predict", str(run), str(bad))
    assert code == 3 and "bad.csv, line 1: 3 columns" in err and len(err.strip().splitlines()) == 1


def test_ar_on_a_csv_file(tmp_path):
    path = tmp_path / "series.csv"
    t = np.arange(60)
    path.write_text("".join(f"{i},{10 + np.sin(i / 2):.4f}\n" for i in t))
    run = tmp_path / "csv"
    code, _, err = run_cli("train", "timeseries.ar", "--tiny", "--data", f"csv:{path}", "--run-dir", str(run),
                           "--set", "transform=none", "--set", "periodicities=", "--set", "train.steps=2")
    assert code == 0, err
    code, stdout, err = run_cli("evaluate", str(run))
    assert code == 0, err
    assert np.isfinite(json.loads(stdout.strip().splitlines()[-1])["holdout"]["smape"])


def test_lstm_smoke_and_simulated_paths(tmp_path):
    run = tmp_path / "lstm"
    out = smoke_test_task("timeseries.lstm", run, predict_inputs=["-"])
    assert out["evaluation"]["holdout"]["points"] == 8
    result = out["predictions"][0]
    check_forecast(result, 6, 5)
    assert result["names"] == ["realgdp", "realcons", "realinv", "realgovt", "realdpi"]
    assert Path(result["simulate_plot"]).is_file()
    paths = np.load(run / "simulated_paths.npy")
    assert paths.shape == (2, 6, 5) and np.all(np.isfinite(paths))


def test_structural_default_and_changepoint(tmp_path):
    run = tmp_path / "co2"
    code, out, err = run_cli("train", "timeseries.structural", "--tiny", "--run-dir", str(run),
                             "--set", "train.steps=2")
    assert code == 0, err
    code, out, err = run_cli("evaluate", str(run), "--split", "val")
    assert code == 0, err
    record = json.loads(out.strip().splitlines()[-1])
    assert record["step"] == 2 and np.isfinite(record["loss"]) and record["holdout"]["points"] == 52
    code, out, err = run_cli("predict", str(run), "-")
    assert code == 0, err
    check_forecast(json.loads(out.strip().splitlines()[-1]), 8, 1)

    run = tmp_path / "nile"
    code, out, err = run_cli("train", "timeseries.structural", "--tiny", "--run-dir", str(run),
                             "--set", "example=changepoint", "--set", "train.steps=2")
    assert code == 0, err
    code, out, err = run_cli("predict", str(run), "-")
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    check_forecast(result, 8, 1)
    assert result["times"][0] == "1971-01-01"
