"""The task contract and its discovery through the `tfzoo.tasks` entry-point group.

Tasks are found by `tfzoo.common.registry`. A task names its config class, supplies its data and models, and may override
the steps the trainer runs. The defaults implement supervised classification
from logits, so a classifier only writes `data`, `build_models` and its hooks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import keras
import tensorflow as tf

from tfzoo.common.optim import build_optimizer, clip_gradients


@dataclass
class TrainState:
    """What a step works on: models and optimisers by name, the step counter, run facts."""

    models: dict[str, keras.Model]
    optimizers: dict[str, keras.optimizers.Optimizer]
    step: tf.Variable
    config: Any
    info: dict[str, Any]
    global_batch_size: int
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    """One phase of training: how many steps, which variables and which optimiser learn."""

    name: str
    steps: int
    trainable: str = ""  # a substring of variable paths; "" trains every variable


class Task:
    """Base class of every tfzoo task.

    Subclasses set `name`, `config_class`, `data_specs` and implement `data`
    and `build_models`. `train_step` and `eval_step` run once per replica
    inside the trainer's `tf.function`; the values `train_step` returns are
    summed across replicas, so they must already be divided by the global
    batch size (use `tf.nn.compute_average_loss`).
    """

    name: str = ""
    config_class: type = object
    description: str = ""
    data_specs: tuple[str, ...] = ()
    # The metric that decides early stopping and the best checkpoint.
    monitor: str = "loss"
    monitor_mode: str = "min"

    # ----- configuration -------------------------------------------------
    def default_config(self, *, tiny: bool = False) -> Any:
        """The default config, or the few-second `tiny()` variant used by tests."""
        cls = self.config_class
        return cls.tiny() if tiny and hasattr(cls, "tiny") else cls()

    # ----- data ----------------------------------------------------------
    def data(self, config: Any, split: str) -> Any:
        """An object with `.dataset` (unbatched), `.size` and `.class_names` for `split`."""
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

    # ----- models ----------------------------------------------------------
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

    # ----- steps -------------------------------------------------------------
    def train_step(self, state: TrainState, batch: Any) -> dict[str, tf.Tensor]:
        """Supervised from-logits cross-entropy plus the model's regularisation losses."""
        x, y = batch
        model = state.models["model"]
        optimizer = state.optimizers["model"]
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            per_example = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=state.global_batch_size)
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
        variables = model.trainable_variables
        grads = clip_gradients(tape.gradient(loss, variables), state.config.optim.clip_norm)
        optimizer.apply_gradients(zip(grads, variables))
        correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int64), tf.cast(y, tf.int64)), tf.float32)
        accuracy = tf.reduce_sum(correct) / state.global_batch_size
        return {"loss": loss, "accuracy": accuracy}

    def metrics(self, config: Any, info: dict[str, Any]) -> dict[str, keras.metrics.Metric]:
        """Streaming evaluation metrics by name (created under the strategy scope)."""
        return {
            "loss": keras.metrics.Mean(name="loss"),
            "accuracy": keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
        }

    def eval_step(self, state: TrainState, batch: Any, metrics: dict[str, keras.metrics.Metric]) -> None:
        """Update the streaming metrics on one batch, in inference mode."""
        x, y = batch
        logits = state.models["model"](x, training=False)
        metrics["loss"].update_state(
            keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
        )
        metrics["accuracy"].update_state(y, logits)

    # ----- hooks used by the command line --------------------------------------
    def predict(self, run: Any, inputs: list[str]) -> list[dict[str, Any]]:
        """One JSON-ready result per input file."""
        raise NotImplementedError(f"{self.name} has no predict")

    def after_evaluate(self, run: Any, split: str, results: dict[str, Any]) -> dict[str, Any]:
        """Extra figures or metrics after `tfzoo evaluate` (plots go to run.plots_dir)."""
        return results

    def during_training(self, run: Any, step: int) -> list[str]:
        """Figures to refresh after each periodic evaluation (chief only), such as sample grids.

        `run` is the Trainer (`run.models`, `run.config`, `run.info`, `run.run.plots`); returns the
        PNG paths written, which the trainer also logs to TensorBoard as images.
        """
        return []

    def visualise(self, run: Any, config: Any) -> list[str]:
        """Write task-specific figures; returns the paths written."""
        return []

    def serving_function(
        self, config: Any, models: dict[str, keras.Model], info: dict[str, Any]
    ) -> tf.types.experimental.GenericFunction:
        """A `tf.function` with an input signature over raw inputs, for the SavedModel."""
        raise NotImplementedError(f"{self.name} defines no serving signature")
