"""timeseries.seq2seq (实例72): a GRU encoder-decoder forecasts generated sin+cos curves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfzoo.common.task import Task, TrainState
from tfzoo.timeseries.seq2seq import data as pipeline
from tfzoo.timeseries.seq2seq.config import Seq2SeqConfig
from tfzoo.timeseries.seq2seq.model import build_model, core, seq2seq_loss


class Seq2Seq(Task):
    name = "timeseries.seq2seq"
    config_class = Seq2SeqConfig
    monitor = "mse_free"

    def data(self, config: Seq2SeqConfig, split: str):
        return pipeline.load_split(config, split)

    def data_info(self, config: Seq2SeqConfig, train) -> dict[str, Any]:
        return {"features": 1, "input_len": config.input_len, "output_len": config.output_len}

    def build_models(self, config: Seq2SeqConfig, info: dict[str, Any]) -> dict[str, keras.Model]:
        return {"model": build_model(units=config.units, layers=config.layers, features=1,
                                     horizon=config.output_len, go=config.go)}

    def compute_loss(self, state: TrainState, batch) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        return seq2seq_compute_loss(state, batch)

    def metrics(self, config, info) -> dict[str, keras.metrics.Metric]:
        return seq2seq_metrics()

    def eval_step(self, state, batch, metrics) -> None:
        seq2seq_eval_step(state, batch, metrics)

    # ----- hooks (they receive the Run) -------------------------------------------------------------
    def example_inputs(self, directory) -> list[str]:
        """A one-column CSV with a header, a .npy vector and a generated curve."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "past.csv").write_text("value\n" + "\n".join(str(np.sin(i / 3)) for i in range(20)) + "\n")
        np.save(directory / "past.npy", np.cos(np.arange(15) / 2.0))
        return [str(directory / "past.csv"), str(directory / "past.npy"), "gen:5"]

    def after_evaluate(self, run, split: str, results: dict[str, Any]) -> dict[str, Any]:
        results["plots"] = [str(p) for p in self.visualise(run, run.config)]
        return results

    def visualise(self, run, config: Seq2SeqConfig) -> list[str]:
        """plots/loss.png (log loss curves) and plots/predictions.png (4 curves of plot_len past/future)."""
        data = pipeline.load_split(config, "test", length=config.plot_len)
        past, future = (np.stack(a) for a in zip(*data.dataset.take(4).as_numpy_iterator()))
        predicted, label = forecast(run.models["model"], past, future, mode=config.mode)
        return [str(loss_figure(run)), str(curve_figure(run.plots / "predictions.png", past, future, predicted,
                                                         label=label))]

    def predict(self, run, inputs: list[str]) -> list[dict[str, Any]]:
        """`input_len` past values -> `output_len` forecast, for each input.

        An input is a .npy vector or a one-column CSV (its last `input_len` values are used), or
        `gen:SEED` for a generated curve (then the true future is returned too).
        """
        config = run.config
        results, pasts, futures, preds = [], [], [], []
        for item in inputs:
            if item.startswith("gen:"):
                past, future = (t.numpy() for t in pipeline.curve(tf.constant([int(item[4:]), 7], tf.int64),
                                                                  config.input_len))
            else:
                past, future = pipeline.read_past(item, config.input_len)[:, None], None
            predicted, label = forecast(run.models["model"], past[None], None if future is None else future[None],
                                        mode="free")
            result = {"input": item, "kind": label, "past": _round(past[:, 0]), "forecast": _round(predicted[0, :, 0])}
            if future is not None:
                result["truth"] = _round(future[:, 0])
                result["mse"] = round(float(np.mean((predicted[0] - future) ** 2)), 6)
            results.append(result)
            pasts.append(past)
            futures.append(np.full_like(past, np.nan) if future is None else future)
            preds.append(predicted[0])
        curve_figure(run.plots / "predict.png", np.stack(pasts), np.stack(futures), np.stack(preds),
                     label="forecast")
        return results


