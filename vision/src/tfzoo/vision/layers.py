"""Vision layers shared by the vision tasks: Sobel edges and the book's conv variants.

- `Sobel`: the fixed edge filter of 实例38 (S0 L7135–L7215).
- `FactorisedConv`: an n×n conv split into n×1 then 1×n (实例52, S0 L8803).
- `MultiKernelBlock`: parallel 1×1/3×3/5×5/7×7 convs, concatenated (实例53, S0 L8844).

Every layer is keyword-only, serialisable in `.keras` files and documented with its shapes.
"""

import keras
import tensorflow as tf

from tfzoo.common.errors import ConfigError

_PACKAGE = "tfzoo.vision"

# Sobel's horizontal derivative, indexed [row, col]: positive where intensity rises to the right
# (the book's kernel, S0 L7160, before it is replicated over the colour channels).
_SOBEL_X = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))
# ITU-R BT.601 luma weights for RGB.
_LUMA = (0.299, 0.587, 0.114)


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(allowed)}")
    return value


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Sobel(keras.layers.Layer):
    """Fixed (never trained) Sobel edge filter: [N, H, W, C] -> [N, H, W, 1].

    Args:
        direction: "x" (horizontal derivative, so vertical edges), "y" (vertical derivative),
            or "magnitude" = sqrt(gx² + gy²).
        padding: "reflect" mirrors the border so a flat image gives zero response everywhere;
            "zero" is the book's SAME padding, which invents edges at the image border.
        colour: "sum" adds the channels first (the book replicates the kernel over RGB, which is
            the same thing); "luma" takes BT.601 luma for 3 channels and the channel mean
            otherwise (identity for grey images).
    """

    def __init__(self, *, direction="magnitude", padding="reflect", colour="sum", **kwargs):
        # No weights at all: the kernel is a constant, so nothing can train it.
        super().__init__(**kwargs)
        self.direction = _choice("direction", direction, ("magnitude", "x", "y"))
        self.padding = _choice("padding", padding, ("reflect", "zero"))
        self.colour = _choice("colour", colour, ("sum", "luma"))

    def _grey(self, inputs):
        channels = inputs.shape[-1]
        if self.colour == "sum":
            return tf.reduce_sum(inputs, axis=-1, keepdims=True)
        if channels == 3:
            weights = tf.constant(_LUMA, dtype=inputs.dtype)
            return tf.reduce_sum(inputs * weights, axis=-1, keepdims=True)
        return tf.reduce_mean(inputs, axis=-1, keepdims=True)

    def call(self, inputs):
        grey = self._grey(inputs)
        mode = "REFLECT" if self.padding == "reflect" else "CONSTANT"
        grey = tf.pad(grey, [[0, 0], [1, 1], [1, 1], [0, 0]], mode=mode)
        kx = tf.constant(_SOBEL_X, dtype=grey.dtype)
        # Stack gx and gy as two output channels of a single conv: [3, 3, 1, 2].
        kernel = tf.stack([kx, tf.transpose(kx)], axis=-1)[:, :, None, :]
        grads = tf.nn.conv2d(grey, kernel, strides=1, padding="VALID")
        if self.direction == "x":
            return grads[..., :1]
        if self.direction == "y":
            return grads[..., 1:]
        squared = tf.reduce_sum(tf.square(grads), axis=-1, keepdims=True)
        # Double `where` keeps the value exactly 0 on flat regions and the gradient finite there.
        positive = squared > 0
        safe = tf.where(positive, squared, tf.ones_like(squared))
        return tf.where(positive, tf.sqrt(safe), tf.zeros_like(squared))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 1)

    def get_config(self):
        return {**super().get_config(), "direction": self.direction, "padding": self.padding, "colour": self.colour}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class FactorisedConv(keras.layers.Layer):
    """An n×n conv factorised as n×1 -> ReLU -> 1×n (实例52): [N, H, W, C] -> [N, H, W, filters].

    Both convs use SAME padding and stride 1. The output is linear, like a `Conv2D` without
    activation, so the caller adds BN/ReLU; the inner ReLU follows the book (S0 L8823).
    The sublayers are `conv_nx1` and `conv_1xn`; the deconv visualiser uses their kernels.
    """

    def __init__(self, *, filters, kernel_size, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        n = self.kernel_size
        self.conv_nx1 = keras.layers.Conv2D(self.filters, (n, 1), padding="same", activation="relu", name="conv_nx1")
        self.conv_1xn = keras.layers.Conv2D(self.filters, (1, n), padding="same", name="conv_1xn")

    def build(self, input_shape):
        # Build the sublayers here so that a `.keras` load finds their variables before it
        # assigns the saved weights.
        self.conv_nx1.build(input_shape)
        self.conv_1xn.build(self.conv_nx1.compute_output_shape(input_shape))

    def call(self, inputs):
        return self.conv_1xn(self.conv_nx1(inputs))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MultiKernelBlock(keras.layers.Layer):
    """Parallel 1×1, 3×3, 5×5 and 7×7 convs concatenated (实例53): [N,H,W,C] -> [N,H,W,4·filters].

    Each branch has `filters` outputs, SAME padding, and is linear (the caller adds ReLU; ReLU of
    a concatenation equals the book's ReLU per branch). The branch named "1×1" in the book is
    really 3×3 (S0 L8882); here it is a true 1×1. Channel order is 1×1, 3×3, 5×5, 7×7; the
    branches are the sublayers `branches` (named conv_1x1 ... conv_7x7).
    """

    SIZES = (1, 3, 5, 7)

    def __init__(self, *, filters=64, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.branches = [
            keras.layers.Conv2D(self.filters, size, padding="same", name=f"conv_{size}x{size}") for size in self.SIZES
        ]

    def build(self, input_shape):
        for branch in self.branches:
            branch.build(input_shape)

    def call(self, inputs):
        return tf.concat([branch(inputs) for branch in self.branches], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters * len(self.SIZES))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}
