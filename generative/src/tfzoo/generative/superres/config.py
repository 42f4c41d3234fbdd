"""Every knob of generative.superres, as a frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal, get_args

from tfzoo.common.settings import OptimConfig, TrainConfig

Variant = Literal["espcn", "espcn-residual", "srgan"]
Degrade = Literal["bicubic", "bilinear", "area"]  # bicubic and bilinear are antialiased
VARIANTS, DEGRADES = get_args(Variant), get_args(Degrade)
BOOK_LS = 1.0  # the book's LS terms are plain MSEs, without the ½ of Mao et al. (gan_losses' default)


@dataclass(frozen=True)
class SuperResConfig:
    """Single-image super-resolution (实例93-96): the model, scale, patches, degradation and the SRGAN losses."""

    # what `tfzoo info` and `tfzoo list` say of the task (read without importing TensorFlow)
    DESCRIPTION: ClassVar[str] = "single-image super-resolution: ESPCN (x2/x3/x4), residual ESPCN and SRGAN, against bicubic"
    DATA_SPECS: ClassVar[tuple[str, ...]] = (
        "photos (default)",
        "mnist-5k",
        "folder:DIR",
        "idx:DIR",
    )

    # `--preset book93` ... `book96`: the book's examples (`book(example)`); `book` is 94.
    PRESETS: ClassVar[tuple[str, ...]] = ("tiny", "book", "book93", "book94", "book95", "book96")
    RANGES: ClassVar[dict] = {"patch_size": (1, None), "crops_per_image": (1, None), "eval_crop": (1, None),
                              "filters": (1, None), "res_blocks": (0, None), "d_dense": (1, None),
                              "adv_weight": (0.0, None), "pixel_weight": (0.0, None),
                              "content_weight": (0.0, None), "feature_steps": (0, None), "d_lr": (0.0, None)}

    variant: Variant = "espcn"
    data: str = "photos"
    scale: Literal[2, 3, 4] = 2  # r: the LR patch is patch_size / r
    patch_size: int = 96  # HR training crop; 96 is divisible by 2, 3 and 4
    crops_per_image: int = 32  # training examples drawn from each image per epoch
    eval_crop: int = 192  # centre crop of validation images for the streaming metrics (whole images in evaluate)
    degrade: Degrade = "bicubic"
    # espcn (实例93/94): conv5x5 -> conv3x3 -> conv3x3(C r^2) -> depth_to_space
    espcn_filters: tuple[int, int] = (64, 32)
    activation: Literal["tanh", "relu"] = "tanh"  # tanh is the paper's, relu the book's 93
    # espcn-residual / srgan generator (实例95)
    filters: int = 64
    res_blocks: int = 16
    # srgan (实例96)
    init_from: str = ""  # an espcn-residual run dir: warm start of the generator only
    d_filters: tuple[int, ...] = (64, 128, 128, 256, 256, 512, 512)
    d_dense: int = 1024
    patch_d: bool = False  # True keeps the book's per-location discriminator (no flatten)
    gan_loss: Literal["ls", "bce"] = "ls"  # ls is the book's
    adv_weight: float = 1e-3
    pixel_weight: float = 1.0
    content_weight: float = 1.0
    perceptual: str = "own"  # own | vgg19:PATH | none
    perceptual_layer: str = "block5_conv4"  # the VGG19 layer; the book's conv5_4
    feature_steps: int = 1000  # `own`: rotation-prediction pretraining steps before the GAN stage
    feature_filters: tuple[int, ...] = (32, 64, 128)
    d_lr: float = 1e-3
    # predict
    # upsample: the input is LR; reference: degrade the input first, then compare with it
    predict_mode: Literal["upsample", "reference"] = "upsample"
    predict_out: str = ""  # folder for predicted PNGs; "" = <run>/plots/predict
    # standard: BT.601 luma, Gaussian SSIM; book: its formulas (S0 L23155-L23200)
    metric_style: Literal["standard", "book"] = "standard"
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        steps=3000, batch_size=16, log_every=50, eval_every=500, ckpt_every=500, shuffle_buffer=512))
    # Adam 1e-3 decayed to 0 by a cosine over the run: the last weights are not a noisy mid-step snapshot.
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=1e-3, schedule="cosine"))

    @classmethod
    def tiny(cls) -> SuperResConfig:
        """A few-second configuration for tests: small patches and widths."""
        base = cls()
        return replace(
            base,
            patch_size=24,
            crops_per_image=4,
            eval_crop=48,
            espcn_filters=(8, 8),
            filters=8,
            res_blocks=1,
            d_filters=(8, 8, 16),
            d_dense=16,
            feature_steps=2,
            feature_filters=(8, 8),
            train=replace(base.train, steps=4, batch_size=4, eval_every=2, ckpt_every=2, log_every=1,
                          eval_batches=1),
        )

    @classmethod
    def book(cls, example: int = 94) -> SuperResConfig:
        """The book's settings (with its bugs fixed): 93 mnist-5k x2, 94 flowers x2, 95 resESPCN x4, 96 SRGAN x4.

        94's Adam 1e-6 (S0 L23105) barely trains and is not copied; 95 uses the code's 10,000 steps.
        """
        base = cls()
        if example == 93:
            return replace(base, data="mnist-5k", patch_size=28, eval_crop=28, crops_per_image=1, activation="relu",
                           train=replace(base.train, batch_size=30, steps=13_400),
                           optim=replace(base.optim, lr=0.01, schedule="constant"))
        if example == 94:
            return replace(base, degrade="bilinear", train=replace(base.train, batch_size=4, steps=150_000))
        if example == 95:
            return replace(base, variant="espcn-residual", scale=4,
                           train=replace(base.train, batch_size=16, steps=10_000))
        if example == 96:
            return replace(base, variant="srgan", scale=4, train=replace(base.train, batch_size=16, steps=16_000))
        raise ValueError(f"no book preset for example {example}; choose 93, 94, 95 or 96")

    @classmethod
    def book93(cls) -> SuperResConfig:
        """实例93: ESPCN x2 on mnist-5k."""
        return cls.book(93)

    @classmethod
    def book94(cls) -> SuperResConfig:
        """实例94: ESPCN x2 on photos, bilinear degradation."""
        return cls.book(94)

    @classmethod
    def book95(cls) -> SuperResConfig:
        """实例95: residual ESPCN x4."""
        return cls.book(95)

    @classmethod
    def book96(cls) -> SuperResConfig:
        """实例96: SRGAN x4 (own rotation-trained features for the content loss)."""
        return cls.book(96)
