"""Every knob of vision.mask-rcnn (the book's project, S4 L235-L711), as a frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal

from tfzoo.common.settings import OptimConfig, TrainConfig

StageName = Literal["heads", "3+", "4+", "5+", "all"]

# Which layers learn in each stage (matterport's layer_regex): `Stage.trainable` regexes searched in
# "<model name>/<variable path>", whose segments are layer names, so "/fpn_" picks every variable of
# a layer whose name starts with "fpn_". "" trains every variable.
STAGE_LAYERS = {
    "heads": r"/(mrcnn|rpn|fpn)_",
    "3+": r"/((res|conv)[3-5]|mrcnn|rpn|fpn)_",
    "4+": r"/((res|conv)[4-5]|mrcnn|rpn|fpn)_",
    "5+": r"/((res|conv)5|mrcnn|rpn|fpn)_",
    "all": "",
}


def _sgd() -> OptimConfig:
    return OptimConfig(optimizer="sgd", lr=0.01, momentum=0.9, clip_norm=5.0)


@dataclass(frozen=True)
class MaskRCNNConfig:
    """Mask R-CNN: ResNet-FPN, RPN, proposals, ROIAlign heads and a 28x28 mask head.

    The default is a CPU-sized network trained from scratch on the shapes data; `book()` is the
    book's ResNet-101 project (heads, then all layers at lr/10); `tiny()` is for tests.
    """

    # what `tfzoo info` and `tfzoo list` say of the task (read without importing TensorFlow)
    DESCRIPTION: ClassVar[str] = "Mask R-CNN: ResNet-FPN, RPN, ROIAlign, box and 28x28 mask heads; stages heads/all"
    DATA_SPECS: ClassVar[tuple[str, ...]] = (
        "shapes (default)",
        "coco:JSON[@IMGDIR] (polygon/RLE masks)",
    )

    data: str = "shapes"
    data_seed: int = 0  # which shapes images (independent of train.seed)
    train_count: int | None = None  # None: the loader's default (500 / 200 / 200 for shapes)
    val_count: int | None = None
    test_count: int | None = None
    image_size: int = 128
    flip: bool = True  # random horizontal flips of image, boxes and masks
    max_instances: int = 100  # GT per image, padded (matterport MAX_GT_INSTANCES)
    # backbone (darknet53 at depth 0.34 is YOLO's CPU size)
    backbone: Literal["resnet18", "resnet50", "resnet101", "darknet53"] = "resnet18"
    width: float = 0.5  # resnet18 / darknet53 channel multiplier
    depth: float = 0.34  # darknet53 residual-block multiplier ([1, 1, 3, 3, 2] blocks); 1 = the published 53 layers
    fpn_channels: int = 128  # 256 in the book
    backbone_weights: str = ""  # optional .weights.h5 for the ResNet/Darknet part; nothing is downloaded
    train_bn: bool = True  # from scratch BN learns; set False with pretrained weights and small batches
    # anchors and RPN
    anchor_scales: tuple[int, ...] = (8, 16, 32, 64, 128)  # pixels, one per level P2..P6
    anchor_ratios: tuple[float, ...] = (0.5, 1.0, 2.0)
    anchor_stride: int = 1
    rpn_conv: int = 256  # 512 in the book
    rpn_train_anchors: int = 256
    rpn_positive_iou: float = 0.7
    rpn_negative_iou: float = 0.3
    rpn_nms: float = 0.7
    pre_nms_limit: int = 6000
    proposals_train: int = 2000
    proposals_inference: int = 1000
    # detection targets and heads
    train_rois: int = 32
    roi_positive_ratio: float = 0.33
    add_gt_rois: bool = True  # GT boxes join the proposals, so heads see positives before the RPN is good
    pool_size: int = 7
    mask_pool_size: int = 14
    mask_shape: int = 28
    mini_mask: int = 56
    fc_units: int = 512  # 1024 in the book
    mask_channels: int = 64  # 256 in the book; the mask head is most of a step's cost on a CPU
    # inference
    min_confidence: float = 0.7
    detection_nms: float = 0.3
    max_detections: int = 100
    # training
    weight_decay: float = 1e-4
    stages: tuple[StageName, ...] = ("all",)  # in order
    stage_steps: tuple[int, ...] = ()  # () splits train.steps evenly over the stages
    stage_lr: tuple[float, ...] = ()  # lr multipliers per stage; () = 1 for the first, 0.1 after
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(steps=6000, batch_size=8, log_every=50, eval_every=1000,
                                            ckpt_every=500, eval_batches=10)
    )
    optim: OptimConfig = field(default_factory=_sgd)

    @classmethod
    def tiny(cls) -> MaskRCNNConfig:
        """64-px images, resnet18 at width 0.25, 2 steps: for tests."""
        base = cls()
        return replace(
            base,
            image_size=64,
            train_count=8,
            val_count=4,
            test_count=4,
            width=0.25,
            fpn_channels=16,
            rpn_conv=16,
            fc_units=32,
            mask_channels=8,
            pre_nms_limit=400,
            proposals_train=100,
            proposals_inference=50,
            min_confidence=0.0,
            max_detections=10,
            max_instances=8,
            stages=("heads", "all"),
            train=replace(base.train, steps=2, batch_size=2, log_every=1, eval_every=2, ckpt_every=2,
                          eval_batches=1),
        )

    @classmethod
    def book(cls) -> MaskRCNNConfig:
        """The book's shapes project: ResNet-101 FPN 256, 100 `heads` steps, then 100 `all` at lr/10."""
        base = cls()
        return replace(
            base,
            backbone="resnet101",
            fpn_channels=256,
            rpn_conv=512,
            fc_units=1024,
            mask_channels=256,
            stages=("heads", "all"),
            stage_steps=(100, 100),
            train=replace(base.train, steps=200, batch_size=3, eval_every=100, ckpt_every=100),
            optim=replace(base.optim, lr=0.001),
        )

    def stage_plan(self) -> list[tuple[str, int, float]]:
        """(stage, steps, lr multiplier) in order."""
        n = len(self.stages)
        steps = list(self.stage_steps) or [self.train.steps // n + (i < self.train.steps % n) for i in range(n)]
        lrs = list(self.stage_lr) or [1.0] + [0.1] * (n - 1)
        return list(zip(self.stages, steps, lrs))
