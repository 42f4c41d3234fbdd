"""Step time of a detector under the tfzoo Trainer against a bare loop, interleaved step by step.

Shared by the yolo, ssd and maskrcnn blocks. Both loops run the task's own `train_step` (its
losses, clipping and optimiser step) on the same model, config and batches from the same
pipeline; the bare loop is that step in a plain `tf.function` over a Python `for`, so the ratio is
the Trainer's own per-step cost (stages, metrics, logging checks, step generator). The loops take
turns one step at a time with overhead.py's baton, so both see the same machine load; the ratio
of their median step times is taken per round and the median over rounds is reported.
"""

from __future__ import annotations

import functools
import statistics
import tempfile
from dataclasses import replace
from pathlib import Path

import keras
import tensorflow as tf
from overhead import NEVER, Baton, Timing, _BatonTrainer, run_in_turns, train_pipeline

from tfzoo.common.task import TrainState


def _run_tfzoo(baton: Baton, me: str, task_class, config, total: int) -> None:
    config = replace(config, train=replace(config.train, steps=total, log_every=NEVER, eval_every=NEVER,
                                           ckpt_every=NEVER))
    with tempfile.TemporaryDirectory(prefix="tfzoo-bench-detector-") as tmp:
        trainer = _BatonTrainer(task=task_class(), config=config, run_dir=Path(tmp) / "run", verbose=False)
        trainer.baton, trainer.me = baton, me
        trainer.fit()


def _run_bare(baton: Baton, me: str, task_class, config, total: int) -> None:
    task = task_class()
    train = task.data(config, "train")
    info = task.data_info(config, train)
    keras.utils.set_random_seed(config.train.seed)
    models = task.build_models(config, info)
    optimizers = task.build_optimizers(config, models, total_steps=total)
    stage = task.stages(config)[0]
    state = TrainState(models=models, optimizers=optimizers, step=tf.Variable(0, dtype=tf.int64), config=config,
                       info=info, global_batch_size=config.train.batch_size, stage=stage)

    @tf.function
    def train_step(batch):
        out = task.train_step(state, batch)
        state.step.assign_add(1)
        return out

    baton.turn(me)  # end of setup
    for batch in train_pipeline(task, config, info, train).take(total):
        train_step(batch)
        baton.turn(me)


def overhead(task_class, config, *, steps: int, warmup: int, repeats: int, log=print) -> dict:
    """Interleaved Trainer vs bare loop; median over rounds of the ratio of median step times."""
    runners = {"tfzoo": _run_tfzoo, "bare": _run_bare}
    total = warmup + steps + 1  # the trainer's last turn holds its final checkpoint: not measured
    ratios, medians = [], {"tfzoo": [], "bare": []}
    for repeat in range(repeats):
        baton = Baton(list(runners), seed=repeat)
        jobs = {loop: functools.partial(run, baton, loop, task_class, config, total) for loop, run in runners.items()}
        run_in_turns(baton, jobs, what=f"{task_class.name} overhead")
        timings = {loop: Timing(loop, repeat, steps, warmup, baton.durations[loop]) for loop in runners}
        for loop, timing in timings.items():
            medians[loop].append(timing.median_step)
        ratios.append(timings["tfzoo"].median_step / timings["bare"].median_step)
        log(f"  overhead round {repeat + 1}/{repeats}: tfzoo {timings['tfzoo'].median_step * 1000:.0f} ms, "
            f"bare {timings['bare'].median_step * 1000:.0f} ms per step")
    return {"ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
            "tfzoo_ms": statistics.median(medians["tfzoo"]) * 1000, "bare_ms": statistics.median(medians["bare"]) * 1000,
            "steps": steps, "warmup": warmup, "repeats": repeats}


def describe(result: dict) -> str:
    """The markdown table row's value: ratio, range and the two median step times."""
    return (f"{result['ratio']:.2f} (range {result['ratio_min']:.2f}–{result['ratio_max']:.2f}; "
            f"{result['tfzoo_ms']:.0f} vs {result['bare_ms']:.0f} ms; median of {result['repeats']} interleaved "
            f"rounds of {result['steps']} steps)")
