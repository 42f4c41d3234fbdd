"""The one training loop: a `tf.function` step under any `tf.distribute` strategy.

Keras 3 `fit` cannot train under MultiWorkerMirroredStrategy or
ParameterServerStrategy (keras-team/keras#20585), so tfzoo runs its own loop.
Resume is exact: the data order depends only on the seed, so a restored step
count tells which batch comes next, augmentation draws stateless seeds from
the example's position, and model RNG state is in the checkpoint.
"""

from __future__ import annotations

import math
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfzoo.common import config as cfg
from tfzoo.common.checkpoint import Checkpoints
from tfzoo.common.distribute import is_chief, task_role, tf_config
from tfzoo.common.errors import ConfigError, DataError, UserError
from tfzoo.common.logging import MetricsLog, Progress, Summaries, format_values
from tfzoo.common.optim import build_plateau
from tfzoo.common.run import Run, RunLock, model_key
from tfzoo.common.settings import TrainConfig
from tfzoo.common.task import Task, TrainState

# Keys that may change when a run resumes: they alter how long or how often, not what is learned.
RESUMABLE_KEYS = {"train.steps", "train.eval_every", "train.log_every", "train.ckpt_every", "train.ckpt_secs"}


class Interrupted(UserError):
    """SIGINT or SIGTERM: the current step finished and a checkpoint was written."""

    exit_code = 4


def seed_everything(seed: int, *, deterministic: bool = True) -> None:
    """Seed Python, NumPy and TensorFlow; turn on op determinism (CPU-safe)."""
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


