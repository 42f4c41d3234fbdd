"""vision.mask-rcnn on shapes: mask and box mAP@0.5, COCO AP, final losses, inference speed, step time.

One run, one process: the default `vision.mask-rcnn` config (ResNet-18-FPN at width 0.5, FPN 128, mask head 64,
SGD 0.01 momentum 0.9 clipnorm 5, one `all` stage) trains from scratch with the tfzoo Trainer on
4,000 generated `shapes` training images at 128 px and is scored once on the 200 validation images
through the task's own `evaluate` hook: per-image mean AP@0.5 on mask IoU (matterport's `compute_ap`,
the book's metric, S4 L676-L711, here on 200 images, not 10), dataset-level mask and box mAP@0.5, and
COCO segm/bbox AP through pycocotools. The five final losses (the last training log window and the
whole val split) are set beside the book's epoch-2 table (S4 L602-L611), which came from
COCO-pretrained ResNet-101 weights; these numbers come from scratch.

Speed, in the same process:
- inference: `task.detect` (backbone, RPN, proposals, heads, NMS, masks pasted at 128 px) compiled,
  batches of 8 val images, images/s over the whole split after one untimed warm-up pass;
- step time: the Trainer against a bare `tf.function` loop running the same task step, interleaved
  step by step (detector_overhead.py).

    python -c "import maskrcnn; print(maskrcnn.run(quick=True))"     # from vision/benchmarks
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
from tfzoo.vision.maskrcnn.config import MaskRCNNConfig
from tfzoo.vision.maskrcnn.losses import LOSS_NAMES
from tfzoo.vision.maskrcnn.task import MaskRCNN

GOAL = 0.95
TRAIN_IMAGES = 4000
FULL = {"steps": 2000, "batch": 8, "window": 50, "overhead": {"steps": 10, "warmup": 3, "repeats": 2}}
QUICK = {"steps": 30, "batch": 4, "window": 10, "overhead": {"steps": 4, "warmup": 2, "repeats": 1}}
BOOK = {  # S4 L602-L611, epoch 2 (COCO-pretrained ResNet-101)
    "train": {"loss": 0.978, "rpn_class": 0.017, "rpn_bbox": 0.432, "mrcnn_class": 0.211, "mrcnn_bbox": 0.169,
              "mrcnn_mask": 0.150},
    "val": {"loss": 0.980, "rpn_class": 0.017, "rpn_bbox": 0.526, "mrcnn_class": 0.123, "mrcnn_bbox": 0.154,
            "mrcnn_mask": 0.160},
}


def recipe(steps: int, batch: int, window: int) -> MaskRCNNConfig:
    """The benchmark config: the task defaults with the step budget, a cosine schedule over it and more images.

    From scratch, matterport's 500 training images overfit: after 1,200 steps (19 epochs) the val losses
    were 2-5x the training ones (rpn_bbox 0.164 vs 0.034, mrcnn_class 0.111 vs 0.049) and the detector
    called empty background "square" at > 0.9. The generator is unbounded, so the benchmark draws more.
    """
    base = replace(MaskRCNNConfig(), train_count=TRAIN_IMAGES)
    train = replace(base.train, steps=steps, batch_size=batch, seed=0, log_every=window, eval_every=steps,
                    ckpt_every=10**9, eval_batches=0)
    # Cosine decay to 0 over the budget after a short warm-up: from scratch, the constant SGD rate of the
    # task default leaves the last steps as noisy as the first.
    optim = replace(base.optim, schedule="cosine", decay_steps=steps, warmup_steps=min(100, steps // 10))
    return replace(base, train=train, optim=optim)


def inference_images_per_second(task: MaskRCNN, trainer: Trainer, batch: int = 8) -> tuple[float, int]:
    config, info, models = trainer.config, trainer.info, trainer.models
    data = task.data(config, "val")
    batches = [tf.cast(ex["image"], tf.float32) / 255.0 for ex in data.dataset.batch(batch)]
    detect = tf.function(lambda images: task.detect(models, config, info, images))
    for x in batches[:1] + batches[-1:]:  # warm-up: tracing for the full and the last partial batch
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
    config = recipe(steps or sizes["steps"], sizes["batch"], sizes["window"])
    task = MaskRCNN()
    load_start = load_average()
    with tempfile.TemporaryDirectory(prefix="tfzoo-bench-maskrcnn-") as tmp:
        trainer = Trainer(task=task, config=config, run_dir=Path(tmp) / "run", verbose=False)
        start = time.perf_counter()
        trainer.fit()
        train_seconds = time.perf_counter() - start
        records = trainer.run.read_metrics()
        train_records = [r for r in records if r.get("split") == "train"]
        final_train = train_records[-1]
        final_val = {k: float(v) for k, v in trainer.evaluate(task.data(config, "val")).items()}
        start = time.perf_counter()
        report = task.after_evaluate(trainer.run, "val", {})
        eval_seconds = time.perf_counter() - start
        images_per_second, val_count = inference_images_per_second(task, trainer)
        train_size = task.data(config, "train").size
        params = trainer.models["model"].count_params()
    timing = overhead(MaskRCNN, config, **sizes["overhead"])
    load_end = load_average()
    per_image = float(report["per_image_mask_ap50"])
    verdict = "meets" if per_image >= GOAL else "misses"
    steps, batch = config.train.steps, config.train.batch_size
    load = f"{load_start:.1f} -> {load_end:.1f}" if load_start is not None and load_end is not None else "n/a"

    def get(key: str) -> str:
        value = report.get(key)
        return "n/a" if value is None else f"{float(value):.3f}"

    columns = ("loss", *LOSS_NAMES)
    lines = [
        "### vision.mask-rcnn on shapes (from scratch)" + (" — quick sanity run, not a benchmark" if quick else ""),
        "",
        f"Default config (`{config.backbone}` width {config.width}, FPN {config.fpn_channels}, RPN conv "
        f"{config.rpn_conv}, FC {config.fc_units}, mask head {config.mask_channels}; {params:,} parameters), "
        f"{config.image_size} px, {train_size} training images, {steps} steps of batch {batch} "
        f"({steps * batch / train_size:.1f} epochs), stages {list(config.stages)}, SGD {config.optim.lr:g} cosine "
        f"momentum {config.optim.momentum:g} clipnorm {config.optim.clip_norm:g}. CPU budget: "
        f"{train_seconds / 60:.1f} min of training on this machine (load average {load}).",
        "",
        "| metric | value |",
        "|---|---|",
        f"| per-image mean AP@0.5 on mask IoU, {val_count} val images (goal >= {GOAL:.2f}) | {per_image:.3f} "
        f"({verdict} the goal) |",
        f"| dataset-level mask mAP@0.5 / box mAP@0.5 | {get('mask_map50')} / {get('map50')} |",
        f"| COCO segm AP@[.5:.95] / bbox AP@[.5:.95] (pycocotools) | {get('mask_coco_ap')} / {get('coco_ap')} |",
        f"| inference (backbone to pasted masks), batch 8 | {images_per_second:.1f} images/s |",
        f"| step time, tfzoo Trainer / bare tf.function loop (same model and losses) | {describe(timing)} |",
        f"| evaluation of the val split (detect + mAP + COCO AP + figures) | {eval_seconds:.0f} s |",
        "",
        "Final losses beside the book's epoch 2 (book: COCO-pretrained ResNet-101; here: from scratch):",
        "",
        "| | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
        "| train, book | " + " | ".join(f"{BOOK['train'][c]:.3f}" for c in columns) + " |",
        "| train, tfzoo (last log window) | " + " | ".join(f"{float(final_train[c]):.3f}" for c in columns) + " |",
        "| val, book | " + " | ".join(f"{BOOK['val'][c]:.3f}" for c in columns) + " |",
        f"| val, tfzoo ({val_count} images) | " + " | ".join(f"{final_val[c]:.3f}" for c in columns) + " |",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    print(run(quick="--quick" in sys.argv))
