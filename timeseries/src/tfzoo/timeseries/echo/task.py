"""timeseries.echo (实例56): a stateful SimpleRNN learns to echo random bits three steps late."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfzoo.common.carry import carried_state, refuse_multi_replica
from tfzoo.common.errors import ConfigError, DataError
from tfzoo.common.task import Stage, Task, TrainState
from tfzoo.timeseries.echo import data as pipeline
from tfzoo.timeseries.echo.config import EchoConfig
from tfzoo.timeseries.echo.model import build_model


class Echo(Task):
    name = "timeseries.echo"
    config_class = EchoConfig
    monitor = "loss"
    # The reason common.carry.refuse_multi_replica gives a user who asks for --strategy mirrored anyway.
    multi_replica = ("stateful: its batches must arrive in order on one replica; train it with --strategy default "
                     "(or set carry_state=false)")

    def data(self, config: EchoConfig, split: str):
        return pipeline.load_split(config, split)

    def data_info(self, config: EchoConfig, train) -> dict[str, Any]:
        return {"class_names": ["0", "1"], "steps_per_epoch": train.size // config.train.batch_size}

    def stages(self, config: EchoConfig) -> list[Stage]:
        steps = config.train.steps or config.epochs * pipeline.chunks_per_epoch(config, config.series_length)
        if steps <= 0:
            raise ConfigError(f"train.steps={config.train.steps} and epochs={config.epochs}; one must be > 0")
        return [Stage(name="all", steps=steps)]

    def build_models(self, config: EchoConfig, info: dict[str, Any]) -> dict[str, keras.Model]:
        if config.carry_state:
            refuse_multi_replica(self.name)  # the error a user who asks for --strategy mirrored sees
        return {"model": build_model(config)}

    # ----- steps ----------------------------------------------------------------------------
    def compute_loss(self, state: TrainState, batch) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        x, y, position = batch
        model = state.models["model"]
        carry = carried_state(model)
        if carry is not None:
            # Under the tape, but the carried states are not trainable: no gradient flows through them.
            carry.before_train(position[0])
        logits = model(x, training=True)
        # The book's loss: the mean cross-entropy over every step of every stream.
        per_stream = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True), axis=-1)
        correct = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), y), tf.float32), -1)
        return state.average(per_stream), {"accuracy": tf.reduce_sum(correct) / state.global_batch_size}

    def metrics(self, config: EchoConfig, info: dict[str, Any]) -> dict[str, keras.metrics.Metric]:
        return {
            "loss": keras.metrics.Mean(name="loss"),
            "accuracy": keras.metrics.Mean(name="accuracy"),
            # Steps < echo_step of a chunk can only be right if the state carried over from the last chunk.
            "accuracy_first": keras.metrics.Mean(name="accuracy_first"),
            "accuracy_rest": keras.metrics.Mean(name="accuracy_rest"),
        }

    def eval_step(self, state, batch, metrics) -> None:
        x, y, position = batch
        model = state.models["model"]
        carry = carried_state(model)
        if carry is not None:
            carry.before_eval(position[0])
        logits = model(x, training=False)
        metrics["loss"].update_state(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
        correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), y), tf.float32)
        k = state.config.echo_step
        metrics["accuracy"].update_state(correct)
        metrics["accuracy_first"].update_state(correct[:, :k])
        metrics["accuracy_rest"].update_state(correct[:, k:])

    # ----- hooks (they receive the Run) ------------------------------------------------------------
    def example_inputs(self, directory) -> list[str]:
        """A text file of bits and a .npy vector of bits."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "bits.txt").write_text("0110100111\n0100011101, 1\n")
        np.save(directory / "bits.npy", np.array([1, 0, 1, 1, 0, 0, 1, 0]))
        return [str(directory / "bits.txt"), str(directory / "bits.npy")]

    def after_evaluate(self, run, split: str, results: dict[str, Any]) -> dict[str, Any]:
        """Accuracy at each position of a chunk, and plots/echo.png."""
        by_position, sample = per_position_accuracy(run.models["model"], run.config, run.task.data(run.config, split))
        results["accuracy_by_position"] = [round(float(a), 4) for a in by_position]
        results["echo_png"] = str(echo_figure(run, sample))
        return results

    def visualise(self, run, config: EchoConfig) -> list[str]:
        _, sample = per_position_accuracy(run.models["model"], config, self.data(config, "val"))
        return [str(echo_figure(run, sample))]

    def predict(self, run, inputs: list[str]) -> list[dict[str, Any]]:
        """Echo of each input file of bits (text of 0/1 characters, or a .npy vector), the whole file as one stream."""
        twin = build_model(run.config, stateful=False)
        twin.set_weights(run.models["model"].get_weights())
        results = []
        for path in inputs:
            bits = read_bits(path)
            logits = twin(bits[None, :, None].astype(np.float32), training=False)[0]
            echo = np.argmax(np.asarray(logits), -1)
            expected = np.concatenate([np.zeros(run.config.echo_step, np.int64), bits[: -run.config.echo_step]])
            results.append({
                "input": path,
                "bits": len(bits),
                "echo": "".join(map(str, echo.tolist())),
                "accuracy": round(float(np.mean(echo == expected)), 4),
            })
        return results


