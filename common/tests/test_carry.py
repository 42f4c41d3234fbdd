"""tfzoo.common.carry: stateful RNN state carried across batches, reset per epoch, kept out of evaluation."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfzoo.common.carry import CarriedState, attach_carry, carried_state, refuse_multi_replica
from tfzoo.common.errors import ConfigError

BATCH, STEPS = 3, 4


def _model(stateful=True):
    inputs = keras.Input(batch_shape=(BATCH if stateful else None, STEPS, 1))
    lstm = keras.layers.LSTM(2, stateful=stateful)  # two state variables: h and c
    model = keras.Model(inputs, keras.layers.Dense(1)(lstm(inputs)))
    return attach_carry(model, [lstm]) if stateful else model


def _norm(carry):
    return sum(float(np.abs(v.numpy()).sum()) for v in carry.states)


def test_attach_and_find():
    model = _model()
    carry = carried_state(model)
    assert isinstance(carry, CarriedState) and len(carry.states) == 2 and len(carry.saved) == 2
    assert carried_state(_model(stateful=False)) is None
    assert not any("saved_state" in w.path for w in model.weights)  # not a Keras weight: .keras starts at zero


def test_epoch_start_zeroes_mid_epoch_carries_evaluation_is_undone():
    model = _model()
    carry = carried_state(model)
    x = tf.fill((BATCH, STEPS, 1), 0.5)
    for position in range(2):  # two training batches of one epoch
        carry.before_train(tf.constant(position))
        model(x)
    train_state = [v.numpy().copy() for v in carry.states]
    carry.before_eval(tf.constant(0))  # an evaluation pass of its own, from zero
    assert _norm(carry) == 0 and bool(carry.dirty.numpy())
    model(-x)
    carry.before_eval(tf.constant(1))  # its later batches carry the evaluation's state
    assert _norm(carry) > 0
    carry.before_train(tf.constant(2))  # training resumes where it was
    for v, want in zip(carry.states, train_state):
        np.testing.assert_array_equal(v.numpy(), want)
    assert not bool(carry.dirty.numpy())
    carry.before_train(tf.constant(0))  # the next epoch
    assert _norm(carry) == 0
    model(x)
    carry.reset()
    assert _norm(carry) == 0


def test_state_and_saved_copy_are_in_the_checkpoint(tmp_path):
    model = _model()
    carry = carried_state(model)
    carry.before_train(tf.constant(0))
    model(tf.ones((BATCH, STEPS, 1)))
    carry.before_eval(tf.constant(0))  # saved copy and flag set, live state zero
    path = tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt"))
    other = _model()
    tf.train.Checkpoint(model=other).read(path).assert_existing_objects_matched()
    restored = carried_state(other)
    assert bool(restored.dirty.numpy())
    for a, b in zip(restored.saved + restored.states, carry.saved + carry.states):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_refuses_more_than_one_replica(monkeypatch):
    refuse_multi_replica("demo")  # the default strategy is fine

    class TwoReplicas:
        num_replicas_in_sync = 2

    monkeypatch.setattr(tf.distribute, "get_strategy", lambda: TwoReplicas())
    with pytest.raises(ConfigError, match="demo is stateful: .* 2 replicas; train it with --strategy default"):
        refuse_multi_replica("demo")
