"""Every knob of timeseries.lstm, as a frozen dataclass (defaults: spec §7.3)."""

from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal

from tfzoo.common.settings import OptimConfig, TrainConfig

MACRO_SERIES = "realgdp,realcons,realinv,realgovt,realdpi"


@dataclass(frozen=True)
class LSTMConfig:
    """A multivariate LSTM state-space-style model: one step at a time, mean and variance per feature."""

    # what `tfzoo info` and `tfzoo list` say of the task (read without importing TensorFlow)
    DESCRIPTION: ClassVar[str] = "TFTS-style LSTM sequential model: multivariate one-step filter, forecasts and simulated paths"
    DATA_SPECS: ClassVar[tuple[str, ...]] = (
        "sm:macrodata (default; log-differences of 5 series)",
        "series:FILE",
        "sm:NAME",
    )

    RANGES: ClassVar[dict] = {"test_size": (0, None), "horizon": (1, None), "season_length": (0, None),
                              "num_units": (1, None), "window_size": (2, None), "simulate_paths": (0, None)}

    data: str = "sm:macrodata"
    columns: str = MACRO_SERIES  # comma-separated value columns; "" = every column
    transform: Literal["none", "log", "logdiff"] = "logdiff"  # logdiff: quarterly growth rates
    test_size: int = 8
    horizon: int = 100  # steps `tfzoo predict` forecasts (and `simulate_paths` sample)
    season_length: int = 0  # MASE's m; 0 = the series' own
    num_units: int = 128
    window_size: int = 32
    simulate_paths: int = 5  # sampled futures drawn into plots/simulate.png by `tfzoo predict`
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=500, batch_size=4, log_every=50,
                                                                   eval_every=250, ckpt_every=250))
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=0.01, clip_norm=5.0))

    @classmethod
    def tiny(cls) -> "LSTMConfig":
        """A few-second configuration for tests."""
        base = cls()
        return replace(base, num_units=8, window_size=8, horizon=6, simulate_paths=2,
                       train=replace(base.train, steps=4, batch_size=4, log_every=1, eval_every=2, ckpt_every=2))
