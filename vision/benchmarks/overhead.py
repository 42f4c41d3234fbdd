"""(a) Trainer overhead: one cnn-bn, one batch stream, one optimiser, several training loops.

Every loop trains a freshly built `vision.classify` cnn-bn (same seed) with the optimiser that
`task.build_optimizers` makes (Adam 1e-3), on mnist-5k batches of 64 from the same tf.data
pipeline (the trainer's `_train_batches`, rebuilt below from the same task hooks and seed, so
the batches are the same ones in the same order):

- `tfzoo`: the unchanged `Trainer.fit`, log/eval/checkpoint intervals beyond the step count;
- `tfzoo-log50`: the same with the default `log_every=50` (metrics.jsonl + TensorBoard);
- `bare`: a `@tf.function` GradientTape step called from a Python `for` over the dataset;
- `fit`: `model.compile(...)` + `model.fit(...)`, `jit_compile=False` as the trainer.

Interleaving, step by step. The machine is shared, so back-to-back blocks of steps see
different loads. Instead each loop runs in its own thread and a baton lets exactly one of them
run at a time, one training step per turn, in cycles where every loop takes one turn (in a
fresh random order each cycle): the loops' k-th steps all run within a second or so of each
other. A turn runs from the moment the loop gets the baton to the moment it hands it back at
its next step boundary, so it holds everything the loop does per step: fetching the batch, the
compiled step, and the loop's own bookkeeping (the trainer's per-step checks and logging,
fit's callbacks). Handing over is not counted. Turn 0 (setup: data, model, compile) and the
first `warmup` steps (tracing, dataset start-up) are left out for every loop alike, as is the
trailing step whose turn holds the trainer's final evaluation and checkpoint. All loops share
the same seconds of machine load, so their ratio is stable even when the absolute speed is
not. tf.data's prefetch threads keep running in the background for every loop alike.

Hooks (nothing in tfzoo is changed): the Trainer's step generator `_local_steps` is wrapped so
a turn ends when the trainer's loop asks for the next step; fit uses a callback; the bare loop
calls the baton itself.
"""

from __future__ import annotations

import functools
import random
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import keras
import tensorflow as tf

from tfzoo.common.train import Trainer
from tfzoo.vision.classify.config import ClassifyConfig
from tfzoo.vision.classify.task import Classify

NEVER = 10**9  # an interval no run reaches
LOOPS = ("tfzoo", "tfzoo-log50", "bare", "fit")


class Baton:
    """Turns between threads, one at a time; `turn()` records how long the caller held the baton.

    Turns go in cycles: every loop still running gets one turn per cycle, in a fresh seeded
    random order each cycle, so no loop always follows the same other loop (tf.data refills a
    loop's prefetch buffer in the background during the turns that follow it).
    """

    def __init__(self, names: list[str], *, seed: int = 0) -> None:
        self.active = list(names)
        self.rng = random.Random(seed)
        self.cycle: list[str] = []
        self.cond = threading.Condition()
        self.durations: dict[str, list[float]] = {n: [] for n in names}
        self._start: dict[str, float] = {}
        self.current = self._next()

    def _next(self) -> str | None:
        self.cycle = [n for n in self.cycle if n in self.active]
        if not self.cycle:
            self.cycle = self.rng.sample(self.active, len(self.active))
        return self.cycle.pop(0) if self.cycle else None

    def _wait(self, me: str) -> None:
        self.cond.wait_for(lambda: self.current == me)
        self._start[me] = time.perf_counter()

    def begin(self, me: str) -> None:
        with self.cond:
            self._wait(me)

    def turn(self, me: str) -> None:
        """End the caller's turn (recording it), let the others run theirs, take the baton back."""
        end = time.perf_counter()
        with self.cond:
            self.durations[me].append(end - self._start[me])
            self.current = self._next()
            self.cond.notify_all()
            self._wait(me)

    def leave(self, me: str) -> None:
        with self.cond:
            if me in self.active:
                self.active.remove(me)
            if self.current == me:
                self.current = self._next()
            self.cond.notify_all()


