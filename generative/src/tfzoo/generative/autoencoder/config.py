"""Every knob of generative.autoencoder (实例76-80), as a frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal, get_args

from tfzoo.common.settings import OptimConfig, TrainConfig

Variant = Literal["basic", "linear2d", "conv", "denoising", "stacked"]
VARIANTS = get_args(Variant)
# Hidden widths from the input to the code (the decoder mirrors them), per variant (spec §1.1, §2).
WIDTHS = {"basic": (256, 128), "linear2d": (256, 64, 16, 2), "denoising": (256, 256), "stacked": (256, 128)}
# Noise when `noise` is empty: the issue asks the denoising AE to see Gaussian and salt-and-pepper noise.
DEFAULT_NOISE = {"denoising": "gaussian:0.3,salt_pepper:0.1", "stacked": "gaussian:0.3"}
STAGES = ("dae1", "ae2", "head", "finetune")
# The book's MNIST has 55,000 training images; book() keeps its number of updates.
BOOK_TRAIN_SIZE = 55_000


@dataclass(frozen=True)
class AutoencoderConfig:
    """Autoencoders: dense, 2-D linear code, conv with argmax unpooling, denoising, stacked pretraining."""

    # what `tfzoo info` and `tfzoo list` say of the task (read without importing TensorFlow)
    DESCRIPTION: ClassVar[str] = "autoencoders: dense 784-256-128, 2-D linear code, conv with argmax unpooling, denoising, stacked"
    DATA_SPECS: ClassVar[tuple[str, ...]] = (
        "mnist-5k (default)",
        "digits-8x8",
        "fashion-mnist",
        "idx:DIR",
        "folder:DIR",
    )

    # `--preset VARIANT`: the book's settings for that variant (`book(variant)`); `book` is basic's.
    PRESETS: ClassVar[tuple[str, ...]] = ("tiny", "book", *VARIANTS)
    RANGES: ClassVar[dict] = {"channels": (0, None), "dropout": (0.0, 1.0), "stacked_dropout": (0.0, 1.0),
                              "finetune_lr": (0.0, None), "eval_samples": (1, None),
                              "eval_classifier_epochs": (1, None)}

    variant: Variant = "basic"
    data: str = "mnist-5k"
    image_size: tuple[int, int] = (0, 0)  # (0, 0) keeps the data's own size
    channels: int = 0  # 0 keeps the data's own channel count
    hidden: tuple[int, ...] = ()  # () uses the variant's widths (WIDTHS); the last one is the code size
    activation: str = "relu"  # hidden layers; the book uses sigmoid everywhere
    conv_filters: tuple[int, int] = (16, 32)  # conv: the book omits the widths
    # denoising: dropout after each hidden layer; 0 as the book, which builds the layers but trains
    # with keep_prob 1 (S0 L18740). The stacked dae1 stage uses stacked_dropout.
    dropout: float = 0.0
    loss: Literal["mse", "bce"] = "mse"  # mse is the book's
    noise: str = ""  # "" = the variant's default (DEFAULT_NOISE); see tfzoo.generative.images
    # stacked (实例80): four stages; () splits train.steps evenly
    stage_steps: tuple[int, ...] = ()
    stacked_dropout: float = 0.5
    finetune_lr: float = 1e-3
    label_fraction: float = 1.0  # share of training labels the head and fine-tuning see
    # evaluation
    eval_samples: int = 1000  # images scored by FD-DC
    eval_classifier_epochs: int = 8
    eval_root: str = ""  # "" caches the domain classifier under tfzoo.common.cache.cache_dir("eval")
    train: TrainConfig = field(default_factory=TrainConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    @classmethod
    def tiny(cls) -> AutoencoderConfig:
        """A few-second configuration for tests."""
        base = cls()
        return replace(
            base, conv_filters=(4, 8), eval_samples=100, eval_classifier_epochs=1,
            train=replace(base.train, steps=4, batch_size=16, eval_every=2, ckpt_every=2, log_every=1,
                          eval_batches=2),
        )

    @classmethod
    def book(cls, variant: str = "basic") -> AutoencoderConfig:
        """The book's hyperparameters for `variant` (spec §1.1 and §2), with its number of updates."""
        base = cls(variant=variant, activation="sigmoid")
        batch, epochs, optim = 256, 20, OptimConfig(optimizer="adam", lr=0.01)
        if variant in ("basic", "conv"):
            optim = OptimConfig(optimizer="rmsprop", lr=0.01)
        extra = {}
        if variant == "denoising":
            extra = {"noise": "gaussian:0.3:noclip"}
        if variant == "stacked":
            batch, epochs = 100, 50
            extra = {"noise": "gaussian:0.3:noclip",
                     "stage_steps": (epochs * BOOK_TRAIN_SIZE // batch,) * 4}
        steps = epochs * BOOK_TRAIN_SIZE // batch * (4 if variant == "stacked" else 1)
        return replace(base, optim=optim, **extra,
                       train=replace(base.train, steps=steps, batch_size=batch))

    @classmethod
    def basic(cls) -> AutoencoderConfig:
        """实例76: dense 784-256-128, RMSProp 0.01."""
        return cls.book("basic")

    @classmethod
    def linear2d(cls) -> AutoencoderConfig:
        """实例77: a linear 2-D code."""
        return cls.book("linear2d")

    @classmethod
    def conv(cls) -> AutoencoderConfig:
        """实例78: convolutions with argmax unpooling."""
        return cls.book("conv")

    @classmethod
    def denoising(cls) -> AutoencoderConfig:
        """实例79: denoising with unclipped Gaussian noise σ 0.3."""
        return cls.book("denoising")

    @classmethod
    def stacked(cls) -> AutoencoderConfig:
        """实例80: stacked layer-wise pretraining, then fine-tuning."""
        return cls.book("stacked")
