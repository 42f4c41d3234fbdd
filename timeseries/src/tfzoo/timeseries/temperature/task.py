"""timeseries.temperature (seed 003): a stateful LSTM predicts next month's sea-surface temperature."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfzoo.common.carry import carried_state, refuse_multi_replica
from tfzoo.common.errors import ConfigError
from tfzoo.common.task import Stage, Task, TrainState
from tfzoo.timeseries.series import Scaler
from tfzoo.timeseries.temperature import data as pipeline
from tfzoo.timeseries.temperature.config import TemperatureConfig
from tfzoo.timeseries.temperature.model import build_model


class Temperature(Task):
    name = "timeseries.temperature"
    config_class = TemperatureConfig
    monitor = "loss"
    # The reason common.carry.refuse_multi_replica gives a user who asks for --strategy mirrored anyway.
    multi_replica = ("stateful: its batches must arrive in order on one replica; train it with --strategy default "
                     "(or set stateful=false)")

    def data(self, config: TemperatureConfig, split: str):
        return pipeline.windows(config, split).split()

    def data_info(self, config: TemperatureConfig, train) -> dict[str, Any]:
        p = pipeline.prepared(config)
        series = p["series"]
        return {"scaler": p["scaler"].to_dict(), "boundary": p["boundary"], "column": series.names[0],
                "source": series.source, "steps_per_epoch": train.size // config.train.batch_size,
                "season_length": series.season_length or 12}

    def stages(self, config: TemperatureConfig) -> list[Stage]:
        steps = config.train.steps
        if not steps:
            steps = config.epochs * (len(pipeline.windows(config, "train")) // config.train.batch_size)
        if steps <= 0:
            raise ConfigError(f"train.steps={config.train.steps} and epochs={config.epochs}; one must be > 0")
        return [Stage(name="all", steps=steps)]

    def build_models(self, config: TemperatureConfig, info: dict[str, Any]) -> dict[str, keras.Model]:
        if config.stateful:
            refuse_multi_replica(self.name)  # the error a user who asks for --strategy mirrored sees
        return {"model": build_model(config)}

    # ----- steps -------------------------------------------------------------------------------
    def compute_loss(self, state: TrainState, batch) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        x, y, weight, position = batch
        model = state.models["model"]
        carry = carried_state(model)
        if carry is not None:
            # Under the tape, but the carried states are not trainable: no gradient flows through them.
            carry.before_train(position[0])
        per_example = tf.reduce_mean(tf.square(model(x, training=True) - y), axis=-1) * weight
        return state.average(per_example), {}

    def metrics(self, config, info) -> dict[str, keras.metrics.Metric]:
        return {"loss": keras.metrics.Mean(name="loss")}

    def eval_step(self, state, batch, metrics) -> None:
        x, y, weight, position = batch
        model = state.models["model"]
        carry = carried_state(model)
        if carry is not None:
            carry.before_eval(position[0])
        metrics["loss"].update_state(tf.reduce_mean(tf.square(model(x, training=False) - y), axis=-1),
                                     sample_weight=weight)

    # ----- hooks (they receive the Run) ----------------------------------------------------------
    def example_inputs(self, directory) -> list[str]:
        """The run's own series (`default`) and a 60-month series file (`series:FILE`)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        months = [f"{1950 + k // 12}-{k % 12 + 1:02d}-01" for k in range(60)]
        rows = [f"{m},{24 + 2 * np.sin(2 * np.pi * k / 12):.3f}" for k, m in enumerate(months)]
        path = directory / "sst.csv"
        path.write_text("date,sst\n" + "\n".join(rows) + "\n")
        return ["default", f"series:{path}"]

    def after_evaluate(self, run, split: str, results: dict[str, Any]) -> dict[str, Any]:
        """Errors in the series' units beside persistence and seasonal naive, and the prediction plots."""
        scored = one_step(run.models["model"], run.config, "val" if split != "train" else "train")
        results.update(baseline_errors(scored, season=run.info["season_length"]))
        # The figures reuse this pass over its split (each pass walks the whole series through the RNN).
        results["plots"] = self._figures(run, run.config, {"val" if split != "train" else "train": scored})
        return results

    def visualise(self, run, config: TemperatureConfig) -> list[str]:
        return self._figures(run, config, {})

    def _figures(self, run, config: TemperatureConfig, done: dict[str, Any]) -> list[str]:
        paths = []
        for split in ("train", "val"):
            scored = done[split] if split in done else one_step(run.models["model"], config, split)
            paths.append(str(prediction_figure(run.plots / f"{split}_predictions.png", scored, split=split,
                                               unit=run.info["column"])))
        return paths

    def predict(self, run, inputs: list[str]) -> list[dict[str, Any]]:
        """Continue each series `predict_steps` values on the model's own outputs.

        An input is a series spec (`sm:elnino`, `gcag:FILE`, `series:FILE?columns=x`) or `default` for the
        run's data; the model warms up on the whole series first.
        """
        config = run.config
        scaler = Scaler.from_dict(run.info["scaler"])
        results = []
        for item in inputs:
            series = pipeline.read(config.data if item == "default" else item, "" if item != "default" else config.column)
            raw = series.values[:, :1].astype(np.float64)
            history = scaler.transform(np.log(raw) if config.log else raw)[:, 0]
            scaled = continue_series(run.models["model"], config, history, config.predict_steps)
            values = pipeline.untransform(config, scaler.inverse(np.asarray(scaled)[:, None])[:, 0].astype(np.float64))
            results.append({"input": item, "last_time": str(series.times[-1])[:10],
                            "last_value": round(float(series.values[-1, 0]), 4),
                            "forecast": [round(float(v), 4) for v in values]})
        return results


