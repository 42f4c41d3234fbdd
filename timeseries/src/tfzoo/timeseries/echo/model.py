"""The echo RNN; its state is carried across batches by tfzoo.common.carry."""

from __future__ import annotations

import keras

from tfzoo.common.carry import attach_carry
from tfzoo.timeseries.echo.config import EchoConfig


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
