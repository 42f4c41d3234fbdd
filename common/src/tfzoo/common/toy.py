"""The books' toy tasks, used by tests, distributed checks and `tfzoo demo`.

`toy.linreg` is 实例1: fit y = 2x from noisy samples (the book reaches
W 1.9686, b 0.0432). `toy.xor` is 实例30: a two-layer network learns XOR.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfzoo.common.data import DataSplit
from tfzoo.common.task import Task, TrainState
from tfzoo.common.toy_configs import LinRegConfig, XorConfig


def _linreg_split(config: LinRegConfig, split: str) -> DataSplit:
    rng = np.random.default_rng({"train": 1, "val": 2, "test": 3}[split])
    x = rng.uniform(-1, 1, size=(config.samples, 1)).astype("float32")
    y = (config.slope * x + rng.normal(0, config.noise, size=x.shape)).astype("float32")
    return DataSplit(tf.data.Dataset.from_tensor_slices((x, y)), len(x))


class _Regression(Task):
    """Mean-squared-error regression steps shared by the toy tasks."""

    def compute_loss(self, state: TrainState, batch: Any) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        x, y = batch
        per_example = tf.reduce_mean(tf.square(state.models["model"](x, training=True) - y), axis=-1)
        return state.average(per_example), {}

    def metrics(self, config: Any, info: dict[str, Any]) -> dict[str, keras.metrics.Metric]:
        return {"loss": keras.metrics.MeanSquaredError(name="loss")}

    def eval_step(self, state: TrainState, batch: Any, metrics: dict[str, keras.metrics.Metric]) -> None:
        x, y = batch
        metrics["loss"].update_state(y, state.models["model"](x, training=False))


class LinReg(_Regression):
    name = "toy.linreg"
    config_class = LinRegConfig

    def data(self, config: LinRegConfig, split: str) -> DataSplit:
        return _linreg_split(config, split)

    def build_models(self, config: LinRegConfig, info: dict[str, Any]) -> dict[str, keras.Model]:
        inputs = keras.Input((1,))
        outputs = keras.layers.Dense(1, name="linear")(inputs)
        return {"model": keras.Model(inputs, outputs, name="linreg")}

    def example_inputs(self, directory: Any) -> list[str]:
        return ["0.5", "-1"]

    def predict(self, run: Any, inputs: list[str]) -> list[dict[str, Any]]:
        model = run.models["model"]
        return [{"x": float(v), "y": float(model(np.array([[float(v)]], "float32"))[0, 0])} for v in inputs]


XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], "float32")
XOR_Y = np.array([[0], [1], [1], [0]], "float32")


class Xor(_Regression):
    name = "toy.xor"
    config_class = XorConfig

    def data(self, config: XorConfig, split: str) -> DataSplit:
        return DataSplit(tf.data.Dataset.from_tensor_slices((XOR_X, XOR_Y)), 4)

    def build_models(self, config: XorConfig, info: dict[str, Any]) -> dict[str, keras.Model]:
        inputs = keras.Input((2,))
        hidden = keras.layers.Dense(config.hidden, activation="relu", name="hidden")(inputs)
        outputs = keras.layers.Dense(1, name="output")(hidden)
        return {"model": keras.Model(inputs, outputs, name="xor")}

    def example_inputs(self, directory: Any) -> list[str]:
        return ["0,1", "1,1"]

    def predict(self, run: Any, inputs: list[str]) -> list[dict[str, Any]]:
        model = run.models["model"]
        if not inputs:
            return []
        pairs = [[float(v) for v in item.split(",")] for item in inputs]
        values = model(np.array(pairs, "float32")).numpy()[:, 0]
        return [{"input": p, "output": float(v)} for p, v in zip(pairs, values)]