def continue_series(model: keras.Model, config: TemperatureConfig, history: np.ndarray, steps: int) -> list[float]:
    """Scaled forecasts: warm the state up on `history`, then feed each output back as the next input."""
    if config.stateful:
        twin = build_model(config, stateful=True, batch_size=1, length=None)
        twin.set_weights(model.get_weights())
        carry = carried_state(twin)
        carry.before_eval(tf.constant(0))
        # The whole history in one pass (the state carried as across training batches), then one value at a time.
        out = twin(history[None, :, None].astype(np.float32), training=False)
        outputs = [float(out[0, 0])]
        for _ in range(steps - 1):
            outputs.append(float(twin(np.array([[[outputs[-1]]]], np.float32), training=False)[0, 0]))
        return outputs
    window = list(history[-config.window:])
    outputs = []
    for _ in range(steps):
        outputs.append(float(model(np.array(window[-config.window:], np.float32)[None, :, None], training=False)[0, 0]))
        window.append(outputs[-1])
    return outputs


def one_step(model: keras.Model, config: TemperatureConfig, split: str, *, all_targets: bool = False) -> dict[str, Any]:
    """One-step predictions of every scored window of a split, in the series' units.

    `all_targets` scores every target after the training range, including those whose input window
    still reaches into it (the usual one-step protocol; the task's own evaluation leaves them out).
    """
    p = pipeline.prepared(config)
    data = pipeline.windows(config, split)
    carry = carried_state(model)
    predictions = []
    for x, _, _, position in data.split().dataset.batch(config.train.batch_size):
        if carry is not None:
            carry.before_eval(position[0])
        predictions.append(np.asarray(model(x, training=False))[:, 0])
    predicted = np.concatenate(predictions)
    keep = data.weights > 0
    if all_targets and split != "train":
        keep = (data.starts >= 0) & (data.starts + config.window >= p["boundary"])
    targets = data.starts[keep] + config.window
    scaler = p["scaler"]
    values = pipeline.untransform(config, p["values"])
    predicted = pipeline.untransform(config, scaler.inverse(predicted[keep][:, None])[:, 0].astype(np.float64))
    return {"index": targets, "times": p["series"].times[targets], "truth": values[targets], "predicted": predicted,
            "values": values, "boundary": p["boundary"]}


def baseline_errors(scored: dict[str, Any], *, season: int) -> dict[str, float]:
    """RMSE and MASE of the model, persistence and seasonal naive (m = season) on the scored targets."""
    from tfzoo.timeseries import metrics as m

    values, index, truth = scored["values"], scored["index"], scored["truth"]
    insample = values[: scored["boundary"]]
    out = {}
    for name, forecast in (("model", scored["predicted"]), ("persistence", values[index - 1]),
                           ("seasonal_naive", values[index - season])):
        out[f"rmse_{name}"] = round(m.rmse(truth, forecast), 6)
        out[f"mase_{name}"] = round(m.mase(truth, forecast, insample, m=1), 6)
    return out


def prediction_figure(path: Path, scored: dict[str, Any], *, split: str, unit: str) -> Path:
    """Truth and one-step predictions over a split, in the series' own units (°C for the SST data)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(scored["times"], scored["truth"], color="tab:blue", label="observed")
    ax.plot(scored["times"], scored["predicted"], color="tab:red", label="one-step prediction")
    ax.set(title=f"{split}: next-month {unit}", ylabel=f"{unit} (°C)")
    ax.legend(loc="best")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, format="png")
    return path
