"""vision.yolo on shapes: mAP@0.5 and COCO AP from scratch, inference speed, step time vs a bare loop.

One run, one process: the default `vision.yolo` config (Darknet-53-like, width 0.25, depth 0.34,
GIoU loss, k-means anchors) trains from scratch with the tfzoo Trainer on the 500 generated
`shapes` training images at 128 px and is scored once on the 200 validation images: VOC
mAP@0.5 (all-point) and COCO AP through pycocotools, via the task's own `evaluate` hook.

Speed, measured in the same process:
- inference: `task.detect` (network + decode + NMS) compiled, batches of 32 val images, images/s
  over the whole split after one untimed warm-up pass;
- step time: the trainer's per-step wall time (median over its 25-step log windows, the first
  window, which holds tracing, left out) against a bare `@tf.function` GradientTape loop over
  the same pipeline, model and loss (median over 25-step windows, after one untimed tracing step). The bare
  loop runs after training, so the two see different moments of a shared machine's load;
  `vision/benchmarks/overhead.py` is the interleaved measurement of the trainer's overhead.

    python -c "import yolo; print(yolo.run(quick=True))"     # from vision/benchmarks
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import keras
import tensorflow as tf

from tfzoo.common.bench import load_average
from tfzoo.common.logging import MetricsLog
from tfzoo.common.optim import clip_gradients
from tfzoo.common.train import Trainer
from tfzoo.vision.backbones_darknet import STAGE_BLOCKS, scaled_blocks
from tfzoo.vision.yolo.config import YOLOConfig
from tfzoo.vision.yolo.task import YOLO

GOAL = 0.90
FULL = {"steps": 4000, "bare_steps": 100}
QUICK = {"steps": 60, "bare_steps": 30}
WINDOW = 25


def recipe(steps: int) -> YOLOConfig:
    """The benchmark config: the task defaults with the step budget, cosine decay over it."""
    base = YOLOConfig()
    train = replace(base.train, steps=steps, seed=0, log_every=WINDOW, eval_every=steps, ckpt_every=10**9)
    # The warm-up must end well inside the budget: past it, the cosine schedule is already at 0.
    optim = replace(base.optim, decay_steps=steps, warmup_steps=min(base.optim.warmup_steps, steps // 10))
    return replace(base, train=train, optim=optim)


def _median_step_seconds(windows: list[float]) -> float:
    kept = windows[1:] or windows
    return statistics.median(kept)


def bare_loop_step_seconds(task: YOLO, config: YOLOConfig, info: dict, steps: int) -> float:
    """Median per-step seconds of a plain tf.function loop on the trainer's pipeline, model and loss."""
    keras.utils.set_random_seed(1)
    models = task.build_models(config, info)
    model = models["model"]
    optimizer = task.build_optimizers(config, models, total_steps=steps)["model"]
    data = task.data(config, "train")
    ds = data.dataset.shuffle(data.size, seed=1).repeat().enumerate()
    ds = ds.map(lambda i, ex: task.train_map(config, info, ex, tf.stack([tf.constant(1, tf.int64), i])),
                num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(config.train.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)

    @tf.function
    def step(images, targets):
        with tf.GradientTape() as tape:
            terms = task.losses(config, info, model(images, training=True), targets)
            loss = tf.reduce_mean(terms["loss"])
        grads = clip_gradients(tape.gradient(loss, model.trainable_variables), config.optim.clip_norm)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    batches = iter(ds)
    step(*next(batches)).numpy()  # tracing, outside the timed windows
    windows, start = [], time.perf_counter()
    for n in range(1, steps + 1):
        images, targets = next(batches)
        step(images, targets).numpy()
        if n % WINDOW == 0:
            windows.append((time.perf_counter() - start) / WINDOW)
            start = time.perf_counter()
    return statistics.median(windows)


def inference_images_per_second(task: YOLO, trainer: Trainer, batch: int = 32) -> tuple[float, int]:
    config, info, models = trainer.config, trainer.info, trainer.models
    data = task.data(config, "val")
    batches = [x for x, _ in data.dataset.map(lambda ex: task.eval_map(config, info, ex)).batch(batch)]
    detect = tf.function(lambda images: task.detect(models, config, info, images))
    for x in batches:  # warm-up: tracing for the full and the last partial batch
        detect(x)["num"].numpy()
    start = time.perf_counter()
    count = 0
    for x in batches:
        detect(x)["num"].numpy()
        count += int(x.shape[0])
    return count / (time.perf_counter() - start), count


def run(quick: bool = False, *, steps: int | None = None) -> str:
    """Train, score and time; returns the markdown block. `steps` overrides the budget (a shorter real run)."""
    sizes = QUICK if quick else FULL
    config = recipe(steps or sizes["steps"])
    task = YOLO()
    load_start = load_average()
    with tempfile.TemporaryDirectory(prefix="tfzoo-bench-yolo-") as tmp:
        trainer = Trainer(task=task, config=config, run_dir=Path(tmp) / "run", verbose=False)
        start = time.perf_counter()
        trainer.fit()
        train_seconds = time.perf_counter() - start
        windows = [config.train.batch_size / r["samples_per_sec"] for r in MetricsLog(trainer.run.metrics).read()
                   if r.get("split") == "train" and "samples_per_sec" in r]
        trainer_step = _median_step_seconds(windows)
        start = time.perf_counter()
        report = task.after_evaluate(trainer, "val", {})
        eval_seconds = time.perf_counter() - start
        images_per_second, val_count = inference_images_per_second(task, trainer)
        bare_step = bare_loop_step_seconds(task, config, trainer.info, sizes["bare_steps"])
        train_size = task.data(config, "train").size
        params = trainer.models["model"].count_params()
    load_end = load_average()
    map50, coco_ap = float(report["map50"]), float(report["coco_ap"])
    verdict = "meets" if map50 >= GOAL else "misses"
    steps, batch = config.train.steps, config.train.batch_size
    load = f"{load_start:.1f} -> {load_end:.1f}" if load_start is not None and load_end is not None else "n/a"
    lines = [
        "### vision.yolo on shapes (from scratch)" + (" — quick sanity run, not a benchmark" if quick else ""),
        "",
        f"Default config (`darknet53` width {config.width}, depth {config.depth}: stages "
        f"{[scaled_blocks(n, config.depth) for n in STAGE_BLOCKS]}, {params:,} parameters; GIoU box loss; 9 k-means anchors), {config.image_size} px, "
        f"{train_size} training images, {steps} steps of batch {batch} ({steps * batch / train_size:.0f} epochs), "
        f"Adam {config.optim.lr:g} cosine. CPU budget: {train_seconds / 60:.1f} min of training on this machine "
        f"(load average {load}).",
        "",
        "| metric | value |",
        "|---|---|",
        f"| VOC mAP@0.5, {val_count} val images (goal >= {GOAL:.2f}) | {map50:.3f} ({verdict} the goal) |",
        f"| COCO AP@[.5:.95] (pycocotools) | {coco_ap:.3f} |",
        f"| COCO AP50 / AP75 | {float(report.get('coco_ap50', float('nan'))):.3f} / "
        f"{float(report.get('coco_ap75', float('nan'))):.3f} |",
        f"| inference (network + decode + NMS), batch 32 | {images_per_second:.0f} images/s |",
        f"| step time, tfzoo Trainer / bare tf.function loop | {trainer_step / bare_step:.2f} |",
        f"| evaluation of the val split (detect + mAP + COCO AP + figures) | {eval_seconds:.0f} s |",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    print(run(quick="--quick" in sys.argv))
