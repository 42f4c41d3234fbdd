"""CLI tasks timeseries.ar, .lstm and .structural: train tiny, evaluate (holdout metrics), predict (JSON + plot)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfzoo.common.logging import read_metrics
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
    # `tfzoo export RUN`: the serving signature is the estimator's predict_continuation.
    code, _, err = run_cli("export", str(run))
    assert code == 0, err
    serve = tf.saved_model.load(str(run / "export" / "saved_model")).signatures["serving_default"]
    assert {"mean", "covariance"} <= set(serve.structured_outputs)


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


def test_structural_changepoint_example_resume_evaluate_predict(tmp_path):
    run = tmp_path / "nile"
    code, out, err = run_cli("train", "timeseries.structural", "--tiny", "--run-dir", str(run),
                             "--set", "example=changepoint", "--set", "train.steps=2")
    assert code == 0, err
    # Started again with more steps (as after a kill), the run resumes from its checkpoint and counts on.
    code, out, err = run_cli("train", "timeseries.structural", "--tiny", "--run-dir", str(run),
                             "--set", "example=changepoint", "--set", "train.steps=3")
    assert code == 0, err
    assert [r["step"] for r in read_metrics(run / "metrics.jsonl", split="train")] == [1, 2, 3]
    code, out, err = run_cli("evaluate", str(run))
    assert code == 0, err
    holdout = json.loads(out.strip().splitlines()[-1])["holdout"]
    assert holdout["points"] == 10 and np.isfinite(holdout["mase"])
    code, out, err = run_cli("predict", str(run), "-")
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    check_forecast(result, 8, 1)
    assert result["times"][0] == "1971-01-01"


MIRRORED = """
import json, sys
from tfzoo.common.distribute import configure_virtual_cpus, make_strategy
configure_virtual_cpus(2)  # before TensorFlow initialises
import keras
from tfzoo.common import config as cfg
from tfzoo.common.registry import get_task
from tfzoo.common.train import Trainer

out = {}
for name in ("timeseries.ar", "timeseries.lstm"):
    keras.backend.clear_session()
    strategy = make_strategy("mirrored")
    task = get_task(name)
    config = cfg.override(task.default_config(tiny=True), {"train.steps": 1})
    result = Trainer(task=task, config=config, run_dir=f"{sys.argv[1]}/{name}", strategy=strategy, verbose=False).fit()
    out[name] = [result["step"], strategy.num_replicas_in_sync, float(result["val"]["loss"])]
print(json.dumps(out))
"""


def test_window_tasks_run_a_step_on_two_mirrored_replicas(tmp_path):
    done = subprocess.run([sys.executable, "-c", MIRRORED, str(tmp_path)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for name in ("timeseries.ar", "timeseries.lstm"):
        step, replicas, loss = result[name]
        assert step == 1 and replicas == 2 and np.isfinite(loss)
