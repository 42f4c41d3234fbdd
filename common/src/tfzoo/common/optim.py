"""Optimisers, learning-rate schedules, plateau decay, weight EMA and clipping.

``build_optimizer(cfg, total_steps=...)`` turns an :class:`OptimConfig` into a
Keras optimizer whose schedule serialises with it, so optimizer state can be
checkpointed and reloaded.
"""

from __future__ import annotations

import contextlib

import keras
import tensorflow as tf

from tfzoo.common.errors import ConfigError
from tfzoo.common.settings import OPTIMIZERS, SCHEDULES, OptimConfig

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "LinearWarmup",
    "NoamSchedule",
    "OptimConfig",
    "PlateauDecay",
    "WeightEMA",
    "build_optimizer",
    "build_plateau",
    "build_schedule",
    "clip_gradients",
]

Schedule = keras.optimizers.schedules.LearningRateSchedule


@keras.saving.register_keras_serializable(package="tfzoo")
class LinearWarmup(Schedule):
    """Linear warm-up from 0 to ``schedule(warmup_steps)``, then ``schedule``.

    The wrapped schedule sees the global step unchanged, so its own oracles
    hold after the warm-up and the ramp meets it without a jump.

    Args:
        schedule: a float or a ``LearningRateSchedule``.
        warmup_steps: length of the ramp in optimizer steps (> 0).
    """

    def __init__(self, *, schedule, warmup_steps: int):
        if warmup_steps <= 0:
            raise ValueError(f"warmup_steps must be > 0, got {warmup_steps}")
        self.schedule = schedule
        self.warmup_steps = int(warmup_steps)

    def _target(self, step):
        if isinstance(self.schedule, Schedule):
            return self.schedule(step)
        return tf.constant(self.schedule, tf.float32)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warm = float(self.warmup_steps)
        ramp = self._target(warm) * step / warm
        return tf.where(step < warm, ramp, self._target(step))

    def get_config(self):
        schedule = self.schedule
        if isinstance(schedule, Schedule):
            schedule = keras.saving.serialize_keras_object(schedule)
        return {"schedule": schedule, "warmup_steps": self.warmup_steps}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config["schedule"], dict):
            config["schedule"] = keras.saving.deserialize_keras_object(config["schedule"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="tfzoo")
class NoamSchedule(Schedule):
    """The Transformer's schedule, scaled so its peak (at ``warmup_steps``) is ``lr``.

    ``lr * min(s / warmup, sqrt(warmup / s))`` with ``s = step + 1``: a linear
    rise, then decay as 1/sqrt(step). Vaswani et al.'s ``d_model ** -0.5`` factor
    is folded into ``lr``.
    """

    def __init__(self, *, lr: float, warmup_steps: int):
        if warmup_steps <= 0:
            raise ValueError(f"noam needs warmup_steps > 0, got {warmup_steps}")
        self.lr = float(lr)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        # Step 0 is the first update; counting from 1 avoids a zero rate there.
        s = tf.cast(step, tf.float32) + 1.0
        w = float(self.warmup_steps)
        return self.lr * tf.minimum(s / w, tf.sqrt(w / s))

    def get_config(self):
        return {"lr": self.lr, "warmup_steps": self.warmup_steps}


def build_schedule(cfg: OptimConfig, *, total_steps: int) -> float | Schedule:
    """The learning rate of ``cfg``: a float for constant rates, else a schedule.

    ``step`` is exponential decay with ``staircase=True`` (the rate is multiplied
    by ``decay_rate`` every ``decay_steps``); ``cosine`` decays to 0 over
    ``total_steps``; ``plateau`` is a constant rate that :class:`PlateauDecay`
    lowers. ``warmup_steps > 0`` adds a linear warm-up (noam has its own).
    """
    kind = cfg.schedule
    sch = keras.optimizers.schedules
    if kind not in SCHEDULES:
        raise ConfigError(f"unknown schedule {kind!r}; valid: {', '.join(SCHEDULES)}")
    if kind in ("exponential", "step", "inverse_time") and cfg.decay_steps <= 0:
        raise ConfigError(f"schedule {kind!r} needs decay_steps > 0, got {cfg.decay_steps}")
    if kind in ("constant", "plateau"):
        base = float(cfg.lr)
    elif kind in ("exponential", "step"):
        base = sch.ExponentialDecay(
            cfg.lr, cfg.decay_steps, cfg.decay_rate, staircase=cfg.staircase or kind == "step"
        )
    elif kind == "piecewise":
        if not cfg.boundaries or len(cfg.values) != len(cfg.boundaries) + 1:
            raise ConfigError(
                "schedule 'piecewise' needs len(values) == len(boundaries) + 1, got "
                f"{len(cfg.values)} values and {len(cfg.boundaries)} boundaries"
            )
        base = sch.PiecewiseConstantDecay(list(cfg.boundaries), [float(v) for v in cfg.values])
    elif kind == "cosine":
        base = sch.CosineDecay(cfg.lr, decay_steps=max(int(total_steps), 1))
    elif kind == "inverse_time":
        base = sch.InverseTimeDecay(cfg.lr, cfg.decay_steps, cfg.decay_rate, staircase=cfg.staircase)
    else:  # noam
        if cfg.warmup_steps <= 0:
            raise ConfigError("schedule 'noam' needs warmup_steps > 0")
        return NoamSchedule(lr=cfg.lr, warmup_steps=cfg.warmup_steps)
    if cfg.warmup_steps > 0:
        if kind == "plateau":
            # PlateauDecay assigns the optimizer's rate, which a schedule forbids.
            raise ConfigError("schedule 'plateau' cannot be combined with warmup_steps > 0")
        return LinearWarmup(schedule=base, warmup_steps=cfg.warmup_steps)
    return base


def build_optimizer(cfg: OptimConfig, *, total_steps: int) -> keras.optimizers.Optimizer:
    """A Keras optimizer named by ``cfg.optimizer`` with the schedule of ``cfg``.

    ``weight_decay > 0`` is Keras's decoupled decay (for ``adamw`` it is *the*
    weight decay). Gradient clipping is left to the trainer (:func:`clip_gradients`).
    """
    name = cfg.optimizer.lower()
    if name not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {cfg.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
    lr = build_schedule(cfg, total_steps=total_steps)
    wd = {"weight_decay": cfg.weight_decay} if cfg.weight_decay > 0 else {}
    opt = keras.optimizers
    if name == "sgd":
        return opt.SGD(lr, momentum=cfg.momentum, nesterov=cfg.nesterov, **wd)
    if name == "adam":
        return opt.Adam(lr, **wd)
    if name == "adamw":
        return opt.AdamW(lr, weight_decay=cfg.weight_decay)
    if name == "rmsprop":
        return opt.RMSprop(lr, momentum=cfg.momentum, **wd)
    if name == "adagrad":
        return opt.Adagrad(lr, **wd)
    if name == "adadelta":
        return opt.Adadelta(lr, **wd)
    return opt.Ftrl(lr, **wd)


def clip_gradients(grads, clip_norm: float):
    """Scale ``grads`` so their global norm is at most ``clip_norm`` (0 = unchanged).

    ``None`` entries (unconnected variables) pass through.
    """
    if not clip_norm or clip_norm <= 0:
        return list(grads)
    clipped, _ = tf.clip_by_global_norm(list(grads), clip_norm)
    return clipped


class PlateauDecay(tf.Module):
    """Lower the learning rate when the loss stops improving (实例74).

    ``update(loss)`` multiplies ``optimizer.learning_rate`` by ``factor`` when
    ``loss`` exceeds the maximum of the previous ``window`` evaluations (the
    book's ``loss > max(previous_losses[-3:])``), then records ``loss``. The
    history lives in variables (``.variables``) so a ``tf.train.Checkpoint``
    holding this object resumes it; ``state()``/``load_state()`` do the same
    through plain Python values.

    Args:
        optimizer: a Keras optimizer built with a float (settable) learning rate.
        factor: multiplier in (0, 1).
        window: how many previous evaluations to compare against.
        min_lr: the rate is never lowered below this.
    """

    def __init__(self, *, optimizer, factor: float = 0.5, window: int = 3, min_lr: float = 0.0):
        super().__init__(name="plateau_decay")
        if isinstance(getattr(optimizer, "_learning_rate", None), Schedule):
            raise ConfigError("PlateauDecay needs an optimizer with a constant learning rate")
        if not 0.0 < factor < 1.0:
            raise ConfigError(f"plateau factor must be in (0, 1), got {factor}")
        if window < 1:
            raise ConfigError(f"plateau window must be >= 1, got {window}")
        # A closure, not an attribute, so checkpointing this object does not
        # also pull in (and duplicate) the optimizer's slots.
        self._optimizer = lambda: optimizer
        self.factor = float(factor)
        self.window = int(window)
        self.min_lr = float(min_lr)
        self.history = tf.Variable(tf.zeros([self.window], tf.float64), trainable=False, name="history")
        self.count = tf.Variable(0, dtype=tf.int64, trainable=False, name="count")

    def update(self, loss: float) -> bool:
        """Record ``loss``; return True when the learning rate was lowered."""
        loss = float(loss)
        n = int(self.count.numpy())
        seen = self.history.numpy()[max(self.window - n, 0) :]
        lowered = False
        if n >= self.window and loss > seen.max():
            opt = self._optimizer()
            lr = float(tf.convert_to_tensor(opt.learning_rate).numpy())
            new = max(lr * self.factor, self.min_lr)
            if new < lr:
                opt.learning_rate = new
                lowered = True
        self.history.assign(tf.concat([self.history[1:], tf.constant([loss], tf.float64)], 0))
        self.count.assign_add(1)
        return lowered

    def state(self) -> dict:
        """History and count as JSON-friendly values."""
        return {"history": self.history.numpy().tolist(), "count": int(self.count.numpy())}

    def load_state(self, state: dict) -> None:
        """Restore what :meth:`state` returned."""
        if len(state["history"]) != self.window:
            raise ValueError(f"history has {len(state['history'])} entries, window is {self.window}")
        self.history.assign(tf.constant(state["history"], tf.float64))
        self.count.assign(int(state["count"]))


def build_plateau(cfg: OptimConfig, *, optimizer) -> PlateauDecay | None:
    """The :class:`PlateauDecay` of ``cfg`` for ``optimizer``; None unless ``schedule="plateau"``."""
    if cfg.schedule != "plateau":
        return None
    return PlateauDecay(optimizer=optimizer, factor=cfg.plateau_factor, window=cfg.plateau_patience)


class WeightEMA(tf.Module):
    """Exponential moving average of variables (``tf.train.ExponentialMovingAverage``).

    ``update(num_updates)`` sets each shadow to ``d * shadow + (1 - d) * var``
    with ``d = min(decay, (1 + n) / (10 + n))`` when ``num_updates`` is given,
    else ``d = decay``; the ramp lets the shadows track quickly at the start.
    Shadows start at the variables' current values. Use :meth:`swapped` to
    evaluate or export with the averaged weights. Create it under the same
    strategy scope as the model; every replica computes the same update.

    Args:
        variables: the variables to average (e.g. ``model.trainable_variables``).
        decay: the decay, typically 0.99 or 0.999.
    """

    def __init__(self, variables, *, decay: float = 0.999):
        super().__init__(name="weight_ema")
        if not 0.0 <= decay < 1.0:
            raise ConfigError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = float(decay)
        targets = tuple(variables)
        # A closure, so the checkpoint holds the shadows, not a second path to the model.
        self._targets = lambda: targets
        self.shadows = [
            tf.Variable(
                tf.identity(v),
                trainable=False,
                name=f"ema_{i}",
                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
            )
            for i, v in enumerate(self._targets())
        ]

    def update(self, num_updates=None):
        """Move every shadow towards its variable; usable inside ``tf.function``."""
        decay = tf.constant(self.decay, tf.float32)
        if num_updates is not None:
            n = tf.cast(num_updates, tf.float32)
            decay = tf.minimum(decay, (1.0 + n) / (10.0 + n))
        for shadow, var in zip(self.shadows, self._targets(), strict=True):
            d = tf.cast(decay, shadow.dtype)
            shadow.assign(d * shadow + (1.0 - d) * tf.cast(var, shadow.dtype))

    def average(self, variable):
        """The shadow of ``variable``."""
        for shadow, var in zip(self.shadows, self._targets(), strict=True):
            if var is variable:
                return shadow
        raise KeyError(f"{getattr(variable, 'path', variable)} is not averaged")

    def copy_to_targets(self) -> None:
        """Overwrite the variables with their averages (e.g. before export)."""
        for shadow, var in zip(self.shadows, self._targets(), strict=True):
            var.assign(shadow)

    @contextlib.contextmanager
    def swapped(self):
        """Temporarily use the averaged weights: ``with ema.swapped(): evaluate()``."""
        saved = [tf.identity(v) for v in self._targets()]
        self.copy_to_targets()
        try:
            yield self
        finally:
            for var, value in zip(self._targets(), saved, strict=True):
                var.assign(value)

