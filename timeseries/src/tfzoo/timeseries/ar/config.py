"""Every knob of timeseries.ar, as a frozen dataclass (defaults: spec §7.3)."""

from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal

from tfzoo.common.settings import OptimConfig, TrainConfig


@dataclass(frozen=True)
class ARConfig:
    """ARRegressor on one series: periodic buckets, linear or MLP, Gaussian or squared loss."""

    # what `tfzoo info` and `tfzoo list` say of the task (read without importing TensorFlow)
    DESCRIPTION: ClassVar[str] = "TFTS-style autoregressive forecaster (linear or MLP, periodic time buckets, mean ± σ)"
    DATA_SPECS: ClassVar[tuple[str, ...]] = (
        "sktime:airline (default)",
        "series:FILE (or csv:FILE)",
        "sm:NAME",
        "sktime:NAME",
    )

    RANGES: ClassVar[dict] = {"test_size": (0, None), "horizon": (1, None), "season_length": (0, None),
                              "input_window_size": (1, None), "output_window_size": (1, None),
                              "num_time_buckets": (1, None), "anomaly_prior_probability": (0.0, 1.0)}

    data: str = "sktime:airline"
    columns: str = ""  # comma-separated value columns; "" = every column of the series
    transform: Literal["none", "log", "logdiff"] = "log"
    test_size: int = 12  # chronological holdout tail for `tfzoo evaluate`
    horizon: int = 36  # steps `tfzoo predict` forecasts
    season_length: int = 0  # MASE's m; 0 = the series' own (12 for monthly data)
    periodicities: tuple[float, ...] = (12.0,)
    input_window_size: int = 24
    output_window_size: int = 12
    num_time_buckets: int = 10
    hidden_layer_sizes: tuple[int, ...] = (32,)  # () = linear
    loss: Literal["normal_likelihood", "squared"] = "normal_likelihood"
    anomaly_prior_probability: float = 0.0  # > 0 switches to the Gaussian/Cauchy mixture
    normalize_window: bool = True  # subtract each input window's level (holdout MASE on airline 1.60 -> 0.45)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=2000, batch_size=16, log_every=100,
                                                                   eval_every=500, ckpt_every=500))
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=0.01))

    @property
    def window_size(self) -> int:
        """Training windows are exactly input + output long."""
        return self.input_window_size + self.output_window_size

    @classmethod
    def tiny(cls) -> "ARConfig":
        """A few-second configuration for tests."""
        base = cls()
        return replace(base, input_window_size=12, output_window_size=6, hidden_layer_sizes=(8,), horizon=12,
                       train=replace(base.train, steps=4, batch_size=8, log_every=1, eval_every=2, ckpt_every=2))
