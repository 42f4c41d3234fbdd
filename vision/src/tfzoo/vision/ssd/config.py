"""Every knob of vision.ssd, as a frozen dataclass."""

from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal

from tfzoo.common.settings import OptimConfig, TrainConfig


@dataclass(frozen=True)
class SSDConfig:
    """SSD with a MobileNet-like backbone (the family of 实例87's SSD-MobileNet), trained from scratch."""

    # what `tfzoo info` and `tfzoo list` say of the task (read without importing TensorFlow)
    DESCRIPTION: ClassVar[str] = "SSD detection: MobileNet-like backbone, default boxes on 4-6 maps, 3:1 hard-negative mining"
    DATA_SPECS: ClassVar[tuple[str, ...]] = (
        "shapes (default)",
        "coco:JSON[@IMGDIR]",
        "voc:DIR",
    )

    data: str = "shapes"  # shapes | coco:JSON[@IMGDIR] | coco:TRAIN.json,VAL.json | voc:DIR
    image_size: int = 128
    data_seed: int = 0  # which shapes images (independent of train.seed)
    train_count: int | None = None  # None: the loader's default (500 / 200 / 200 for shapes)
    val_count: int | None = None
    test_count: int | None = None
    on_error: Literal["raise", "skip"] = "raise"  # skip: drop bad annotations with a warning
    # backbone
    backbone: Literal["mobilenet", "mobilenetv2"] = "mobilenet"  # mobilenetv2: keras.applications, weights=None
    # The defaults are the CPU recipe measured in vision/benchmarks/ssd.py (mAP@0.5 0.967 on 200 val shapes);
    # real data wants more width (alpha=1.0, depth=5 as published) and steps.
    alpha: float = 0.25  # width multiplier
    depth: int = 1  # 512-wide stride-16 blocks of `mobilenet` (5 as published; fewer for the CPU)
    # feature maps: strides 8, 16, 32 from the backbone, then extra stride-2 layers up to `num_maps`
    num_maps: int = 5  # 4..6; the largest stride, 2**(num_maps + 2), must divide image_size
    extra_channels: int = 128  # width of the extra layers (before alpha)
    bn_momentum: float = 0.9  # Keras' 0.99 leaves evaluation statistics stale on short CPU schedules
    background_prior: float = 0.99  # initial P(background) of every default box
    head_channels: int = 0  # 0: heads are one 3×3 conv on each map; >0 adds a 3×3 conv of that width first
    # default boxes
    min_scale: float = 0.2
    max_scale: float = 0.9
    aspect_ratios: tuple[float, ...] = (1.0, 2.0, 0.5)  # add 3.0 and 1/3 for the 6-box variant
    extra_ratio_one: bool = True  # the extra scale sqrt(s_k * s_k+1) for ratio 1
    clip_anchors: bool = True
    # matching and loss
    match_iou: float = 0.5
    variances: tuple[float, ...] = (0.1, 0.1, 0.2, 0.2)
    neg_pos_ratio: float = 3.0
    loc_weight: float = 1.0
    # augmentation (detection.augment): flip, zoom in (crop), zoom out (expand), colour jitter
    flip: bool = True
    crop_prob: float = 0.5
    expand_prob: float = 0.3
    colour_jitter: bool = True
    # detection
    score_threshold: float = 0.05
    nms_iou: float = 0.45
    max_detections: int = 100
    max_instances: int = 100
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=800, batch_size=16, eval_every=200,
                                                                   ckpt_every=200, log_every=40))
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=2e-3, schedule="cosine", decay_steps=800,
                                                                   warmup_steps=80, clip_norm=10.0))

    @classmethod
    def tiny(cls) -> "SSDConfig":
        """A few-second configuration for tests: 64-px images, a narrow backbone, 3 steps."""
        base = cls()
        return replace(
            base,
            image_size=64,
            alpha=0.25,
            depth=1,
            num_maps=4,
            extra_channels=32,
            max_instances=8,
            train_count=16,
            val_count=8,
            test_count=8,
            train=replace(base.train, steps=3, batch_size=4, eval_every=2, ckpt_every=2, log_every=1,
                          eval_batches=2),
            optim=replace(base.optim, decay_steps=3, warmup_steps=0),
        )
