"""Every knob of nlp.char-lm (实例69), as a frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal

from tfzoo.common.settings import OptimConfig, TrainConfig

Method = Literal["greedy", "sample", "beam"]


@dataclass(frozen=True)
class CharLMConfig:
    """Embedding + stacked LSTM predicting the next character at every position of a window."""

    # what `tfzoo info` and `tfzoo list` say of the task (read without importing TensorFlow)
    DESCRIPTION: ClassVar[str] = "character language model: Embedding + LSTM 256/512/512, bits per character, generation"
    DATA_SPECS: ClassVar[tuple[str, ...]] = ("hsk-zh (default)", "text:FILE[?encoding=gb18030]", "lines:FILE[?regex=]", "names:female|male")

    RANGES: ClassVar[dict] = {"seq_len": (1, None), "stride": (0, None), "max_vocab": (0, None),
                              "min_count": (1, None), "embedding": (1, None), "dropout": (0.0, 0.9),
                              "n": (1, None), "temperature": (0.0, None), "top_k": (0, None),
                              "beam": (1, None), "alpha": (0.0, None)}

    data: str = "hsk-zh"  # records are joined with newlines into one character stream
    seq_len: int = 64  # characters read per window; the next one after each is predicted
    stride: int = 0  # characters between window starts; 0 = seq_len (windows do not overlap)
    last_only: bool = False  # book(): only the last position is trained (4 characters predict the 5th)
    max_vocab: int = 0  # 0 = every character of the training split
    min_count: int = 1
    embedding: int = 256
    units: tuple[int, ...] = (256, 512, 512)
    dropout: float = 0.2
    # generation: `tfzoo predict RUN PROMPT...`, `tfzoo predict RUN -` (interactive)
    prompt: str = ""  # used when predict gets no prompt; "" starts a new line
    n: int = 32  # characters generated (the book's 32)
    method: Method = "greedy"  # the book's mode; sample with temperature/top_k; beam with beam/alpha
    temperature: float = 1.0
    top_k: int = 0
    beam: int = 4
    alpha: float = 0.6
    until_newline: bool = False  # stop a reply at the end of its line (the end token of beam search)
    seed: int = 0
    interactive: bool = False  # predict reads prompts from stdin (same as the input "-")
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=3000, batch_size=32, eval_every=500))
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(optimizer="adam", lr=2e-3, clip_norm=5.0))

    @classmethod
    def tiny(cls) -> CharLMConfig:
        """A few-second configuration for tests."""
        base = cls()
        return replace(base, seq_len=16, embedding=16, units=(16, 16), dropout=0.0, n=8, beam=2,
                       train=replace(base.train, steps=4, batch_size=8, eval_every=2, ckpt_every=2, log_every=1,
                                     eval_batches=2))

    @classmethod
    def book(cls) -> CharLMConfig:
        """实例69 as printed (S0 L14591-L14740): 4 characters predict the 5th, batch 1, Adam 1e-3, 10,000
        iterations, with an embedding (the book fed raw float indices)."""
        base = cls()
        return replace(base, seq_len=4, stride=1, last_only=True, dropout=0.0,
                       optim=OptimConfig(optimizer="adam", lr=1e-3),
                       train=replace(base.train, steps=10_000, batch_size=1, eval_every=1000, log_every=100,
                                     eval_batches=200))
