"""Every knob of vision.yolo, as a frozen dataclass."""

from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal

from tfzoo.common.settings import OptimConfig, TrainConfig

Backbone = Literal["darknet53", "darknet53-full"]
BoxLoss = Literal["giou", "xywh"]


@dataclass(frozen=True)
class YOLOConfig:
    """YOLOv3-style detection: backbone sizes, anchors, loss weights, decoding and data.

    `darknet53` is the published Darknet-53 (residual stages [1, 2, 8, 8, 4], 32..1024 channels)
    shrunk by `width` and `depth` for a CPU; `darknet53-full` ignores both and builds it as published.
    """

    # what `tfzoo info` and `tfzoo list` say of the task (read without importing TensorFlow)
    DESCRIPTION: ClassVar[str] = "YOLOv3-style detection: Darknet-53-like backbone, 3 scales, k-means anchors, GIoU loss"
    DATA_SPECS: ClassVar[tuple[str, ...]] = (
        "shapes (default)",
        "coco:JSON[@IMGDIR]",
        "voc:DIR",
    )

    backbone: Backbone = "darknet53"
    width: float = 0.25  # channel multiplier: 32..1024 channels become 8..256
    depth: float = 0.34  # residual blocks per stage: ceil(n * depth), so [1, 1, 3, 3, 2]
    data: str = "shapes"
    image_size: int = 128  # square input; must be a multiple of the largest stride, 32
    max_instances: int = 100
    # images per split (None: the loader's defaults, 500 / 200 / 200 for shapes)
    train_count: int | None = None
    val_count: int | None = None
    test_count: int | None = None
    # anchors: 9 from k-means (1 - IoU) on the training boxes, 3 per scale, stored in info.json
    # loss
    box_loss: BoxLoss = "giou"  # xywh: BCE on the cell offset plus squared error on log-size
    ignore_iou: float = 0.5  # a background prediction overlapping a GT above this is not penalised
    box_weight: float = 1.0
    obj_weight: float = 1.0
    cls_weight: float = 1.0
    # decoding
    score_threshold: float = 0.05
    nms_iou: float = 0.45
    max_detections: int = 100
    # augmentation (training only)
    flip: bool = True
    crop_prob: float = 0.5  # box-consistent random crop (min scale 0.5, boxes kept if >= 50 % visible)
    colour: bool = True  # brightness / contrast / saturation / hue jitter
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        steps=3000, batch_size=16, log_every=50, eval_every=500, ckpt_every=500))
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(
        optimizer="adam", lr=2e-3, schedule="cosine", decay_steps=3000, warmup_steps=100, clip_norm=10.0))

    @classmethod
    def tiny(cls) -> "YOLOConfig":
        """64-px images, the narrowest network and a few steps: seconds on a CPU."""
        base = cls()
        return replace(
            base,
            width=0.125,
            depth=0.2,
            image_size=64,
            max_instances=10,
            train_count=32,
            val_count=8,
            test_count=8,
            train=replace(base.train, steps=3, batch_size=4, eval_every=2, ckpt_every=2, log_every=1, eval_batches=2),
            optim=replace(base.optim, decay_steps=3, warmup_steps=0),
        )