@dataclass
class Timing:
    loop: str
    repeat: int
    steps: int
    warmup: int
    durations: list[float]  # [setup, step 1, step 2, ...]

    @property
    def measured(self) -> list[float]:
        return self.durations[self.warmup + 1 : self.warmup + 1 + self.steps]

    @property
    def seconds(self) -> float:
        return sum(self.measured)

    @property
    def steps_per_sec(self) -> float:
        return self.steps / self.seconds

    @property
    def median_step(self) -> float:
        return statistics.median(self.measured)


def bench_config(*, batch_size: int = 64, seed: int = 0, filters: int | None = None) -> ClassifyConfig:
    """The default classify config (cnn-bn on mnist-5k, Adam 1e-3) with intervals out of reach."""
    base = ClassifyConfig()
    if filters:
        base = replace(base, filters=filters)
    train = replace(base.train, batch_size=batch_size, seed=seed,
                    log_every=NEVER, eval_every=NEVER, ckpt_every=NEVER, eval_batches=1)
    return replace(base, train=train)


def train_pipeline(task: Classify, config: ClassifyConfig, info: dict, data) -> tf.data.Dataset:
    """The trainer's training stream (train.py `_train_batches` at step 0), from the same hooks and seed."""
    tc = config.train
    seed = (tc.seed * 1_000_003) % (2**31 - 1)
    ds = data.dataset.shuffle(min(data.size, tc.shuffle_buffer), seed=seed, reshuffle_each_iteration=True)
    ds = ds.repeat().enumerate().skip(0)
    ds = ds.map(
        lambda index, *example: task.train_map(
            config, info, example[0] if len(example) == 1 else example, tf.stack([tf.constant(seed, tf.int64), index])
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    return ds.batch(tc.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def _fresh_model(task: Classify, config: ClassifyConfig, info: dict, total: int):
    keras.utils.set_random_seed(config.train.seed)
    model = task.build_models(config, info)["model"]
    optimizer = task.build_optimizers(config, {"model": model}, total_steps=total)["model"]
    return model, optimizer


class _BatonTrainer(Trainer):
    """The unchanged Trainer; a turn ends each time its loop asks the step generator for a step."""

    baton: Baton
    me: str

    def _local_steps(self, *args, **kwargs):
        self.baton.turn(self.me)  # end of setup
        for item in super()._local_steps(*args, **kwargs):
            yield item  # the trainer's per-step body (logging, eval and checkpoint checks) runs here
            self.baton.turn(self.me)


def run_tfzoo(baton: Baton, me: str, config: ClassifyConfig, total: int, *, log_every: int = NEVER) -> None:
    config = replace(config, train=replace(config.train, steps=total, log_every=log_every))
    with tempfile.TemporaryDirectory(prefix="tfzoo-bench-") as tmp:
        trainer = _BatonTrainer(task=Classify(), config=config, run_dir=Path(tmp) / "run", verbose=False)
        trainer.baton, trainer.me = baton, me
        trainer.fit()


def run_bare(baton: Baton, me: str, config: ClassifyConfig, total: int) -> None:
    task = Classify()
    train = task.data(config, "train")
    info = task.data_info(config, train)
    model, optimizer = _fresh_model(task, config, info, total)
    batches = train_pipeline(task, config, info, train)

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, -1), y), tf.float32))
        return loss, accuracy

    baton.turn(me)  # end of setup
    for x, y in batches.take(total):
        train_step(x, y)
        baton.turn(me)


class _BatonCallback(keras.callbacks.Callback):
    def __init__(self, baton: Baton, me: str) -> None:
        super().__init__()
        self.baton, self.me = baton, me

    def on_train_begin(self, logs=None):
        self.baton.turn(self.me)  # end of setup

    def on_train_batch_end(self, batch, logs=None):
        self.baton.turn(self.me)


