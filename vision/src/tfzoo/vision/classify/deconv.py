"""DeconvNet projections of conv feature maps back to pixels (实例45, 46, 50; S0 L8055–L8700).

For conv block k (layers `conv{k}` ... `pool{k}` of a `cnn-*` or `lenet` model) the pooled
activations are walked back down to the input: for each block j = k, ..., 1, unpool with the
argmax stored by `pool{j}`, apply ReLU, then a transposed conv with `conv{j}`'s own kernel.
This is Zeiler & Fergus's DeconvNet; it differs from the book's 实例50 in two deliberate ways:

- the book subtracts the conv bias before the transposed conv and skips the ReLU; we apply
  ReLU (as the spec and the paper do) and ignore biases and BatchNorm's affine, which shift
  every pixel of a channel alike and so carry no spatial information;
- block kinds the book never projected are handled exactly as transposes of their linear
  parts: `FactorisedConv` goes back through 1×n, ReLU, n×1 (its forward order reversed), and
  `MultiKernelBlock` splits the channels by branch and sums the branches' transposes.

With `stem=sobel` the projections live in the Sobel edge map (1 channel), conv1's input.
"""

import keras
import numpy as np
import tensorflow as tf

from tfzoo.common.errors import ConfigError
from tfzoo.common.layers import MaxUnpool2D
from tfzoo.vision.layers import FactorisedConv, MultiKernelBlock


def _blocks(model) -> list[tuple[keras.layers.Layer, keras.layers.Layer]]:
    """The (conv{k}, pool{k}) pairs of `model`, k = 1, 2, ...; ConfigError if there are none."""
    names = {layer.name for layer in model.layers}
    blocks = []
    while f"conv{len(blocks) + 1}" in names and f"pool{len(blocks) + 1}" in names:
        k = len(blocks) + 1
        blocks.append((model.get_layer(f"conv{k}"), model.get_layer(f"pool{k}")))
    if not blocks:
        raise ConfigError(
            f"deconv visualisation needs a conv model with conv1/pool1 layers "
            f"(cnn-*, lenet); model {model.name!r} has none"
        )
    for conv, _pool in blocks:
        _check_conv(conv)
    return blocks


def _check_conv(layer) -> None:
    convs = _plain_convs(layer)
    for conv in convs:
        strides, dilation = tuple(conv.strides), tuple(conv.dilation_rate)
        if conv.padding != "same" or strides != (1, 1) or dilation != (1, 1):
            raise ConfigError(
                f"deconv supports stride-1 SAME convs only; {layer.name} has "
                f"padding={conv.padding}, strides={strides}, dilation={dilation}"
            )


def _plain_convs(layer) -> list:
    if isinstance(layer, FactorisedConv):
        return [layer.conv_nx1, layer.conv_1xn]
    if isinstance(layer, MultiKernelBlock):
        return list(layer.branches)
    if isinstance(layer, keras.layers.Conv2D):
        return [layer]
    raise ConfigError(f"deconv cannot invert layer {layer.name!r} of type {type(layer).__name__}")


def _transpose(conv, x):
    """x (shaped like conv's output) -> the transposed conv with conv's kernel, shaped like its input."""
    kernel = conv.kernel
    # conv2d_transpose takes the forward kernel [h, w, in, out] as is and needs the output shape.
    shape = tf.concat([tf.shape(x)[:3], [kernel.shape[2]]], axis=0)
    return tf.nn.conv2d_transpose(x, kernel, shape, strides=1, padding="SAME")


def _transpose_block(layer, x):
    """Undo one conv block (Conv2D, FactorisedConv or MultiKernelBlock) with its own kernels."""
    if isinstance(layer, FactorisedConv):
        # Reverse order of the forward pass; the ReLU mirrors the forward inner ReLU.
        x = _transpose(layer.conv_1xn, x)
        return _transpose(layer.conv_nx1, tf.nn.relu(x))
    if isinstance(layer, MultiKernelBlock):
        parts = tf.split(x, len(layer.branches), axis=-1)
        return tf.add_n([_transpose(b, p) for b, p in zip(layer.branches, parts, strict=True)])
    return _transpose(layer, x)


def deconv_projections(model: keras.Model, images: np.ndarray) -> list[np.ndarray]:
    """One float32 array [N, H, W, C_in] per conv block: block k's activations in pixel space.

    `images` is [N, H, W, C] float32, as the model takes it. BatchNorm runs in inference mode.
    Raises ConfigError for models without conv/pool blocks (softmax, mlp, maxout, rnn).
    """
    blocks = _blocks(model)
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ConfigError(f"deconv expects images [N, H, W, C]; got shape {images.shape}")
    # One forward pass gives every block's pre-pool map (for the unpool size), pooled map and argmax.
    outputs = []
    for _conv, pool in blocks:
        pooled, argmax = pool.output
        outputs += [pool.input, pooled, argmax]
    probe = keras.Model(model.inputs, outputs)
    values = probe(tf.convert_to_tensor(images), training=False)
    pre, pooled, argmax = values[0::3], values[1::3], values[2::3]

    projections = []
    for k in range(len(blocks)):
        x = pooled[k]
        for j in range(k, -1, -1):
            conv, pool = blocks[j]
            # The pre-pool size is explicit because SAME pooling of an odd size rounds up.
            unpool = MaxUnpool2D(size=pool.strides, output_size=tuple(pre[j].shape[1:3]))
            x = unpool(x, argmax[j])
            x = _transpose_block(conv, tf.nn.relu(x))
        projections.append(np.asarray(x, dtype=np.float32))
    return projections


def _display(array: np.ndarray) -> tuple[np.ndarray, str | None]:
    """[H, W, C] -> a min-max normalised image for imshow and its colour map."""
    if array.shape[-1] not in (1, 3):
        array = array.mean(axis=-1, keepdims=True)
    low, high = float(array.min()), float(array.max())
    array = (array - low) / (high - low) if high > low else np.zeros_like(array)
    if array.shape[-1] == 1:
        return array[..., 0], "gray"
    return array, None


def deconv_figure(model: keras.Model, images: np.ndarray, out_png) -> None:
    """Write `out_png`: one row per image (input, layer-1 projection, layer-2 projection, ...)."""
    # Figure without pyplot: no global state and no GUI backend, safe in workers and tests.
    from matplotlib.figure import Figure

    images = np.asarray(images, dtype=np.float32)
    projections = deconv_projections(model, images)
    columns = [("input", images)] + [(f"layer-{k} projection", p) for k, p in enumerate(projections, start=1)]
    rows, cols = len(images), len(columns)
    fig = Figure(figsize=(2.2 * cols, 2.2 * rows), dpi=100)
    axes = fig.subplots(rows, cols, squeeze=False)
    for r in range(rows):
        for c, (title, batch) in enumerate(columns):
            picture, cmap = _display(batch[r])
            axes[r][c].imshow(picture, cmap=cmap, vmin=0.0, vmax=1.0)
            axes[r][c].set_axis_off()
            if r == 0:
                axes[r][c].set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out_png)
