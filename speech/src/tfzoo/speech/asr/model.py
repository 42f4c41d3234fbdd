"""The book's BiRNN-CTC network (实例68, DeepSpeech v0.1's layout, S0 L14106-L14264) and its CTC loss.

    features [B, T, 494], lengths [B]
      -> fc1, fc2, fc3: Dense + min(relu(x), 20) + dropout
      -> dropout, Bidirectional LSTM (concatenated), masked by length; with `bidirectional=False` a
         forward-only LSTM ("rnn"), which `tfzoo.speech.asr.streaming` runs chunk by chunk
      -> fc5: Dense + clipped ReLU + dropout
      -> fc6: Dense to vocabulary + 1 logits, the CTC blank last

The book's bugs are not copied: fc3 is 2048 wide in `book()` as in its code (the prose says 1024),
`tf.nn.minimum` (which does not exist) is a clipped ReLU layer, and nothing is pinned to /cpu:0.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfzoo.speech")
class LengthMask(keras.layers.Layer):
    """`[steps [B, T, ...], lengths [B]]` -> a [B, T] boolean mask of the valid (leading) steps."""

    def call(self, inputs):
        steps, lengths = inputs
        positions = keras.ops.arange(keras.ops.shape(steps)[1], dtype="int32")
        return keras.ops.expand_dims(positions, 0) < keras.ops.expand_dims(keras.ops.cast(lengths, "int32"), 1)

    def compute_output_shape(self, input_shapes):
        return tuple(input_shapes[0][:2])


def _initializers(config) -> dict:
    if config.init == "normal":  # the book: every dense kernel and bias ~ N(0, 0.046875)
        return {"kernel_initializer": keras.initializers.RandomNormal(stddev=config.init_std),
                "bias_initializer": keras.initializers.RandomNormal(stddev=config.init_std)}
    return {"kernel_initializer": "glorot_uniform", "bias_initializer": "zeros"}


def build_model(config, *, num_classes: int) -> keras.Model:
    """The recogniser for `num_classes` outputs (characters + the blank, last)."""
    init = _initializers(config)
    features = keras.Input((None, config.feature_dim), name="features")
    lengths = keras.Input((), dtype="int32", name="lengths")
    x = features
    for name, units in (("fc1", config.fc1), ("fc2", config.fc2), ("fc3", config.fc3)):
        x = _clipped_dense(x, name, units, config, init)
    mask = LengthMask(name="mask")([x, lengths])
    # The book's cells are BasicLSTMCell(forget_bias=1.0) in DropoutWrapper(input_keep_prob): a fresh
    # dropout mask every step, which is a Dropout layer on the inputs (Keras's LSTM(dropout=) would
    # share one mask over time, turn off cuDNN, and capture an RNG state the SavedModel cannot track).
    x = keras.layers.Dropout(config.dropout, name="birnn_input_dropout")(x)
    if config.bidirectional:
        lstm = keras.layers.LSTM(config.lstm_units, return_sequences=True, unit_forget_bias=True)
        x = keras.layers.Bidirectional(lstm, merge_mode="concat", name="birnn")(x, mask=mask)
    else:
        # Forward only, so step t depends on steps <= t and a clip can be run chunk by chunk with the
        # state carried over (tfzoo.speech.asr.streaming); "rnn", not "birnn": another layer, another name.
        x = keras.layers.LSTM(config.lstm_units, return_sequences=True, unit_forget_bias=True, name="rnn")(x, mask=mask)
    x = _clipped_dense(x, "fc5", config.fc5, config, init)
    logits = keras.layers.Dense(num_classes, name="fc6", **init)(x)
    return keras.Model({"features": features, "lengths": lengths}, logits, name="birnn_ctc")


def _clipped_dense(x, name: str, units: int, config, init: dict):
    x = keras.layers.Dense(units, name=name, **init)(x)
    x = keras.layers.ReLU(max_value=config.relu_clip, name=f"{name}_relu")(x)
    return keras.layers.Dropout(config.dropout, name=f"{name}_dropout")(x)


def ctc_loss(logits: tf.Tensor, logit_lengths: tf.Tensor, labels: tf.Tensor, label_lengths: tf.Tensor) -> tf.Tensor:
    """Per-utterance CTC negative log-likelihood [B] with the blank last; labels dense [B, L], -1 padded.

    TensorFlow's CTCLoss kernel on sparse labels (about 9x faster on CPU than the dense-label path).
    An utterance whose labels cannot fit its frames, or that has no labels (an evaluation transcript
    made only of characters training never saw), contributes 0 and no gradient instead of an error.
    """
    labels = tf.cast(labels, tf.int32)
    label_lengths = tf.cast(label_lengths, tf.int32)
    empty = label_lengths <= 0
    # The kernel refuses empty label rows: give them one dummy label, then zero their loss.
    labels = tf.pad(labels, [[0, 0], [0, 1]], constant_values=-1)  # at least one column
    labels = tf.where(empty[:, None] & (tf.range(tf.shape(labels)[1]) == 0)[None, :], 0, labels)
    where = tf.where(labels >= 0)
    sparse = tf.SparseTensor(where, tf.gather_nd(labels, where), tf.shape(labels, out_type=tf.int64))

    def kernel():
        return tf.compat.v1.nn.ctc_loss(sparse, tf.transpose(tf.cast(logits, tf.float32), [1, 0, 2]),
                                        tf.cast(logit_lengths, tf.int32), ignore_longer_outputs_than_inputs=True)

    # The kernel also refuses a batch of 0, which a replica can get from the last evaluation batch.
    loss = tf.cond(tf.shape(labels)[0] > 0, kernel, lambda: tf.zeros([0], tf.float32))
    return tf.where(empty, 0.0, loss)
