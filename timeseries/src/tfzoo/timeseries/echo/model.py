"""The echo RNN and the state carrying shared by the stateful tasks (echo, temperature)."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfzoo.common.errors import ConfigError
from tfzoo.timeseries.echo.config import EchoConfig


class CarriedState(tf.Module):
    """Carries the state of stateful RNN layers across training batches.

    The state is zeroed at the first batch of every epoch (`position == 0`). Evaluation runs the
    same layers from a zero state, so the first evaluation batch saves the training state and the
    next training step puts it back: an evaluation in the middle of an epoch does not disturb
    training. The RNN states, the saved copy and its flag are in the trainer's checkpoints (through
    the model's object graph), so a run resumed mid-epoch continues with the state it had; none of
    them is a Keras weight, so `.keras` files start from a zero state.
    """

    def __init__(self, layers: list[keras.layers.Layer]) -> None:
        super().__init__(name="carried_state")
        self.states = [v for layer in layers for v in layer.states]
        self.saved = [tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False, name="saved_state")
                      for v in self.states]
        self.dirty = tf.Variable(False, trainable=False, name="state_saved")

    def reset(self) -> None:
        """Zero the state (what a freshly built or reloaded model has)."""
        for v in self.states:
            v.assign(tf.zeros_like(v.value))

    def before_train(self, position: tf.Tensor) -> None:
        """Restore the state an evaluation saved; zero it at an epoch start."""
        fresh = tf.equal(position, 0)
        for v, saved in zip(self.states, self.saved):
            current = tf.where(self.dirty, saved, v.value)
            v.assign(tf.where(fresh, tf.zeros_like(current), current))
        self.dirty.assign(False)

    def before_eval(self, position: tf.Tensor) -> None:
        """At an evaluation's first batch: save the training state (once) and start from zero."""
        first = tf.equal(position, 0)
        save = tf.logical_and(first, tf.logical_not(self.dirty))
        for v, saved in zip(self.states, self.saved):
            saved.assign(tf.where(save, v.value, saved))
            v.assign(tf.where(first, tf.zeros_like(v.value), v.value))
        self.dirty.assign(tf.logical_or(self.dirty, first))


def attach_carry(model: keras.Model, layers: list[keras.layers.Layer]) -> keras.Model:
    """Give `model` a CarriedState: checkpointed with the model, not a Keras weight."""
    model.carried_state = CarriedState(layers)
    return model


def carried_state(model: keras.Model) -> CarriedState | None:
    return getattr(model, "carried_state", None)


def refuse_multi_replica(task_name: str) -> None:
    """Stateful RNNs need every stream's batches in order on one replica."""
    strategy = tf.distribute.get_strategy()
    if strategy.num_replicas_in_sync > 1 or isinstance(
        strategy, tf.distribute.experimental.ParameterServerStrategy
    ):
        raise ConfigError(
            f"{task_name} is stateful: its batches must arrive in order on one replica, but the strategy has "
            f"{strategy.num_replicas_in_sync} replicas; train it with --strategy default"
        )


def build_model(config: EchoConfig, *, stateful: bool | None = None, batch_size: int | None = None) -> keras.Model:
    """SimpleRNN(units, tanh) over the bits, then a per-step Dense(2) of logits.

    SimpleRNN computes tanh(W [x_t, h_{t-1}] + b), the book's fully connected layer over
    concat(x_t, state). A stateful model has a fixed batch (the streams); the stateless one
    (`carry_state=false`, or a prediction twin) takes any batch and any length.
    """
    stateful = config.carry_state if stateful is None else stateful
    batch = (batch_size or config.train.batch_size) if stateful else None
    inputs = keras.Input(batch_shape=(batch, None, 1), name="bits")
    rnn = keras.layers.SimpleRNN(config.units, stateful=stateful, return_sequences=True, name="rnn")
    logits = keras.layers.Dense(2, name="logits")(rnn(inputs))
    model = keras.Model(inputs, logits, name="echo")
    return attach_carry(model, [rnn]) if stateful else model
