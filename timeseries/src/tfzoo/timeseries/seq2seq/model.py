"""The GRU encoder-decoder of 实例72/73 (TF1 `basic_rnn_seq2seq` with a MultiRNNCell of GRUs)."""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfzoo_timeseries")
class Seq2SeqGRU(keras.layers.Layer):
    """Stacked GRU encoder; a decoder of the same depth with its own weights starts from the encoder's states.

    `model(past)` forecasts `horizon` steps free-running: each output is the next decoder input,
    starting from the GO value. `teacher(past, future)` is the teacher-forced pass used in training
    (decoder inputs GO, y_1 ... y_{H-1}); its outputs are one-step-ahead predictions, not forecasts.
    The encoder reads `features` columns; the decoder reads and writes the target column only.
    """

    def __init__(self, *, units: int = 12, layers: int = 2, features: int = 1, horizon: int = 15,
                 go: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units, self.num_layers, self.features, self.horizon, self.go = units, layers, features, horizon, go
        self.encoder = [keras.layers.GRU(units, return_sequences=True, return_state=True, name=f"encoder_{i}")
                        for i in range(layers)]
        self.decoder = [keras.layers.GRU(units, return_sequences=True, return_state=True, name=f"decoder_{i}")
                        for i in range(layers)]
        self.head = keras.layers.Dense(1, name="output")

    def build(self, input_shape=None) -> None:
        for i, gru in enumerate(self.encoder):
            gru.build((None, None, self.features if i == 0 else self.units))
        for i, gru in enumerate(self.decoder):
            gru.build((None, None, 1 if i == 0 else self.units))
        self.head.build((None, None, self.units))
        self.built = True

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "layers": self.num_layers, "features": self.features,
                "horizon": self.horizon, "go": self.go}

    def encode(self, past, training=False) -> list:
        h, states = past, []
        for gru in self.encoder:
            h, state = gru(h, training=training)
            states.append(state)
        return states

    def teacher(self, past, future, training=False):
        """Teacher-forced outputs [B, H, 1] given the true future [B, H, 1]."""
        go = tf.fill([tf.shape(future)[0], 1, 1], tf.constant(self.go, future.dtype))
        h = tf.concat([go, future[:, :-1]], axis=1)
        for gru, state in zip(self.decoder, self.encode(past, training)):
            h, _ = gru(h, initial_state=state, training=training)
        return self.head(h)

    def call(self, past, training=False, horizon=None):
        """Free-running forecast [B, horizon, 1]."""
        states = self.encode(past, training)
        x = tf.fill([tf.shape(past)[0], 1], tf.constant(self.go, past.dtype))
        outputs = []
        for _ in range(horizon or self.horizon):
            h, new_states = x, []
            for gru, state in zip(self.decoder, states):
                h, state = gru.cell(h, state, training=training)
                new_states.append(state[0] if isinstance(state, (list, tuple)) else state)
            states = new_states
            x = self.head(h)
            outputs.append(x)
        return tf.stack(outputs, axis=1)

    def l2_penalty(self):
        """1/2 ||w||^2 summed over the encoder and decoder weights (the output layer is left out, as in the book)."""
        weights = [w for layer in self.encoder + self.decoder for w in layer.trainable_weights]
        return tf.add_n([tf.reduce_sum(tf.square(w)) for w in weights]) / 2.0


def build_model(*, units: int, layers: int, features: int, horizon: int, go: float = 0.0) -> keras.Model:
    """A functional model past [B, T, features] -> free-running forecast [B, horizon, 1] around a Seq2SeqGRU."""
    past = keras.Input((None, features), name="past")
    core = Seq2SeqGRU(units=units, layers=layers, features=features, horizon=horizon, go=go, name="seq2seq")
    return keras.Model(past, core(past), name="seq2seq")


def core(model: keras.Model) -> Seq2SeqGRU:
    """The Seq2SeqGRU inside a model from build_model (teacher forcing, horizons, the L2 penalty)."""
    return model.get_layer("seq2seq")


def seq2seq_loss(model: keras.Model, past, future, *, l2: float, global_batch_size: int, training: bool):
    """The book's loss: sum over decoder steps of the batch-mean squared error, plus l2 * 1/2 ||w||^2.

    Returns (loss for this replica, teacher-forced outputs).
    """
    outputs = core(model).teacher(past, future, training=training)
    per_example = tf.reduce_sum(tf.square(outputs - future), axis=[1, 2])
    loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)
    # The penalty is counted once over all replicas.
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss + l2 * core(model).l2_penalty() / replicas, outputs
