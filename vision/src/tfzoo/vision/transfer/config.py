"""Every knob of vision.transfer, as a frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal

from tfzoo.common.settings import OptimConfig, TrainConfig

# The keras.applications backbones of model.BACKBONES (a test keeps the two lists equal).
BackboneName = Literal["mobilenet_v2", "resnet50", "vgg16", "vgg19", "efficientnet_b0", "inception_v3",
                       "inception_resnet_v2", "nasnet_mobile"]
StageName = Literal["head", "unfreeze"]

# The offline default of spec §3.2: pretrain on one embedded dataset, transfer to another. The source is
# mnist-5k redrawn by UCI's 8x8 recipe (common's `mnist-8x8`): pretrained on the 28-px originals, the
# backbone's features did not carry over to the upsampled 8x8 digits (fine-tuned below scratch at every
# label share, BENCHMARKS.md), as an ImageNet backbone transfers best at the resolution it learned.
DEFAULT_DATA = {"pretrain": "mnist-8x8", "finetune": "digits-8x8"}


@dataclass(frozen=True)
class TransferConfig:
    """A keras.applications backbone without its top, a new GAP -> Dropout -> Dense head.

    `mode=pretrain` trains backbone and head from scratch (BN in training mode), the offline
    stand-in for ImageNet weights. `mode=finetune` runs the stages in `stages`: `head` trains the
    head only (slim's --trainable_scopes=.../Logits), `unfreeze` also trains the top
    `unfreeze_blocks` blocks of the backbone at `unfreeze_lr_factor` x the learning rate. In
    finetune mode the backbone always runs in inference mode, so its BN statistics never move.
    """

    # what `tfzoo info` and `tfzoo list` say of the task (read without importing TensorFlow)
    DESCRIPTION: ClassVar[str] = (
        "transfer learning: keras.applications backbone, new head; stages head, then unfreeze the top "
        "blocks at a lower learning rate"
    )
    DATA_SPECS: ClassVar[tuple[str, ...]] = (
        "digits-8x8 (finetune default)",
        "mnist-8x8 (pretrain default)",
        "mnist-5k",
        "folder:DIR",
        "tfrecord:GLOB",
        "idx:DIR",
        "fashion-mnist",
        "cifar10:DIR",
    )

    mode: Literal["pretrain", "finetune"] = "finetune"
    data: str = ""  # "" = mnist-8x8 for pretrain, digits-8x8 for finetune
    backbone: BackboneName = "mobilenet_v2"
    alpha: float = 0.35  # width multiplier of mobilenet_v2 (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
    # none | file:PATH (Keras notop .h5 / .weights.h5) | run:RUN_DIR (a tfzoo pretrain run) | a bare PATH
    weights: str = "none"
    image_size: int = 0  # 0 = the data's own size, raised to the backbone's minimum
    dropout: float = 0.2
    # Momentum of every backbone BN layer while it trains (mode=pretrain). MobileNetV2 ships 0.999:
    # in a short run from scratch its moving statistics lag the fast-changing weights so far that
    # inference-mode features saturate to the same vector for every image (chance accuracy, measured
    # on digits-8x8 at 0.99 too). 0.9, as vision.classify's cnn-bn, tracks them. 0 keeps each backbone's own.
    bn_momentum: float = 0.9
    stages: tuple[StageName, ...] = ("head", "unfreeze")
    head_fraction: float = 0.5  # share of train.steps spent in `head` when `unfreeze` follows
    unfreeze_blocks: int = 2
    unfreeze_lr_factor: float = 0.01
    train_fraction: float = 1.0  # share of the training split used (a fixed random subset): few-label studies
    flip: bool = False  # random left-right flips in training (not for digits)
    top_k: int = 3
    # Inference extras (spec §3.3). include_top: the application WITH its ImageNet classifier (1,000
    # classes, weights from a full .h5), predict-only: `python -m tfzoo.vision.transfer.extras RUN_DIR`
    # writes its run (it has no training data and predicts ImageNet's classes, not the data's).
    include_top: bool = False
    labels: str = ""  # "" = class_<i> | file:PATH: one name a line, or Keras's class-index JSON
    dense: bool = False  # predict: a class-probability map over the image at its own size (实例86)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        steps=1000, batch_size=64, eval_every=250, ckpt_every=500, log_every=50))
    optim: OptimConfig = field(default_factory=OptimConfig)

    # vision.classify's pipeline and hooks read these; they are fixed here, not knobs.
    @property
    def standardize(self) -> bool:
        return False

    @property
    def channels(self) -> int:
        return 3  # every backbone wants RGB; grey images are repeated to 3 channels

    @property
    def data_spec(self) -> str:
        return self.data or DEFAULT_DATA.get(self.mode, "mnist-8x8")

    @classmethod
    def tiny(cls) -> TransferConfig:
        """A few-second configuration for tests: mobilenet_v2 alpha 0.35 at 32 px, 4 steps."""
        base = cls()
        return replace(base, image_size=32, train=replace(
            base.train, steps=4, batch_size=16, eval_every=2, ckpt_every=2, log_every=1, eval_batches=2))
