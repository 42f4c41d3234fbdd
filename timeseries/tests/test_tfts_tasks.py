"""CLI tasks timeseries.ar and .structural beyond conformance (test_conformance.py trains, evaluates, predicts,
exports and checks the holdout and forecast outputs of .ar, .lstm and the .structural changepoint example)."""

import json

import numpy as np
import pytest

from tfzoo.common.testing import run_cli


def test_ar_on_a_csv_file(tmp_path):
    path = tmp_path / "series.csv"
    t = np.arange(60)
    path.write_text("".join(f"{i},{10 + np.sin(i / 2):.4f}\n" for i in t))
    run = tmp_path / "csv"
    # `csv:` is the documented alias of `series:` in a timeseries task's data.
    code, _, err = run_cli("train", "timeseries.ar", "--tiny", "--data", f"csv:{path}", "--run-dir", str(run),
                           "--set", "transform=none", "--set", "periodicities=", "--set", "train.steps=2")
    assert code == 0, err
    code, stdout, err = run_cli("evaluate", str(run))
    assert code == 0, err
    assert np.isfinite(json.loads(stdout.strip().splitlines()[-1])["holdout"]["smape"])


@pytest.mark.slow
def test_structural_default_co2_with_gaps(tmp_path):
    # Minutes on a busy 2-core machine: 2,284 weekly steps through the Kalman filter and its gradients.
    run = tmp_path / "co2"
    code, out, err = run_cli("train", "timeseries.structural", "--tiny", "--run-dir", str(run),
                             "--set", "train.steps=2")
    assert code == 0, err
    code, out, err = run_cli("evaluate", str(run), "--split", "val")
    assert code == 0, err
    record = json.loads(out.strip().splitlines()[-1])
    assert record["step"] == 2 and np.isfinite(record["loss"]) and record["holdout"]["points"] == 52
    assert np.isfinite(record["holdout"]["mase"])
