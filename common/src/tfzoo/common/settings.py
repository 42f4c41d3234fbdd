"""The settings every task config nests, `train` (TrainConfig) and `optim` (OptimConfig).

Plain dataclasses that import no TensorFlow, so that config modules stay cheap to import:
`tfzoo info TASK` and `tfzoo --help` answer without loading TensorFlow. `tfzoo.common.train` and
`tfzoo.common.optim` re-export them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, get_args

__all__ = ["OPTIMIZERS", "SCHEDULES", "OptimConfig", "OptimizerName", "ScheduleName", "TrainConfig"]


@dataclass(frozen=True)
class TrainConfig:
    """How long and how the trainer runs; every task config nests one as `train`."""

    RANGES: ClassVar[dict] = {"steps": (0, None), "batch_size": (1, None), "log_every": (1, None),
                              "eval_every": (1, None), "eval_batches": (0, None), "ckpt_every": (1, None),
                              "ckpt_secs": (0.0, None), "keep": (1, None), "patience": (0, None),
                              "min_delta": (0.0, None), "shuffle_buffer": (1, None)}

    steps: int = 2000
    batch_size: int = 64
    seed: int = 0
    log_every: int = 50
    eval_every: int = 500
    eval_batches: int = 0  # 0 evaluates the whole split; tiny configs cap it
    ckpt_every: int = 500
    ckpt_secs: float = 0.0  # also save when this many seconds passed; 0 = off
    keep: int = 3
    patience: int = 0  # evaluations without improvement before stopping; 0 = never stop early
    min_delta: float = 0.0
    restore_best: bool = True
    deterministic: bool = True
    jit_compile: bool = False  # XLA is 2-3x slower on the project CPU
    shuffle_buffer: int = 10_000


OptimizerName = Literal["sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "ftrl"]
ScheduleName = Literal["constant", "exponential", "step", "piecewise", "cosine", "inverse_time", "noam", "plateau"]
OPTIMIZERS = get_args(OptimizerName)
SCHEDULES = get_args(ScheduleName)


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser and learning-rate settings of a task (``--set optim.lr=...``)."""

    RANGES: ClassVar[dict] = {"lr": (0.0, None), "decay_steps": (1, None), "decay_rate": (0.0, None),
                              "warmup_steps": (0, None), "momentum": (0.0, 1.0), "weight_decay": (0.0, None),
                              "clip_norm": (0.0, None), "plateau_factor": (0.0, 1.0), "plateau_patience": (1, None)}

    optimizer: OptimizerName = "adam"
    lr: float = 1e-3
    schedule: ScheduleName = "constant"
    decay_steps: int = 1000
    decay_rate: float = 0.9
    staircase: bool = False
    boundaries: tuple[int, ...] = ()
    values: tuple[float, ...] = ()
    warmup_steps: int = 0
    momentum: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    clip_norm: float = 0.0  # global-norm clipping applied by TrainState.minimize in every step; 0 = off
    plateau_factor: float = 0.5
    plateau_patience: int = 3