# ----- steps shared with timeseries.stock ---------------------------------------------------------
def seq2seq_compute_loss(state: TrainState, batch) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """The book's teacher-forced loss plus its L2 term, this replica's share."""
    past, future = batch[0], batch[1]
    loss, _ = seq2seq_loss(state.models["model"], past, future, l2=state.config.l2,
                           global_batch_size=state.global_batch_size, training=True)
    return loss, {}


def seq2seq_metrics() -> dict[str, keras.metrics.Metric]:
    """loss: the book's (teacher-forced, summed over steps, plus L2); the rest are per-step MSEs."""
    return {name: keras.metrics.Mean(name=name) for name in ("loss", "mse_teacher", "mse_free", "mse_naive")}


def seq2seq_eval_step(state, batch, metrics) -> None:
    past, future = batch[0], batch[1]
    model = core(state.models["model"])
    teacher = model.teacher(past, future, training=False)
    per_example = tf.reduce_sum(tf.square(teacher - future), axis=[1, 2])
    metrics["loss"].update_state(per_example + state.config.l2 * model.l2_penalty())
    metrics["mse_teacher"].update_state(tf.reduce_mean(tf.square(teacher - future), axis=[1, 2]))
    free = model(past, training=False, horizon=future.shape[1])
    metrics["mse_free"].update_state(tf.reduce_mean(tf.square(free - future), axis=[1, 2]))
    last = past[:, -1:, -1:] if len(batch) < 3 else batch[2]
    metrics["mse_naive"].update_state(tf.reduce_mean(tf.square(last - future), axis=[1, 2]))


def forecast(model, past, future, *, mode: str) -> tuple[np.ndarray, str]:
    """Free-running forecasts of future's length, or (mode="teacher") one-step-ahead outputs given the truth."""
    model = core(model)
    horizon = model.horizon if future is None else future.shape[1]
    if mode == "teacher" and future is not None:
        return np.asarray(model.teacher(tf.constant(past), tf.constant(future), training=False)), "one-step-ahead"
    return np.asarray(model(tf.constant(past), training=False, horizon=horizon)), "forecast"


def _round(values) -> list[float]:
    return [round(float(v), 6) for v in values]


def loss_figure(run) -> Path:
    """Train and validation loss on a log scale (the book's figure 9-28)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    curves: dict[str, tuple[list, list]] = {"train": ([], []), "val": ([], [])}
    for record in run.read_metrics():
        if record.get("split") in curves and record.get("stage") != "evaluate" and "loss" in record:
            curves[record["split"]][0].append(record["step"])
            curves[record["split"]][1].append(np.log(max(record["loss"], 1e-12)))
    fig = Figure(figsize=(12, 6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for name, (steps, values) in curves.items():
        ax.plot(steps, values, label=f"{name} loss")
    ax.set(title="Training errors over time (on a logarithmic scale)", xlabel="step", ylabel="log(loss)")
    ax.legend(loc="best")
    path = run.plots / "loss.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, format="png")
    return path


def curve_figure(path, past, future, predicted, *, label: str, x_offset: int = 0) -> Path:
    """One panel per sample: past values, the true future (when known) and the model's output."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = len(past)
    fig = Figure(figsize=(12, 3 * n), dpi=100)
    FigureCanvasAgg(fig)
    for j in range(n):
        ax = fig.add_subplot(n, 1, j + 1)
        p, f, y = past[j][:, -1], future[j][:, -1], predicted[j][:, -1]
        t_past = np.arange(len(p)) + x_offset
        t_future = np.arange(len(p), len(p) + len(y)) + x_offset
        ax.plot(t_past, p, "o--b", label="past values")
        if np.isfinite(f).any():
            ax.plot(t_future[: len(f)], f, "x--b", label="true future values")
        ax.plot(t_future, y, "o--y", label=label)
        if j == 0:
            ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, format="png")
    return path
