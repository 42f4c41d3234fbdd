"""Box-consistent augmentation as TF ops for tf.data: flip, crop (zoom in), expand (zoom out), colour, letterbox.

Every random function is stateless: ``seed`` is an int or a shape-[2] integer tensor, so a pipeline that feeds
per-element seeds (e.g. ``tf.data.Dataset.random(seed).batch(2)`` zipped with the data) is reproducible.
Boxes are normalised yxyx [M, 4]; rows with zero area (the padding of ``to_tensors``) stay all-zero.
Masks are uint8 [M, H, W] at the image's size and follow the image pixel for pixel (nearest resizing).
Re-exported by :mod:`tfzoo.vision.detection.boxes`.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

__all__ = [
    "augment",
    "colour_jitter",
    "letterbox",
    "random_crop",
    "random_expand",
    "random_flip",
    "unletterbox_boxes",
]


def _seed(seed, salt: int = 0) -> tf.Tensor:
    if isinstance(seed, int | np.integer):
        seed = tf.constant([int(seed), 0], tf.int64)
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    return tf.random.experimental.stateless_fold_in(seed, salt) if salt else seed


def _uniform(seed, lo=0.0, hi=1.0) -> tf.Tensor:
    return tf.random.stateless_uniform([], seed=seed, minval=lo, maxval=hi)


def _valid(boxes) -> tf.Tensor:
    return (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])


def _resize_masks(masks, size) -> tf.Tensor:
    out = tf.image.resize(masks[..., None], size, method="nearest")
    return tf.cast(out[..., 0], masks.dtype)


def _resize_image(image, size) -> tf.Tensor:
    out = tf.image.resize(tf.cast(image, tf.float32), size, method="bilinear")
    if image.dtype == tf.uint8:
        return tf.cast(tf.clip_by_value(tf.round(out), 0, 255), tf.uint8)
    return tf.cast(out, image.dtype)


def random_flip(image, boxes, masks=None, *, seed, prob: float = 0.5):
    """Horizontal flip with probability ``prob``; returns ``(image, boxes, masks)`` (masks None if not given)."""
    image = tf.convert_to_tensor(image)
    boxes = tf.convert_to_tensor(boxes, tf.float32)
    do = _uniform(_seed(seed)) < prob
    y1, x1, y2, x2 = tf.unstack(boxes, axis=-1)
    flipped = tf.where(_valid(boxes)[:, None], tf.stack([y1, 1.0 - x2, y2, 1.0 - x1], axis=-1), boxes)
    image = tf.cond(do, lambda: tf.reverse(image, axis=[1]), lambda: image)
    boxes = tf.cond(do, lambda: flipped, lambda: boxes)
    if masks is not None:
        masks = tf.convert_to_tensor(masks)
        masks = tf.cond(do, lambda: tf.reverse(masks, axis=[2]), lambda: masks)
    return image, boxes, masks


def _compact(keep, boxes, classes, masks):
    """Move kept rows first (stable), zero the rest; returns boxes, classes, masks, num."""
    order = tf.argsort(tf.cast(~keep, tf.int32), stable=True)
    keep = tf.gather(keep, order)
    boxes = tf.where(keep[:, None], tf.gather(boxes, order), 0.0)
    classes = tf.where(keep, tf.gather(classes, order), tf.zeros_like(classes))
    if masks is not None:
        masks = tf.gather(masks, order) * tf.cast(keep, masks.dtype)[:, None, None]
    return boxes, classes, masks, tf.reduce_sum(tf.cast(keep, tf.int32))


def random_crop(image, boxes, classes, masks=None, *, seed, min_scale: float = 0.5, min_visibility: float = 0.5):
    """Zoom in: crop a random square-scaled window (side fraction in [min_scale, 1]) and resize it back.

    The window is pixel-aligned, so masks cropped and resized nearest stay consistent with the boxes. Boxes
    are mapped into the window and clipped; an instance keeping less than ``min_visibility`` of its area is
    dropped (class 0, zero box, moved after the kept rows). If a crop would drop every instance, the
    example is returned unchanged. Returns ``(image, boxes, classes, masks, num)``.
    """
    image = tf.convert_to_tensor(image)
    boxes = tf.convert_to_tensor(boxes, tf.float32)
    classes = tf.convert_to_tensor(classes)
    shape = tf.shape(image)
    h, w = shape[0], shape[1]
    hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
    scale = _uniform(_seed(seed, 1), min_scale, 1.0)
    ch = tf.clip_by_value(tf.cast(tf.round(scale * hf), tf.int32), 1, h)
    cw = tf.clip_by_value(tf.cast(tf.round(scale * wf), tf.int32), 1, w)
    oy = tf.minimum(tf.cast(_uniform(_seed(seed, 2)) * tf.cast(h - ch + 1, tf.float32), tf.int32), h - ch)
    ox = tf.minimum(tf.cast(_uniform(_seed(seed, 3)) * tf.cast(w - cw + 1, tf.float32), tf.int32), w - cw)
    chf, cwf, oyf, oxf = (tf.cast(v, tf.float32) for v in (ch, cw, oy, ox))

    y1, x1, y2, x2 = tf.unstack(boxes, axis=-1)
    ny1 = tf.clip_by_value((y1 * hf - oyf) / chf, 0.0, 1.0)
    nx1 = tf.clip_by_value((x1 * wf - oxf) / cwf, 0.0, 1.0)
    ny2 = tf.clip_by_value((y2 * hf - oyf) / chf, 0.0, 1.0)
    nx2 = tf.clip_by_value((x2 * wf - oxf) / cwf, 0.0, 1.0)
    new_area = (ny2 - ny1) * (nx2 - nx1) * chf * cwf
    old_area = (y2 - y1) * (x2 - x1) * hf * wf
    valid = _valid(boxes) & (tf.cast(classes, tf.int32) > 0)
    keep = valid & (ny2 > ny1) & (nx2 > nx1) & (new_area >= min_visibility * old_area)
    new_boxes = tf.stack([ny1, nx1, ny2, nx2], axis=-1)

    def cropped():
        img = _resize_image(image[oy : oy + ch, ox : ox + cw], [h, w])
        m = None if masks is None else _resize_masks(tf.convert_to_tensor(masks)[:, oy : oy + ch, ox : ox + cw], [h, w])
        return (img, *_compact(keep, new_boxes, classes, m))

    def unchanged():
        return (image, *_compact(valid, boxes, classes, None if masks is None else tf.convert_to_tensor(masks)))

    lost_all = tf.reduce_any(valid) & ~tf.reduce_any(keep)
    out = tf.cond(lost_all, unchanged, cropped)
    if masks is None:
        return out[0], out[1], out[2], None, out[-1]  # num is last whether or not tf.cond keeps the None slot
    return out


def random_expand(image, boxes, masks=None, *, seed, min_scale: float = 0.5, fill=None):
    """Zoom out (scale jitter below 1): shrink the image by a factor in [min_scale, 1] onto a same-size canvas.

    The canvas is filled with ``fill`` (default: the image's mean colour) and the shrunk image is placed at a
    random offset. Boxes shrink with it, none is dropped. Returns ``(image, boxes, masks)``.
    """
    image = tf.convert_to_tensor(image)
    boxes = tf.convert_to_tensor(boxes, tf.float32)
    shape = tf.shape(image)
    h, w = shape[0], shape[1]
    hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
    scale = _uniform(_seed(seed, 4), min_scale, 1.0)
    nh = tf.clip_by_value(tf.cast(tf.round(scale * hf), tf.int32), 1, h)
    nw = tf.clip_by_value(tf.cast(tf.round(scale * wf), tf.int32), 1, w)
    oy = tf.minimum(tf.cast(_uniform(_seed(seed, 5)) * tf.cast(h - nh + 1, tf.float32), tf.int32), h - nh)
    ox = tf.minimum(tf.cast(_uniform(_seed(seed, 6)) * tf.cast(w - nw + 1, tf.float32), tf.int32), w - nw)
    pads = [[oy, h - nh - oy], [ox, w - nw - ox]]
    small = tf.cast(_resize_image(image, [nh, nw]), tf.float32)
    colour = tf.reduce_mean(small, axis=[0, 1]) if fill is None else tf.cast(tf.broadcast_to(fill, [3]), tf.float32)
    canvas = tf.pad(small - colour, pads + [[0, 0]]) + colour
    new_image = tf.cast(canvas, image.dtype)
    y1, x1, y2, x2 = tf.unstack(boxes, axis=-1)
    nhf, nwf, oyf, oxf = (tf.cast(v, tf.float32) for v in (nh, nw, oy, ox))
    moved = tf.stack([(y1 * nhf + oyf) / hf, (x1 * nwf + oxf) / wf, (y2 * nhf + oyf) / hf, (x2 * nwf + oxf) / wf], -1)
    new_boxes = tf.where(_valid(boxes)[:, None], moved, boxes)
    if masks is not None:
        masks = tf.convert_to_tensor(masks)
        masks = tf.pad(_resize_masks(masks, [nh, nw]), [[0, 0]] + pads)
    return new_image, new_boxes, masks


def colour_jitter(image, *, seed, brightness: float = 0.1, contrast: float = 0.2, saturation: float = 0.2,
                  hue: float = 0.02):
    """Random brightness, contrast, saturation and hue (stateless); keeps the dtype (uint8 or float in [0, 1])."""
    image = tf.convert_to_tensor(image)
    x = tf.image.convert_image_dtype(image, tf.float32)
    x = tf.image.stateless_random_brightness(x, brightness, seed=_seed(seed, 7))
    x = tf.image.stateless_random_contrast(x, 1.0 - contrast, 1.0 + contrast, seed=_seed(seed, 8))
    x = tf.image.stateless_random_saturation(x, 1.0 - saturation, 1.0 + saturation, seed=_seed(seed, 9))
    x = tf.image.stateless_random_hue(x, hue, seed=_seed(seed, 10))
    return tf.image.convert_image_dtype(tf.clip_by_value(x, 0.0, 1.0), image.dtype, saturate=True)


def augment(features: dict, *, seed, flip: bool = True, crop_prob: float = 0.5, min_scale: float = 0.5,
            min_visibility: float = 0.5, expand_prob: float = 0.0, colour: bool = True) -> dict:
    """Augment one ``to_tensors`` dict (image, boxes, classes, num, masks) consistently; returns a new dict."""
    out = dict(features)
    image, boxes, classes = out["image"], out["boxes"], out["classes"]
    masks = out.get("masks")
    if expand_prob > 0:
        do = _uniform(_seed(seed, 11)) < expand_prob
        e_image, e_boxes, e_masks = random_expand(image, boxes, masks, seed=seed, min_scale=min_scale)
        image = tf.cond(do, lambda: e_image, lambda: tf.convert_to_tensor(image))
        boxes = tf.cond(do, lambda: e_boxes, lambda: tf.convert_to_tensor(boxes, tf.float32))
        if masks is not None:
            masks = tf.cond(do, lambda: e_masks, lambda: tf.convert_to_tensor(masks))
    if crop_prob > 0:
        do = _uniform(_seed(seed, 12)) < crop_prob
        c = random_crop(image, boxes, classes, masks, seed=seed, min_scale=min_scale, min_visibility=min_visibility)
        image = tf.cond(do, lambda: c[0], lambda: tf.convert_to_tensor(image))
        boxes = tf.cond(do, lambda: c[1], lambda: tf.convert_to_tensor(boxes, tf.float32))
        classes = tf.cond(do, lambda: c[2], lambda: tf.convert_to_tensor(classes))
        if masks is not None:
            masks = tf.cond(do, lambda: c[3], lambda: tf.convert_to_tensor(masks))
        if "num" in out:
            out["num"] = tf.cond(do, lambda: tf.cast(c[4], tf.int32), lambda: tf.cast(out["num"], tf.int32))
    if flip:
        image, boxes, masks = random_flip(image, boxes, masks, seed=_seed(seed, 13))
    if colour:
        image = colour_jitter(image, seed=seed)
    out.update(image=image, boxes=boxes, classes=classes)
    if masks is not None:
        out["masks"] = masks
    return out


def letterbox(image, boxes, size: int, *, fill: int = 128):
    """Resize keeping the aspect ratio and pad to ``size`` x ``size`` (centred); returns ``(image, boxes)``."""
    image = tf.convert_to_tensor(image)
    boxes = tf.convert_to_tensor(boxes, tf.float32)
    shape = tf.shape(image)
    hf, wf = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
    scale = size / tf.maximum(hf, wf)
    nh = tf.clip_by_value(tf.cast(tf.round(hf * scale), tf.int32), 1, size)
    nw = tf.clip_by_value(tf.cast(tf.round(wf * scale), tf.int32), 1, size)
    oy, ox = (size - nh) // 2, (size - nw) // 2
    small = tf.cast(_resize_image(image, [nh, nw]), tf.float32)
    canvas = tf.pad(small - fill, [[oy, size - nh - oy], [ox, size - nw - ox], [0, 0]]) + fill
    y1, x1, y2, x2 = tf.unstack(boxes, axis=-1)
    nhf, nwf, oyf, oxf = (tf.cast(v, tf.float32) for v in (nh, nw, oy, ox))
    moved = tf.stack([(y1 * nhf + oyf) / size, (x1 * nwf + oxf) / size, (y2 * nhf + oyf) / size,
                      (x2 * nwf + oxf) / size], -1)
    return tf.cast(canvas, image.dtype), tf.where(_valid(boxes)[:, None], moved, boxes)


def unletterbox_boxes(boxes, height: int, width: int, size: int) -> np.ndarray:
    """Map normalised boxes on a :func:`letterbox` canvas back to the original ``height`` x ``width`` image."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    scale = size / max(height, width)
    nh = min(max(round(height * scale), 1), size)
    nw = min(max(round(width * scale), 1), size)
    oy, ox = (size - nh) // 2, (size - nw) // 2
    out = np.stack([(b[:, 0] * size - oy) / nh, (b[:, 1] * size - ox) / nw, (b[:, 2] * size - oy) / nh,
                    (b[:, 3] * size - ox) / nw], 1)
    return np.clip(out, 0.0, 1.0).astype(np.float32)
