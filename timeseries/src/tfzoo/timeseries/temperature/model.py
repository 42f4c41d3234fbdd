"""LSTM(8) + Dense(1) over windows of one value a step (seed 003, S3 L300-L312)."""

from __future__ import annotations

import keras

from tfzoo.common.carry import attach_carry
from tfzoo.timeseries.temperature.config import TemperatureConfig


def build_model(config: TemperatureConfig, *, stateful: bool | None = None, batch_size: int | None = None,
                length: int | None = 0) -> keras.Model:
    """`keras.Input(batch_shape=(batch, window, 1))`, LSTM(units, stateful), Dense(1).

    A stateful model carries its state between batches (see tfzoo.common.carry.CarriedState); the
    stateless one starts every window from zero. `length=None` accepts any sequence length
    (the prediction twin reads a whole history at once).
    """
    stateful = config.stateful if stateful is None else stateful
    batch = (batch_size or config.train.batch_size) if stateful else None
    inputs = keras.Input(batch_shape=(batch, config.window if length == 0 else length, 1), name="window")
    lstm = keras.layers.LSTM(config.units, stateful=stateful, name="lstm")
    model = keras.Model(inputs, keras.layers.Dense(1, name="next")(lstm(inputs)), name="temperature")
    return attach_carry(model, [lstm]) if stateful else model
