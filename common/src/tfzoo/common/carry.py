"""Truncated backpropagation through time: stateful RNN layers that carry their state across batches.

Used by the stateful tasks (timeseries.echo, timeseries.temperature): `attach_carry(model, layers)`
when the model is built, then in the steps

    carry = carried_state(model)
    if carry is not None:
        carry.before_train(position[0])   # train_step; before_eval(position[0]) in eval_step

where `position` is the batch's index within its epoch (0 starts a new pass over the streams).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfzoo.common.errors import ConfigError

__all__ = ["CarriedState", "attach_carry", "carried_state", "refuse_multi_replica"]


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
    """Give `model` a CarriedState of `layers` (built, stateful): checkpointed with the model, not a Keras weight."""
    # The attribute name is part of the checkpoint's object graph: renaming it orphans saved states.
    model.carried_state = CarriedState(layers)
    return model


def carried_state(model: keras.Model) -> CarriedState | None:
    """The model's CarriedState, or None for a stateless model."""
    return getattr(model, "carried_state", None)


def refuse_multi_replica(task_name: str) -> None:
    """Stateful RNNs need every stream's batches in order on one replica: a ConfigError otherwise."""
    strategy = tf.distribute.get_strategy()
    if strategy.num_replicas_in_sync > 1 or isinstance(
        strategy, tf.distribute.experimental.ParameterServerStrategy
    ):
        raise ConfigError(
            f"{task_name} is stateful: its batches must arrive in order on one replica, but the strategy has "
            f"{strategy.num_replicas_in_sync} replicas; train it with --strategy default"
        )
