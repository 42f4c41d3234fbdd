"""Pyramid anchors of Mask R-CNN (normalised yxyx boxes, as everywhere in tfzoo).

One anchor per (level, position, ratio): scale s on level P2..P6, h = s/sqrt(r), w = s*sqrt(r), centred
on each feature cell. At 128 px that is (32² + 16² + 8² + 4² + 2²) x 3 = 4,092 anchors. Deltas are
(dy, dx, log dh, log dw) divided by the standard deviations [0.1, 0.1, 0.2, 0.2]: the detection core's
boxes.encode / boxes.decode.
"""

from __future__ import annotations

import functools

import numpy as np

FEATURE_STRIDES = (4, 8, 16, 32, 64)


@functools.lru_cache(maxsize=16)
def pyramid_anchors(
    image_size: int,
    scales: tuple[int, ...] = (8, 16, 32, 64, 128),
    ratios: tuple[float, ...] = (0.5, 1.0, 2.0),
    anchor_stride: int = 1,
) -> np.ndarray:
    """float32 [A, 4] normalised yxyx, level by level, then row, column, ratio (the RPN's output order).

    Cached per image size: the same array object comes back for the same arguments (the book's cache
    test was inverted, S4 L136-L147).
    """
    out = []
    for scale, stride in zip(scales, FEATURE_STRIDES):
        cells = int(np.ceil(image_size / stride))
        centres = (np.arange(0, cells, anchor_stride) + 0.5) * stride
        cy, cx = np.meshgrid(centres, centres, indexing="ij")
        r = np.asarray(ratios, np.float64)
        h, w = scale / np.sqrt(r), scale * np.sqrt(r)
        cy, cx = cy.reshape(-1, 1), cx.reshape(-1, 1)
        boxes = np.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], axis=-1).reshape(-1, 4)
        out.append(boxes / image_size)
    anchors = np.concatenate(out).astype(np.float32)
    anchors.setflags(write=False)
    return anchors


def anchors_per_level(image_size: int, num_ratios: int = 3, anchor_stride: int = 1) -> list[int]:
    """How many anchors each level P2..P6 holds."""
    return [len(range(0, int(np.ceil(image_size / s)), anchor_stride)) ** 2 * num_ratios for s in FEATURE_STRIDES]
