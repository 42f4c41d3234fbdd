"""Generator, discriminator (critic) and AEGAN encoder for the three architectures of spec §4.1.

The generator takes one flat latent vector: noise, then the one-hot label or categorical code
(conditional presets), then the continuous codes (InfoGAN). `latent` builds it, so training,
pictures and the exported signature all lay it out the same way.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfzoo.generative.gan.config import GANConfig, Options

SLOPE = 0.2  # LeakyReLU slope of DCGAN (Keras 3's default is 0.3)


def latent_dim(config: GANConfig, opts: Options, num_classes: int) -> int:
    """Length of the generator's input vector."""
    return opts.z_dim + (num_classes if opts.labelled else 0) + (config.n_cont if opts.has_codes else 0)


def latent(noise: tf.Tensor, onehot: tf.Tensor | None = None, codes: tf.Tensor | None = None) -> tf.Tensor:
    """[noise, one-hot label or categorical code, continuous codes], whichever are present."""
    return tf.concat([t for t in (noise, onehot, codes) if t is not None], axis=-1)


def _norm(kind: str) -> keras.layers.Layer:
    # The WGAN-GP penalty is per sample, which BatchNorm breaks (S0 L22237); LayerNorm keeps it valid.
    return keras.layers.LayerNormalization() if kind == "layer" else keras.layers.BatchNormalization()


def build_generator(config: GANConfig, opts: Options, shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    """dcgan (88): FC fc-BN-ReLU, FC (H/4·W/4·2w)-BN-ReLU, deconv 4x4/2 w-BN-ReLU, deconv 4x4/2 C sigmoid;
    dcgan-large: FC to H/16 x W/16 x 8w, then deconvs 4w, 2w, w, C; mlp (90): z, hidden, H·W·C sigmoid."""
    h, w, c = shape
    inputs = keras.Input((latent_dim(config, opts, num_classes),), name="latent")
    x = inputs
    if opts.arch == "mlp":
        x = keras.layers.Dense(config.mlp_hidden[0], activation="relu")(x)
        x = keras.layers.Dense(h * w * c, activation="sigmoid")(x)
        return keras.Model(inputs, keras.layers.Reshape((h, w, c))(x), name="generator")
    ups = 4 if opts.arch == "dcgan-large" else 2
    if opts.arch == "dcgan":
        x = keras.layers.Dense(config.fc, use_bias=False)(x)
        x = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
    start = config.width * 2 ** (ups - 1)
    x = keras.layers.Dense((h >> ups) * (w >> ups) * start, use_bias=False)(x)
    x = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
    x = keras.layers.Reshape((h >> ups, w >> ups, start))(x)
    for i in range(ups - 1):
        x = keras.layers.Conv2DTranspose(config.width * 2 ** (ups - 2 - i), 4, strides=2, padding="same",
                                         use_bias=False)(x)
        x = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
    x = keras.layers.Conv2DTranspose(c, 4, strides=2, padding="same", activation="sigmoid", name="image")(x)
    return keras.Model(inputs, x, name="generator")


def build_discriminator(
    config: GANConfig, opts: Options, shape: tuple[int, int, int], num_classes: int
) -> keras.Model:
    """D(x) (or D(x, y) for GAN-CLS) -> {"score", "class_logits"?, "codes"?}.

    dcgan (88): conv 4x4/2 w LReLU, conv 4x4/2 2w LReLU, FC fc LReLU; dcgan-large adds two convs
    and normalisation (BatchNorm, or LayerNorm for a WGAN-GP critic); mlp (90): hidden LReLU layers.
    GAN-CLS: y -> FC(H·W) LReLU -> H x W x 1, concatenated with x. The heads are linear: the score
    is a logit (bce), a raw value (ls) or a critic value (wgan-gp); the InfoGAN recogniser shares the body.
    """
    h, w, c = shape
    image = keras.Input(shape, name="image")
    inputs = image
    x = image
    if opts.conditioning == "matching":
        label = keras.Input((num_classes,), name="label")
        inputs = {"image": image, "label": label}
        y = keras.layers.LeakyReLU(SLOPE)(keras.layers.Dense(h * w)(label))
        x = keras.layers.Concatenate()([image, keras.layers.Reshape((h, w, 1))(y)])
    if opts.arch == "mlp":
        x = keras.layers.Flatten()(x)
        for units in config.mlp_hidden:
            x = keras.layers.LeakyReLU(SLOPE)(keras.layers.Dense(units)(x))
    else:
        large = opts.arch == "dcgan-large"
        norm = "layer" if opts.loss == "wgan-gp" else "batch"
        for i in range(4 if large else 2):
            x = keras.layers.Conv2D(config.width * 2**i, 4, strides=2, padding="same")(x)
            if large and i > 0:
                x = _norm(norm)(x)
            x = keras.layers.LeakyReLU(SLOPE)(x)
        x = keras.layers.Flatten()(x)
        if not large:
            x = keras.layers.LeakyReLU(SLOPE)(keras.layers.Dense(config.fc)(x))
    outputs = {"score": keras.layers.Dense(1, name="score")(x)}
    if opts.has_class_head:
        outputs["class_logits"] = keras.layers.Dense(num_classes, name="class_logits")(x)
    if opts.has_codes:
        # Linear: the continuous codes are U(-1, 1), not the book's sigmoid over N(0, 1) draws (S0 L21560).
        outputs["codes"] = keras.layers.Dense(config.n_cont, name="codes")(x)
    return keras.Model(inputs, outputs, name="discriminator")


def build_encoder(config: GANConfig, shape: tuple[int, int, int], size: int) -> keras.Model:
    """AEGAN's E (89): conv 4x4/2 w, conv 4x4/2 2w, FC fc, FC latent (linear)."""
    image = keras.Input(shape, name="image")
    x = image
    for i in range(2):
        x = keras.layers.LeakyReLU(SLOPE)(keras.layers.Conv2D(config.width * 2**i, 4, strides=2, padding="same")(x))
    x = keras.layers.Flatten()(x)
    x = keras.layers.LeakyReLU(SLOPE)(keras.layers.Dense(config.fc)(x))
    return keras.Model(image, keras.layers.Dense(size, name="latent")(x), name="encoder")
