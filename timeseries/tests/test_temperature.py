"""timeseries.temperature: the batch==window invariant, scaling and splits, GCAG data, (slow) elnino
(train/evaluate/predict/export of the stateful run: test_conformance.py)."""

import json
from dataclasses import replace

import numpy as np
import pytest

from tfzoo.common.errors import ConfigError
from tfzoo.common.registry import get_task
from tfzoo.common.testing import run_cli
from tfzoo.common.train import Trainer
from tfzoo.timeseries.temperature import data as pipeline
from tfzoo.timeseries.temperature.config import TemperatureConfig
from tfzoo.timeseries.temperature.task import baseline_errors, one_step


def test_each_batch_continues_the_last_one_and_the_scaler_sees_training_values_only():
    config = replace(TemperatureConfig(), epochs=1)
    prepared = pipeline.prepared(config)
    train = pipeline.windows(config, "train")
    b, w = config.train.batch_size, config.window
    assert len(train) % b == 0 and len(train) // b == 28  # 566 windows trimmed to 560
    # Sample j of batch k+1 starts where sample j of batch k ended.
    np.testing.assert_array_equal(train.starts[b:], train.starts[:-b] + w)
    assert train.starts.max() + w < prepared["boundary"]  # every training target in the training range
    scaled = prepared["scaled"][: prepared["boundary"]]
    assert scaled.min() == pytest.approx(-1.0) and scaled.max() == pytest.approx(1.0)
    val = pipeline.windows(config, "val")
    scored = val.starts[val.weights > 0]
    assert scored.min() == prepared["boundary"] and len(val) % b == 0
    assert pipeline.windows(config, "val").split().size == len(val)
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

