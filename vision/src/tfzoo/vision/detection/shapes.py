"""The shapes dataset of Mask R-CNN's sample (matterport samples/shapes; the sequel's 实例46, S4 L290-L326).

The published recipe, per image: a random background colour; 1-4 shapes, each a random class
(1 square, 2 circle, 3 triangle) and colour, centre (x, y) in [buffer, size - buffer - 1] and size
s in [buffer, size // 4] (buffer = 20 at 128 px); square x±s, y±s; circle of radius s; triangle
(x, y - s), (x ∓ s / sin 60°, y + s). Shape boxes (centre ± s) overlapping at IoU > 0.3 are removed
by NMS with the later shape winning (matterport scores shape i by i). Shapes are drawn in order, so
later shapes cover earlier ones; each mask is its shape minus what later shapes cover, an instance
whose mask became empty is dropped, and boxes come from the final masks.

Sizes other than 128 px scale the buffer with the image (buffer = round(20 * size / 128), at least
2): 64-px tiny images get centres in [10, 53] and s in [10, 16], the same proportions as 128 px.
Drawing uses Pillow (a declared dependency; matterport uses OpenCV), so the images do not depend on
whether OpenCV is installed. Everything is a function of `seed` alone: image i uses its own numpy
Generator seeded with (seed, [stream,] i), so the first n images never depend on the count asked for.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from tfzoo.vision.detection.dataset import Example, make_example

CLASS_NAMES = ("background", "square", "circle", "triangle")
NMS_IOU = 0.3
MAX_SHAPES = 4
# Split streams of load_detection("shapes", split, seed=S): distinct entropy, so splits never overlap.
_STREAMS = {"": (), "train": (1,), "val": (2,), "test": (3,)}


def buffer_for(size: int) -> int:
    """Distance of a centre from the border: matterport's 20 px at 128 px, scaled with the image."""
    return max(2, round(20 * size / 128))


def random_image(rng: np.random.Generator, size: int) -> tuple[np.ndarray, list[tuple[int, np.ndarray, tuple]]]:
    """Background colour and the shapes kept after NMS, as (class id, colour, (x, y, s)), in drawing order."""
    buffer = buffer_for(size)
    s_max = max(buffer, size // 4)
    background = rng.integers(0, 255, size=3, endpoint=True)
    shapes, boxes = [], []
    for _ in range(int(rng.integers(1, MAX_SHAPES, endpoint=True))):
        class_id = int(rng.integers(1, 3, endpoint=True))
        colour = rng.integers(0, 255, size=3, endpoint=True)
        y = int(rng.integers(buffer, size - buffer - 1, endpoint=True))
        x = int(rng.integers(buffer, size - buffer - 1, endpoint=True))
        s = int(rng.integers(buffer, s_max, endpoint=True))
        shapes.append((class_id, colour, (x, y, s)))
        boxes.append((y - s, x - s, y + s, x + s))
    keep = _nms(np.array(boxes, np.float64), NMS_IOU)
    return background, [shapes[i] for i in sorted(keep)]


def _nms(boxes: np.ndarray, threshold: float) -> list[int]:
    """matterport utils.non_max_suppression with scores = index: the last shape is kept first."""
    order = list(range(len(boxes)))[::-1]
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = []
    while order:
        i, order = order[0], order[1:]
        keep.append(i)
        rest = np.array(order, int)
        if not len(rest):
            break
        y1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        x1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        y2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        x2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.maximum(y2 - y1, 0) * np.maximum(x2 - x1, 0)
        iou = inter / (area[i] + area[rest] - inter)
        order = [int(j) for j, v in zip(rest, iou) if v <= threshold]
    return keep


def draw_shape(size: int, class_id: int, dims: tuple[int, int, int]) -> np.ndarray:
    """The filled shape as a uint8 {0, 1} [size, size] mask."""
    x, y, s = dims
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    if class_id == 1:
        draw.rectangle([x - s, y - s, x + s, y + s], fill=1)
    elif class_id == 2:
        draw.ellipse([x - s, y - s, x + s, y + s], fill=1)
    else:
        half = s / math.sin(math.radians(60))
        # int() truncation as matterport's np.int32 points.
        draw.polygon([(x, y - s), (int(x - half), y + s), (int(x + half), y + s)], fill=1)
    return np.asarray(canvas, np.uint8)


def mask_box(mask: np.ndarray) -> np.ndarray:
    """Normalised yxyx box around a {0,1} mask: pixel rows y0..y1 -> (y0 / H, ..., (y1 + 1) / H)."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    height, width = mask.shape
    return np.array([rows[0] / height, cols[0] / width, (rows[-1] + 1) / height, (cols[-1] + 1) / width], np.float32)


def render(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image: uint8 [size, size, 3], class ids [N] and occlusion-aware masks [N, size, size]."""
    background, shapes = random_image(rng, size)
    image = np.empty((size, size, 3), np.uint8)
    image[:] = background
    full = [draw_shape(size, class_id, dims) for class_id, _, dims in shapes]
    for (_, colour, _), mask in zip(shapes, full):
        image[mask.astype(bool)] = colour  # later shapes paint over earlier ones
    masks, classes = [], []
    covered = np.zeros((size, size), bool)
    for (class_id, _, _), mask in reversed(list(zip(shapes, full))):
        visible = mask.astype(bool) & ~covered
        covered |= mask.astype(bool)
        if visible.any():
            masks.append(visible.astype(np.uint8))
            classes.append(class_id)
    masks.reverse()
    classes.reverse()
    return image, np.array(classes, np.int32), np.array(masks, np.uint8).reshape(-1, size, size)


def generate(count: int, *, size: int = 128, seed: int = 0, stream: str = "") -> list[Example]:
    """`count` shapes images of `size` px, deterministic from `seed` (and the split `stream`)."""
    if stream not in _STREAMS:
        raise ValueError(f"stream {stream!r}; expected one of {sorted(_STREAMS)}")
    label = f"{stream}:" if stream else ""
    examples = []
    for i in range(count):
        rng = np.random.default_rng(np.random.SeedSequence([seed, *_STREAMS[stream], i]))
        image, classes, masks = render(rng, size)
        boxes = np.array([mask_box(m) for m in masks], np.float32).reshape(-1, 4)
        examples.append(make_example(image=image, boxes=boxes, classes=classes, masks=masks,
                                     ignore=np.zeros(len(classes), bool), image_id=i + 1,
                                     source=f"shapes:seed={seed}:{label}{i}"))
    return examples


def make(out: Path, *, n: int, size: int = 128, seed: int = 0) -> list[Path]:
    """Write `n` images as files: out/images/NNNNN.png, out/masks/NNNNN_K.png (instance K, 0/255) and
    out/annotations.json (COCO, RLE masks, file names relative to out/images); annotations.json last."""
    from tfzoo.vision.detection.coco import write_coco

    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(exist_ok=True)
    examples = generate(n, size=size, seed=seed)
    paths = []
    for example in examples:
        stem = f"{example.image_id - 1:05d}"
        path = out / "images" / f"{stem}.png"
        Image.fromarray(example.image).save(path)
        paths.append(path)
        for k, mask in enumerate(example.masks):
            mask_path = out / "masks" / f"{stem}_{k}.png"
            Image.fromarray(mask * 255).save(mask_path)
            paths.append(mask_path)
    names = [p.name for p in paths if p.parent.name == "images"]
    annotations = write_coco(out / "annotations.json", examples, CLASS_NAMES, file_names=names,
                             info={"description": f"tfzoo shapes, n={n}, size={size}, seed={seed}"})
    paths.append(annotations)
    return paths

