"""Every knob of timeseries.temperature (seed 003), as a frozen dataclass."""

from dataclasses import dataclass, field, replace
from typing import ClassVar

from tfzoo.common.settings import OptimConfig, TrainConfig


@dataclass(frozen=True)
class TemperatureConfig:
    """A stateful LSTM(8) + Dense(1) predicts the next monthly value from windows of `window` values.

    Stateful training needs `train.batch_size == window` (sample j of batch k+1 then continues
    sample j of batch k). `train.steps = 0` means `epochs` passes over the training windows.
    """

    # what `tfzoo info` and `tfzoo list` say of the task (read without importing TensorFlow)
    DESCRIPTION: ClassVar[str] = "stateful LSTM(8) + Dense(1): next monthly value from windows of 20 (El Nino SST by default)"
    DATA_SPECS: ClassVar[tuple[str, ...]] = (
        "sm:elnino (default)",
        "gcag:FILE",
        "csv:FILE?time=&columns=",
        "any single series spec",
    )

    RANGES: ClassVar[dict] = {"window": (1, None), "units": (1, None), "epochs": (0, None), "predict_steps": (1, None)}

    data: str = "sm:elnino"
    column: str = ""  # "" takes the first value column
    log: bool = False  # model the log of a positive series (e.g. sktime:airline); outputs are back in its units
    window: int = 20
    units: int = 8
    stateful: bool = True  # false: the stateless LSTM of the same size (each window from a zero state)
    val_fraction: float = 0.2  # the last 20% of the series; val and test are the same range
    feature_range: tuple[float, float] = (-1.0, 1.0)
    epochs: int = 100
    predict_steps: int = 12
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            steps=0, batch_size=20, shuffle_buffer=1, log_every=50, eval_every=280, ckpt_every=280
        )
    )
    # Keras 2's Adam(lr=1e-3, decay=1e-4) is InverseTimeDecay(1e-3, 1, 1e-4) per step.
    optim: OptimConfig = field(
        default_factory=lambda: OptimConfig(optimizer="adam", lr=1e-3, schedule="inverse_time", decay_steps=1,
                                            decay_rate=1e-4)
    )

    @classmethod
    def tiny(cls) -> "TemperatureConfig":
        """A few-second configuration for tests: windows of 4, 2 units."""
        base = cls()
        return replace(base, window=4, units=2, predict_steps=3,
                       train=replace(base.train, steps=6, batch_size=4, eval_every=3, ckpt_every=3, log_every=1))
