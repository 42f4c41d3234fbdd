"""Drawing detections: boxes, "name 0.93" labels and alpha-blended masks on an image; PNG and JSON output.

Pure numpy + Pillow (no TensorFlow, no display). Boxes are normalised yxyx; class ids 1..K index
``class_names`` (whose entry 0 is "background").
"""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["colours", "draw_detections", "predictions_to_json", "save_png", "side_by_side"]

MASK_ALPHA = 0.5


def colours(n: int) -> list[tuple[int, int, int]]:
    """``n`` bright, well-separated RGB colours (hues stepped by the golden ratio, so the first few differ most)."""
    return [tuple(int(255 * v) for v in colorsys.hsv_to_rgb((0.1 + i * 0.618034) % 1.0, 0.85, 1.0)) for i in range(n)]


def _trim(arr, num):
    return None if arr is None else np.asarray(arr)[:num]


def _name(class_names, c: int) -> str:
    return str(class_names[c]) if 0 <= c < len(class_names) else str(c)


def draw_detections(image, boxes, classes, class_names, *, scores=None, masks=None, num=None) -> np.ndarray:
    """Draw instances on a copy of ``image`` (uint8 [H, W, 3]) and return it.

    ``boxes`` [n, 4] normalised yxyx, ``classes`` [n], ``scores`` [n] (optional: labels then show the name
    only), ``masks`` [n, H, W] at the image's size (binary, or probabilities thresholded at 0.5), each blended
    at ``MASK_ALPHA`` in its instance's colour. ``num`` trims padded arrays. Class 0 (padding) is skipped.
    """
    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    if img.dtype != np.uint8:
        # Float images in [0, 1] (what the models see) are accepted too.
        img = np.clip(np.asarray(img, np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    h, w = img.shape[:2]
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)[:num]
    classes = np.asarray(classes).reshape(-1)[:num].astype(int)
    scores, masks = _trim(scores, num), _trim(masks, num)
    palette = colours(len(boxes))
    out = img.astype(np.float32)
    if masks is not None:
        for k, m in enumerate(masks):
            if classes[k] <= 0:
                continue
            on = np.asarray(m) > 0.5 if np.asarray(m).dtype.kind == "f" else np.asarray(m) > 0
            out[on] = out[on] * (1 - MASK_ALPHA) + np.array(palette[k], np.float32) * MASK_ALPHA
    pil = Image.fromarray(out.round().astype(np.uint8))
    draw = ImageDraw.Draw(pil)
    font = ImageFont.load_default()
    width = max(1, round(min(h, w) / 160))
    for k, (y1, x1, y2, x2) in enumerate(boxes):
        if classes[k] <= 0:
            continue
        # PIL rectangles include both corner pixels: the box's right/bottom edges are the pixels before x2, y2.
        left, top = int(np.clip(round(x1 * w), 0, w - 1)), int(np.clip(round(y1 * h), 0, h - 1))
        right = int(np.clip(round(x2 * w) - 1, left, w - 1))
        bottom = int(np.clip(round(y2 * h) - 1, top, h - 1))
        draw.rectangle([left, top, right, bottom], outline=palette[k], width=width)
        label = _name(class_names, classes[k]) + ("" if scores is None else f" {float(scores[k]):.2f}")
        tl, tt, tr, tb = draw.textbbox((0, 0), label, font=font)
        tw, th = tr - tl, tb - tt
        # Above the box when there is room, else just inside its top edge.
        ty = top - th - 2 if top - th - 2 >= 0 else top + width
        tx = min(left, max(w - tw - 2, 0))
        draw.rectangle([tx, ty, tx + tw + 2, ty + th + 2], fill=palette[k])
        draw.text((tx + 1 - tl, ty + 1 - tt), label, fill=(0, 0, 0), font=font)
    return np.asarray(pil, np.uint8)


def side_by_side(*images, gap: int = 4, fill: int = 255) -> np.ndarray:
    """Images next to each other (e.g. ground truth left, prediction right), bottom-padded to one height."""
    arrs = [np.asarray(im, np.uint8) for im in images]
    arrs = [np.repeat(a[..., None], 3, axis=-1) if a.ndim == 2 else a for a in arrs]
    if not arrs:
        raise ValueError("side_by_side needs at least one image")
    h = max(a.shape[0] for a in arrs)
    parts = []
    for i, a in enumerate(arrs):
        if i:
            parts.append(np.full((h, gap, 3), fill, np.uint8))
        parts.append(np.pad(a, [(0, h - a.shape[0]), (0, 0), (0, 0)], constant_values=fill))
    return np.concatenate(parts, axis=1)


def save_png(path, image) -> Path:
    """Write a uint8 image as PNG (creating the folder); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(image, np.uint8)).save(path, format="PNG")
    return path


def predictions_to_json(det: dict, class_names, height: int, width: int) -> list[dict]:
    """One JSON-able dict per detection, best score first.

    Keys: ``class_id``, ``class``, ``score``, ``box`` (pixels ``[x1, y1, x2, y2]``), ``box_normalized``
    (``[y1, x1, y2, x2]``) and, with masks, ``mask_area`` (pixels). ``det`` is one image's detections
    (``boxes``, ``scores``, ``classes``, optional ``masks`` and ``num``); class-0 padding rows are dropped.
    """
    num = int(det["num"]) if "num" in det else None
    boxes = np.asarray(det["boxes"], np.float64).reshape(-1, 4)[:num]
    scores = np.asarray(det.get("scores", np.ones(len(boxes))), np.float64).reshape(-1)[:num]
    classes = np.asarray(det["classes"]).reshape(-1)[:num].astype(int)
    masks = _trim(det.get("masks"), num)
    out = []
    for k in np.argsort(-scores, kind="stable"):
        if classes[k] <= 0:
            continue
        y1, x1, y2, x2 = (float(v) for v in boxes[k])
        item = {
            "class_id": int(classes[k]),
            "class": _name(class_names, classes[k]),
            "score": round(float(scores[k]), 4),
            "box": [round(x1 * width, 1), round(y1 * height, 1), round(x2 * width, 1), round(y2 * height, 1)],
            "box_normalized": [round(v, 4) for v in (y1, x1, y2, x2)],
        }
        if masks is not None:
            m = np.asarray(masks[k])
            item["mask_area"] = int((m > 0.5).sum() if m.dtype.kind == "f" else (m > 0).sum())
        out.append(item)
    return out
