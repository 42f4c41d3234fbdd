"""The feature networks of SRGAN's perceptual (content) loss; nothing is downloaded (spec §5.3).

- `own`: a small VGG-style CNN trained by tfzoo itself by rotation prediction (0/90/180/270°) on
  crops of the training images, then frozen; features are its last conv block.
- `vgg19:PATH`: Keras VGG19 (no top) built with weights=None, then `load_weights(PATH)` from the
  user's local file; features are `perceptual_layer` (the book's conv5_4 is block5_conv4), on
  inputs through VGG's own `preprocess_input` (RGB->BGR, ImageNet means subtracted, as the book).
- `none`: no feature loss.
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from tfzoo.common.errors import ConfigError

from .config import SuperResConfig

__all__ = ["build_rotation_net", "feature_extractor", "parse_perceptual", "rotate_batch", "vgg19_features"]


def parse_perceptual(spec: str) -> tuple[str, str]:
    """`"own"`, `"none"` or `"vgg19:PATH"` -> (kind, path); a one-line ConfigError otherwise."""
    kind, _, path = spec.partition(":")
    if kind in ("own", "none") and not path:
        return kind, ""
    if kind == "vgg19" and path:
        return kind, path
    raise ConfigError(f"perceptual={spec!r}: expected own, none or vgg19:PATH (a local VGG19 notop weights file)")


def build_rotation_net(config: SuperResConfig, channels: int) -> keras.Model:
    """VGG-style blocks [conv3x3-ReLU x2, maxpool] -> GAP -> 4 rotation logits; layer "features" is the last block."""
    inputs = keras.Input((None, None, channels), name="image")
    x = inputs * 2.0 - 1.0
    last = len(config.feature_filters) - 1
    for i, f in enumerate(config.feature_filters):
        x = keras.layers.Conv2D(f, 3, padding="same", activation="relu", name=f"f{i}_conv1")(x)
        x = keras.layers.Conv2D(f, 3, padding="same", activation="relu",
                                name="features" if i == last else f"f{i}_conv2")(x)
        if i < last:
            x = keras.layers.MaxPool2D(name=f"f{i}_pool")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(4, name="rotation")(x), name="features")


def rotate_batch(images: tf.Tensor, k: tf.Tensor) -> tf.Tensor:
    """Rotate each square image [N, S, S, C] by its own k[i] x 90° (counter-clockwise, as tf.image.rot90)."""
    k = tf.math.floormod(tf.cast(k, tf.int32), 4)
    stacked = tf.stack([tf.image.rot90(images, j) for j in range(4)])  # [4, N, S, S, C]
    index = tf.stack([k, tf.range(tf.shape(images)[0])], axis=1)
    return tf.gather_nd(stacked, index)


def vgg19_features(path: str, layer: str) -> keras.Model:
    """VGG19 (no top, weights=None) loaded from the local `path`; [0, 1] RGB in, `layer` activations out."""
    if not Path(path).is_file():
        raise ConfigError(f"perceptual=vgg19:{path}: file not found; give a local Keras VGG19 notop weights file "
                          "(e.g. vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5); nothing is downloaded")
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    try:
        vgg.load_weights(path)
    except Exception as err:  # h5py/keras raise several types for a wrong file
        raise ConfigError(f"perceptual=vgg19:{path}: not VGG19 notop weights ({str(err).splitlines()[0]})") from None
    names = [layer_.name for layer_ in vgg.layers]
    if layer not in names:
        raise ConfigError(f"perceptual_layer={layer!r} is not a VGG19 layer; e.g. block5_conv4 (the book's conv5_4), "
                          "block2_conv2")
    vgg.trainable = False
    inputs = keras.Input((None, None, 3), name="image")
    # VGG's own preprocessing: RGB->BGR and the ImageNet means, on the 0..255 scale.
    x = keras.applications.vgg19.preprocess_input(inputs * 255.0)
    body = keras.Model(vgg.input, vgg.get_layer(layer).output)
    return keras.Model(inputs, body(x, training=False), name="vgg19_features")


def feature_extractor(model: keras.Model) -> keras.Model:
    """The "features" layer output of the own rotation network (frozen use)."""
    return keras.Model(model.input, model.get_layer("features").output)
