"""Every knob of vision.classify, as a frozen dataclass."""

from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal, get_args

from tfzoo.common.settings import OptimConfig, TrainConfig

ModelName = Literal[
    "softmax", "mlp", "maxout", "lenet", "cnn-gap", "cnn-factorised",
    "cnn-multikernel", "cnn-bn", "rnn",
]
MODELS = get_args(ModelName)


@dataclass(frozen=True)
class ClassifyConfig:
    """Image classification (实例21-66): the model, its sizes, data and augmentation."""

    # what `tfzoo info` and `tfzoo list` say of the task (read without importing TensorFlow)
    DESCRIPTION: ClassVar[str] = "image classification: softmax, MLP, Maxout, CNNs (GAP, multi-kernel, BN) and row RNNs"
    DATA_SPECS: ClassVar[tuple[str, ...]] = (
        "mnist-5k (default)",
        "digits-8x8",
        "idx:DIR",
        "fashion-mnist",
        "folder:DIR",
        "tfrecord:GLOB",
        "cifar10:DIR",
    )

    model: ModelName = "cnn-bn"
    data: str = "mnist-5k"
    # mlp / softmax / maxout
    hidden: tuple[int, ...] = (256, 256)
    maxout_units: int = 64
    maxout_pieces: int = 4
    # convolutional models
    filters: int = 64
    kernel_size: int = 5
    bn_momentum: float = 0.9
    stem: Literal["none", "sobel"] = "none"
    # rnn over image rows
    cell: Literal["lstm", "gru"] = "lstm"
    rnn_units: tuple[int, ...] = (128,)
    bidirectional: bool = False
    dropout: float = 0.0
    # input pipeline
    image_size: tuple[int, int] = (0, 0)  # (0, 0) keeps the data's own size
    channels: int = 0  # 0 keeps the data's own channel count
    random_crop: tuple[int, int] = (0, 0)  # the book's CIFAR preset is (24, 24)
    flip: bool = False
    standardize: bool = False  # per-image standardisation, as the book's CIFAR pipeline
    top_k: int = 3
    train: TrainConfig = field(default_factory=TrainConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    @classmethod
    def tiny(cls) -> "ClassifyConfig":
        """A few-second configuration for tests."""
        base = cls()
        return replace(
            base,
            filters=8,
            hidden=(32,),
            rnn_units=(16,),
            maxout_units=8,
            train=replace(base.train, steps=4, batch_size=16, eval_every=2,
                          ckpt_every=2, log_every=1, eval_batches=2),
        )
