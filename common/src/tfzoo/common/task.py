"""The task contract and its discovery through the `tfzoo.tasks` entry-point group.

A task says what its data, models and losses are; common owns the rest. The one
shape every task copies (see common/README.md, "Adding a task"):

- `data(config, split) -> DataSplit` and `data_info` (what the models need, saved as info.json);
- `train_map`/`eval_map` per example and `batch` per split (fixed size by default, padded or
  bucketed by length with `tfzoo.common.batching`);
- `build_models` (named models) and optionally `build_optimizers` and `stages`;
- `compute_loss` (or a hand-written `train_step` that calls `state.minimize` for every update),
  `metrics` + `eval_step` for streaming metrics and `aggregate` for corpus metrics (WER, BLEU, mAP);
- hooks that receive the `Run` (`predict`, `after_evaluate`, `during_training`, `visualise`,
  `serving_function`).

`state.minimize` is where the step is owned: it adds the model's regularisation losses, restricts
the update to the current stage's `trainable` selection, clips at `optim.clip_norm` and applies
the stage's optimiser. The replica convention is one: a loss returned to it is the replica's share
of the global mean (`state.average(per_example)`), so the trainer's sum over replicas is the mean.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import keras
import tensorflow as tf

from tfzoo.common import batching
from tfzoo.common.optim import build_optimizer, clip_gradients

LossFn = Callable[[], "tf.Tensor | tuple[tf.Tensor, dict[str, tf.Tensor]]"]


@dataclass(frozen=True)
class Stage:
    """One phase of training: how many steps, which variables and which optimiser learn.

    `trainable` is a regular expression searched in "<model name>/<variable path>" (for example
    "encoder/", or r"/(rpn|mrcnn)_"); "" trains every variable of the model being updated.
    `optimizer` names an entry of the task's optimisers; "" uses the updated model's own.
    """

    name: str
    steps: int
    trainable: str = ""
    optimizer: str = ""


@dataclass
class TrainState:
    """What a step works on: models and optimisers by name, the step counter, the stage, run facts."""

    models: dict[str, keras.Model]
    optimizers: dict[str, keras.optimizers.Optimizer]
    step: tf.Variable
    config: Any
    info: dict[str, Any]
    global_batch_size: int
    stage: Stage | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def average(self, per_example: tf.Tensor) -> tf.Tensor:
        """This replica's share of the global-batch mean of `per_example` losses."""
        return tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch_size)

    def trainable(self, model: str = "model") -> list[tf.Variable]:
        """The trainable variables of `model` that the current stage trains."""
        variables = self.models[model].trainable_variables
        pattern = self.stage.trainable if self.stage is not None else ""
        if not pattern:
            return list(variables)
        regex = re.compile(pattern)
        return [v for v in variables if regex.search(f"{model}/{v.path}")]

    def optimizer(self, model: str = "model") -> keras.optimizers.Optimizer:
        """The optimiser that updates `model` in the current stage."""
        name = self.stage.optimizer if self.stage is not None and self.stage.optimizer else model
        return self.optimizers[name]

    def minimize(self, loss_fn: LossFn, *, model: str = "model",
                 variables: list[tf.Variable] | None = None) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        """One update of `model`: differentiate `loss_fn()`, clip, apply. Returns (loss, logs).

        `loss_fn` runs under the tape and returns this replica's loss (see `average`), or
        `(loss, logs)` with extra values to report. The model's regularisation losses are added,
        scaled by the replica count; `variables` overrides the stage's selection (e.g. two models
        updated by one optimiser).
        """
        net = self.models[model]
        with tf.GradientTape() as tape:
            out = loss_fn()
            loss, logs = out if isinstance(out, tuple) else (out, {})
            if net.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(net.losses))
        variables = self.trainable(model) if variables is None else list(variables)
        optim = getattr(self.config, "optim", None)
        grads = clip_gradients(tape.gradient(loss, variables), getattr(optim, "clip_norm", 0.0))
        self.optimizer(model).apply_gradients(zip(grads, variables))
        return loss, logs


