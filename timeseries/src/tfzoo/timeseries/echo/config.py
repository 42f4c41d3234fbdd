"""Every knob of timeseries.echo (实例56), as a frozen dataclass."""

from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal

from tfzoo.common.settings import OptimConfig, TrainConfig


@dataclass(frozen=True)
class EchoConfig:
    """Echo of random bits: a stateful SimpleRNN learns y_t = x_{t-echo_step}.

    `train.batch_size` is the number of parallel streams (the book's 5); each epoch regenerates
    `series_length` bits, cuts them into `batch_size` streams and those into chunks of `chunk` steps
    (truncated back-propagation), so one epoch is `series_length // batch_size // chunk` steps (666).
    `train.steps = 0` means `epochs` epochs.
    """

    # what `tfzoo info` and `tfzoo list` say of the task (read without importing TensorFlow)
    DESCRIPTION: ClassVar[str] = "echo of random bits: stateful SimpleRNN(4) + Dense(2), truncated BPTT over 5 streams"
    DATA_SPECS: ClassVar[tuple[str, ...]] = (
        "echo (generated from the seed, new bits every epoch)",
    )

    RANGES: ClassVar[dict] = {"series_length": (1, None), "val_length": (1, None), "chunk": (2, None),
                              "echo_step": (1, None), "units": (1, None), "epochs": (0, None)}

    data: Literal["echo"] = "echo"  # generated bits; the only source
    series_length: int = 50_000
    val_length: int = 10_000  # one fixed, differently seeded series for validation and test
    chunk: int = 15  # truncated_backprop_length
    echo_step: int = 3
    units: int = 4
    carry_state: bool = True  # false: the stateless ablation (state zeroed at every chunk)
    epochs: int = 5  # the book's code runs 5 (its text says 10)
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            steps=0, batch_size=5, shuffle_buffer=1, log_every=111, eval_every=666, ckpt_every=666
        )
    )
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(optimizer="adagrad", lr=0.3))

    @classmethod
    def tiny(cls) -> "EchoConfig":
        """A few-second configuration for tests: 4 chunks an epoch."""
        base = cls()
        return replace(
            base,
            series_length=300,
            val_length=150,
            train=replace(base.train, steps=8, eval_every=4, ckpt_every=4, log_every=1),
        )
