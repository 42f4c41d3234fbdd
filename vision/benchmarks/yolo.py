"""vision.yolo on shapes: mAP@0.5 and COCO AP from scratch, inference speed, step time vs a bare loop.

One run, one process: the default `vision.yolo` config (Darknet-53-like, width 0.25, depth 0.34,
GIoU loss, k-means anchors) trains from scratch with the tfzoo Trainer on the 500 generated
`shapes` training images at 128 px and is scored once on the 200 validation images: VOC
mAP@0.5 (all-point) and COCO AP through pycocotools, via the task's own `evaluate` hook.

Speed, measured in the same process:
- inference: `task.detect` (network + decode + NMS) compiled, batches of 32 val images, images/s
  over the whole split after one untimed warm-up pass;
- step time: the Trainer against a bare `tf.function` loop running the same task step, interleaved
  step by step (detector_overhead.py).

    python -c "import yolo; print(yolo.run(quick=True))"     # from vision/benchmarks
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path

import tensorflow as tf
from detector_overhead import describe, overhead

from tfzoo.common.bench import load_average
from tfzoo.common.train import Trainer
from tfzoo.vision.backbones_darknet import STAGE_BLOCKS, scaled_blocks
from tfzoo.vision.yolo.config import YOLOConfig
from tfzoo.vision.yolo.task import YOLO

GOAL = 0.90
FULL = {"steps": 2000, "overhead": {"steps": 20, "warmup": 3, "repeats": 2}}
QUICK = {"steps": 60, "overhead": {"steps": 4, "warmup": 2, "repeats": 1}}
WINDOW = 25


def recipe(steps: int) -> YOLOConfig:
    """The benchmark config: the task defaults with the step budget, cosine decay over it."""
    base = YOLOConfig()
    train = replace(base.train, steps=steps, seed=0, log_every=WINDOW, eval_every=steps, ckpt_every=10**9)
    # The warm-up must end well inside the budget: past it, the cosine schedule is already at 0.
    optim = replace(base.optim, decay_steps=steps, warmup_steps=min(base.optim.warmup_steps, steps // 10))
    return replace(base, train=train, optim=optim)


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
        start = time.perf_counter()
        report = task.after_evaluate(trainer.run, "val", {})
        eval_seconds = time.perf_counter() - start
        images_per_second, val_count = inference_images_per_second(task, trainer)
        train_size = task.data(config, "train").size
        params = trainer.models["model"].count_params()
    timing = overhead(YOLO, config, **sizes["overhead"])
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
        f"| step time, tfzoo Trainer / bare tf.function loop | {describe(timing)} |",
        f"| evaluation of the val split (detect + mAP + COCO AP + figures) | {eval_seconds:.0f} s |",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    print(run(quick="--quick" in sys.argv))
