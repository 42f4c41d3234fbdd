"""Every knob of timeseries.stock (实例73), as a frozen dataclass."""

from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal

from tfzoo.common.settings import OptimConfig, TrainConfig


@dataclass(frozen=True)
class StockConfig:
    """The seq2seq GRU of timeseries.seq2seq on daily prices: `input_len` days in, `output_len` days out.

    Columns are named as the readers name them (open, high, low, close, volume, adj_close, ...);
    the encoder reads `columns`, the decoder forecasts `target`. Splits are chronological ranges
    (train, then val, then test) and every window lies inside one range, so no test input overlaps
    a training target.
    """

    # what `tfzoo info` and `tfzoo list` say of the task (read without importing TensorFlow)
    DESCRIPTION: ClassVar[str] = "seq2seq GRU forecasts of daily closes (40 -> 40 days), normalised per window"
    DATA_SPECS: ClassVar[tuple[str, ...]] = (
        "bokeh-stocks:IBM (default; also AAPL, MSFT, GOOG)",
        "ohlcv:FILE",
        "stock-cn:FILE",
        "csv:FILE",
    )

    RANGES: ClassVar[dict] = {"input_len": (1, None), "output_len": (1, None), "test_len": (0, None),
                              "skip_rows": (0, None), "val_fraction": (0.0, 1.0), "test_fraction": (0.0, 1.0),
                              "stride": (1, None), "horizon": (1, None), "holdout": (0, None), "units": (1, None),
                              "layers": (1, None), "l2": (0.0, None)}

    data: str = "bokeh-stocks:IBM"
    columns: tuple[str, ...] = ("close",)
    target: str = "close"
    input_len: int = 40
    output_len: int = 40
    test_len: int = 0  # the book tests on 80 -> 80 windows; 0: the training lengths
    # last: each window divided by its last input value; zscore: training mean/std; none: raw prices
    normalise: Literal["last", "zscore", "none"] = "last"
    skip_rows: int = 0  # the book drops the first 1,000 rows
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    stride: int = 1
    horizon: int = 20  # days that `predict` forecasts (free-running, may exceed output_len)
    holdout: int = 0  # predict from this many days before the end of the file, to compare with the truth
    units: int = 12
    layers: int = 2
    l2: float = 0.003
    go: float = 0.0
    mode: Literal["free", "teacher"] = "free"
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(steps=5000, batch_size=100, log_every=100, eval_every=500, ckpt_every=500)
    )
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(optimizer="adam", lr=0.04))

    @classmethod
    def tiny(cls) -> "StockConfig":
        """A few-second configuration for tests."""
        base = cls()
        return replace(base, input_len=10, output_len=5, horizon=3, units=4, stride=5,
                       train=replace(base.train, steps=4, batch_size=8, eval_every=2, ckpt_every=2, log_every=1,
                                     eval_batches=2))

    @classmethod
    def book(cls) -> "StockConfig":
        """The book's run (S0 L16091, L16180): raw prices, first 1,000 rows dropped, 100,000 steps of 100."""
        base = cls()
        return replace(base, normalise="none", skip_rows=1000, test_len=80, val_fraction=0.0001, test_fraction=0.2,
                       train=replace(base.train, steps=100_000, batch_size=100, eval_every=5000, ckpt_every=5000))
