"""Every timeseries task passes common's conformance check (tiny train, evaluate, predict on its
example_inputs, export and reload, resume, clip_norm), one step under MirroredStrategy, and then the
task's own checks on the run the conformance check left (so no task trains twice for them)."""

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfzoo.common.logging import read_metrics
from tfzoo.common.registry import get_task
from tfzoo.common.run import Run
from tfzoo.common.testing import run_cli
from tfzoo.common.testing.conformance import check_mirrored, check_task, domain_tasks

# The structural default (2,284 weekly CO2 steps through the Kalman filter) takes minutes here;
# the changepoint example (100 Nile years) exercises the same task in seconds.
SETS = {"timeseries.structural": ("example=changepoint",)}
STATEFUL = {"timeseries.echo", "timeseries.temperature"}


@pytest.mark.parametrize("name", domain_tasks("timeseries"))
def test_task_conforms(name, tmp_path):
    result = check_task(name, tmp_path, sets=SETS.get(name, ()))
    TASK_CHECKS[name](tmp_path / "run", result["evaluation"], tmp_path / "inputs")


def test_tasks_train_mirrored(tmp_path):
    names = domain_tasks("timeseries")
    results = check_mirrored(names, tmp_path)
    for name, result in results.items():
        reason = get_task(name).multi_replica
        if reason is True:
            assert result == "ok", (name, result)
            # The one mirrored step evaluates too: its validation loss is finite.
            val = read_metrics(tmp_path / name / "metrics.jsonl", split="val")
            assert val and val[-1]["step"] == 1 and np.isfinite(val[-1]["loss"]), (name, val)
        else:
            assert result == f"cannot: {reason}", (name, result)
    assert {n for n in names if get_task(n).multi_replica is not True} == STATEFUL | {"timeseries.structural"}


# ----- each task's own checks, on the conformance run (trained 3 steps, evaluated on val at step 2) -----------
def _predict(run, *inputs):
    code, out, err = run_cli("predict", str(run), *inputs)
    assert code == 0, err
    return [json.loads(line) for line in out.strip().splitlines()]


def _echo(run, evaluation, inputs):
    assert 0.0 <= evaluation["accuracy_first"] <= 1.0 and len(evaluation["accuracy_by_position"]) == 15
    assert (run / "plots/echo.png").exists()
    first = _predict(run, str(inputs / "bits.txt"))[0]
    assert first["bits"] == 21 and set(first["echo"]) <= {"0", "1"} and len(first["echo"]) == 21


def _seq2seq(run, evaluation, inputs):
    assert {"loss", "mse_free", "mse_teacher", "mse_naive"} <= set(evaluation)
    # after_evaluate draws what `tfzoo visualise` draws.
    assert [p.split("/")[-1] for p in evaluation["plots"]] == ["loss.png", "predictions.png"]
    predictions = _predict(run, str(inputs / "past.csv"), str(inputs / "past.npy"), "gen:5")
    for prediction in predictions:
        assert len(prediction["past"]) == 15 and len(prediction["forecast"]) == 15
        assert prediction["kind"] == "forecast"
    assert "truth" in predictions[2] and "truth" not in predictions[0]


def _stock(run, evaluation, inputs):
    assert {"mse_free", "mse_naive"} <= set(evaluation)
    predictions = _predict(run, str(inputs / "prices.csv"), "bokeh-stocks:MSFT")
    for prediction in predictions:
        assert len(prediction["forecast"]) == 3 and prediction["next_close"] == prediction["forecast"][0]
        assert np.isfinite(prediction["forecast"]).all() and len(prediction["dates"]) == 3
    assert predictions[1]["last_date"] == "2013-03-01"
    assert (run / "plots/forecast.png").exists() and (run / "plots/val_windows.png").exists()


def _temperature(run, evaluation, inputs):
    assert evaluation["rmse_persistence"] > 0
    assert (run / "plots/val_predictions.png").exists() and (run / "plots/train_predictions.png").exists()
    default, again = _predict(run, "default", "sm:elnino")
    assert len(default["forecast"]) == 3 and default["forecast"] == again["forecast"]
    assert default["last_time"] == "2010-12-01" and 15 < default["forecast"][0] < 35  # °C, not scaled


