"""Every knob of timeseries.seq2seq (实例72), as a frozen dataclass."""

from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal

from tfzoo.common.settings import OptimConfig, TrainConfig


@dataclass(frozen=True)
class Seq2SeqConfig:
    """GRU encoder-decoder on generated sin+cos curves: `input_len` past values -> `output_len` future values."""

    # what `tfzoo info` and `tfzoo list` say of the task (read without importing TensorFlow)
    DESCRIPTION: ClassVar[str] = "GRU(12)x2 encoder-decoder, teacher-forced training, free-running forecasts of sin+cos curves"
    DATA_SPECS: ClassVar[tuple[str, ...]] = (
        "sincos (generated from the seed)",
    )

    RANGES: ClassVar[dict] = {"input_len": (1, None), "output_len": (1, None), "plot_len": (1, None),
                              "test_size": (1, None), "units": (1, None), "layers": (1, None), "l2": (0.0, None)}

    data: Literal["sincos"] = "sincos"  # generated from the seed; the only source
    input_len: int = 15
    output_len: int = 15
    plot_len: int = 30  # the book's plots use curves of twice the length
    test_size: int = 1000  # fixed seeded samples in each of val and test
    units: int = 12
    layers: int = 2
    l2: float = 0.003  # times 1/2 ||w||^2 over every weight but the output layer (TF1 l2_loss)
    go: float = 0.0  # the decoder's first input
    mode: Literal["free", "teacher"] = "free"  # free: outputs fed back (forecasts); teacher: true values fed
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            steps=2000, batch_size=10, shuffle_buffer=1, log_every=50, eval_every=500, ckpt_every=500
        )
    )
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(optimizer="adam", lr=0.04))

    @classmethod
    def tiny(cls) -> "Seq2SeqConfig":
        """A few-second configuration for tests."""
        base = cls()
        return replace(base, test_size=20, units=4,
                       train=replace(base.train, steps=4, eval_every=2, ckpt_every=2, log_every=1, eval_batches=2))

    @classmethod
    def book(cls) -> "Seq2SeqConfig":
        """The book's run: 100 steps of batch 10, evaluated at steps 0/50/100."""
        base = cls()
        return replace(base, train=replace(base.train, steps=100, eval_every=50, log_every=10, ckpt_every=100))
