"""timeseries.temperature: stateful smoke, the batch==window invariant, scaling and splits, GCAG data, (slow) elnino."""

import json
from dataclasses import replace

import numpy as np
import pytest

from tfzoo.common.carry import carried_state
from tfzoo.common.errors import ConfigError
from tfzoo.common.registry import get_task
from tfzoo.common.testing import run_cli
from tfzoo.common.train import Trainer
from tfzoo.timeseries.temperature import data as pipeline
from tfzoo.timeseries.temperature.config import TemperatureConfig
from tfzoo.timeseries.temperature.task import baseline_errors, one_step


def test_smoke_cli_train_evaluate_predict_roundtrip(tmp_path):
    import keras

    from tfzoo.common.cli import open_run
    from tfzoo.common.export import export

    run = tmp_path / "run"
    code, _, err = run_cli("train", "timeseries.temperature", "--tiny", "--run-dir", str(run), "--set", "train.steps=2")
    assert code == 0, err
    code, out, err = run_cli("evaluate", str(run))
    assert code == 0, err
    record = json.loads(out.strip().splitlines()[-1])
    assert record["step"] == 2 and np.isfinite(record["loss"]) and record["rmse_persistence"] > 0
    assert (run / "plots/val_predictions.png").exists() and (run / "plots/train_predictions.png").exists()
    code, out, err = run_cli("predict", str(run), "default", "sm:elnino")
    assert code == 0, err
    first, second = (json.loads(line) for line in out.strip().splitlines())
    assert len(first["forecast"]) == 3 and first["forecast"] == second["forecast"]
    assert first["last_time"] == "2010-12-01" and 15 < first["forecast"][0] < 35  # °C, not scaled
    # .keras round trip, both models from a zero state (the checkpoint holds the carried state).
    trainer = open_run(str(run))
    model = trainer.models["model"]
    reloaded = keras.saving.load_model(export(trainer, fmt="keras"))
    carried_state(model).reset()
    x = next(iter(trainer.eval_batches(trainer.task.data(trainer.config, "val"), limit=1)))[0]
    for _ in range(2):
        np.testing.assert_allclose(np.asarray(reloaded(x)), np.asarray(model(x)), atol=1e-5)


def test_each_batch_continues_the_last_one_and_the_scaler_sees_training_values_only():
    config = replace(TemperatureConfig(), epochs=1)
    prepared = pipeline.prepared(config)
    train = pipeline.windows(config, "train")
    b, w = config.train.batch_size, config.window
    assert train.size % b == 0 and train.size // b == 28  # 566 windows trimmed to 560
    # Sample j of batch k+1 starts where sample j of batch k ended.
    np.testing.assert_array_equal(train.starts[b:], train.starts[:-b] + w)
    assert train.starts.max() + w < prepared["boundary"]  # every training target in the training range
    scaled = prepared["scaled"][: prepared["boundary"]]
    assert scaled.min() == pytest.approx(-1.0) and scaled.max() == pytest.approx(1.0)
    val = pipeline.windows(config, "val")
    scored = val.starts[val.weights > 0]
    assert scored.min() == prepared["boundary"] and val.size % b == 0
    np.testing.assert_array_equal(val.starts[b: len(val.starts) - b], val.starts[: -2 * b] + w)


def test_batch_size_other_than_window_is_refused(tmp_path):
    code, _, err = run_cli("train", "timeseries.temperature", "--tiny", "--run-dir", str(tmp_path / "r"),
                           "--set", "train.batch_size=5")
    assert code == 2 and "batch_size == window" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(ConfigError):
        pipeline.check(replace(TemperatureConfig(), window=10))


def test_stateless_ablation_and_gcag_file(tmp_path):
    rows = ["Source,Date,Mean"]
    for month in range(120, 0, -1):  # newest first, two interleaved sources, as datahub's file
        date = f"{1900 + (month - 1) // 12}-{(month - 1) % 12 + 1:02d}-06"
        rows += [f"GCAG,{date},{0.1 * np.sin(month / 2):.4f}", f"GISTEMP,{date},{0.5:.4f}"]
    path = tmp_path / "monthly.csv"
    path.write_text("\n".join(rows) + "\n")
    run = tmp_path / "run"
    code, _, err = run_cli("train", "timeseries.temperature", "--tiny", "--run-dir", str(run), "--data", f"gcag:{path}",
                           "--set", "stateful=false", "--set", "train.batch_size=3")
    assert code == 0, err
    assert json.loads((run / "info.json").read_text())["boundary"] == 96
    code, out, err = run_cli("predict", str(run), f"gcag:{path}")
    assert code == 0, err
    assert len(json.loads(out)["forecast"]) == 3


@pytest.mark.slow
def test_elnino_beats_persistence_and_seasonal_naive(tmp_path):
    config = TemperatureConfig()
    trainer = Trainer(task=get_task("timeseries.temperature"), config=config, run_dir=tmp_path, verbose=False)
    result = trainer.fit()
    assert result["step"] == 2800
    errors = baseline_errors(one_step(trainer.models["model"], config, "val"), season=12)
    assert errors["rmse_model"] < errors["rmse_persistence"]
    assert errors["rmse_model"] < errors["rmse_seasonal_naive"]
    assert float(result["val"]["loss"]) < 0.05

