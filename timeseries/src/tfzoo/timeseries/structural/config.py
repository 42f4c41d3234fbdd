"""Every knob of timeseries.structural, as a frozen dataclass (defaults: spec §7.3)."""

from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal

from tfzoo.common.settings import OptimConfig, TrainConfig


@dataclass(frozen=True)
class StructuralConfig:
    """A Kalman-filtered sum of level/trend, seasonal cycles and ARMA, fitted by maximum likelihood.

    `example=changepoint` switches to TFTS's changepoint example: `sm:nile` with an `is_changepoint`
    column at 1899 (the Aswan dam), a local level and a learned level shift where the column is > 0.
    """

    # what `tfzoo info` and `tfzoo list` say of the task (read without importing TensorFlow)
    DESCRIPTION: ClassVar[str] = "TFTS-style structural ensemble (level/trend, cycles, ARMA) with an exact Kalman filter"
    DATA_SPECS: ClassVar[tuple[str, ...]] = (
        "sm:co2 (default; weekly, 59 missing)",
        "sm:nile (--set example=changepoint)",
        "series:FILE",
    )

    RANGES: ClassVar[dict] = {"test_size": (0, None), "horizon": (1, None), "season_length": (0, None),
                              "cycle_num_latent_values": (1, None), "autoregressive_order": (0, None),
                              "moving_average_order": (0, None)}

    example: Literal["default", "changepoint"] = "default"
    data: str = "sm:co2"
    columns: str = ""
    transform: Literal["none", "log", "logdiff"] = "none"
    test_size: int = 52  # chronological holdout tail for `tfzoo evaluate`
    horizon: int = 104  # steps `tfzoo predict` forecasts
    season_length: int = 0  # MASE's m; 0 = the series' own (52 for weekly co2)
    level: Literal["local_linear_trend", "local_level", "none"] = "local_linear_trend"
    periodicities: tuple[float, ...] = (52.18,)
    cycle_num_latent_values: int = 11
    autoregressive_order: int = 1
    moving_average_order: int = 0
    changepoint_year: int = 1899  # the changepoint example's level shift
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=300, batch_size=1, log_every=25,
                                                                   eval_every=100, ckpt_every=100))
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=0.02))

    @property
    def window_size(self) -> int:
        """0: every step fits the likelihood of the whole training series."""
        return 0

    @classmethod
    def tiny(cls) -> "StructuralConfig":
        """A few-second configuration for tests."""
        base = cls()
        return replace(base, cycle_num_latent_values=5, horizon=8,
                       train=replace(base.train, steps=4, log_every=1, eval_every=2, ckpt_every=2))