def read_bits(path: str) -> np.ndarray:
    """0/1 bits from a .npy array or a text file (every character other than 0/1 and whitespace or commas is an error)."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{path}: no such file; expected a text file of 0/1 characters or a .npy vector of bits")
    if file.suffix == ".npy":
        bits = np.asarray(np.load(file)).reshape(-1)
        bad = np.flatnonzero((bits != 0) & (bits != 1))
        if len(bad):
            raise DataError(f"{path}: element {bad[0]} is {bits[bad[0]]!r}; expected bits 0 or 1")
        return bits.astype(np.int64)
    out = []
    for line_no, line in enumerate(file.read_text().splitlines(), 1):
        for column, char in enumerate(line, 1):
            if char in "01":
                out.append(int(char))
            elif not (char.isspace() or char == ","):
                raise DataError(f"{path}:{line_no}:{column}: {char!r}; expected the bits 0 or 1")
    if not out:
        raise DataError(f"{path}: no bits; expected a text file of 0/1 characters")
    return np.array(out, np.int64)


def per_position_accuracy(model: keras.Model, config: EchoConfig, data) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Accuracy at each step of a chunk over a split (state carried as in training), and a sample batch."""
    carry = carried_state(model)
    correct, sample = [], {}
    for x, y, position in data.dataset.batch(config.train.batch_size):
        if carry is not None:
            carry.before_eval(position[0])
        logits = model(x, training=False)
        predicted = np.argmax(np.asarray(logits), -1)
        correct.append(predicted == y.numpy())
        if int(position[0]) == 1:  # the second chunk: its first steps need the carried state
            sample = {"bits": x.numpy()[..., 0], "echo": y.numpy(), "predicted": predicted}
    if not sample:
        sample = {"bits": x.numpy()[..., 0], "echo": y.numpy(), "predicted": predicted}
    return np.concatenate(correct).mean(axis=0), sample


def echo_figure(run, sample: dict[str, np.ndarray]) -> Path:
    """The book's 2x3 figure: the training loss, then past bits / true echo / prediction per stream."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    config = run.config
    steps, losses = [], []
    for record in run.read_metrics(split="train"):
        if "loss" in record:
            steps.append(record["step"])
            losses.append(record["loss"])
    fig = Figure(figsize=(12, 6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(2, 3, 1)
    ax.plot(steps, losses)
    ax.set_title("training loss")
    ax.set_xlabel("step")
    chunk, echo_step = config.chunk, config.echo_step
    for j in range(min(5, len(sample["bits"]))):
        ax = fig.add_subplot(2, 3, j + 2)
        ax.axis([0, chunk + echo_step, 0, 2])
        # As the book: the input drawn echo_step later, so the three rows line up when right.
        ax.plot(range(echo_step, chunk + echo_step), sample["bits"][j] * 0.2 + 1.5, "o--b", label="past values")
        ax.plot(range(chunk), sample["echo"][j] * 0.2 + 0.8, "x--b", label="true echo")
        ax.plot(range(chunk), sample["predicted"][j] * 0.2 + 0.1, "o--y", label="prediction")
        ax.set_title(f"stream {j + 1}")
        if j == 0:
            ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    path = run.plots / "echo.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, format="png")
    return path