def _rul(run, evaluation, inputs):
    assert {"rmse", "score", "f1", "mae"} <= set(evaluation) and np.isfinite(evaluation["rmse"])
    (first,) = _predict(run, str(inputs / "engines.csv"))
    assert [e["engine"] for e in first["engines"]] == [3, 4] and first["engines"][0]["cycles"] == 7
    for engine in first["engines"]:
        assert 0.0 <= engine["rul"] <= 125.0 and 0.0 <= engine["p_fail_within_30"] <= 1.0
    plots = evaluation["plots"]
    assert [p.rsplit("/", 1)[-1] for p in plots] == ["predicted_vs_true_val.png", "engines_val.png"]
    assert evaluation["windows"] > 0 and evaluation["engines"] > 0
    # The serving signature scales raw features itself and treats NaN rows as padding.
    from tfzoo.timeseries.rul import data as pipeline

    opened = Run.open(run)
    serve = opened.task.serving_function(opened.config, opened.models, opened.info)
    raw = np.full((1, opened.config.window, 1), np.nan, np.float32)
    raw[0, -5:, 0] = 47.3
    scaled = pipeline.gather_windows(pipeline.Scaler.from_dict(opened.info["scaler"]).transform(raw[0, -5:]),
                                     np.array([[-1] * (opened.config.window - 5) + list(range(5))]))
    want = np.asarray(opened.models["model"](scaled, training=False))[0, 0] * 125.0
    assert float(serve(raw)["rul"][0]) == pytest.approx(want, rel=1e-5)


def check_forecast(run, horizon, features):
    """The forecast.json the conformance check's `predict RUN` (no input: after the data) wrote."""
    result = json.loads((run / "forecast.json").read_text())
    assert result["input"] == "-" and len(result["times"]) == horizon
    mean = np.asarray(result["mean"])
    assert mean.shape == (horizon, features) and np.all(np.isfinite(mean))
    assert np.all(np.asarray(result["low95"]) <= mean) and np.all(mean <= np.asarray(result["high95"]))
    assert Path(result["plot"]).is_file()
    return result


def _ar(run, evaluation, inputs):
    holdout = evaluation["holdout"]
    assert holdout["points"] == 12 and np.isfinite(holdout["mase"]) and 0 <= holdout["coverage95"] <= 1
    assert Path(evaluation["holdout_png"]).is_file()
    check_forecast(run, 12, 1)
    # A continuation CSV (date, value) is filtered before forecasting: the forecast starts after it.
    inputs.mkdir(parents=True, exist_ok=True)
    continuation = inputs / "more.csv"
    continuation.write_text("date,passengers\n1961-01,420\n1961-02,400\n")
    assert _predict(run, str(continuation))[0]["times"][0] == "1961-03-01"
    bad = inputs / "bad.csv"
    bad.write_text("1961-01,420,7\n")
    code, _, err = run_cli("predict", str(run), str(bad))
    assert code == 3 and "bad.csv:1: 3 columns" in err and len(err.strip().splitlines()) == 1
    # `tfzoo export RUN`: the serving signature is the estimator's predict_continuation.
    code, _, err = run_cli("export", str(run))
    assert code == 0, err
    serve = tf.saved_model.load(str(run / "export" / "saved_model")).signatures["serving_default"]
    assert {"mean", "covariance"} <= set(serve.structured_outputs)
    # The manifest carries the transform and the filter state at the end of the data: serving from that
    # state gives the forecast `tfzoo predict RUN` gives.
    manifest = json.loads((run / "export" / "manifest.json").read_text())
    assert manifest["transform"] in ("none", "log", "logdiff") and manifest["last_state"]
    state = {k: tf.constant(v, serve.structured_input_signature[1][k].dtype) for k, v in manifest["last_state"].items()}
    times = tf.constant(manifest["last_time"] + np.arange(1, 13), tf.float64)
    exogenous = tf.zeros([12, serve.structured_input_signature[1]["exogenous"].shape[-1]],
                         serve.structured_input_signature[1]["exogenous"].dtype)
    mean = serve(**state, times=times, exogenous=exogenous)["mean"].numpy()
    mean = np.exp(mean) if manifest["transform"] == "log" else mean
    after_data = np.asarray(_predict(run, "-")[0]["mean"])  # the trained run, after the data
    if manifest["transform"] != "logdiff":
        np.testing.assert_allclose(mean.reshape(after_data.shape), after_data, rtol=1e-4)


def _lstm(run, evaluation, inputs):
    assert evaluation["holdout"]["points"] == 8
    result = check_forecast(run, 6, 5)
    assert result["names"] == ["realgdp", "realcons", "realinv", "realgovt", "realdpi"]
    assert (run / "plots/simulate.png").is_file()
    paths = np.load(run / "simulated_paths.npy")
    assert paths.shape == (2, 6, 5) and np.all(np.isfinite(paths))


def _structural(run, evaluation, inputs):
    # The changepoint example: the run resumed from 2 to 3 steps and counted on.
    assert [r["step"] for r in read_metrics(run / "metrics.jsonl", split="train")] == [1, 2, 3]
    assert evaluation["holdout"]["points"] == 10 and np.isfinite(evaluation["holdout"]["mase"])
    assert check_forecast(run, 8, 1)["times"][0] == "1971-01-01"


TASK_CHECKS = {
    "timeseries.echo": _echo, "timeseries.seq2seq": _seq2seq, "timeseries.stock": _stock,
    "timeseries.temperature": _temperature, "timeseries.rul": _rul, "timeseries.ar": _ar, "timeseries.lstm": _lstm,
    "timeseries.structural": _structural,
}
