"""The toy tasks' configs (tfzoo.common.toy), apart so that `tfzoo info` reads them without TensorFlow."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar

from tfzoo.common.settings import OptimConfig, TrainConfig


@dataclass(frozen=True)
class LinRegConfig:
    """y = slope·x + noise; the model learns one weight and one bias."""

    DESCRIPTION: ClassVar[str] = "实例1: linear regression of y = 2x from 100 noisy points"
    DATA_SPECS: ClassVar[tuple[str, ...]] = ("generated",)

    data: str = "generated"
    slope: float = 2.0
    noise: float = 0.3
    samples: int = 100
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=400, batch_size=10, eval_every=100, ckpt_every=100, log_every=50))
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(optimizer="sgd", lr=0.05))

    @classmethod
    def tiny(cls) -> LinRegConfig:
        base = cls()
        return replace(base, train=replace(base.train, steps=20, eval_every=10, ckpt_every=10, log_every=5))


@dataclass(frozen=True)
class XorConfig:
    """A two-layer network on the four XOR points (实例30)."""

    DESCRIPTION: ClassVar[str] = "实例30: XOR with one hidden layer"
    DATA_SPECS: ClassVar[tuple[str, ...]] = ("generated",)

    data: str = "generated"
    hidden: int = 8
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=600, batch_size=4, eval_every=200, ckpt_every=200, log_every=100))
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(optimizer="adam", lr=0.05))

    @classmethod
    def tiny(cls) -> XorConfig:
        base = cls()
        return replace(base, train=replace(base.train, steps=10, eval_every=5, ckpt_every=5, log_every=5))
