"""Detection examples and the `shapes`, `coco:` and `voc:` specs behind one loader.

    data = load_detection("shapes", "train", seed=0, image_size=128)   # 500 generated images
    data = load_detection("coco:instances.json@images", "val")          # every 5th image by id
    data = load_detection("voc:VOCdevkit/VOC2007", "test")

Boxes are normalised yxyx float32 in [0, 1]; class ids are 1..K with 0 = background and
`class_names[0] == "background"`. This module imports no TensorFlow.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tfzoo.common.errors import DataError

SPLITS = ("train", "val", "test")
SHAPES_COUNTS = {"train": 500, "val": 200, "test": 200}
# One COCO JSON is split by a fixed rule so val never depends on a seed: every 5th image by sorted id.
VAL_EVERY = 5
SPEC_FORMS = "shapes, coco:JSON[@IMGDIR], coco:TRAIN.json,VAL.json, voc:DIR"


@dataclass(frozen=True, eq=False)
class Example:
    """One image with its instances (see the module docstring for the conventions)."""

    image: np.ndarray  # uint8 [H, W, 3]; grey sources are repeated to 3 channels
    boxes: np.ndarray  # float32 [N, 4] normalised yxyx
    classes: np.ndarray  # int32 [N], 1..K
    masks: np.ndarray | None  # uint8 [N, H, W] in {0, 1} at the image's own size; None if the source has none
    ignore: np.ndarray  # bool [N]: COCO iscrowd / VOC difficult: not trained on, ignore regions in AP
    image_id: int
    source: str  # file path, or "shapes:seed=S:i" for generated images

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


@dataclass(frozen=True)
class DetectionData:
    """The examples of one split and the class names (index 0 is "background")."""

    examples: tuple[Example, ...]
    class_names: tuple[str, ...]
    has_masks: bool

    @property
    def num_classes(self) -> int:
        """K, the number of object classes without background."""
        return len(self.class_names) - 1

    def __len__(self) -> int:
        return len(self.examples)


def make_example(*, image, boxes, classes, masks, ignore, image_id: int, source: str) -> Example:
    """An Example with the dtypes and shapes of the contract, arrays read-only (examples are cached and shared)."""
    image = np.asarray(image, np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    classes = np.asarray(classes, np.int32).reshape(-1)
    ignore = np.asarray(ignore, bool).reshape(-1)
    if masks is not None:
        masks = np.asarray(masks, np.uint8).reshape(-1, image.shape[0], image.shape[1])
    for array in (image, boxes, classes, ignore, masks):
        if array is not None:
            array.setflags(write=False)
    return Example(image=image, boxes=boxes, classes=classes, masks=masks, ignore=ignore,
                   image_id=int(image_id), source=str(source))


def load_detection(spec: str, split: str, *, seed: int = 0, image_size: int = 128,
                   count: int | None = None, on_error: str = "raise") -> DetectionData:
    """One split of the detection dataset that `spec` names.

    `shapes` is generated on the fly at `image_size` px (train 500 / val 200 / test 200 by default,
    each split from its own seed derived from `seed`, so splits never overlap). `coco:JSON[@IMGDIR]`
    splits one JSON by a fixed rule (every 5th image by sorted id is val; val doubles as test);
    `coco:TRAIN.json,VAL.json` names both (test = val). `voc:DIR` reads ImageSets/Main/{split}.txt
    (test falls back to val). `count` keeps the first `count` examples. Real files keep their size.
    The spec may end in common's `?on_error=skip`, which wins over `on_error`.
    """
    # Imported here: tfzoo.common.data imports TensorFlow, which this module otherwise does not need.
    from tfzoo.common.data import parse_spec

    parsed = parse_spec(spec)
    options = dict(parsed.options)
    on_error = options.pop("on_error", on_error)
    if options:
        raise DataError(f"{spec}: unknown option {', '.join(sorted(options))}; detection specs take on_error")
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    if on_error not in ("raise", "skip"):
        raise DataError(f"on_error={on_error!r}; expected raise or skip")
    if count is not None and count < 0:
        raise DataError(f"count={count}; expected a non-negative number of images")
    scheme, arg = parsed.scheme, parsed.arg
    if scheme == "shapes":
        if arg:
            raise DataError(f"shapes takes no argument, found {spec}; set image_size and counts in the config")
        n = SHAPES_COUNTS[split] if count is None else count
        return DetectionData(examples=_shapes(n, int(image_size), int(seed), split),
                             class_names=_shape_names(), has_masks=True)
    if scheme == "coco":
        data = _coco_split(arg, split, on_error)
    elif scheme == "voc":
        data = _voc_split(arg, split, on_error)
    else:
        raise DataError(f"unknown detection data spec {spec!r}; expected one of: {SPEC_FORMS}")
    if count is not None:
        data = DetectionData(examples=data.examples[:count], class_names=data.class_names, has_masks=data.has_masks)
    return data


def _shape_names() -> tuple[str, ...]:
    from tfzoo.vision.detection.shapes import CLASS_NAMES

    return CLASS_NAMES


@functools.lru_cache(maxsize=16)
def _shapes(count: int, size: int, seed: int, split: str) -> tuple[Example, ...]:
    # Several calls (data, data_info, evaluate) ask for the same split: generate it once per process.
    from tfzoo.vision.detection.shapes import generate

    return tuple(generate(count, size=size, seed=seed, stream=split))


def _coco_split(arg: str, split: str, on_error: str) -> DetectionData:
    parts = [p.strip() for p in arg.split(",") if p.strip()]
    if not parts or len(parts) > 2:
        raise DataError(f"coco:{arg}: expected coco:JSON[@IMGDIR] or coco:TRAIN.json,VAL.json")
    if len(parts) == 2:
        examples, names, has_masks = _read_coco_cached(parts[0 if split == "train" else 1], on_error)
        return DetectionData(examples=examples, class_names=names, has_masks=has_masks)
    examples, names, has_masks = _read_coco_cached(parts[0], on_error)
    ordered = sorted(examples, key=lambda e: e.image_id)
    is_val = [i % VAL_EVERY == VAL_EVERY - 1 for i in range(len(ordered))]
    chosen = tuple(e for e, v in zip(ordered, is_val) if v == (split != "train"))
    return DetectionData(examples=chosen, class_names=names, has_masks=has_masks)


def _read_coco_cached(part: str, on_error: str):
    json_path, _, image_dir = part.partition("@")
    path = Path(json_path).expanduser()
    stamp = path.stat().st_mtime_ns if path.exists() else 0
    return _read_coco(str(path), image_dir or None, on_error, stamp)


@functools.lru_cache(maxsize=8)
def _read_coco(path: str, image_dir: str | None, on_error: str, _stamp: int):
    from tfzoo.vision.detection.coco import read_coco

    examples, names = read_coco(path, image_dir, on_error=on_error)
    has_masks = bool(examples) and all(e.masks is not None for e in examples)
    return tuple(examples), tuple(names), has_masks


def _voc_split(arg: str, split: str, on_error: str) -> DetectionData:
    from tfzoo.vision.detection.voc import read_voc

    if not arg.strip():
        raise DataError("voc: needs a folder, e.g. voc:VOCdevkit/VOC2007 (Annotations/, JPEGImages/, ImageSets/Main/)")
    examples, names = read_voc(Path(arg.strip()).expanduser(), split, on_error=on_error)
    return DetectionData(examples=tuple(examples), class_names=tuple(names), has_masks=False)


def to_tensors(example: Example, *, max_instances: int = 100) -> dict[str, np.ndarray]:
    """A padded numpy dict for tf.data; ignore instances are dropped, extra instances cut at `max_instances`.

    {"image": uint8 [H, W, 3], "boxes": float32 [M, 4], "classes": int32 [M] (0 = padding),
     "num": int32 scalar, "masks": uint8 [M, H, W] (zeros when the source has none)}, M = max_instances.
    """
    keep = np.flatnonzero(~example.ignore)[:max_instances]
    n = len(keep)
    height, width = example.image.shape[:2]
    boxes = np.zeros((max_instances, 4), np.float32)
    classes = np.zeros((max_instances,), np.int32)
    masks = np.zeros((max_instances, height, width), np.uint8)
    boxes[:n] = example.boxes[keep]
    classes[:n] = example.classes[keep]
    if example.masks is not None:
        masks[:n] = example.masks[keep]
    return {"image": np.asarray(example.image, np.uint8), "boxes": boxes, "classes": classes,
            "num": np.int32(n), "masks": masks}


def _common_reader(scheme: str, arg: str, split: str, *, seed: int = 0, channels: int | None = None,
                   on_error: str = "raise"):
    """The spec as a common `DataSplit` (for `tfzoo data check`, through the "tfzoo.data" entry points):
    one dict per image, {"image": uint8 [H, W, 3], "boxes": [N, 4], "classes": [N]}, ignore instances kept;
    meta: class_names, image_shape (None for mixed sizes) and has_masks."""
    import tensorflow as tf

    from tfzoo.common.data import DataSplit

    if channels not in (None, 3):
        raise DataError(f"{scheme}: detection images have 3 channels, not channels={channels}")
    data = load_detection(f"{scheme}:{arg}" if arg else scheme, split, seed=seed, on_error=on_error)
    examples = data.examples

    def generate():
        for e in examples:
            yield {"image": e.image, "boxes": e.boxes, "classes": e.classes}

    signature = {"image": tf.TensorSpec([None, None, 3], tf.uint8), "boxes": tf.TensorSpec([None, 4], tf.float32),
                 "classes": tf.TensorSpec([None], tf.int32)}
    shapes = {e.image.shape for e in examples}
    return DataSplit(tf.data.Dataset.from_generator(generate, output_signature=signature), len(examples),
                     {"has_masks": data.has_masks}, class_names=data.class_names,
                     image_shape=next(iter(shapes)) if len(shapes) == 1 else None)


# Readers for common's resolver ("tfzoo.data" entry points: shapes, coco, voc -> these names).
shapes_reader = functools.partial(_common_reader, "shapes")
coco_reader = functools.partial(_common_reader, "coco")
voc_reader = functools.partial(_common_reader, "voc")