class Task:
    """Base class of every tfzoo task.

    Subclasses set `name` and `config_class` and implement `data` and `build_models`; a
    supervised classifier from logits needs nothing else. What `tfzoo info` says of the task, its
    `DESCRIPTION` and `DATA_SPECS`, lives on the config class (class variables), whose module
    imports no TensorFlow, so `tfzoo info` and `tfzoo --help` stay fast.
    `train_step` and `eval_step` run once per replica inside the trainer's
    `tf.function`; the values `train_step` returns are summed across replicas,
    so they must already be each replica's share (`state.average`).
    """

    name: str = ""
    config_class: type = object

    @property
    def description(self) -> str:
        """One line on the task: its config class's DESCRIPTION."""
        return getattr(self.config_class, "DESCRIPTION", "")

    @property
    def data_specs(self) -> tuple[str, ...]:
        """The dataset specs the task reads: its config class's DATA_SPECS."""
        return tuple(getattr(self.config_class, "DATA_SPECS", ()))
    # The metric that decides early stopping and the best checkpoint (a streaming or aggregated one).
    monitor: str = "loss"
    monitor_mode: str = "min"
    # The models `tfzoo export` writes by default (any named model can be asked for).
    export_models: tuple[str, ...] = ("model",)
    # Whether the task can train under a multi-replica strategy; a reason string when it cannot.
    multi_replica: bool | str = True

    # ----- configuration -------------------------------------------------------------
    def presets(self) -> dict[str, Callable[[], Any]]:
        """Named configurations (`--preset NAME`): see `tfzoo.common.config.presets`."""
        from tfzoo.common.config import presets

        return presets(self.config_class)

    def default_config(self, *, tiny: bool = False, preset: str | None = None) -> Any:
        """The default config, a named preset, or the few-second `tiny` one used by tests."""
        from tfzoo.common.config import validate
        from tfzoo.common.errors import ConfigError

        preset = preset or ("tiny" if tiny else None)
        if preset is None:
            return validate(self.config_class())
        presets = self.presets()
        if preset not in presets:
            known = ", ".join(presets) or "none"
            raise ConfigError(f"{self.name}: unknown preset {preset!r}; presets: {known}")
        return validate(presets[preset]())

    # ----- data ----------------------------------------------------------------------
    def data(self, config: Any, split: str) -> Any:
        """The `DataSplit` (unbatched dataset, size, meta) of `split`, or None when it has none."""
        raise NotImplementedError

    def data_info(self, config: Any, train: Any) -> dict[str, Any]:
        """JSON-ready facts the models need (input shape, class names); saved as info.json."""
        return {"class_names": list(getattr(train, "class_names", ()))}

    def train_map(self, config: Any, info: dict[str, Any], example: Any, seed: tf.Tensor) -> Any:
        """Per-example training transform; `seed` is a stateless [2] int seed for augmentation."""
        return self.eval_map(config, info, example)

    def eval_map(self, config: Any, info: dict[str, Any], example: Any) -> Any:
        """Per-example evaluation transform."""
        return example

    def batch(self, config: Any, info: dict[str, Any], dataset: tf.data.Dataset, split: str) -> tf.data.Dataset:
        """Batch mapped examples: fixed-size batches by default (training drops the remainder so
        every step has the global batch; evaluation keeps it, so it sees every example).

        Override with `tfzoo.common.batching.padded` or `.bucketed` for variable-length examples.
        """
        return batching.fixed(dataset, batch_size=config.train.batch_size, split=split)

    # ----- models ---------------------------------------------------------------------
    def build_models(self, config: Any, info: dict[str, Any]) -> dict[str, keras.Model]:
        """Models by name; the single-model default is called "model"."""
        raise NotImplementedError

    def build_optimizers(
        self, config: Any, models: dict[str, keras.Model], *, total_steps: int
    ) -> dict[str, keras.optimizers.Optimizer]:
        """One optimiser per model by default, built from `config.optim`."""
        return {name: build_optimizer(config.optim, total_steps=total_steps) for name in models}

    def stages(self, config: Any) -> list[Stage]:
        """Training phases; one stage over every variable by default."""
        return [Stage(name="all", steps=config.train.steps)]

    # ----- steps -----------------------------------------------------------------------
    def compute_loss(self, state: TrainState, batch: Any) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        """(this replica's loss, extra logs) on a training batch: from-logits cross-entropy."""
        x, y = batch
        logits = state.models["model"](x, training=True)
        per_example = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
        correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int64), tf.cast(y, tf.int64)), tf.float32)
        return state.average(per_example), {"accuracy": state.average(correct)}

    def train_step(self, state: TrainState, batch: Any) -> dict[str, tf.Tensor]:
        """One update of "model" on `compute_loss`; a task with several updates writes its own
        step and calls `state.minimize` for each."""
        loss, logs = state.minimize(lambda: self.compute_loss(state, batch))
        return {"loss": loss, **logs}

    def metrics(self, config: Any, info: dict[str, Any]) -> dict[str, keras.metrics.Metric]:
        """Streaming evaluation metrics by name (created under the strategy scope)."""
        return {
            "loss": keras.metrics.Mean(name="loss"),
            "accuracy": keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
        }

    def eval_step(self, state: TrainState, batch: Any, metrics: dict[str, keras.metrics.Metric]) -> Any:
        """Update the streaming metrics on one batch, in inference mode.

        May return a dict of tensors (decoded sequences, detections...) for `aggregate`.
        """
        x, y = batch
        logits = state.models["model"](x, training=False)
        metrics["loss"].update_state(
            keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
        )
        metrics["accuracy"].update_state(y, logits)

    def aggregate(self, config: Any, info: dict[str, Any], outputs: list[dict[str, Any]]) -> dict[str, float]:
        """Corpus metrics (WER, BLEU, mAP) over what `eval_step` returned for every batch of a split,
        as NumPy values; merged with the streaming metrics, logged, plotted, usable as `monitor`."""
        return {}

    # ----- hooks that receive the Run ---------------------------------------------------
    def example_inputs(self, directory: Any) -> list[str]:
        """A few real inputs `predict` accepts, usually files written under `directory` (an image, a
        CSV, a WAV); [] for tasks that predict without inputs (forecasts, samples)."""
        return []

    def predict(self, run: Any, inputs: list[str]) -> list[dict[str, Any]]:
        """One JSON-ready result per input file."""
        raise NotImplementedError(f"{self.name} has no predict")

    def after_evaluate(self, run: Any, split: str, results: dict[str, Any]) -> dict[str, Any]:
        """Extra figures or metrics after `tfzoo evaluate` (plots go to run.plots)."""
        return results

    def during_training(self, run: Any, step: int) -> list[str]:
        """Figures to refresh after each periodic evaluation (chief only), such as sample grids;
        returns the PNG paths written, which the trainer also logs to TensorBoard as images."""
        return []

    def visualise(self, run: Any, config: Any) -> list[str]:
        """Write task-specific figures; returns the paths written."""
        return []

    def export_formats(self) -> dict[str, Callable[[Any], Any]]:
        """Formats of the task's own for `tfzoo export RUN --format NAME`, beside keras, savedmodel
        and tflite: {name: writer(run) -> path of what it wrote under run.export} (word2vec's text
        vectors and projector files)."""
        return {}

    def export_manifest(self, run: Any) -> dict[str, Any]:
        """Facts a served model needs beside its signature, added to export/manifest.json (a forecaster's
        transform and its state at the end of the data)."""
        return {}

    def serving_function(
        self, config: Any, models: dict[str, keras.Model], info: dict[str, Any]
    ) -> tf.types.experimental.GenericFunction:
        """A `tf.function` with an input signature over raw inputs, for the SavedModel (or a dict of them
        by signature name, one of them "serving_default"); by default the first exported model over its
        own Keras inputs."""
        from tfzoo.common.export import model_signature

        return model_signature(models[self.export_models[0]])
