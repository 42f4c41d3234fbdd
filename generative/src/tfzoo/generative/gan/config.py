"""Every knob of generative.gan: orthogonal options, and the book's examples as `variant=` presets."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal, get_args

from tfzoo.common.errors import ConfigError
from tfzoo.common.settings import OptimConfig, TrainConfig

Variant = Literal["dcgan", "infogan", "infogan-ac", "acgan", "aegan", "wgan-gp", "lsgan", "gan-cls"]
# "" takes the variant's value (VARIANTS); the losses are tfzoo.common.gan_losses.LOSSES.
Loss = Literal["", "bce", "ls", "wgan-gp"]
Conditioning = Literal["", "none", "acgan", "infogan", "infogan-ac", "matching"]
Arch = Literal["", "dcgan", "mlp", "dcgan-large"]
Encoder = Literal["", "none", "aegan"]
ZDist = Literal["", "normal", "uniform"]
CONDITIONINGS = get_args(Conditioning)[1:]
ARCHS = get_args(Arch)[1:]

# Each preset fills the options left at "" / 0 (spec §4.1). Options set explicitly win.
VARIANTS: dict[str, dict] = {
    "dcgan": dict(loss="bce", conditioning="none", arch="dcgan", encoder="none", n_critic=1, z_dim=100),
    "infogan": dict(loss="bce", conditioning="infogan", arch="dcgan", encoder="none", n_critic=1, z_dim=38),
    "infogan-ac": dict(loss="bce", conditioning="infogan-ac", arch="dcgan", encoder="none", n_critic=1, z_dim=38),
    "acgan": dict(loss="bce", conditioning="acgan", arch="dcgan", encoder="none", n_critic=1, z_dim=38),
    "aegan": dict(loss="bce", conditioning="infogan-ac", arch="dcgan", encoder="aegan", n_critic=1, z_dim=38),
    # 实例90 draws its noise from U(-1, 1) and trains an MLP critic 5 times per generator step.
    "wgan-gp": dict(loss="wgan-gp", conditioning="none", arch="mlp", encoder="none", n_critic=5, z_dim=32,
                    z_dist="uniform"),
    "lsgan": dict(loss="ls", conditioning="infogan-ac", arch="dcgan", encoder="none", n_critic=1, z_dim=38),
    "gan-cls": dict(loss="ls", conditioning="matching", arch="dcgan", encoder="none", n_critic=1, z_dim=38),
}


@dataclass(frozen=True)
class GANConfig:
    """The GAN family (实例88-92 and DCGAN): loss, conditioning, architecture, encoder, critic schedule.

    Options left empty ("" or 0) take the value of `variant`; see `options()`.
    """

    # what `tfzoo info` and `tfzoo list` say of the task (read without importing TensorFlow)
    DESCRIPTION: ClassVar[str] = (
        "the GAN family: dcgan, infogan, infogan-ac, acgan, aegan, wgan-gp, lsgan, gan-cls (--set "
        "variant=..., or --preset NAME for the book's settings; loss, conditioning, arch, encoder, "
        "n_critic, gp settable alone)"
    )
    DATA_SPECS: ClassVar[tuple[str, ...]] = (
        "mnist-5k (default)",
        "fashion-mnist",
        "idx:DIR",
        "folder:DIR",
        "tfrecord:GLOB",
    )

    # `--preset NAME` for each variant: the book's hyperparameters for it (`book(variant)`).
    PRESETS: ClassVar[tuple[str, ...]] = ("tiny", "book", *get_args(Variant))
    RANGES: ClassVar[dict] = {"n_critic": (0, None), "z_dim": (0, None), "gp_weight": (0.0, None),
                              "n_cont": (0, None), "channels": (0, None), "encoder_steps": (0, None),
                              "eval_samples": (1, None), "eval_classifier_epochs": (1, None), "n": (1, None)}

    variant: Variant = "dcgan"
    data: str = "mnist-5k"
    loss: Loss = ""  # bce (non-saturating), ls or wgan-gp
    conditioning: Conditioning = ""
    arch: Arch = ""
    encoder: Encoder = ""
    n_critic: int = 0  # discriminator steps per generator step
    gp: Literal["two-sided", "one-sided"] = "two-sided"  # one-sided is the book's (S0 L22318)
    gp_weight: float = 10.0
    ls_sigmoid: bool = False  # the book's sigmoid-then-squares for LS losses
    z_dim: int = 0  # noise dimensions (besides codes and labels)
    z_dist: ZDist = ""  # uniform: U(-1, 1)
    n_cont: int = 2  # continuous InfoGAN codes, ~U(-1, 1)
    info_weight: float = 1.0  # categorical code / class term
    cont_weight: float = 0.5  # continuous code term (a unit-variance Gaussian's squared error)
    # architecture sizes
    width: int = 64  # first conv's filters; layers double it
    fc: int = 1024  # the dense layer of the dcgan G and D (88)
    mlp_hidden: tuple[int, ...] = (128, 32)  # the mlp critic (90); the mlp G uses the first
    image_size: tuple[int, int] = (0, 0)  # (0, 0): the data's own (dcgan-large: 64x64)
    channels: int = 0  # 0 keeps the data's own
    # optimisers: one per network
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    lr_e: float = 1e-3
    beta1: float = 0.5
    beta2: float = 0.999
    encoder_steps: int = 2000  # the aegan encoder stage after train.steps GAN steps
    # pictures, evaluation and predict
    # plots/samples_<step>.png at the evaluations (every train.eval_every steps) on multiples of this; 0 = at the end
    sample_every: int = 500
    eval_samples: int = 1000  # generated images scored by `tfzoo evaluate`
    eval_root: str = ""  # where the domain classifier is cached ("" = tfzoo.common.cache.cache_dir("eval"))
    eval_classifier_epochs: int = 8
    n: int = 64  # predict: images in a grid
    label: int = -1  # predict: the class (or categorical code) to draw; -1 = every class in turn
    # The trainer reads optim (plateau decay); the GAN uses only its clip_norm, lr_* set the three Adams.
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=3000, batch_size=64, eval_every=500,
                                                                   ckpt_every=500, eval_batches=4))

    @classmethod
    def tiny(cls, variant: str = "dcgan") -> GANConfig:
        """A few-second configuration for tests."""
        base = cls(variant=variant)
        return replace(
            base, width=4, fc=16, mlp_hidden=(16, 8), encoder_steps=2, sample_every=2, eval_samples=64,
            eval_classifier_epochs=1, n=16,
            train=replace(base.train, steps=4, batch_size=16, eval_every=2, ckpt_every=2, log_every=1, eval_batches=1),
        )

    @classmethod
    def book(cls, variant: str = "infogan-ac") -> GANConfig:
        """The book's hyperparameters for a variant (spec §4.1); mnist-5k has 5,000 images, not 55,000."""
        base = cls(variant=variant)
        if variant == "wgan-gp":  # 实例90: Adam 1e-4, beta1 0.5, 100 epochs of batch 64 (here 78 steps an epoch)
            return replace(base, lr_g=1e-4, lr_d=1e-4, train=replace(base.train, steps=100 * 78))
        if variant == "dcgan":
            return base
        # 88-92: D Adam 1e-4, G 1e-3, batch 10, 3 epochs; 89 trains its encoder at 0.01 for 3 more epochs.
        steps = 3 * 5000 // 10
        return replace(base, lr_d=1e-4, lr_g=1e-3, lr_e=0.01, beta1=0.9, encoder_steps=steps,
                       train=replace(base.train, steps=steps, batch_size=10))

    # One preset per variant (`--preset infogan-ac` calls infogan_ac): the book's settings for it.
    @classmethod
    def dcgan(cls) -> GANConfig:
        """DCGAN with tfzoo's defaults (the book has no plain DCGAN example)."""
        return cls.book("dcgan")

    @classmethod
    def infogan(cls) -> GANConfig:
        """实例88's InfoGAN, its categories learnt without labels."""
        return cls.book("infogan")

    @classmethod
    def infogan_ac(cls) -> GANConfig:
        """实例88: InfoGAN with the class as the categorical code (AC-GAN style)."""
        return cls.book("infogan-ac")

    @classmethod
    def acgan(cls) -> GANConfig:
        """AC-GAN: labelled generator, auxiliary classifier, no continuous codes."""
        return cls.book("acgan")

    @classmethod
    def aegan(cls) -> GANConfig:
        """实例89: InfoGAN-AC, then an encoder trained to invert the frozen generator."""
        return cls.book("aegan")

    @classmethod
    def wgan_gp(cls) -> GANConfig:
        """实例90: WGAN-GP with an MLP critic, 5 critic steps per generator step."""
        return cls.book("wgan-gp")

    @classmethod
    def lsgan(cls) -> GANConfig:
        """实例91: least-squares losses."""
        return cls.book("lsgan")

    @classmethod
    def gan_cls(cls) -> GANConfig:
        """实例92: GAN-CLS, real images with wrong labels count as fakes."""
        return cls.book("gan-cls")


@dataclass(frozen=True)
class Options:
    """The concrete options of a config once its variant has filled the blanks."""

    loss: str
    conditioning: str
    arch: str
    encoder: str
    n_critic: int
    z_dim: int
    z_dist: str

    @property
    def labelled(self) -> bool:
        """The generator takes a class label (or the categorical code)."""
        return self.conditioning != "none"

    @property
    def needs_labels(self) -> bool:
        """Training reads the data's labels (InfoGAN learns its categories unsupervised)."""
        return self.conditioning in ("acgan", "infogan-ac", "matching")

    @property
    def has_class_head(self) -> bool:
        return self.conditioning in ("acgan", "infogan", "infogan-ac")

    @property
    def has_codes(self) -> bool:
        """Continuous InfoGAN codes."""
        return self.conditioning in ("infogan", "infogan-ac")


def options(config: GANConfig) -> Options:
    """Fill the blank options from the variant's preset (each value is checked when the config is built)."""
    preset = {"z_dist": "normal", **VARIANTS[config.variant]}
    opts = Options(**{key: getattr(config, key) or default for key, default in preset.items()})
    if opts.encoder == "aegan" and config.encoder_steps < 1:
        raise ConfigError("encoder=aegan needs encoder_steps >= 1")
    return opts
