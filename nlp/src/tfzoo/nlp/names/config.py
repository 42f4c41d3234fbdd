"""Every knob of nlp.names (实例47), as a frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal

from tfzoo.common.settings import OptimConfig, TrainConfig

Method = Literal["sample", "greedy", "beam"]
# names:female has 4,275 names; its 90% training split has 3,847 (book(): 20 epochs of batch 6).
BOOK_TRAIN_NAMES = 3847


@dataclass(frozen=True)
class NamesConfig:
    """Embedding + GRU character model over names; samples names with temperature from a prefix."""

    # what `tfzoo info` and `tfzoo list` say of the task (read without importing TensorFlow)
    DESCRIPTION: ClassVar[str] = "name generator: Embedding 256 + GRU 1024 over first names; novelty, validity, perplexity"
    DATA_SPECS: ClassVar[tuple[str, ...]] = ("names:female (default)", "names:male", "lines:FILE?regex=^[A-Za-z]+")

    RANGES: ClassVar[dict] = {"embedding": (1, None), "units": (1, None), "max_len": (2, None), "n": (1, None),
                              "temperature": (0.0, None), "top_k": (0, None), "beam": (1, None),
                              "eval_samples": (1, None)}

    data: str = "names:female"  # or names:male, lines:FILE?regex=^[A-Za-z]+ (the book's 女孩名字.txt)
    bos: bool = True  # a start token, so the model learns first letters; False samples them from the data
    embedding: int = 256
    units: int = 1024  # GRU units
    cell: Literal["gru", "lstm"] = "gru"
    max_len: int = 16  # characters generated at most per name
    # predict: `tfzoo predict RUN [PREFIX...] --set n=10 --set temperature=0.8`
    prefix: str = ""
    n: int = 10
    method: Method = "sample"
    temperature: float = 1.0
    top_k: int = 0
    beam: int = 4
    seed: int = 0
    interactive: bool = False
    eval_samples: int = 1000  # names sampled by `tfzoo evaluate` for novelty and validity
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=2000, batch_size=64, eval_every=500))
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(optimizer="adam", lr=2e-3, clip_norm=5.0))

    @classmethod
    def tiny(cls) -> NamesConfig:
        """A few-second configuration for tests."""
        base = cls()
        return replace(base, embedding=8, units=16, n=4, eval_samples=20, beam=2,
                       train=replace(base.train, steps=4, batch_size=8, eval_every=2, ckpt_every=2, log_every=1,
                                     eval_batches=2))

    @classmethod
    def book(cls) -> NamesConfig:
        """实例47 as printed (S4 L1274-L1682): Embedding 256, GRU 1024, Adam, batch 6, 20 epochs, a
        checkpoint every 5 epochs."""
        base = cls()
        epoch = BOOK_TRAIN_NAMES // 6
        return replace(base, optim=OptimConfig(optimizer="adam", lr=1e-3),
                       train=replace(base.train, steps=20 * epoch, batch_size=6, ckpt_every=5 * epoch,
                                     eval_every=epoch, log_every=100))
