"""Every knob of generative.vae (实例82-83), as a frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal, get_args

from tfzoo.common.settings import OptimConfig, TrainConfig

Variant = Literal["vae", "cvae"]
Likelihood = Literal["bernoulli", "gaussian"]
VARIANTS, LIKELIHOODS = get_args(Variant), get_args(Likelihood)
# The book's MNIST has 55,000 training images; book() keeps its number of updates.
BOOK_TRAIN_SIZE = 55_000


@dataclass(frozen=True)
class VAEConfig:
    """Variational autoencoder (实例82) and its conditional form (实例83)."""

    # what `tfzoo info` and `tfzoo list` say of the task (read without importing TensorFlow)
    DESCRIPTION: ClassVar[str] = "variational autoencoder (2-D latent manifold) and conditional VAE (one row of samples per label)"
    DATA_SPECS: ClassVar[tuple[str, ...]] = (
        "mnist-5k (default)",
        "digits-8x8",
        "fashion-mnist",
        "idx:DIR",
        "folder:DIR",
    )

    # `--preset vae|cvae`: the book's settings for that variant (`book(variant)`); `book` is vae's.
    PRESETS: ClassVar[tuple[str, ...]] = ("tiny", "book", *VARIANTS)
    RANGES: ClassVar[dict] = {"channels": (0, None), "hidden": (1, None), "label_units": (1, None),
                              "latent_dim": (1, None), "beta": (0.0, None), "logvar_clip": (0.0, None),
                              "n": (1, None), "eval_samples": (1, None), "eval_classifier_epochs": (1, None)}

    variant: Variant = "vae"  # cvae: label-conditioned encoder and decoder
    data: str = "mnist-5k"
    image_size: tuple[int, int] = (0, 0)  # (0, 0) keeps the data's own size
    channels: int = 0  # 0 keeps the data's own channel count
    hidden: int = 256
    label_units: int = 256  # cvae: label -> Dense(label_units, ReLU), concatenated with h1
    latent_dim: int = 2
    likelihood: Likelihood = "bernoulli"  # bernoulli: BCE summed over pixels; gaussian: ½·SSE, the book's
    beta: float = 1.0
    logvar_clip: float = 10.0  # log σ² is clamped to [-clip, clip]
    # predict RUN samples --set n=64 --set label=3
    n: int = 64
    label: int = -1  # -1: labels 0, 1, 2, ... in turn
    # evaluation
    eval_samples: int = 1000  # generated images scored by FD-DC and faithfulness
    eval_classifier_epochs: int = 8
    eval_root: str = ""  # "" caches the domain classifier under tfzoo.common.cache.cache_dir("eval")
    train: TrainConfig = field(default_factory=TrainConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    @classmethod
    def tiny(cls) -> VAEConfig:
        """A few-second configuration for tests."""
        base = cls()
        return replace(
            base, hidden=16, label_units=8, n=16, eval_samples=100, eval_classifier_epochs=1,
            train=replace(base.train, steps=4, batch_size=16, eval_every=2, ckpt_every=2, log_every=1,
                          eval_batches=2),
        )

    @classmethod
    def book(cls, variant: str = "vae") -> VAEConfig:
        """实例82/83 as printed: Adam 1e-3, 50 epochs of batch 128, Gaussian likelihood."""
        base = cls(variant=variant, likelihood="gaussian")
        return replace(base, optim=OptimConfig(optimizer="adam", lr=1e-3),
                       train=replace(base.train, steps=50 * BOOK_TRAIN_SIZE // 128, batch_size=128))

    @classmethod
    def vae(cls) -> VAEConfig:
        """实例82 as printed."""
        return cls.book("vae")

    @classmethod
    def cvae(cls) -> VAEConfig:
        """实例83 as printed: the label conditions encoder and decoder."""
        return cls.book("cvae")