class Trainer:
    """Train `task` with `config` into `run_dir`, resuming when it already holds checkpoints."""

    def __init__(
        self,
        *,
        task: Task,
        config: Any,
        run_dir: str | Path,
        strategy: tf.distribute.Strategy | None = None,
        force: bool = False,
        verbose: bool = True,
    ) -> None:
        self.task = task
        self.config = config
        self.tc: TrainConfig = config.train
        self.strategy = strategy or tf.distribute.get_strategy()
        self.chief = is_chief(self.strategy)
        self.run = Run(run_dir, task=task, config=config)
        self.run._trainer = self
        self.force = force
        self.verbose = verbose and self.chief
        self.parameter_server = isinstance(self.strategy, tf.distribute.experimental.ParameterServerStrategy)
        self._stop_signal: int | None = None

    # ----- setup ---------------------------------------------------------------
    def _check_resume_config(self) -> None:
        if self.run.path.exists() and not self.run.path.is_dir():
            raise ConfigError(f"--run-dir {self.run.path}: a file, expected a directory")
        if not self.run.config_file.exists():
            return
        previous_task = self.run.task_name() or self.task.name
        if previous_task != self.task.name:
            raise ConfigError(f"{self.run.path} holds a {previous_task} run, not {self.task.name}")
        old = self.run.read_config(self.task.config_class)
        changed = set(cfg.changed_keys(old, self.config)) - RESUMABLE_KEYS
        # A first attempt that saved no checkpoint (bad settings, killed at once) may be retried freely.
        trained = any(self.run.checkpoints.glob("ckpt-*.index"))
        if changed and trained and not self.force:
            raise ConfigError(
                f"{self.run.path} was trained with other settings ({', '.join(sorted(changed))}); "
                "use another --run-dir, or --force to continue anyway"
            )

    def _build(self, info: dict[str, Any], total_steps: int) -> None:
        with self.strategy.scope():
            self.models = self.task.build_models(self.config, info)
            self.optimizers = self.task.build_optimizers(self.config, self.models, total_steps=total_steps)
            for name, optimizer in self.optimizers.items():
                if name in self.models:
                    # Build slots now so a restore fills them instead of deferring.
                    optimizer.build(self.models[name].trainable_variables)
                if self.parameter_server:
                    _atomic_iterations(optimizer)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            self.best_value = tf.Variable(math.inf, dtype=tf.float64, trainable=False, name="best_value")
            self.bad_evals = tf.Variable(0, dtype=tf.int64, trainable=False, name="bad_evals")
            self.metrics = self.task.metrics(self.config, info)
        self.run.models, self.run.info = self.models, info
        self.state = TrainState(
            models=self.models,
            optimizers=self.optimizers,
            step=self.step,
            config=self.config,
            info=info,
            global_batch_size=self.tc.batch_size,
        )
        trackables = {model_key(k): v for k, v in self.models.items()}
        trackables.update({f"rng_{k}": _rng_states(v) for k, v in self.models.items()})
        trackables.update({f"optimizer_{k}": v for k, v in self.optimizers.items()})
        trackables.update(step=self.step, best_value=self.best_value, bad_evals=self.bad_evals)
        trackables.update(self.task_trackables())
        # Plateau decay (实例74) lowers the LR of the first optimiser after an evaluation.
        first = next(iter(self.optimizers.values()), None)
        self.plateau = build_plateau(self.config.optim, optimizer=first) if first is not None else None
        if self.plateau is not None:
            trackables["plateau"] = self.plateau
        ckpt_dir = self.run.checkpoints if self.chief else self._worker_tmp()
        if not self.chief:
            shutil.rmtree(ckpt_dir, ignore_errors=True)  # a killed run's stale scratch copy
        required = tuple(model_key(k) for k in self.models)
        self.checkpoints = Checkpoints(ckpt_dir, keep=self.tc.keep, trackables=trackables, required=required)
        # Every worker resumes from the chief's checkpoints (run_dir is on a filesystem they share),
        # so a restarted multi-worker job starts from one state on all of them.
        self.resume_from = (
            self.checkpoints if self.chief
            else Checkpoints(self.run.checkpoints, keep=self.tc.keep, trackables=trackables, required=required)
        )

    def task_trackables(self) -> dict[str, Any]:
        """Extra state the task keeps in `state.extras` that must be checkpointed."""
        return {k: v for k, v in self.state.extras.items() if isinstance(v, (tf.Variable, tf.Module))}

    def _worker_tmp(self) -> Path:
        # Collective ops need every worker to save; non-chief copies go to a scratch folder.
        kind, index = task_role()
        return self.run.path / f".scratch-{kind}-{index}"

    # ----- data ------------------------------------------------------------------
    def _train_batches(self, data: Any, step: int) -> Any:
        """The batches from training step `step` on, the same ones whether resumed or not.

        The shuffle is seeded by the run seed and reshuffles each epoch in a fixed
        sequence, so skipping `step` batches of examples (before any decoding or
        augmentation) lands exactly where an uninterrupted run would be.
        A task with its own `batch` (padded, bucketed by length) may put a varying number of
        examples in a batch, so there the pipeline skips `step` whole batches instead: exact too,
        at the cost of mapping the skipped examples again.
        """
        seed = (self.tc.seed * 1_000_003) % (2**31 - 1)
        buffer = min(data.size, self.tc.shuffle_buffer)
        fixed = type(self.task).batch is Task.batch
        ds = data.dataset.shuffle(buffer, seed=seed, reshuffle_each_iteration=True).repeat().enumerate()
        if fixed:
            ds = ds.skip(step * self.tc.batch_size)
        ds = ds.map(
            lambda index, *example: self.task.train_map(
                self.config, self.info, _one(example), tf.stack([tf.constant(seed, tf.int64), index])
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        ds = self.task.batch(self.config, self.info, ds, "train")
        if not fixed:
            ds = ds.skip(step)
        return self.strategy.experimental_distribute_dataset(ds.prefetch(tf.data.AUTOTUNE))

    def eval_batches(self, data: Any, *, limit: int = 0, distribute: bool = True) -> Any:
        """Every example of a split (or the first `limit` batches), mapped and batched for evaluation."""
        ds = data.dataset.map(
            lambda *example: self.task.eval_map(self.config, self.info, _one(example)),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        ds = self.task.batch(self.config, self.info, ds, "eval")
        if limit:
            ds = ds.take(limit)
        ds = ds.prefetch(tf.data.AUTOTUNE)
        # Under parameter-server the chief evaluates by itself, reading the variables from the ps.
        if not distribute or self.parameter_server:
            return ds
        return self.strategy.experimental_distribute_dataset(ds)

    # ----- compiled steps ------------------------------------------------------------
    def _make_train_fn(self):
        strategy, task, state, step = self.strategy, self.task, self.state, self.step

        def train_fn(batch):
            out = strategy.run(task.train_step, args=(state, batch))
            step.assign_add(1)
            return {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for k, v in out.items()}

        # reduce_retracing: length-bucketed batches (speech, text) have a few shapes; after the first
        # ones the step is traced once for any length instead of once per shape.
        return tf.function(train_fn, jit_compile=self.tc.jit_compile, reduce_retracing=True)

    def _make_eval_fn(self):
        strategy, task, state, metrics = self.strategy, self.task, self.state, self.metrics

        def eval_fn(batch):
            if self.parameter_server:
                return task.eval_step(state, batch, metrics)
            return strategy.run(task.eval_step, args=(state, batch, metrics))

        return tf.function(eval_fn, reduce_retracing=True)

    def evaluate(self, data: Any, *, limit: int = 0) -> dict[str, Any]:
        """Stream the metrics over a split (the whole split unless `limit` batches), then add the
        task's corpus metrics (`Task.aggregate`) over what its eval_step returned."""
        for metric in self.metrics.values():
            metric.reset_state()
        if not hasattr(self, "_eval_fn"):
            self._eval_fn = self._make_eval_fn()
        outputs = []
        for batch in self.eval_batches(data, limit=limit):
            out = self._eval_fn(batch)
            if out:
                outputs.extend(_per_replica_numpy(self.strategy, out))
        values = {name: np.asarray(metric.result()) for name, metric in self.metrics.items()}
        values.update(self.task.aggregate(self.config, self.info, outputs))
        return values

    # ----- signals --------------------------------------------------------------------
    def _install_signal_handlers(self):
        if threading.current_thread() is not threading.main_thread():
            return {}

        def handler(signum, _frame):
            self._stop_signal = signum

        return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore(self) -> str:
        """Rebuild the models of a finished or running run and load its newest checkpoint."""
        self.info = self.run.read_info()
        self._build(self.info, sum(stage.steps for stage in self.task.stages(self.config)))
        path = self.checkpoints.restore_latest()
        if path is None:
            raise UserError(f"{self.run.path}: no checkpoint to load in {self.run.checkpoints}")
        return path

    # ----- the loop ---------------------------------------------------------------------
    def fit(self) -> dict[str, Any]:
        """Train to `train.steps`; returns the last train and validation values.

        The chief holds the run directory's lock while it trains, so a second trainer on the
        same directory refuses instead of interleaving checkpoints and logs.
        """
        self._check_resume_config()
        if not self.chief:
            return self._fit()
        try:
            lock = RunLock(self.run.path).__enter__()
        except OSError as err:
            raise ConfigError(f"--run-dir {self.run.path}: cannot write there ({err.strerror})") from None
        try:
            return self._fit()
        finally:
            lock.__exit__()

    def _fit(self) -> dict[str, Any]:
        seed_everything(self.tc.seed, deterministic=self.tc.deterministic)
        train = self.task.data(self.config, "train")
        val = self.task.data(self.config, "val")
        steps_per_epoch = train.size // self.tc.batch_size
        if steps_per_epoch == 0:
            raise DataError(
                f"{self.config.data}: {train.size} training examples, fewer than one batch of "
                f"{self.tc.batch_size}; lower train.batch_size"
            )
        info = self.info = self.task.data_info(self.config, train)
        stages = self.task.stages(self.config)
        total = sum(stage.steps for stage in stages)
        self._build(info, total)
        restored = self.resume_from.restore_latest()
        if self.chief:
            # The record is written once the data is read, the models built and any checkpoint restored,
            # so a bad --data, config or architecture leaves an existing run's record as it was.
            self.run.write_record(task_name=self.task.name, config=self.config, info=info)
        log = MetricsLog(self.run.metrics_file, enabled=self.chief)
        summaries = Summaries(self.run.tensorboard, enabled=self.chief)
        progress = Progress(total=total, enabled=self.verbose)
        start = int(self.step.numpy())
        if restored:
            progress.message(f"resumed {self.run.path} at step {start}")
        if self.parameter_server:
            steps = self._parameter_server_steps(train, start, stages, total)
        else:
            steps = self._local_steps(train, start, stages, total)
        previous_handlers = self._install_signal_handlers()
        last_eval: dict[str, Any] = {}
        window: list[dict[str, Any]] = []
        window_start, last_save = time.perf_counter(), time.monotonic()
        stopped_early = False
        step = start
        if total == 0 and not restored:
            # A run with nothing to train (train.steps=0: evaluate or predict with the initial weights,
            # e.g. a loaded weights file) still leaves a checkpoint that `evaluate` and `predict` open.
            self.checkpoints.save(0)
        try:
            for step, stage, out in steps:
                window.append(out)
                if step % self.tc.log_every == 0 or step == total:
                    fetched = [_fetch(out) for out in window]
                    values = {k: float(np.mean([f[k] for f in fetched])) for k in fetched[0]}
                    values["lr"] = self._current_lr()
                    rate = len(window) * self.tc.batch_size / (time.perf_counter() - window_start)
                    values["samples_per_sec"] = rate
                    log.write(step=step, split="train", values=values, stage=stage.name)
                    summaries.scalars(step, values, prefix="train")
                    progress.update(step, values, rate)
                    window, window_start = [], time.perf_counter()
                if val is not None and (step % self.tc.eval_every == 0 or step == total):
                    last_eval = self.evaluate(val, limit=self.tc.eval_batches)
                    log.write(step=step, split="val", values=last_eval, stage=stage.name)
                    summaries.scalars(step, last_eval, prefix="val")
                    progress.message(f"step {step} val  {format_values(last_eval)}")
                    stopped_early = self._early_stopping(step, last_eval)
                    if self.plateau is not None and "loss" in last_eval and self.plateau.update(float(last_eval["loss"])):
                        progress.message(f"step {step}: loss plateaued, learning rate now {self._current_lr():.3g}")
                    self._after_eval(step, summaries)
                due = step % self.tc.ckpt_every == 0 or (
                    self.tc.ckpt_secs and time.monotonic() - last_save >= self.tc.ckpt_secs
                )
                if due or step == total or self._stop_signal or stopped_early:
                    self.checkpoints.save(step)
                    last_save = time.monotonic()
                if self._stop_signal:
                    raise Interrupted(f"interrupted at step {step}; checkpoint saved in {self.run.checkpoints}")
                if stopped_early:
                    break
            if stopped_early and self.tc.restore_best and self.checkpoints.restore_best():
                progress.message(f"early stop at step {step}; restored the best checkpoint")
        finally:
            for sig, old in previous_handlers.items():
                signal.signal(sig, old)
            if not self.chief:
                shutil.rmtree(self._worker_tmp(), ignore_errors=True)
        return {"run_dir": str(self.run.path), "step": int(self.step.numpy()), "val": last_eval}

    def _local_steps(self, train: Any, start: int, stages: list, total: int):
        """Yield (step, stage, values) for one-process and mirrored/multi-worker strategies."""
        step = start
        while step < total:
            stage = self.state.stage = _stage_at(stages, step)
            train_fn = self._make_train_fn()  # one trace per stage: steps may branch on it
            for batch in self._train_batches(train, step):
                out = train_fn(batch)
                step += 1
                yield step, stage, out
                if step == total or _stage_at(stages, step) is not stage:
                    break

    def _parameter_server_steps(self, train: Any, start: int, stages: list, total: int):
        """Yield (step, stage, remote values) scheduled on parameter-server workers.

        Workers run asynchronously, so the data order cannot be replayed exactly
        on resume: each resume reshuffles with a seed derived from the step. The
        chief joins the workers before it logs, evaluates or saves, so those see
        every scheduled step applied.
        """
        coordinator = tf.distribute.coordinator.ClusterCoordinator(self.strategy)
        seed = (self.tc.seed * 1_000_003 + start) % (2**31 - 1)
        workers = len(tf_config()["cluster"]["worker"])

        def dataset_fn():
            # Traced on the chief and run as a graph on every worker, so it builds the data itself (a
            # dataset made on the chief cannot be sent, and Python-side readers such as from_generator
            # cannot run there). Each worker reads its own shard.
            data = self.task.data(self.config, "train")
            worker = tf.cast(tf.distribute.coordinator.experimental_get_current_worker_index(), tf.int64)
            ds = data.dataset.shard(workers, worker)
            ds = ds.shuffle(min(data.size, self.tc.shuffle_buffer), seed=seed).repeat().enumerate()
            ds = ds.map(
                lambda i, *ex: self.task.train_map(self.config, self.info, _one(ex), tf.stack([seed + worker, i]))
            )
            return self.task.batch(self.config, self.info, ds, "train").prefetch(tf.data.AUTOTUNE)

        iterator = iter(coordinator.create_per_worker_dataset(dataset_fn))
        every = (self.tc.log_every, self.tc.eval_every, self.tc.ckpt_every)
        stage = None
        for step in range(start + 1, total + 1):
            if _stage_at(stages, step - 1) is not stage:
                coordinator.join()
                stage = self.state.stage = _stage_at(stages, step - 1)
                worker_fn = self._make_worker_fn()
            out = coordinator.schedule(worker_fn, args=(iterator,))
            if step == total or self._stop_signal or any(step % n == 0 for n in every):
                coordinator.join()  # logs, evaluation and checkpoints need every scheduled step applied
            yield step, stage, out

    def _make_worker_fn(self):
        strategy, task, state, step = self.strategy, self.task, self.state, self.step

        def worker_fn(iterator):
            out = strategy.run(task.train_step, args=(state, next(iterator)))
            step.assign_add(1)
            return {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for k, v in out.items()}

        return tf.function(worker_fn)

    def _current_lr(self) -> float:
        optimizer = next(iter(self.optimizers.values()), None)
        if optimizer is None:
            return float("nan")
        lr = optimizer.learning_rate
        return float(lr.numpy() if hasattr(lr, "numpy") else lr)

    def _early_stopping(self, step: int, values: dict[str, Any]) -> bool:
        name = self.task.monitor
        if name not in values:
            return False
        value = float(values[name])
        sign = 1.0 if self.task.monitor_mode == "min" else -1.0
        if sign * value < sign * float(self.best_value.numpy()) - self.tc.min_delta or math.isinf(
            float(self.best_value.numpy())
        ):
            self.best_value.assign(value)
            self.bad_evals.assign(0)
            self.checkpoints.save_best(step)
            return False
        self.bad_evals.assign_add(1)
        return bool(self.tc.patience) and int(self.bad_evals.numpy()) >= self.tc.patience

    def _after_eval(self, step: int, summaries: Summaries) -> None:
        """Refresh the training curves after each evaluation (chief only)."""
        if not self.chief:
            return
        from tfzoo.common import plots

        png = plots.curves(self.run.metrics_file, self.run.plots / "curves.png")
        summaries.image(step, "curves", png)
        for path in self.task.during_training(self.run, step):
            summaries.image(step, Path(path).stem, path)


def _atomic_iterations(optimizer: keras.optimizers.Optimizer) -> None:
    """Count `optimizer.iterations` with one atomic op on the parameter server.

    Keras 3's `Variable.assign_add` reads, adds and assigns, so two workers that
    apply gradients at once lose counts (keras-team/keras#18668), and schedules
    and Adam's bias correction fall behind `step`. Slot updates stay asynchronous
    (Hogwild), as in TF1 parameter-server training; the weights themselves are
    updated with tf.Variable.assign_sub, which is atomic.
    """
    counter = optimizer._iterations
    counter.assign_add = lambda value: counter.value.assign_add(tf.cast(value, counter.dtype))


def _stage_at(stages: list, step: int):
    end = 0
    for stage in stages:
        end += stage.steps
        if step < end:
            return stage
    return stages[-1]


def _rng_states(model: keras.Model) -> tf.Module:
    """The model's random-seed states (dropout, noise layers), which Keras does not checkpoint itself."""
    weights = {id(w) for w in model.weights}
    holder = tf.Module()
    holder.states = [v for v in model.variables if id(v) not in weights]
    return holder


def _per_replica_numpy(strategy: tf.distribute.Strategy, out: dict[str, Any]) -> list[dict[str, np.ndarray]]:
    """One dict of NumPy arrays per replica from what a distributed eval_step returned."""
    keys = list(out)
    local = [strategy.experimental_local_results(out[k]) for k in keys]
    return [{k: np.asarray(v[i]) for k, v in zip(keys, local)} for i in range(len(local[0]))]


def _fetch(values: Any) -> dict[str, np.ndarray]:
    """The values of a step: a dict of eager tensors, or a parameter-server RemoteValue of one."""
    if hasattr(values, "fetch"):
        values = values.fetch()
    return {k: np.asarray(v) for k, v in values.items()}


def _one(example: tuple) -> Any:
    """tf.data passes tuple elements as separate arguments; hand tasks the element itself."""
    return example[0] if len(example) == 1 else example