def run_fit(baton: Baton, me: str, config: ClassifyConfig, total: int) -> None:
    task = Classify()
    train = task.data(config, "train")
    info = task.data_info(config, train)
    model, optimizer = _fresh_model(task, config, info, total)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=config.train.jit_compile,
    )
    model.fit(train_pipeline(task, config, info, train), epochs=1, steps_per_epoch=total, shuffle=False,
              verbose=0, callbacks=[_BatonCallback(baton, me)])


RUNNERS = {
    "tfzoo": run_tfzoo,
    "tfzoo-log50": lambda baton, me, config, total: run_tfzoo(baton, me, config, total, log_every=50),
    "bare": run_bare,
    "fit": run_fit,
}


def run_in_turns(baton: Baton, jobs: dict, *, what: str) -> dict[str, list[float]]:
    """Run each job `jobs[name]()` in its own thread, taking turns on `baton`; the turn durations per job.

    A job's failure is re-raised here, in the calling thread, naming `what` and the job.
    """
    errors: dict[str, BaseException] = {}

    def target(name: str) -> None:
        try:
            baton.begin(name)
            jobs[name]()
        except BaseException as err:  # re-raised in the main thread
            errors[name] = err
        finally:
            baton.leave(name)

    threads = [threading.Thread(target=target, args=(name,), name=f"bench-{name}") for name in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        name, err = next(iter(errors.items()))
        raise RuntimeError(f"{what}: loop {name!r} failed: {err!r}") from err
    return baton.durations


def interleaved_round(loops: tuple[str, ...], *, total: int, batch_size: int,
                      filters: int | None = None, seed: int = 0) -> dict[str, list[float]]:
    """Run every loop for `total` steps, one step per turn; the turn durations of each loop."""
    config = bench_config(batch_size=batch_size, filters=filters)
    baton = Baton(list(loops), seed=seed)
    jobs = {loop: functools.partial(RUNNERS[loop], baton, loop, config, total) for loop in loops}
    return run_in_turns(baton, jobs, what="overhead benchmark")


def measure(*, steps: int, warmup: int, repeats: int, batch_size: int = 64, filters: int | None = None,
            loops: tuple[str, ...] = LOOPS, log=print) -> list[Timing]:
    """`repeats` interleaved rounds, each with fresh models and its own seeded turn order."""
    total = warmup + steps + 1  # the last step's turn holds the trainer's final evaluation: not measured
    timings = []
    for repeat in range(repeats):
        durations = interleaved_round(loops, total=total, batch_size=batch_size, filters=filters, seed=repeat)
        for loop in loops:
            if len(durations[loop]) < 1 + total:
                raise RuntimeError(f"{loop}: {len(durations[loop]) - 1} steps timed, expected {total}")
            timing = Timing(loop, repeat, steps, warmup, durations[loop])
            timings.append(timing)
            log(f"  round {repeat + 1}/{repeats}  {loop:<12} {timing.steps_per_sec:6.3f} steps/s  "
                f"median step {timing.median_step * 1000:6.1f} ms")
    return timings


def summarise(timings: list[Timing], *, reference: str = "bare") -> dict[str, dict[str, float]]:
    """Per loop: median steps/s over rounds, and medians over rounds of its step-time ratio to `reference`.

    `ratio` compares total time over the measured steps; `ratio_median_step` the rounds' median
    single-step times, which a burst of load moves less.
    """
    by_round = {(t.loop, t.repeat): t for t in timings}
    out = {}
    for loop in dict.fromkeys(t.loop for t in timings):
        mine = [t for t in timings if t.loop == loop]
        ratios = [t.seconds / by_round[reference, t.repeat].seconds for t in mine]
        step_ratios = [t.median_step / by_round[reference, t.repeat].median_step for t in mine]
        out[loop] = {
            "steps_per_sec": statistics.median(t.steps_per_sec for t in mine),
            "ratio": statistics.median(ratios),
            "ratio_min": min(ratios),
            "ratio_max": max(ratios),
            "ratio_median_step": statistics.median(step_ratios),
            "rounds": len(mine),
        }
    return out
